
/*
 * ngx_http_remote_help_module: ETags (W/"<version>") and the
 * preconditions If-Match and If-None-Match over them.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_ETAG_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_ETAG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


/* the response's ETag header, of ctx->version */
ngx_int_t ngx_http_remote_help_etag(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);

/*
 * 1: a precondition's list of entity tags names this version (compared
 * weakly: W/"5" and "5" are the same tag), or is "*"
 */
ngx_uint_t ngx_http_remote_help_etag_match(ngx_table_elt_t *h,
    uint64_t version);


#endif /* _NGX_HTTP_REMOTE_HELP_ETAG_H_INCLUDED_ */
