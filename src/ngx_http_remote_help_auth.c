
/*
 * ngx_http_remote_help_module: who may call.  The bearer token is
 * required in every mode but off; bearer takes any, jwt verifies it
 * (ngx_http_remote_help_jwt.c), claims takes what another part of the
 * gateway verified from the variables of remote_help_claims.  Then the
 * permission table: reads take one of the four DeviceManagement
 * permissions, writes one of the two ReadWrite ones; delegated callers
 * (scp) by their scopes, application callers (no scp) by their roles.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_auth.h"
#include "ngx_http_remote_help_jwt.h"
#include "ngx_http_remote_help_reply.h"
#include "ngx_http_remote_help_token.h"


static ngx_int_t ngx_http_remote_help_bearer(ngx_http_request_t *r,
    ngx_str_t *token);
static ngx_int_t ngx_http_remote_help_claimed(ngx_http_request_t *r,
    ngx_http_remote_help_loc_conf_t *rlcf,
    ngx_http_remote_help_grant_t *grant);
static ngx_int_t ngx_http_remote_help_refuse(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, const char *challenge,
    const char *message);


static ngx_str_t  ngx_http_remote_help_default_audiences[] = {
    ngx_string("https://graph.microsoft.com"),
    ngx_string("00000003-0000-0000-c000-000000000000"),
};


ngx_int_t
ngx_http_remote_help_authorize(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    unsigned                          row;
    ngx_str_t                         token;
    ngx_http_remote_help_grant_t      grant;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    if (rlcf->auth == NGX_HTTP_RH_AUTH_OFF) {
        return NGX_DECLINED;
    }

    if (ngx_http_remote_help_bearer(r, &token) != NGX_OK) {
        return ngx_http_remote_help_refuse(r, ctx, "Bearer",
                                           "Access token is empty.");
    }

    if (rlcf->auth == NGX_HTTP_RH_AUTH_BEARER) {
        return NGX_DECLINED;
    }

    if (rlcf->auth == NGX_HTTP_RH_AUTH_JWT) {
        if (ngx_http_remote_help_jwt_verify(r, rlcf, &token, &grant)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (ngx_http_remote_help_claimed(r, rlcf, &grant) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (grant.status) {

    case NGX_HTTP_RH_JWT_VALID:
        break;

    case NGX_HTTP_RH_JWT_MALFORMED:
        return ngx_http_remote_help_refuse(r, ctx, NULL,
                         "CompactToken parsing failed with error code: "
                         "80049217");

    case NGX_HTTP_RH_JWT_EXPIRED:
        return ngx_http_remote_help_refuse(r, ctx, NULL,
                         "Access token has expired or is not yet valid.");

    case NGX_HTTP_RH_JWT_AUDIENCE:
        return ngx_http_remote_help_refuse(r, ctx, NULL,
                         "Access token validation failure. "
                         "Invalid audience.");

    default:
        return ngx_http_remote_help_refuse(r, ctx, NULL,
                         "Access token validation failure.");
    }

    if (grant.personal) {
        /* personal Microsoft accounts are not supported */
        return ngx_http_remote_help_refuse(r, ctx, NULL,
                         "Access token validation failure.");
    }

    switch (r->method) {

    case NGX_HTTP_GET:
    case NGX_HTTP_HEAD:
        row = NGX_RH_PERM_READ;
        break;

    case NGX_HTTP_POST:
    case NGX_HTTP_PATCH:
    case NGX_HTTP_DELETE:
        row = NGX_RH_PERM_WRITE;
        break;

    default:
        /* no operation: the method is not allowed, which routing says */
        return NGX_DECLINED;
    }

    if (grant.perms & row) {
        return NGX_DECLINED;
    }

    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_FORBIDDEN,
                     "Application is not authorized to perform this "
                     "operation. Application must have one of the "
                     "following scopes: %s", ngx_rh_perm_names(row));
}


/* "Authorization: Bearer <token>": the token, or NGX_DECLINED */

static ngx_int_t
ngx_http_remote_help_bearer(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char           *p, *end;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    p = h->value.data + sizeof("Bearer ") - 1;
    end = h->value.data + h->value.len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    if (p == end) {
        return NGX_DECLINED;
    }

    token->data = p;
    token->len = end - p;

    return NGX_OK;
}


/* remote_help_auth claims: the caller's claims from the variables */

static ngx_int_t
ngx_http_remote_help_claimed(ngx_http_request_t *r,
    ngx_http_remote_help_loc_conf_t *rlcf, ngx_http_remote_help_grant_t *grant)
{
    ngx_str_t  scp, roles, tid;

    ngx_memzero(grant, sizeof(ngx_http_remote_help_grant_t));
    ngx_str_null(&scp);
    ngx_str_null(&roles);
    ngx_str_null(&tid);

    if ((rlcf->claims_scp
         && ngx_http_complex_value(r, rlcf->claims_scp, &scp) != NGX_OK)
        || (rlcf->claims_roles
            && ngx_http_complex_value(r, rlcf->claims_roles, &roles)
               != NGX_OK)
        || (rlcf->claims_tid
            && ngx_http_complex_value(r, rlcf->claims_tid, &tid) != NGX_OK))
    {
        return NGX_ERROR;
    }

    grant->status = NGX_HTTP_RH_JWT_VALID;

    /* an empty scp: an application caller, whose roles count */

    if (scp.len) {
        grant->delegated = 1;
        grant->perms = ngx_rh_perm_bits(scp.data, scp.len);
        grant->personal = ngx_http_remote_help_personal(tid.data, tid.len);

    } else {
        grant->perms = ngx_rh_perm_bits(roles.data, roles.len);
    }

    return NGX_OK;
}


/* 401 with WWW-Authenticate: an empty token's challenge, or invalid_token */

static ngx_int_t
ngx_http_remote_help_refuse(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, const char *challenge,
    const char *message)
{
    ngx_table_elt_t  *h;

    if (challenge == NULL) {
        challenge = "Bearer error=\"invalid_token\"";
    }

    h = ngx_http_remote_help_add_header(r, "WWW-Authenticate",
                                        (u_char *) challenge,
                                        ngx_strlen(challenge));
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.www_authenticate = h;

    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_UNAUTHORIZED, "%s",
                                      message);
}


char *
ngx_http_remote_help_auth_values(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *a = ngx_array_create(cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t));
    if (*a == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0) {
            return "takes no empty value";
        }

        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


char *
ngx_http_remote_help_claims(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_remote_help_loc_conf_t *rlcf = conf;

    ngx_str_t                          *value, v;
    ngx_uint_t                          i;
    ngx_http_complex_value_t          **cv;
    ngx_http_compile_complex_value_t    ccv;

    if (rlcf->claims_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "scp=", 4) == 0) {
            cv = &rlcf->claims_scp;
            v.data = value[i].data + 4;

        } else if (ngx_strncmp(value[i].data, "roles=", 6) == 0) {
            cv = &rlcf->claims_roles;
            v.data = value[i].data + 6;

        } else if (ngx_strncmp(value[i].data, "tid=", 4) == 0) {
            cv = &rlcf->claims_tid;
            v.data = value[i].data + 4;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        v.len = value[i].data + value[i].len - v.data;

        *cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (*cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &v;
        ccv.complex_value = *cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    rlcf->claims_set = 1;

    return NGX_CONF_OK;
}


char *
ngx_http_remote_help_auth_merge(ngx_conf_t *cf,
    ngx_http_remote_help_loc_conf_t *prev,
    ngx_http_remote_help_loc_conf_t *conf)
{
    ngx_uint_t   i;
    ngx_str_t   *s;

    ngx_conf_merge_uint_value(conf->auth, prev->auth,
                              NGX_HTTP_RH_AUTH_BEARER);
    ngx_conf_merge_ptr_value(conf->jwt_issuers, prev->jwt_issuers, NULL);
    ngx_conf_merge_sec_value(conf->jwt_leeway, prev->jwt_leeway, 0);

    if (conf->jwt_keys == NULL) {
        conf->jwt_keys = prev->jwt_keys;
        conf->jwt_keys_file = prev->jwt_keys_file;
    }

    if (conf->jwt_audiences == NGX_CONF_UNSET_PTR) {

        if (prev->jwt_audiences == NGX_CONF_UNSET_PTR) {
            prev->jwt_audiences = ngx_array_create(cf->pool, 2,
                                                   sizeof(ngx_str_t));
            if (prev->jwt_audiences == NULL) {
                return NGX_CONF_ERROR;
            }

            for (i = 0; i < 2; i++) {
                s = ngx_array_push(prev->jwt_audiences);
                *s = ngx_http_remote_help_default_audiences[i];
            }
        }

        conf->jwt_audiences = prev->jwt_audiences;
    }

    if (!conf->claims_set) {
        conf->claims_scp = prev->claims_scp;
        conf->claims_roles = prev->claims_roles;
        conf->claims_tid = prev->claims_tid;
        conf->claims_set = prev->claims_set;
    }

    if (conf->shm_zone == NULL) {
        /* not a remote_help location: nothing is asked of it */
        return NGX_CONF_OK;
    }

    if (conf->auth == NGX_HTTP_RH_AUTH_JWT) {

        if (conf->jwt_keys == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"remote_help_auth jwt\" needs "
                          "\"remote_help_jwt_keys\" in %s:%ui",
                          conf->file, conf->line);
            return NGX_CONF_ERROR;
        }

        if (conf->jwt_issuers == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"remote_help_auth jwt\" needs "
                          "\"remote_help_jwt_issuer\" in %s:%ui",
                          conf->file, conf->line);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->auth == NGX_HTTP_RH_AUTH_CLAIMS && !conf->claims_set) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"remote_help_auth claims\" needs "
                      "\"remote_help_claims\" in %s:%ui",
                      conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
