
/*
 * ngx_http_remote_help_module: the content handler: a request's method and path
 * to a read, a write or a listing; bodies read, validated and written.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_HANDLER_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


ngx_int_t ngx_http_remote_help_handler(ngx_http_request_t *r);

/* the response to a backend's failure rc (500, or 503 with Retry-After) */
ngx_int_t ngx_http_remote_help_failed(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);


#endif /* _NGX_HTTP_REMOTE_HELP_HANDLER_H_INCLUDED_ */
