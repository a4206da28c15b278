
/*
 * ngx_http_remote_help_module: the status endpoint, the responses
 * counted by status, and the variables for log_format.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STATUS_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_store.h"


ngx_int_t ngx_http_remote_help_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_remote_help_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_remote_help_log_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_remote_help_counters_conf(ngx_conf_t *cf,
    ngx_http_remote_help_zone_t *zone);


#endif /* _NGX_HTTP_REMOTE_HELP_STATUS_H_INCLUDED_ */
