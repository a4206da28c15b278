
/*
 * ngx_http_remote_help_module: the keys that remote_help_auth jwt
 * verifies tokens with: a JWKS file (RFC 7517), read at configuration.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_JWKS_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_JWKS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>


/* the largest JWKS file read */
#define NGX_HTTP_RH_JWKS_MAX      (1024 * 1024)


typedef struct {
    ngx_str_t                     kid;
    ngx_uint_t                    alg;          /* NGX_RH_JWT_RS256, ES256 */
    EVP_PKEY                     *pkey;
    EVP_PKEY_CTX                 *verify;       /* a worker's own, made
                                                   ready once */
} ngx_http_remote_help_jwk_t;


/* remote_help_jwt_keys FILE */
char *ngx_http_remote_help_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the key a token's header names, or NULL */
ngx_http_remote_help_jwk_t *ngx_http_remote_help_jwk_find(ngx_array_t *keys,
    const char *kid, size_t len, ngx_uint_t alg);


#endif /* _NGX_HTTP_REMOTE_HELP_JWKS_H_INCLUDED_ */
