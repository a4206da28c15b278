
/*
 * ngx_http_remote_help_module: listings: $top, $skiptoken, a page and its
 * nextLink.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_LIST_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_LIST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


ngx_int_t ngx_http_remote_help_list(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);


#endif /* _NGX_HTTP_REMOTE_HELP_LIST_H_INCLUDED_ */
