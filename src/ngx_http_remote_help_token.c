
/*
 * ngx_http_remote_help_module: bearer tokens read (JWS compact form).
 * Pure C over yajl's tree parser; see ngx_http_remote_help_token.h.
 */


#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_remote_help_token.h"


static int ngx_rh_jwt_header(ngx_rh_jwt_t *t, yajl_val h);
static int ngx_rh_jwt_claims(ngx_rh_jwt_t *t, yajl_val c);
static int ngx_rh_jwt_time(yajl_val v, long long *out);
static yajl_val ngx_rh_jwt_member(yajl_val obj, const char *name);
static yajl_val ngx_rh_jwt_json(const unsigned char *in, size_t len,
    unsigned char *buf);


static const struct {
    const char  *name;
    size_t       len;
    unsigned     bit;
} ngx_rh_perms[] = {
    { "DeviceManagementServiceConfig.Read.All", 38, NGX_RH_PERM_SC_READ },
    { "DeviceManagementServiceConfig.ReadWrite.All", 43, NGX_RH_PERM_SC_RW },
    { "DeviceManagementConfiguration.Read.All", 38, NGX_RH_PERM_CONF_READ },
    { "DeviceManagementConfiguration.ReadWrite.All", 43,
      NGX_RH_PERM_CONF_RW },
};


/* base64url's alphabet: value + 1, 0 for a byte not in it */

static const unsigned char  ngx_rh_b64url[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
    ['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
    ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
    ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26,
    ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38,
    ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44,
    ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
    ['y'] = 51, ['z'] = 52,
    ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58,
    ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
    ['-'] = 63, ['_'] = 64,
};


long
ngx_rh_base64url_decode(unsigned char *out, const unsigned char *in,
    size_t len)
{
    size_t         i;
    unsigned       acc, bits, v;
    unsigned char *p;

    if (len % 4 == 1) {
        return -1;
    }

    p = out;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        v = ngx_rh_b64url[in[i]];

        if (v == 0) {
            return -1;
        }

        acc = (acc << 6) | (v - 1);
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *p++ = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    /* the bits left over must be zero (one encoding per value) */

    if (acc != 0) {
        return -1;
    }

    return (long) (p - out);
}


int
ngx_rh_jwt_parse(ngx_rh_jwt_t *t, const unsigned char *token, size_t len)
{
    int                   rc;
    size_t                i, dot1, dot2;
    long                  n;
    unsigned char        *hbuf, *cbuf;

    memset(t, 0, sizeof(ngx_rh_jwt_t));

    if (len == 0 || len > NGX_RH_JWT_MAX_LEN) {
        return NGX_RH_JWT_MALFORMED;
    }

    dot1 = 0;
    dot2 = 0;

    for (i = 0; i < len; i++) {
        if (token[i] != '.') {
            continue;
        }

        if (dot1 == 0) {
            dot1 = i;

        } else if (dot2 == 0) {
            dot2 = i;

        } else {
            return NGX_RH_JWT_MALFORMED;
        }
    }

    if (dot1 == 0 || dot2 == 0 || dot2 == dot1 + 1) {
        return NGX_RH_JWT_MALFORMED;
    }

    /* one buffer: header JSON, claims JSON, signature, each decoded */

    t->buf = malloc(len + 3);
    if (t->buf == NULL) {
        return NGX_RH_JWT_NOMEM;
    }

    hbuf = t->buf;
    t->header = ngx_rh_jwt_json(token, dot1, hbuf);

    if (t->header == NULL) {
        return NGX_RH_JWT_MALFORMED;
    }

    cbuf = hbuf + dot1 + 1;
    t->claims = ngx_rh_jwt_json(token + dot1 + 1, dot2 - dot1 - 1, cbuf);

    if (t->claims == NULL) {
        return NGX_RH_JWT_MALFORMED;
    }

    t->sig = cbuf + (dot2 - dot1);
    n = ngx_rh_base64url_decode(t->sig, token + dot2 + 1, len - dot2 - 1);

    if (n < 0) {
        return NGX_RH_JWT_MALFORMED;
    }

    t->sig_len = (size_t) n;
    t->input = token;
    t->input_len = dot2;

    rc = ngx_rh_jwt_header(t, t->header);

    if (rc != NGX_RH_JWT_OK) {
        return rc;
    }

    return ngx_rh_jwt_claims(t, t->claims);
}


void
ngx_rh_jwt_free(ngx_rh_jwt_t *t)
{
    if (t->header) {
        yajl_tree_free(t->header);
        t->header = NULL;
    }

    if (t->claims) {
        yajl_tree_free(t->claims);
        t->claims = NULL;
    }

    free(t->buf);
    t->buf = NULL;
}


/* a part decoded into buf (NUL-terminated) and parsed: an object, or NULL */

static yajl_val
ngx_rh_jwt_json(const unsigned char *in, size_t len, unsigned char *buf)
{
    long      n;
    yajl_val  v;

    n = ngx_rh_base64url_decode(buf, in, len);

    if (n <= 0) {
        return NULL;
    }

    buf[n] = '\0';

    /* a NUL inside is not JSON, and would end yajl_tree's input early */

    if (memchr(buf, '\0', (size_t) n) != NULL) {
        return NULL;
    }

    v = yajl_tree_parse((const char *) buf, NULL, 0);

    if (v == NULL) {
        return NULL;
    }

    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        return NULL;
    }

    return v;
}


static yajl_val
ngx_rh_jwt_member(yajl_val obj, const char *name)
{
    size_t  i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], name) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


static int
ngx_rh_jwt_header(ngx_rh_jwt_t *t, yajl_val h)
{
    yajl_val  v;

    v = ngx_rh_jwt_member(h, "alg");

    if (v == NULL || !YAJL_IS_STRING(v)) {
        return NGX_RH_JWT_INVALID;
    }

    if (strcmp(v->u.string, "RS256") == 0) {
        t->alg = NGX_RH_JWT_RS256;

    } else if (strcmp(v->u.string, "ES256") == 0) {
        t->alg = NGX_RH_JWT_ES256;

    } else {
        t->alg = NGX_RH_JWT_OTHER;
    }

    v = ngx_rh_jwt_member(h, "kid");

    if (v) {
        if (!YAJL_IS_STRING(v)) {
            return NGX_RH_JWT_INVALID;
        }

        t->kid.data = v->u.string;
        t->kid.len = strlen(v->u.string);
    }

    /* a critical extension this reader does not know: refused */

    if (ngx_rh_jwt_member(h, "crit") != NULL) {
        return NGX_RH_JWT_INVALID;
    }

    return NGX_RH_JWT_OK;
}


static int
ngx_rh_jwt_claims(ngx_rh_jwt_t *t, yajl_val c)
{
    size_t    i;
    yajl_val  v, e;

    v = ngx_rh_jwt_member(c, "exp");

    if (v) {
        if (ngx_rh_jwt_time(v, &t->exp) != 0) {
            return NGX_RH_JWT_INVALID;
        }

        t->has_exp = 1;
    }

    v = ngx_rh_jwt_member(c, "nbf");

    if (v) {
        if (ngx_rh_jwt_time(v, &t->nbf) != 0) {
            return NGX_RH_JWT_INVALID;
        }

        t->has_nbf = 1;
    }

    v = ngx_rh_jwt_member(c, "aud");

    if (v) {
        if (YAJL_IS_STRING(v)) {
            t->aud[0].data = v->u.string;
            t->aud[0].len = strlen(v->u.string);
            t->naud = 1;

        } else if (YAJL_IS_ARRAY(v) && v->u.array.len <= NGX_RH_JWT_AUD_MAX) {

            for (i = 0; i < v->u.array.len; i++) {
                e = v->u.array.values[i];

                if (!YAJL_IS_STRING(e)) {
                    return NGX_RH_JWT_INVALID;
                }

                t->aud[i].data = e->u.string;
                t->aud[i].len = strlen(e->u.string);
            }

            t->naud = (unsigned) v->u.array.len;

        } else {
            return NGX_RH_JWT_INVALID;
        }
    }

    v = ngx_rh_jwt_member(c, "iss");

    if (v) {
        if (!YAJL_IS_STRING(v)) {
            return NGX_RH_JWT_INVALID;
        }

        t->iss.data = v->u.string;
        t->iss.len = strlen(v->u.string);
    }

    v = ngx_rh_jwt_member(c, "tid");

    if (v) {
        if (!YAJL_IS_STRING(v)) {
            return NGX_RH_JWT_INVALID;
        }

        t->tid.data = v->u.string;
        t->tid.len = strlen(v->u.string);
    }

    v = ngx_rh_jwt_member(c, "scp");

    if (v) {
        if (!YAJL_IS_STRING(v)) {
            return NGX_RH_JWT_INVALID;
        }

        t->delegated = 1;
        t->scp = ngx_rh_perm_bits((const unsigned char *) v->u.string,
                                  strlen(v->u.string));
    }

    v = ngx_rh_jwt_member(c, "roles");

    if (v) {
        if (!YAJL_IS_ARRAY(v)) {
            return NGX_RH_JWT_INVALID;
        }

        for (i = 0; i < v->u.array.len; i++) {
            e = v->u.array.values[i];

            if (!YAJL_IS_STRING(e)) {
                return NGX_RH_JWT_INVALID;
            }

            t->roles |= ngx_rh_perm_bits((const unsigned char *) e->u.string,
                                         strlen(e->u.string));
        }
    }

    return NGX_RH_JWT_OK;
}


/*
 * a NumericDate: seconds since the epoch, fractions dropped, held within
 * the years 1 to 9999 (so that adding a leeway cannot overflow)
 */

#define NGX_RH_JWT_TIME_MIN  (-62135596800LL)
#define NGX_RH_JWT_TIME_MAX  253402300799LL

static int
ngx_rh_jwt_time(yajl_val v, long long *out)
{
    double     d;
    long long  n;

    if (YAJL_IS_INTEGER(v)) {
        n = YAJL_GET_INTEGER(v);

    } else if (YAJL_IS_DOUBLE(v)) {
        d = YAJL_GET_DOUBLE(v);

        if (d != d) {
            return -1;
        }

        n = (d > (double) NGX_RH_JWT_TIME_MAX) ? NGX_RH_JWT_TIME_MAX
            : (d < (double) NGX_RH_JWT_TIME_MIN) ? NGX_RH_JWT_TIME_MIN
            : (long long) d;

    } else {
        return -1;
    }

    *out = (n > NGX_RH_JWT_TIME_MAX) ? NGX_RH_JWT_TIME_MAX
           : (n < NGX_RH_JWT_TIME_MIN) ? NGX_RH_JWT_TIME_MIN : n;

    return 0;
}


unsigned
ngx_rh_perm_bits(const unsigned char *s, size_t len)
{
    size_t    i, start, k;
    unsigned  bits;

    bits = 0;
    start = 0;

    for (i = 0; i <= len; i++) {

        if (i < len && s[i] != ' ' && s[i] != ',') {
            continue;
        }

        for (k = 0; k < sizeof(ngx_rh_perms) / sizeof(ngx_rh_perms[0]); k++) {
            if (i - start == ngx_rh_perms[k].len
                && memcmp(s + start, ngx_rh_perms[k].name, i - start) == 0)
            {
                bits |= ngx_rh_perms[k].bit;
            }
        }

        start = i + 1;
    }

    return bits;
}


const char *
ngx_rh_perm_names(unsigned row)
{
    if (row == NGX_RH_PERM_WRITE) {
        return "DeviceManagementServiceConfig.ReadWrite.All, "
               "DeviceManagementConfiguration.ReadWrite.All";
    }

    return "DeviceManagementServiceConfig.Read.All, "
           "DeviceManagementServiceConfig.ReadWrite.All, "
           "DeviceManagementConfiguration.Read.All, "
           "DeviceManagementConfiguration.ReadWrite.All";
}
