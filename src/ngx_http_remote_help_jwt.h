
/*
 * ngx_http_remote_help_module: remote_help_auth jwt: a bearer token
 * verified (signature, exp, nbf, aud, iss) and what it grants, with a
 * cache of the tokens a worker has verified.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_JWT_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"


/* what a token is */
#define NGX_HTTP_RH_JWT_VALID     0
#define NGX_HTTP_RH_JWT_MALFORMED 1         /* 80049217 */
#define NGX_HTTP_RH_JWT_EXPIRED   2         /* exp passed, nbf not yet */
#define NGX_HTTP_RH_JWT_AUDIENCE  3
#define NGX_HTTP_RH_JWT_INVALID   4         /* anything else */

/* verified tokens a worker keeps, per location */
#define NGX_HTTP_RH_JWT_CACHE     1024
#define NGX_HTTP_RH_JWT_CACHE_LEN 4096      /* longer ones are not kept */


typedef struct {
    ngx_uint_t                    status;
    unsigned                      perms;        /* the bits it grants */
    unsigned                      delegated:1;
    unsigned                      personal:1;   /* a Microsoft account */
} ngx_http_remote_help_grant_t;


ngx_int_t ngx_http_remote_help_jwt_verify(ngx_http_request_t *r,
    ngx_http_remote_help_loc_conf_t *rlcf, ngx_str_t *token,
    ngx_http_remote_help_grant_t *grant);

/* the digest and context a worker verifies with */
ngx_int_t ngx_http_remote_help_jwt_init_process(ngx_cycle_t *cycle);

/* the tenant of personal Microsoft accounts, which are refused */
#define NGX_HTTP_RH_MSA_TENANT    "9188040d-6c67-4c5b-b112-36a304b66dad"

ngx_uint_t ngx_http_remote_help_personal(u_char *tid, size_t len);


#endif /* _NGX_HTTP_REMOTE_HELP_JWT_H_INCLUDED_ */
