
/*
 * ngx_http_remote_help_module: a request's storage operations, whether
 * the backend answers at once or later (NGX_AGAIN, then op->done).
 */


#ifndef _NGX_HTTP_REMOTE_HELP_OP_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_OP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


/* an operation on the request's set and the key given (NULL: none) */
void ngx_http_remote_help_op_init(ngx_http_remote_help_op_t *op,
    ngx_http_request_t *r, ngx_http_remote_help_ctx_t *ctx, ngx_str_t *key);

/*
 * The backend's answer rc to op: next(r, ctx, rc) now, or, for NGX_AGAIN,
 * NGX_DONE with the request held until the answer comes; next's status
 * then finalizes the request.
 */
ngx_int_t ngx_http_remote_help_op_wait(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_http_remote_help_op_t *op,
    ngx_int_t rc, ngx_http_remote_help_next_pt next);


#endif /* _NGX_HTTP_REMOTE_HELP_OP_H_INCLUDED_ */
