
/*
 * ngx_http_remote_help_module: the Graph error shape of the responses nginx
 * itself makes in a remote_help location.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_FILTER_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


ngx_int_t ngx_http_remote_help_filter_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_REMOTE_HELP_FILTER_H_INCLUDED_ */
