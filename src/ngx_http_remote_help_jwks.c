
/*
 * ngx_http_remote_help_module: the JWKS file of remote_help_jwt_keys.
 * Each key is built once, at configuration, through OpenSSL's EVP API
 * (the OpenSSL nginx itself links): RSA keys of 2048 bits or more from
 * n and e, EC P-256 keys from x and y.  A key whose "use" is not "sig",
 * whose "alg" is not RS256 or ES256, or that has no "kid" is left out;
 * a file with no key left is a configuration error.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_tree.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_jwks.h"
#include "ngx_http_remote_help_token.h"


static char *ngx_http_remote_help_jwks_read(ngx_conf_t *cf, ngx_str_t *name,
    u_char **text);
static ngx_int_t ngx_http_remote_help_jwk(ngx_conf_t *cf, yajl_val k,
    ngx_http_remote_help_jwk_t *jwk, const char **why);
static EVP_PKEY *ngx_http_remote_help_jwk_rsa(yajl_val k, const char **why);
static EVP_PKEY *ngx_http_remote_help_jwk_ec(yajl_val k, const char **why);
static EVP_PKEY *ngx_http_remote_help_jwk_build(OSSL_PARAM_BLD *bld,
    const char *type);
static const char *ngx_http_remote_help_jwk_str(yajl_val obj,
    const char *name);
static long ngx_http_remote_help_jwk_bytes(yajl_val obj, const char *name,
    u_char *out, size_t size);
static void ngx_http_remote_help_jwks_cleanup(void *data);


char *
ngx_http_remote_help_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_remote_help_loc_conf_t *rlcf = conf;

    char                        *rv;
    u_char                      *text;
    ngx_str_t                   *value, name;
    ngx_uint_t                   i, usable;
    const char                  *why;
    yajl_val                     root, keys;
    ngx_pool_cleanup_t          *cln;
    ngx_http_remote_help_jwk_t  *jwk;

    if (rlcf->jwt_keys != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_remote_help_jwks_read(cf, &name, &text);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    root = yajl_tree_parse((const char *) text, NULL, 0);
    keys = NULL;

    if (root && YAJL_IS_OBJECT(root)) {
        for (i = 0; i < root->u.object.len; i++) {
            if (ngx_strcmp(root->u.object.keys[i], "keys") == 0) {
                keys = root->u.object.values[i];
            }
        }
    }

    if (keys == NULL || !YAJL_IS_ARRAY(keys)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a JWKS file: a JSON object with "
                           "a \"keys\" array is expected", &name);
        if (root) {
            yajl_tree_free(root);
        }
        return NGX_CONF_ERROR;
    }

    rlcf->jwt_keys = ngx_array_create(cf->pool, keys->u.array.len + 1,
                                      sizeof(ngx_http_remote_help_jwk_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (rlcf->jwt_keys == NULL || cln == NULL) {
        yajl_tree_free(root);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_remote_help_jwks_cleanup;
    cln->data = rlcf->jwt_keys;

    usable = 0;

    for (i = 0; i < keys->u.array.len; i++) {

        jwk = ngx_array_push(rlcf->jwt_keys);
        if (jwk == NULL) {
            yajl_tree_free(root);
            return NGX_CONF_ERROR;
        }

        ngx_memzero(jwk, sizeof(ngx_http_remote_help_jwk_t));

        if (ngx_http_remote_help_jwk(cf, keys->u.array.values[i], jwk, &why)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "key %ui of \"%V\" is left out: %s", i + 1,
                               &name, why);
            rlcf->jwt_keys->nelts--;
            continue;
        }

        usable++;
    }

    yajl_tree_free(root);

    if (usable == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" has no usable key (RS256 with RSA of "
                           "2048 bits or more, ES256 with P-256, each with "
                           "a \"kid\")", &name);
        return NGX_CONF_ERROR;
    }

    rlcf->jwt_keys_file = name;

    return NGX_CONF_OK;
}


static char *
ngx_http_remote_help_jwks_read(ngx_conf_t *cf, ngx_str_t *name, u_char **text)
{
    ssize_t          n;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_RH_JWKS_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a JWKS file of at most %d bytes",
                           name, NGX_HTTP_RH_JWKS_MAX);
        (void) ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    *text = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (*text == NULL) {
        (void) ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, *text, ngx_file_size(&fi), 0);

    (void) ngx_close_file(file.fd);

    if (n != (ssize_t) ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\" could not be read", name);
        return NGX_CONF_ERROR;
    }

    (*text)[n] = '\0';

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_remote_help_jwk(ngx_conf_t *cf, yajl_val k,
    ngx_http_remote_help_jwk_t *jwk, const char **why)
{
    size_t       len;
    const char  *kty, *kid, *use, *alg;

    if (!YAJL_IS_OBJECT(k)) {
        *why = "not an object";
        return NGX_DECLINED;
    }

    kty = ngx_http_remote_help_jwk_str(k, "kty");
    kid = ngx_http_remote_help_jwk_str(k, "kid");
    use = ngx_http_remote_help_jwk_str(k, "use");
    alg = ngx_http_remote_help_jwk_str(k, "alg");

    if (kid == NULL || kid[0] == '\0') {
        *why = "no \"kid\"";
        return NGX_DECLINED;
    }

    if (use && ngx_strcmp(use, "sig") != 0) {
        *why = "its \"use\" is not \"sig\"";
        return NGX_DECLINED;
    }

    if (kty && ngx_strcmp(kty, "RSA") == 0) {

        if (alg && ngx_strcmp(alg, "RS256") != 0) {
            *why = "an RSA key for another algorithm than RS256";
            return NGX_DECLINED;
        }

        jwk->alg = NGX_RH_JWT_RS256;
        jwk->pkey = ngx_http_remote_help_jwk_rsa(k, why);

    } else if (kty && ngx_strcmp(kty, "EC") == 0) {

        if (alg && ngx_strcmp(alg, "ES256") != 0) {
            *why = "an EC key for another algorithm than ES256";
            return NGX_DECLINED;
        }

        jwk->alg = NGX_RH_JWT_ES256;
        jwk->pkey = ngx_http_remote_help_jwk_ec(k, why);

    } else {
        *why = "its \"kty\" is neither \"RSA\" nor \"EC\"";
        return NGX_DECLINED;
    }

    if (jwk->pkey == NULL) {
        return NGX_DECLINED;
    }

    len = ngx_strlen(kid);

    jwk->kid.data = ngx_pnalloc(cf->pool, len);
    if (jwk->kid.data == NULL) {
        EVP_PKEY_free(jwk->pkey);
        jwk->pkey = NULL;
        *why = "no memory";
        return NGX_ERROR;
    }

    ngx_memcpy(jwk->kid.data, kid, len);
    jwk->kid.len = len;

    return NGX_OK;
}


static EVP_PKEY *
ngx_http_remote_help_jwk_rsa(yajl_val k, const char **why)
{
    long             nlen, elen;
    u_char           n[1024], e[16];
    BIGNUM          *bn_n, *bn_e;
    EVP_PKEY        *pkey;
    OSSL_PARAM_BLD  *bld;

    nlen = ngx_http_remote_help_jwk_bytes(k, "n", n, sizeof(n));
    elen = ngx_http_remote_help_jwk_bytes(k, "e", e, sizeof(e));

    if (nlen <= 0 || elen <= 0) {
        *why = "no valid \"n\" and \"e\"";
        return NULL;
    }

    while (nlen > 0 && n[0] == 0) {
        ngx_memmove(n, n + 1, --nlen);
    }

    if (nlen < 256) {
        *why = "an RSA key of fewer than 2048 bits";
        return NULL;
    }

    pkey = NULL;
    bn_n = BN_bin2bn(n, (int) nlen, NULL);
    bn_e = BN_bin2bn(e, (int) elen, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (bn_n && bn_e && bld
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
    {
        pkey = ngx_http_remote_help_jwk_build(bld, "RSA");
    }

    if (pkey == NULL) {
        *why = "OpenSSL did not take it as an RSA key";
    }

    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);

    return pkey;
}


static EVP_PKEY *
ngx_http_remote_help_jwk_ec(yajl_val k, const char **why)
{
    u_char           pub[65];
    const char      *crv;
    EVP_PKEY        *pkey;
    OSSL_PARAM_BLD  *bld;

    crv = ngx_http_remote_help_jwk_str(k, "crv");

    if (crv == NULL || ngx_strcmp(crv, "P-256") != 0) {
        *why = "an EC key of another curve than P-256";
        return NULL;
    }

    /* the uncompressed point: 04, x, y */

    pub[0] = 0x04;

    if (ngx_http_remote_help_jwk_bytes(k, "x", pub + 1, 32) != 32
        || ngx_http_remote_help_jwk_bytes(k, "y", pub + 33, 32) != 32)
    {
        *why = "no valid \"x\" and \"y\" of 32 bytes";
        return NULL;
    }

    pkey = NULL;
    bld = OSSL_PARAM_BLD_new();

    if (bld
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           "prime256v1", 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            pub, sizeof(pub)))
    {
        pkey = ngx_http_remote_help_jwk_build(bld, "EC");
    }

    if (pkey == NULL) {
        *why = "OpenSSL did not take it as a P-256 point";
    }

    OSSL_PARAM_BLD_free(bld);

    return pkey;
}


/* a public key of the type from the parameters built */

static EVP_PKEY *
ngx_http_remote_help_jwk_build(OSSL_PARAM_BLD *bld, const char *type)
{
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    {
        pkey = NULL;
        ERR_clear_error();
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return pkey;
}


static const char *
ngx_http_remote_help_jwk_str(yajl_val obj, const char *name)
{
    size_t  i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (ngx_strcmp(obj->u.object.keys[i], name) == 0) {
            return YAJL_IS_STRING(obj->u.object.values[i])
                   ? obj->u.object.values[i]->u.string : NULL;
        }
    }

    return NULL;
}


/* a base64url member decoded into out (size bytes); -1: none or too long */

static long
ngx_http_remote_help_jwk_bytes(yajl_val obj, const char *name, u_char *out,
    size_t size)
{
    size_t       len;
    const char  *s;

    s = ngx_http_remote_help_jwk_str(obj, name);

    if (s == NULL) {
        return -1;
    }

    len = ngx_strlen(s);

    /* what len characters decode to, at most */

    if (len * 3 / 4 > size) {
        return -1;
    }

    return ngx_rh_base64url_decode(out, (const u_char *) s, len);
}


ngx_http_remote_help_jwk_t *
ngx_http_remote_help_jwk_find(ngx_array_t *keys, const char *kid, size_t len,
    ngx_uint_t alg)
{
    ngx_uint_t                   i;
    ngx_http_remote_help_jwk_t  *jwk;

    jwk = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (jwk[i].alg == alg && jwk[i].kid.len == len
            && ngx_memcmp(jwk[i].kid.data, kid, len) == 0)
        {
            return &jwk[i];
        }
    }

    return NULL;
}


static void
ngx_http_remote_help_jwks_cleanup(void *data)
{
    ngx_array_t *keys = data;

    ngx_uint_t                   i;
    ngx_http_remote_help_jwk_t  *jwk;

    jwk = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        EVP_PKEY_CTX_free(jwk[i].verify);
        EVP_PKEY_free(jwk[i].pkey);
    }
}
