
/*
 * ngx_http_remote_help_module: the directives remote_help_zone and remote_help.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_DIRECTIVE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_DIRECTIVE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


char *ngx_http_remote_help_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_remote_help(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* postconfiguration: the zones' backend= found */
ngx_int_t ngx_http_remote_help_backends(ngx_conf_t *cf,
    ngx_http_remote_help_main_conf_t *rmcf);


#endif /* _NGX_HTTP_REMOTE_HELP_DIRECTIVE_H_INCLUDED_ */
