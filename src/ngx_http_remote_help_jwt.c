
/*
 * ngx_http_remote_help_module: remote_help_auth jwt.  A token is read
 * (ngx_http_remote_help_token.c), its cheap claims checked first (alg,
 * kid, exp, nbf, aud, iss), then its signature with the key its header
 * names (OpenSSL's EVP_DigestVerify, the SHA-256 digest fetched once;
 * an ES256 signature, r || s, made DER first).  A worker keeps the
 * tokens it verified in a bounded LRU cache per location, keyed by the
 * whole token and compared whole (never by its signature alone), with
 * what a decision needs: its times and what it grants.  A token found
 * there is checked against the clock again and nothing else.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_jwks.h"
#include "ngx_http_remote_help_jwt.h"
#include "ngx_http_remote_help_token.h"


typedef struct ngx_http_remote_help_jwt_entry_s
    ngx_http_remote_help_jwt_entry_t;

struct ngx_http_remote_help_jwt_entry_s {
    ngx_queue_t                        queue;   /* lru or free */
    ngx_http_remote_help_jwt_entry_t  *next;    /* in its bucket */
    uint32_t                           hash;
    size_t                             len;
    u_char                            *token;   /* a copy, ngx_alloc() */
    time_t                             exp;
    time_t                             nbf;     /* 0: none */
    ngx_http_remote_help_grant_t       grant;
};


struct ngx_http_remote_help_jwt_cache_s {
    ngx_queue_t                        lru;     /* most recent first */
    ngx_queue_t                        free;
    ngx_http_remote_help_jwt_entry_t  *buckets[2 * NGX_HTTP_RH_JWT_CACHE];
    ngx_http_remote_help_jwt_entry_t   entries[NGX_HTTP_RH_JWT_CACHE];
};


static ngx_http_remote_help_jwt_cache_t *ngx_http_remote_help_jwt_cache(
    ngx_http_remote_help_loc_conf_t *rlcf, ngx_log_t *log);
static ngx_http_remote_help_jwt_entry_t *ngx_http_remote_help_jwt_lookup(
    ngx_http_remote_help_jwt_cache_t *cache, uint32_t hash, ngx_str_t *token);
static void ngx_http_remote_help_jwt_insert(
    ngx_http_remote_help_jwt_cache_t *cache, uint32_t hash, ngx_str_t *token,
    ngx_rh_jwt_t *t, ngx_http_remote_help_grant_t *grant, ngx_log_t *log);
static void ngx_http_remote_help_jwt_evict(
    ngx_http_remote_help_jwt_cache_t *cache,
    ngx_http_remote_help_jwt_entry_t *e);
static ngx_uint_t ngx_http_remote_help_jwt_check(ngx_http_request_t *r,
    ngx_http_remote_help_loc_conf_t *rlcf, ngx_rh_jwt_t *t);
static ngx_uint_t ngx_http_remote_help_jwt_issuer(ngx_array_t *issuers,
    ngx_rh_jwt_t *t);
static ngx_int_t ngx_http_remote_help_jwt_signature(ngx_log_t *log,
    ngx_http_remote_help_jwk_t *key, ngx_rh_jwt_t *t);


/* a process's own: the digest fetched once, one context reused */
static EVP_MD      *ngx_http_remote_help_sha256;
static EVP_MD_CTX  *ngx_http_remote_help_md_ctx;


ngx_int_t
ngx_http_remote_help_jwt_init_process(ngx_cycle_t *cycle)
{
    ngx_http_remote_help_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    ngx_http_remote_help_md_ctx = EVP_MD_CTX_new();

    if (ngx_http_remote_help_sha256 == NULL
        || ngx_http_remote_help_md_ctx == NULL)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "remote_help: OpenSSL has no SHA-256 digest");
        ERR_clear_error();
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_jwt_verify(ngx_http_request_t *r,
    ngx_http_remote_help_loc_conf_t *rlcf, ngx_str_t *token,
    ngx_http_remote_help_grant_t *grant)
{
    int                                rc;
    time_t                             now;
    uint32_t                           hash;
    ngx_rh_jwt_t                       t;
    ngx_http_remote_help_jwt_entry_t  *e;
    ngx_http_remote_help_jwt_cache_t  *cache;

    ngx_memzero(grant, sizeof(ngx_http_remote_help_grant_t));

    now = ngx_time();
    hash = 0;
    cache = NULL;

    if (token->len <= NGX_HTTP_RH_JWT_CACHE_LEN) {
        cache = ngx_http_remote_help_jwt_cache(rlcf, r->connection->log);
    }

    if (cache) {
        hash = ngx_murmur_hash2(token->data, token->len);
        e = ngx_http_remote_help_jwt_lookup(cache, hash, token);

        if (e) {
            if (now > e->exp + rlcf->jwt_leeway) {
                /* it will not be valid again */
                ngx_http_remote_help_jwt_evict(cache, e);
                grant->status = NGX_HTTP_RH_JWT_EXPIRED;
                return NGX_OK;
            }

            if (e->nbf && now < e->nbf - rlcf->jwt_leeway) {
                grant->status = NGX_HTTP_RH_JWT_EXPIRED;
                return NGX_OK;
            }

            ngx_queue_remove(&e->queue);
            ngx_queue_insert_head(&cache->lru, &e->queue);

            *grant = e->grant;
            return NGX_OK;
        }
    }

    rc = ngx_rh_jwt_parse(&t, token->data, token->len);

    switch (rc) {

    case NGX_RH_JWT_OK:
        grant->status = ngx_http_remote_help_jwt_check(r, rlcf, &t);
        break;

    case NGX_RH_JWT_MALFORMED:
        grant->status = NGX_HTTP_RH_JWT_MALFORMED;
        break;

    case NGX_RH_JWT_INVALID:
        grant->status = NGX_HTTP_RH_JWT_INVALID;
        break;

    default:
        ngx_rh_jwt_free(&t);
        return NGX_ERROR;
    }

    if (grant->status == NGX_HTTP_RH_JWT_VALID) {
        grant->delegated = t.delegated;
        grant->perms = t.delegated ? t.scp : t.roles;
        grant->personal = t.delegated
                          && ngx_http_remote_help_personal((u_char *)
                                                           t.tid.data,
                                                           t.tid.len);

        if (cache) {
            ngx_http_remote_help_jwt_insert(cache, hash, token, &t, grant,
                                            r->connection->log);
        }
    }

    ngx_rh_jwt_free(&t);

    return NGX_OK;
}


/*
 * The checks, cheap ones first: a token that fails them costs no
 * signature verification.
 */

static ngx_uint_t
ngx_http_remote_help_jwt_check(ngx_http_request_t *r,
    ngx_http_remote_help_loc_conf_t *rlcf, ngx_rh_jwt_t *t)
{
    time_t                       now;
    ngx_str_t                   *aud;
    ngx_uint_t                   i, j;
    ngx_http_remote_help_jwk_t  *key;

    if (t->alg == NGX_RH_JWT_OTHER || t->kid.len == 0) {
        return NGX_HTTP_RH_JWT_INVALID;
    }

    /* the key the header names, of its algorithm; no other is tried */

    key = ngx_http_remote_help_jwk_find(rlcf->jwt_keys, t->kid.data,
                                        t->kid.len, t->alg);
    if (key == NULL) {
        return NGX_HTTP_RH_JWT_INVALID;
    }

    if (!t->has_exp) {
        return NGX_HTTP_RH_JWT_INVALID;
    }

    now = ngx_time();

    if (t->exp + rlcf->jwt_leeway < now
        || (t->has_nbf && t->nbf - rlcf->jwt_leeway > now))
    {
        return NGX_HTTP_RH_JWT_EXPIRED;
    }

    aud = rlcf->jwt_audiences->elts;

    for (i = 0; i < t->naud; i++) {
        for (j = 0; j < rlcf->jwt_audiences->nelts; j++) {
            if (aud[j].len == t->aud[i].len
                && ngx_memcmp(aud[j].data, t->aud[i].data, aud[j].len) == 0)
            {
                goto audience;
            }
        }
    }

    return NGX_HTTP_RH_JWT_AUDIENCE;

audience:

    if (!ngx_http_remote_help_jwt_issuer(rlcf->jwt_issuers, t)) {
        return NGX_HTTP_RH_JWT_INVALID;
    }

    if (ngx_http_remote_help_jwt_signature(r->connection->log, key, t)
        != NGX_OK)
    {
        return NGX_HTTP_RH_JWT_INVALID;
    }

    return NGX_HTTP_RH_JWT_VALID;
}


/* iss equals one of the issuers, "{tid}" in one standing for its tid */

static ngx_uint_t
ngx_http_remote_help_jwt_issuer(ngx_array_t *issuers, ngx_rh_jwt_t *t)
{
    u_char      *p, *iss;
    size_t       head, tail;
    ngx_str_t   *v;
    ngx_uint_t   i;

    v = issuers->elts;
    iss = (u_char *) t->iss.data;

    for (i = 0; i < issuers->nelts; i++) {

        p = ngx_strlcasestrn(v[i].data, v[i].data + v[i].len,
                             (u_char *) "{tid}", 5 - 1);

        if (p == NULL) {
            if (v[i].len == t->iss.len
                && ngx_memcmp(v[i].data, iss, t->iss.len) == 0)
            {
                return 1;
            }

            continue;
        }

        if (t->tid.len == 0) {
            continue;
        }

        head = p - v[i].data;
        tail = v[i].len - head - 5;

        if (t->iss.len == head + t->tid.len + tail
            && ngx_memcmp(iss, v[i].data, head) == 0
            && ngx_memcmp(iss + head, t->tid.data, t->tid.len) == 0
            && ngx_memcmp(iss + head + t->tid.len, p + 5, tail) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_remote_help_jwt_signature(ngx_log_t *log,
    ngx_http_remote_help_jwk_t *key, ngx_rh_jwt_t *t)
{
    int                   rc, n;
    u_char                der[80], *p, digest[EVP_MAX_MD_SIZE];
    size_t                len;
    unsigned int          dlen;
    BIGNUM               *br, *bs;
    ECDSA_SIG            *es;
    const u_char         *sig;

    if (ngx_http_remote_help_md_ctx == NULL) {
        return NGX_ERROR;
    }

    sig = t->sig;
    len = t->sig_len;

    if (key->alg == NGX_RH_JWT_ES256) {

        /* r || s, 32 bytes each, as DER for OpenSSL */

        if (len != 64) {
            return NGX_DECLINED;
        }

        es = ECDSA_SIG_new();
        br = BN_bin2bn(t->sig, 32, NULL);
        bs = BN_bin2bn(t->sig + 32, 32, NULL);

        if (es == NULL || br == NULL || bs == NULL
            || ECDSA_SIG_set0(es, br, bs) != 1)
        {
            ECDSA_SIG_free(es);
            BN_free(br);
            BN_free(bs);
            ERR_clear_error();
            return NGX_ERROR;
        }

        p = der;
        n = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);

        if (n <= 0 || n > (int) sizeof(der)) {
            ERR_clear_error();
            return NGX_ERROR;
        }

        sig = der;
        len = (size_t) n;

    } else if (len != (size_t) EVP_PKEY_get_size(key->pkey)) {
        return NGX_DECLINED;
    }

    /*
     * The key's verification context is made ready once in a worker
     * (OpenSSL 3 looks up a provider's algorithm at each init: a good
     * part of a verification's cost); then each token is a digest and
     * one EVP_PKEY_verify().
     */

    if (key->verify == NULL) {
        key->verify = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);

        if (key->verify == NULL
            || EVP_PKEY_verify_init(key->verify) != 1
            || EVP_PKEY_CTX_set_signature_md(key->verify,
                                             ngx_http_remote_help_sha256)
               != 1)
        {
            EVP_PKEY_CTX_free(key->verify);
            key->verify = NULL;
            ERR_clear_error();
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "remote_help: OpenSSL cannot verify with key "
                          "\"%V\"", &key->kid);
            return NGX_ERROR;
        }
    }

    rc = EVP_DigestInit_ex(ngx_http_remote_help_md_ctx,
                           ngx_http_remote_help_sha256, NULL);

    if (rc == 1) {
        rc = EVP_DigestUpdate(ngx_http_remote_help_md_ctx, t->input,
                              t->input_len);
    }

    if (rc == 1) {
        rc = EVP_DigestFinal_ex(ngx_http_remote_help_md_ctx, digest, &dlen);
    }

    if (rc == 1) {
        rc = EVP_PKEY_verify(key->verify, sig, len, digest, dlen);
    }

    ERR_clear_error();

    return (rc == 1) ? NGX_OK : NGX_DECLINED;
}


/* the cache: made at its first use in a worker, never freed */

static ngx_http_remote_help_jwt_cache_t *
ngx_http_remote_help_jwt_cache(ngx_http_remote_help_loc_conf_t *rlcf,
    ngx_log_t *log)
{
    ngx_uint_t                         i;
    ngx_http_remote_help_jwt_cache_t  *cache;

    if (rlcf->jwt_cache) {
        return rlcf->jwt_cache;
    }

    cache = ngx_calloc(sizeof(ngx_http_remote_help_jwt_cache_t), log);
    if (cache == NULL) {
        return NULL;
    }

    ngx_queue_init(&cache->lru);
    ngx_queue_init(&cache->free);

    for (i = 0; i < NGX_HTTP_RH_JWT_CACHE; i++) {
        ngx_queue_insert_tail(&cache->free, &cache->entries[i].queue);
    }

    rlcf->jwt_cache = cache;

    return cache;
}


static ngx_http_remote_help_jwt_entry_t *
ngx_http_remote_help_jwt_lookup(ngx_http_remote_help_jwt_cache_t *cache,
    uint32_t hash, ngx_str_t *token)
{
    ngx_http_remote_help_jwt_entry_t  *e;

    for (e = cache->buckets[hash % (2 * NGX_HTTP_RH_JWT_CACHE)];
         e;
         e = e->next)
    {
        if (e->hash == hash && e->len == token->len
            && ngx_memcmp(e->token, token->data, token->len) == 0)
        {
            return e;
        }
    }

    return NULL;
}


static void
ngx_http_remote_help_jwt_insert(ngx_http_remote_help_jwt_cache_t *cache,
    uint32_t hash, ngx_str_t *token, ngx_rh_jwt_t *t,
    ngx_http_remote_help_grant_t *grant, ngx_log_t *log)
{
    u_char                            *copy;
    ngx_queue_t                       *q;
    ngx_http_remote_help_jwt_entry_t  *e, **bucket;

    copy = ngx_alloc(token->len, log);
    if (copy == NULL) {
        return;
    }

    if (ngx_queue_empty(&cache->free)) {
        /* the least recently used goes */
        q = ngx_queue_last(&cache->lru);
        ngx_http_remote_help_jwt_evict(cache,
                         ngx_queue_data(q, ngx_http_remote_help_jwt_entry_t,
                                        queue));
    }

    q = ngx_queue_head(&cache->free);
    ngx_queue_remove(q);
    e = ngx_queue_data(q, ngx_http_remote_help_jwt_entry_t, queue);

    ngx_memcpy(copy, token->data, token->len);

    e->hash = hash;
    e->len = token->len;
    e->token = copy;
    e->exp = (time_t) t->exp;
    e->nbf = t->has_nbf ? (time_t) t->nbf : 0;
    e->grant = *grant;

    bucket = &cache->buckets[hash % (2 * NGX_HTTP_RH_JWT_CACHE)];
    e->next = *bucket;
    *bucket = e;

    ngx_queue_insert_head(&cache->lru, &e->queue);
}


static void
ngx_http_remote_help_jwt_evict(ngx_http_remote_help_jwt_cache_t *cache,
    ngx_http_remote_help_jwt_entry_t *e)
{
    ngx_http_remote_help_jwt_entry_t  **p;

    for (p = &cache->buckets[e->hash % (2 * NGX_HTTP_RH_JWT_CACHE)];
         *p != e;
         p = &(*p)->next)
    {
        /* void */
    }

    *p = e->next;

    ngx_free(e->token);
    e->token = NULL;

    ngx_queue_remove(&e->queue);
    ngx_queue_insert_head(&cache->free, &e->queue);
}


/* a tenant id that is the one of personal Microsoft accounts */

ngx_uint_t
ngx_http_remote_help_personal(u_char *tid, size_t len)
{
    return len == sizeof(NGX_HTTP_RH_MSA_TENANT) - 1
           && ngx_strncasecmp(tid, (u_char *) NGX_HTTP_RH_MSA_TENANT, len)
              == 0;
}
