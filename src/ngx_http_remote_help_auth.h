
/*
 * ngx_http_remote_help_module: who may call: the bearer token.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_AUTH_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


ngx_int_t ngx_http_remote_help_bearer(ngx_http_request_t *r);


#endif /* _NGX_HTTP_REMOTE_HELP_AUTH_H_INCLUDED_ */
