
/*
 * ngx_http_remote_help_module: bearer tokens read: a JWS in compact
 * form (RFC 7515) split and its header and claims parsed (yajl's tree),
 * base64url, and the permission names of the reference pages as bits.
 *
 * Pure C, no nginx types and no cryptography: the signature is checked
 * by the caller over the signing input this gives it.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_TOKEN_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_TOKEN_H_INCLUDED_


#include <stddef.h>


#define NGX_RH_JWT_OK          0
#define NGX_RH_JWT_MALFORMED  -1     /* not a JWS of JSON objects */
#define NGX_RH_JWT_INVALID    -2     /* a claim of the wrong type */
#define NGX_RH_JWT_NOMEM      -3

#define NGX_RH_JWT_OTHER       0     /* any alg but these two */
#define NGX_RH_JWT_RS256       1
#define NGX_RH_JWT_ES256       2

/* the most audiences a token may name, and a token's longest */
#define NGX_RH_JWT_AUD_MAX     16
#define NGX_RH_JWT_MAX_LEN     16384

/*
 * the permissions of the reference pages' tables: DeviceManagement
 * ServiceConfig.Read.All, ServiceConfig.ReadWrite.All,
 * Configuration.Read.All, Configuration.ReadWrite.All
 */
#define NGX_RH_PERM_SC_READ    0x01
#define NGX_RH_PERM_SC_RW      0x02
#define NGX_RH_PERM_CONF_READ  0x04
#define NGX_RH_PERM_CONF_RW    0x08

/* an operation's row: the caller holds at least one of these */
#define NGX_RH_PERM_READ       0x0f
#define NGX_RH_PERM_WRITE      0x0a


typedef struct {
    const char               *data;     /* NUL-terminated, in the tree */
    size_t                    len;
} ngx_rh_jwt_str_t;


typedef struct {
    int                       alg;
    ngx_rh_jwt_str_t          kid;      /* len 0: none */

    /* the claims (len 0 or has_* 0: absent) */
    long long                 exp;
    long long                 nbf;
    unsigned                  has_exp:1;
    unsigned                  has_nbf:1;
    unsigned                  delegated:1;   /* an scp claim */
    ngx_rh_jwt_str_t          iss;
    ngx_rh_jwt_str_t          tid;
    ngx_rh_jwt_str_t          aud[NGX_RH_JWT_AUD_MAX];
    unsigned                  naud;
    unsigned                  scp;      /* permission bits */
    unsigned                  roles;

    /* what the signature covers, and the signature */
    const unsigned char      *input;
    size_t                    input_len;
    unsigned char            *sig;
    size_t                    sig_len;

    /* owned: freed by ngx_rh_jwt_free() */
    void                     *header;
    void                     *claims;
    unsigned char            *buf;
} ngx_rh_jwt_t;


/* a token of len bytes (no "Bearer "); t is always to be freed after */
int ngx_rh_jwt_parse(ngx_rh_jwt_t *t, const unsigned char *token,
    size_t len);
void ngx_rh_jwt_free(ngx_rh_jwt_t *t);

/*
 * base64url without padding (RFC 7515, section 2) into out, which has
 * room for len * 3 / 4 bytes; -1: not base64url
 */
long ngx_rh_base64url_decode(unsigned char *out, const unsigned char *in,
    size_t len);

/* permission names separated by spaces or commas, as bits */
unsigned ngx_rh_perm_bits(const unsigned char *s, size_t len);

/* the names of an operation's row (READ or WRITE), ", "-separated */
const char *ngx_rh_perm_names(unsigned row);


#endif /* _NGX_HTTP_REMOTE_HELP_TOKEN_H_INCLUDED_ */
