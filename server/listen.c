/*
 * The listening socket: "host:port" / "[v6]:port" parsing, bind and listen
 * (non-blocking, close-on-exec, SO_REUSEADDR), and the accept watcher.
 *
 * Accepting is bounded. Up to connections_max connections are served. Past
 * that, a client is still accepted and answered 503 too_many_connections
 * (type system, `Retry-After`, `Connection: close`) and closed
 * (conn_refused): bounded work, one short-lived descriptor, and at most
 * SRV_REFUSING_MAX of them at a time; with that many refusals still open the
 * watcher stops, and the next clients wait in the kernel's queue until a
 * connection of either kind ends. When the process runs out of descriptors
 * (EMFILE/ENFILE), a reserve descriptor (/dev/null) is given up to accept the
 * waiting client, send it the same 503 (best effort: the socket is closed at
 * once, unread) and close it, then taken again; without the reserve (another
 * thread took the slot) accepting pauses for 100 ms instead of spinning.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "folio/common.h"
#include "folio/error.h"
#include "server_int.h"

/* Splits "host:port" / "[host]:port" into host and port. */
static int
split_addr(const char *addr, char *host, size_t host_len, char *port, size_t port_len)
{
    const char *colon;
    const char *h = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return FOLIO_E_INVALID;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
            return FOLIO_E_INVALID;
        hl = (size_t)(colon - addr);
    }
    const char *p = colon + 1;
    uint32_t pv;
    if (hl == 0 || hl >= host_len || *p == '\0' || strlen(p) >= port_len ||
        !parse_u32(p, strlen(p), &pv) || pv > 65535)
        return FOLIO_E_INVALID;
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, port_len, "%u", pv);
    return 0;
}

static int
bind_one(const struct addrinfo *ai, char *why, size_t why_len)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(why, why_len, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        snprintf(why, why_len, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void
format_bound(struct folio_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(srv->address, sizeof(srv->address), "%s:%u", host, port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(srv->address, sizeof(srv->address), "[%s]:%u", host, port);
    }
}

int
listen_open(struct folio_server *srv, const char *addr, char *why, size_t why_len)
{
    char host[256], port[16];
    if (strlen(addr) > 260 || split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(why, why_len,
                 "invalid --http-addr `%s`: expected HOST:PORT (e.g. 127.0.0.1:7700 or [::1]:7700)",
                 addr);
        return FOLIO_E_INVALID;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(why, why_len, "cannot resolve `%s`: %s", host, gai_strerror(gai));
        return FOLIO_E_INVALID;
    }
    char last[200] = "no address";
    srv->listen_fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && srv->listen_fd < 0; ai = ai->ai_next)
        srv->listen_fd = bind_one(ai, last, sizeof(last));
    freeaddrinfo(res);
    if (srv->listen_fd < 0) {
        snprintf(why, why_len, "cannot listen on %s: %s", addr, last);
        return FOLIO_E_IO;
    }
    format_bound(srv);
    return 0;
}

/* Room to accept one more client: as a served connection, or to refuse it. */
static bool
accept_room(const struct folio_server *srv)
{
    return srv->conn_count < srv->opts.connections_max || srv->refusing_count < SRV_REFUSING_MAX;
}

/*
 * Out of descriptors: gives the reserve up to accept one waiting client, tell
 * it 503 and close it. 1: one was refused; 0: none was waiting; -1: no
 * reserve to give up, or the accept failed even so (pause).
 */
static int
refuse_with_reserve(struct folio_server *srv)
{
    static const char body[] =
        "{\"message\":\"The server cannot open more connections now. Retry after a few "
        "seconds.\",\"code\":\"too_many_connections\",\"type\":\"system\",\"link\":\"https://"
        "docs.meilisearch.com/errors#too_many_connections\"}";
    if (srv->reserve_fd < 0)
        return -1;
    close(srv->reserve_fd);
    int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int accept_errno = errno;
    if (fd >= 0) {
        char head[200];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Length: %zu\r\n"
                         "Content-Type: application/json\r\nRetry-After: 10\r\n"
                         "Connection: close\r\n\r\n",
                         sizeof(body) - 1);
        struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, sizeof(body) - 1}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        (void)sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(fd);
    }
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return accept_errno == EAGAIN || accept_errno == EWOULDBLOCK ? 0 : -1;
    folio_log(FOLIO_LOG_WARN, "out of file descriptors: connection refused", "conns=%u",
              srv->conn_count);
    return 1;
}

/* An accept error: true to try again, false to return (paused when it must). */
static bool
accept_failed(struct folio_server *srv, int err)
{
    if (err == EINTR || err == ECONNABORTED)
        return true;
    if (err == EMFILE || err == ENFILE) {
        int rc = refuse_with_reserve(srv);
        if (rc >= 0)
            return rc == 1;
    }
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        folio_log(FOLIO_LOG_WARN, "accept paused", "error=\"%s\"", strerror(err));
        ev_io_stop(srv->loop, &srv->accept_w);
        ev_timer_start(srv->loop, &srv->accept_retry);
    }
    return false;
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct folio_server *srv = w->data;
    while (srv->accepting && accept_room(srv)) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (accept_failed(srv, errno))
                continue;
            return;
        }
        if (srv->conn_count < srv->opts.connections_max) {
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            conn_accepted(srv, fd);
            continue;
        }
        if (!srv->cap_logged)
            folio_log(FOLIO_LOG_WARN, "connection limit reached: refusing with 503",
                      "connections_max=%u", srv->opts.connections_max);
        srv->cap_logged = true;
        conn_refused(srv, fd);
    }
    if (!accept_room(srv))
        ev_io_stop(loop, &srv->accept_w);
}

static void
accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct folio_server *srv = w->data;
    if (srv->accepting)
        ev_io_start(loop, &srv->accept_w);
}

void
listen_start(struct folio_server *srv)
{
    ev_io_init(&srv->accept_w, accept_cb, srv->listen_fd, EV_READ);
    srv->accept_w.data = srv;
    ev_timer_init(&srv->accept_retry, accept_retry_cb, 0.1, 0.);
    srv->accept_retry.data = srv;
    srv->accepting = true;
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ev_io_start(srv->loop, &srv->accept_w);
}

void
listen_stop(struct folio_server *srv)
{
    srv->accepting = false;
    ev_io_stop(srv->loop, &srv->accept_w);
    ev_timer_stop(srv->loop, &srv->accept_retry);
    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    if (srv->reserve_fd >= 0) {
        close(srv->reserve_fd);
        srv->reserve_fd = -1;
    }
}

/* A connection was freed: accept again if the limit had stopped us. */
void
server_conn_freed(struct folio_server *srv, bool refused)
{
    if (refused) {
        FOLIO_ASSERT(srv->refusing_count > 0);
        srv->refusing_count--;
    } else {
        FOLIO_ASSERT(srv->conn_count > 0);
        srv->conn_count--;
        if (srv->conn_count < srv->opts.connections_max)
            srv->cap_logged = false;
    }
    if (srv->accepting && !ev_is_active(&srv->accept_w) && !ev_is_active(&srv->accept_retry))
        ev_io_start(srv->loop, &srv->accept_w);
    if (srv->stopping && srv->conn_count == 0 && srv->refusing_count == 0)
        ev_break(srv->loop, EVBREAK_ALL);
}
