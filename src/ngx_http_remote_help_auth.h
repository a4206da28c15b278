
/*
 * ngx_http_remote_help_module: who may call: remote_help_auth off,
 * bearer, jwt or claims, and the permission table of the reference
 * pages.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_AUTH_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


/*
 * NGX_DECLINED: the request may go on; otherwise what the content
 * handler returns: a 401 or 403 sent (decided before any body is read)
 */
ngx_int_t ngx_http_remote_help_authorize(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);

/* remote_help_jwt_issuer, remote_help_jwt_audience: VALUE ... */
char *ngx_http_remote_help_auth_values(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* remote_help_claims [scp=$VAR] [roles=$VAR] [tid=$VAR] */
char *ngx_http_remote_help_claims(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the merge's part: defaults, and what jwt and claims need */
char *ngx_http_remote_help_auth_merge(ngx_conf_t *cf,
    ngx_http_remote_help_loc_conf_t *prev,
    ngx_http_remote_help_loc_conf_t *conf);


#endif /* _NGX_HTTP_REMOTE_HELP_AUTH_H_INCLUDED_ */
