
/*
 * ngx_http_remote_help_module: a request's query options ($top,
 * $skiptoken, $select, $filter, $count) read from its query string.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_ARGS_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_ARGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


/*
 * Into ctx: NGX_OK; or NGX_DECLINED when the request is answered with an
 * error (400 with what could not be read), *rc being what the handler
 * returns then.  An object's GET reads $select alone; other options are
 * ignored there, and unknown ones everywhere.
 */
ngx_int_t ngx_http_remote_help_args(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t *rc);


#endif /* _NGX_HTTP_REMOTE_HELP_ARGS_H_INCLUDED_ */
