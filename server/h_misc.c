/*
 * GET /health and GET /version.
 *
 * /health answers {"status":"available"} without authentication, as
 * Meilisearch does, so a load balancer can probe it. /version reports the
 * commit the binary was configured from (CMake runs git at configure time;
 * "unknown" outside a git checkout) and the project version. Query
 * parameters are ignored, as Meilisearch ignores them here.
 */
#include "server_int.h"

#ifndef FOLIO_VERSION_STRING
#define FOLIO_VERSION_STRING "unknown"
#endif
#ifndef FOLIO_COMMIT_SHA
#define FOLIO_COMMIT_SHA "unknown"
#endif
#ifndef FOLIO_COMMIT_DATE
#define FOLIO_COMMIT_DATE "unknown"
#endif

void
h_health(struct srv_ctx *x)
{
    resp_json(x->req, 200, json_pack("{s:s}", "status", "available"));
}

void
h_version(struct srv_ctx *x)
{
    resp_json(x->req, 200,
              json_pack("{s:s, s:s, s:s}", "commitSha", FOLIO_COMMIT_SHA, "commitDate",
                        FOLIO_COMMIT_DATE, "pkgVersion", FOLIO_VERSION_STRING));
}
