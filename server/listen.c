/*
 * The listening socket: "host:port" / "[v6]:port" parsing, bind and listen
 * (non-blocking, close-on-exec, SO_REUSEADDR), and the accept watcher.
 *
 * Accepting is bounded: at connections_max open connections the watcher is
 * stopped and restarted when one closes; when the process runs out of file
 * descriptors (EMFILE/ENFILE) it pauses for 100 ms instead of spinning.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct folio_server *srv = w->data;
    while (srv->accepting && srv->conn_count < srv->opts.connections_max) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                folio_log(FOLIO_LOG_WARN, "accept paused", "error=\"%s\"", strerror(errno));
                ev_io_stop(loop, &srv->accept_w);
                ev_timer_start(loop, &srv->accept_retry);
            }
            return;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_accepted(srv, fd);
    }
    if (srv->conn_count >= srv->opts.connections_max)
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
}

/* A connection was freed: accept again if the limit had stopped us. */
void
server_conn_freed(struct folio_server *srv)
{
    FOLIO_ASSERT(srv->conn_count > 0);
    srv->conn_count--;
    if (srv->accepting && !ev_is_active(&srv->accept_w) && !ev_is_active(&srv->accept_retry))
        ev_io_start(srv->loop, &srv->accept_w);
    if (srv->stopping && srv->conn_count == 0)
        ev_break(srv->loop, EVBREAK_ALL);
}
