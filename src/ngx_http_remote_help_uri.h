
/*
 * ngx_http_remote_help_module: the set and key in a request path, and the URLs
 * of responses.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_URI_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_URI_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


ngx_int_t ngx_http_remote_help_route(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
ngx_int_t ngx_http_remote_help_decode(ngx_pool_t *pool,
    u_char *start, u_char *end, ngx_uint_t decode, ngx_str_t *out);
u_char *ngx_http_remote_help_encode(u_char *dst, ngx_str_t *src);
ngx_int_t ngx_http_remote_help_url(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_str_t *tail, ngx_str_t *url);


#endif /* _NGX_HTTP_REMOTE_HELP_URI_H_INCLUDED_ */
