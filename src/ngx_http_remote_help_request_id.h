
/*
 * ngx_http_remote_help_module: the request-id of every response, and client-
 * request-id.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_REQUEST_ID_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_REQUEST_ID_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


void ngx_http_remote_help_request_id_init(void);
ngx_http_remote_help_ctx_t *ngx_http_remote_help_ctx(ngx_http_request_t *r);


#endif /* _NGX_HTTP_REMOTE_HELP_REQUEST_ID_H_INCLUDED_ */
