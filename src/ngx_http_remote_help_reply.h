
/*
 * ngx_http_remote_help_module: responses: headers, bodies, Graph errors.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_REPLY_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


extern ngx_str_t  ngx_http_remote_help_json_type_value;

ngx_int_t ngx_http_remote_help_send(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *body);
ngx_int_t ngx_http_remote_help_error(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, const char *fmt,
    ...);
ngx_int_t ngx_http_remote_help_not_found(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
ngx_int_t ngx_http_remote_help_error_body(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *message,
    ngx_str_t *body);
const char *ngx_http_remote_help_code(ngx_uint_t status);
ngx_int_t ngx_http_remote_help_headers(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
ngx_table_elt_t *ngx_http_remote_help_add_header(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);


#endif /* _NGX_HTTP_REMOTE_HELP_REPLY_H_INCLUDED_ */
