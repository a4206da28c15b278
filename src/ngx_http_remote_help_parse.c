
/*
 * ngx_http_remote_help_module: request body parsing and validation.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_remote_help_parse.h"
#include "ngx_http_remote_help_run.h"


#define NGX_RH_JSON_PREFIX                                                   \
    "Unable to read JSON request payload. Please ensure Content-Type "       \
    "header is set and payload is of valid JSON format."

#define NGX_RH_LITERAL_MAX    128

/* what the next value at depth 1 belongs to */
#define NGX_RH_CUR_NONE      -1
#define NGX_RH_CUR_TYPE      -2
#define NGX_RH_CUR_IGNORED   -3

#define NGX_RH_PROCEED        2


struct ngx_rh_name_s {
    ngx_rh_name_t            *next;
    size_t                    len;
    unsigned char             data[1];
};


static void *ngx_rh_alloc(ngx_rh_parser_t *p, size_t size);
static void ngx_rh_free(ngx_rh_parser_t *p, void *m);
static void ngx_rh_fail(ngx_rh_parser_t *p, const char *fmt, ...);
static void ngx_rh_syntax_error(ngx_rh_parser_t *p,
    const unsigned char *data, size_t len, size_t offset);
static void ngx_rh_literal(char *buf, size_t size, const unsigned char *s,
    size_t len);
static int ngx_rh_scan(ngx_rh_parser_t *p, const unsigned char *data,
    size_t len);
static unsigned ngx_rh_utf8_lead(unsigned char c, unsigned char *lo,
    unsigned char *hi);
static int ngx_rh_store(ngx_rh_parser_t *p, const unsigned char *s,
    size_t len);
static int ngx_rh_key_valid(ngx_rh_parser_t *p, const unsigned char *s,
    size_t len);
static int ngx_rh_not_string(ngx_rh_parser_t *p, const char *literal,
    size_t len);
static int ngx_rh_nested(ngx_rh_parser_t *p);
static void ngx_rh_compound(ngx_rh_parser_t *p, char *buf, size_t size);
static int ngx_rh_scalar(ngx_rh_parser_t *p);

static int ngx_rh_on_null(void *ctx);
static int ngx_rh_on_boolean(void *ctx, int b);
static int ngx_rh_on_number(void *ctx, const char *s, size_t len);
static int ngx_rh_on_string(void *ctx, const unsigned char *s, size_t len);
static int ngx_rh_on_start_map(void *ctx);
static int ngx_rh_on_map_key(void *ctx, const unsigned char *s, size_t len);
static int ngx_rh_on_end_map(void *ctx);
static int ngx_rh_on_start_array(void *ctx);
static int ngx_rh_on_end_array(void *ctx);


static const yajl_callbacks  ngx_rh_callbacks = {
    ngx_rh_on_null,
    ngx_rh_on_boolean,
    NULL,
    NULL,
    ngx_rh_on_number,
    ngx_rh_on_string,
    ngx_rh_on_start_map,
    ngx_rh_on_map_key,
    ngx_rh_on_end_map,
    ngx_rh_on_start_array,
    ngx_rh_on_end_array
};


int
ngx_rh_parse_init(ngx_rh_parser_t *p, const ngx_rh_set_t *set,
    const yajl_alloc_funcs *afs)
{
    memset(p, 0, sizeof(ngx_rh_parser_t));

    p->set = set;
    p->current = NGX_RH_CUR_NONE;

    if (afs) {
        /* a copy: the parser may outlive the caller's struct */
        p->alloc = *afs;
        p->afs = &p->alloc;
    }

    p->yajl = yajl_alloc(&ngx_rh_callbacks, p->afs ? &p->alloc : NULL, p);
    if (p->yajl == NULL) {
        p->rc = NGX_RH_NOMEM;
        return NGX_RH_NOMEM;
    }

    return NGX_RH_OK;
}


void
ngx_rh_parse_free(ngx_rh_parser_t *p)
{
    unsigned        i;
    ngx_rh_name_t  *n, *next;

    for (n = p->annotations; n; n = next) {
        next = n->next;
        ngx_rh_free(p, n);
    }

    for (i = 0; i < p->set->nprops; i++) {
        ngx_rh_free(p, (void *) p->values[i].data);
        p->values[i].data = NULL;
    }

    p->annotations = NULL;

    if (p->yajl) {
        yajl_free(p->yajl);
        p->yajl = NULL;
    }
}


int
ngx_rh_parse_feed(ngx_rh_parser_t *p, const unsigned char *data, size_t len)
{
    yajl_status  st;

    if (p->rc != NGX_RH_OK) {
        return p->rc;
    }

    if (ngx_rh_scan(p, data, len) != NGX_RH_OK) {
        return p->rc;
    }

    p->feed = data;
    p->feed_len = len;

    st = yajl_parse(p->yajl, data, len);

    p->feed = NULL;

    if (st == yajl_status_ok) {
        p->offset += len;
        return NGX_RH_OK;
    }

    if (st == yajl_status_error) {
        ngx_rh_syntax_error(p, data, len,
                            p->offset + yajl_get_bytes_consumed(p->yajl));
    }

    /* yajl_status_client_canceled: a callback has set the message */

    if (p->rc == NGX_RH_OK) {
        ngx_rh_fail(p, NGX_RH_JSON_PREFIX);
    }

    return p->rc;
}


int
ngx_rh_parse_finish(ngx_rh_parser_t *p, const unsigned char *key,
    size_t key_len)
{
    char             lit[NGX_RH_LITERAL_MAX + 8];
    yajl_status      st;
    ngx_rh_value_t  *v;

    if (p->rc != NGX_RH_OK) {
        return p->rc;
    }

    if (p->in_string || p->utf8_need) {
        ngx_rh_fail(p, NGX_RH_JSON_PREFIX " Unexpected end of input.");
        return p->rc;
    }

    if (!p->nonspace) {
        ngx_rh_fail(p, NGX_RH_JSON_PREFIX " The request body is empty.");
        return p->rc;
    }

    st = yajl_complete_parse(p->yajl);

    if (st == yajl_status_error) {
        ngx_rh_syntax_error(p, NULL, 0, p->offset);
        return p->rc;
    }

    if (st != yajl_status_ok) {
        if (p->rc == NGX_RH_OK) {
            ngx_rh_fail(p, NGX_RH_JSON_PREFIX);
        }

        return p->rc;
    }

    if (!p->done) {
        ngx_rh_fail(p, NGX_RH_JSON_PREFIX
                    " The request body must be a JSON object.");
        return p->rc;
    }

    v = &p->values[NGX_RH_KEY_PROP];

    if (key == NULL) {
        if (!v->present) {
            ngx_rh_fail(p, "The property '%s' is required to create "
                        "an object of type '" NGX_RH_NAMESPACE "%s'.",
                        p->set->props[NGX_RH_KEY_PROP].name, p->set->type);
            return p->rc;
        }

        return NGX_RH_OK;
    }

    if (v->present
        && (v->len != key_len || memcmp(v->data, key, key_len) != 0))
    {
        ngx_rh_literal(lit, sizeof(lit), v->data, v->len);
        ngx_rh_fail(p, "The key property '%s' cannot be changed: "
                    "the value '%s' does not match the key of the object "
                    "in the request URL.",
                    p->set->props[NGX_RH_KEY_PROP].name, lit);
        return p->rc;
    }

    return NGX_RH_OK;
}


static void *
ngx_rh_alloc(ngx_rh_parser_t *p, size_t size)
{
    void  *m;

    if (p->afs) {
        m = p->afs->malloc(p->afs->ctx, size);

    } else {
        m = malloc(size);
    }

    if (m == NULL) {
        p->rc = NGX_RH_NOMEM;
        snprintf(p->message, sizeof(p->message), "Out of memory.");
    }

    return m;
}


static void
ngx_rh_free(ngx_rh_parser_t *p, void *m)
{
    if (m == NULL) {
        return;
    }

    if (p->afs) {
        p->afs->free(p->afs->ctx, m);

    } else {
        free(m);
    }
}


static void
ngx_rh_fail(ngx_rh_parser_t *p, const char *fmt, ...)
{
    va_list  args;

    if (p->rc != NGX_RH_OK) {
        return;
    }

    p->rc = NGX_RH_INVALID;

    va_start(args, fmt);
    vsnprintf(p->message, sizeof(p->message), fmt, args);
    va_end(args);
}


/* yajl's own words, "lexical error: invalid char in json text.\n" */

static void
ngx_rh_syntax_error(ngx_rh_parser_t *p, const unsigned char *data,
    size_t len, size_t offset)
{
    size_t          n;
    unsigned char  *err;

    err = yajl_get_error(p->yajl, 0, data, len);

    n = err ? strlen((char *) err) : 0;

    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '
                     || err[n - 1] == '.'))
    {
        n--;
    }

    ngx_rh_fail(p, NGX_RH_JSON_PREFIX " %.*s at offset %zu.",
                (int) n, err ? (char *) err : "", offset);

    if (err) {
        yajl_free_error(p->yajl, err);
    }
}


/*
 * a literal quoted in a message: at most NGX_RH_LITERAL_MAX bytes,
 * cut on a UTF-8 character boundary, "..." when cut
 */

static void
ngx_rh_literal(char *buf, size_t size, const unsigned char *s, size_t len)
{
    size_t  n;

    n = len;

    if (n > NGX_RH_LITERAL_MAX) {
        n = NGX_RH_LITERAL_MAX;

        while (n > 0 && (s[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    if (n + 4 > size) {
        n = 0;
    }

    memcpy(buf, s, n);

    if (n < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }

    buf[n] = '\0';

    /* a NUL inside the value ends the literal early; harmless */
}


/*
 * The scanner sees every byte before yajl does.  yajl 2.1 accepts
 * overlong UTF-8, encoded surrogates and code points past U+10FFFF,
 * and turns a lone "\uD800" into "?": all of these are rejected here.
 */

static int
ngx_rh_scan(ngx_rh_parser_t *p, const unsigned char *data, size_t len)
{
    size_t         i;
    unsigned char  c;

    for (i = 0; i < len; i++) {
        c = data[i];

        if (p->utf8_need) {
            if (c < p->utf8_lo || c > p->utf8_hi) {
                goto bad_utf8;
            }

            p->utf8_lo = 0x80;
            p->utf8_hi = 0xbf;
            p->utf8_need--;
            continue;
        }

        if (c >= 0x80) {

            p->utf8_need = (unsigned char) ngx_rh_utf8_lead(c, &p->utf8_lo,
                                                            &p->utf8_hi);
            if (p->utf8_need == 0) {
                goto bad_utf8;
            }

            if (p->high_surrogate || p->want_low) {
                goto bad_surrogate;
            }

            continue;
        }

        if (!p->in_string) {
            if (c == '"') {
                p->in_string = 1;
                continue;
            }

            if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
                p->nonspace = 1;

                /* what follows up to a quote or a non-ASCII byte */

                while (i + 1 < len && data[i + 1] < 0x80
                       && data[i + 1] != '"')
                {
                    i++;
                }
            }

            continue;
        }

        if (p->u_digits) {
            p->u_digits--;
            p->u_value <<= 4;

            if (c >= '0' && c <= '9') {
                p->u_value |= c - '0';

            } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                p->u_value |= (c | 0x20) - 'a' + 10;
            }

            /* yajl reports a bad hex digit itself */

            if (p->u_digits == 0) {
                if (p->want_low) {
                    if (p->u_value < 0xdc00 || p->u_value > 0xdfff) {
                        goto bad_surrogate;
                    }

                    p->want_low = 0;

                } else if (p->u_value >= 0xd800 && p->u_value <= 0xdbff) {
                    p->high_surrogate = 1;

                } else if (p->u_value >= 0xdc00 && p->u_value <= 0xdfff) {
                    goto bad_surrogate;
                }
            }

            continue;
        }

        if (p->escape) {
            p->escape = 0;

            if (c == 'u') {
                p->u_digits = 4;
                p->u_value = 0;
                continue;
            }

            if (p->want_low) {
                goto bad_surrogate;
            }

            continue;
        }

        if (p->high_surrogate) {
            /* a high surrogate must be followed by "\u" and a low one */
            p->high_surrogate = 0;
            p->want_low = 1;

            if (c != '\\') {
                goto bad_surrogate;
            }

            p->escape = 1;
            continue;
        }

        if (p->want_low) {
            goto bad_surrogate;
        }

        if (c == '\\') {
            p->escape = 1;

        } else if (c == '"') {
            p->in_string = 0;

        } else {

            /* the rest of a run of plain ASCII in the string */

            i += ngx_rh_run(data + i + 1, len - i - 1, 0, 1);
        }
    }

    return NGX_RH_OK;

bad_utf8:

    ngx_rh_fail(p, NGX_RH_JSON_PREFIX " Invalid UTF-8 at offset %zu.",
                p->offset + i);
    return p->rc;

bad_surrogate:

    ngx_rh_fail(p, NGX_RH_JSON_PREFIX
                " Unpaired UTF-16 surrogate escape at offset %zu.",
                p->offset + i);
    return p->rc;
}


static int
ngx_rh_on_start_map(void *ctx)
{
    ngx_rh_parser_t  *p = ctx;

    if (p->skip_depth) {
        p->depth++;
        return 1;
    }

    if (p->depth == 0) {
        p->depth = 1;
        p->got_object = 1;
        return 1;
    }

    return ngx_rh_nested(p);
}


static int
ngx_rh_on_start_array(void *ctx)
{
    ngx_rh_parser_t  *p = ctx;

    if (p->skip_depth) {
        p->depth++;
        return 1;
    }

    if (p->depth == 0) {
        ngx_rh_fail(p, NGX_RH_JSON_PREFIX
                    " The request body must be a JSON object.");
        return 0;
    }

    return ngx_rh_nested(p);
}


static int
ngx_rh_nested(ngx_rh_parser_t *p)
{
    char  lit[NGX_RH_LITERAL_MAX + 8];

    if (p->current == NGX_RH_CUR_IGNORED) {
        /* the value of an ignored annotation may be anything */
        p->depth++;
        p->skip_depth = p->depth;
        return 1;
    }

    /* the same words as for a number or a boolean where a string goes */

    ngx_rh_compound(p, lit, sizeof(lit));

    if (p->current == NGX_RH_CUR_TYPE) {
        ngx_rh_fail(p, "The value of the '@odata.type' annotation must be "
                    "a string naming the type, not '%s'.", lit);
        return 0;
    }

    ngx_rh_fail(p, "Cannot convert the literal '%s' to the expected type "
                "'%s' of the property '%s'.", lit,
                ngx_rh_kind_edm(p->set->props[p->current].kind),
                p->set->props[p->current].name);
    return 0;
}


/*
 * The array or object that yajl has just opened, as the body has it:
 * from its bracket to the one that closes it, or as much as the buffer
 * being parsed holds, "..." when cut.
 */

static void
ngx_rh_compound(ngx_rh_parser_t *p, char *buf, size_t size)
{
    size_t                start, end, limit;
    unsigned              depth, in_string, escape;
    const unsigned char  *s;

    s = p->feed;
    start = s ? yajl_get_bytes_consumed(p->yajl) : 0;

    /* yajl has consumed the bracket itself */

    if (start == 0 || start > p->feed_len
        || (s[start - 1] != '[' && s[start - 1] != '{'))
    {
        ngx_rh_literal(buf, size, (const unsigned char *) "...", 3);
        return;
    }

    start--;

    limit = p->feed_len;

    if (limit - start > NGX_RH_LITERAL_MAX) {
        limit = start + NGX_RH_LITERAL_MAX;
    }

    depth = 0;
    in_string = 0;
    escape = 0;

    for (end = start; end < limit; end++) {

        if (in_string) {
            if (escape) {
                escape = 0;

            } else if (s[end] == '\\') {
                escape = 1;

            } else if (s[end] == '"') {
                in_string = 0;
            }

            continue;
        }

        if (s[end] == '"') {
            in_string = 1;

        } else if (s[end] == '[' || s[end] == '{') {
            depth++;

        } else if ((s[end] == ']' || s[end] == '}') && --depth == 0) {
            ngx_rh_literal(buf, size, s + start, end + 1 - start);
            return;
        }
    }

    /* longer than a literal is quoted, or beyond this buffer */

    ngx_rh_literal(buf, size, s + start, end - start);

    end = strlen(buf);

    if (end + 4 <= size && (end < 3 || memcmp(buf + end - 3, "...", 3) != 0))
    {
        memcpy(buf + end, "...", 4);
    }
}


static int
ngx_rh_end_container(ngx_rh_parser_t *p)
{
    p->depth--;

    if (p->skip_depth && p->depth < p->skip_depth) {
        /* the ignored annotation's value is complete */
        p->skip_depth = 0;
        p->current = NGX_RH_CUR_NONE;
    }

    if (p->depth == 0) {
        p->done = 1;
    }

    return 1;
}


static int
ngx_rh_on_end_map(void *ctx)
{
    return ngx_rh_end_container(ctx);
}


static int
ngx_rh_on_end_array(void *ctx)
{
    return ngx_rh_end_container(ctx);
}


static int
ngx_rh_on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ngx_rh_parser_t  *p = ctx;

    char              lit[NGX_RH_LITERAL_MAX + 8];
    unsigned          i;
    ngx_rh_name_t    *n;

    if (p->skip_depth) {
        return 1;
    }

    for (i = 0; i < p->set->nprops; i++) {
        if (p->set->props[i].len == len
            && memcmp(p->set->props[i].name, s, len) == 0)
        {
            if (p->seen & (1u << i)) {
                goto duplicate;
            }

            p->seen |= 1u << i;
            p->current = (int) i;
            return 1;
        }
    }

    if (len == sizeof("@odata.type") - 1
        && memcmp(s, "@odata.type", len) == 0)
    {
        if (p->seen_type) {
            goto duplicate;
        }

        p->seen_type = 1;
        p->current = NGX_RH_CUR_TYPE;
        return 1;
    }

    if (len > sizeof("@odata.") - 1 && memcmp(s, "@odata.", 7) == 0) {

        /* other control information is ignored, but not twice */

        for (n = p->annotations; n; n = n->next) {
            if (n->len == len && memcmp(n->data, s, len) == 0) {
                goto duplicate;
            }
        }

        n = ngx_rh_alloc(p, offsetof(ngx_rh_name_t, data) + len);
        if (n == NULL) {
            return 0;
        }

        memcpy(n->data, s, len);
        n->len = len;
        n->next = p->annotations;
        p->annotations = n;

        p->current = NGX_RH_CUR_IGNORED;
        return 1;
    }

    ngx_rh_literal(lit, sizeof(lit), s, len);
    ngx_rh_fail(p, "The property '%s' does not exist on type "
                "'" NGX_RH_NAMESPACE "%s'. Make sure to only use property "
                "names that are defined by the type or mark the type as "
                "open type.", lit, p->set->type);
    return 0;

duplicate:

    ngx_rh_literal(lit, sizeof(lit), s, len);
    ngx_rh_fail(p, "Multiple properties with the name '%s' were detected "
                "in an entry or a complex value. In OData, duplicate "
                "property names are not allowed.", lit);
    return 0;
}


/*
 * what every scalar value starts with: inside an ignored annotation it
 * is skipped, at the top level it is an error, as the value of an
 * ignored annotation it is dropped; otherwise NGX_RH_PROCEED
 */

static int
ngx_rh_scalar(ngx_rh_parser_t *p)
{
    if (p->skip_depth) {
        return 1;
    }

    if (p->depth == 0) {
        ngx_rh_fail(p, NGX_RH_JSON_PREFIX
                    " The request body must be a JSON object.");
        return 0;
    }

    if (p->current == NGX_RH_CUR_IGNORED) {
        p->current = NGX_RH_CUR_NONE;
        return 1;
    }

    return NGX_RH_PROCEED;
}


static int
ngx_rh_on_null(void *ctx)
{
    ngx_rh_parser_t  *p = ctx;

    int               rc;
    ngx_rh_value_t   *v;

    rc = ngx_rh_scalar(p);
    if (rc != NGX_RH_PROCEED) {
        return rc;
    }

    switch (p->current) {

    case NGX_RH_CUR_TYPE:
        ngx_rh_fail(p, "The value of the '@odata.type' annotation must be "
                    "a string naming the type, not null.");
        return 0;

    case NGX_RH_KEY_PROP:
        ngx_rh_fail(p, "The property '%s' is the key of type "
                    "'" NGX_RH_NAMESPACE "%s' and cannot be null.",
                    p->set->props[NGX_RH_KEY_PROP].name, p->set->type);
        return 0;
    }

    v = &p->values[p->current];
    v->present = 1;
    v->data = NULL;
    v->len = 0;

    p->current = NGX_RH_CUR_NONE;

    return 1;
}


static int
ngx_rh_on_boolean(void *ctx, int b)
{
    if (b) {
        return ngx_rh_not_string(ctx, "true", 4);
    }

    return ngx_rh_not_string(ctx, "false", 5);
}


static int
ngx_rh_on_number(void *ctx, const char *s, size_t len)
{
    return ngx_rh_not_string(ctx, s, len);
}


static int
ngx_rh_not_string(ngx_rh_parser_t *p, const char *literal, size_t len)
{
    int   rc;
    char  lit[NGX_RH_LITERAL_MAX + 8];

    rc = ngx_rh_scalar(p);
    if (rc != NGX_RH_PROCEED) {
        return rc;
    }

    ngx_rh_literal(lit, sizeof(lit), (const unsigned char *) literal, len);

    if (p->current == NGX_RH_CUR_TYPE) {
        ngx_rh_fail(p, "The value of the '@odata.type' annotation must be "
                    "a string naming the type, not '%s'.", lit);
        return 0;
    }

    ngx_rh_fail(p, "Cannot convert the literal '%s' to the expected type "
                "'%s' of the property '%s'.", lit,
                ngx_rh_kind_edm(p->set->props[p->current].kind),
                p->set->props[p->current].name);
    return 0;
}


static int
ngx_rh_on_string(void *ctx, const unsigned char *s, size_t len)
{
    ngx_rh_parser_t  *p = ctx;

    int                  rc;
    char                 lit[NGX_RH_LITERAL_MAX + 8];
    const char          *t;
    const ngx_rh_set_t  *other;

    rc = ngx_rh_scalar(p);
    if (rc != NGX_RH_PROCEED) {
        return rc;
    }

    if (p->current != NGX_RH_CUR_TYPE) {
        return ngx_rh_store(p, s, len);
    }

    /* "#microsoft.graph.x", or the same without "#" */

    p->current = NGX_RH_CUR_NONE;

    t = (const char *) s;

    if (len > 0 && t[0] == '#') {
        t++;
        len--;
    }

    if (len == p->set->odata_type_len - 1
        && memcmp(t, p->set->odata_type + 1, len) == 0)
    {
        return 1;
    }

    ngx_rh_literal(lit, sizeof(lit), (const unsigned char *) t, len);

    other = NULL;

    if (len > sizeof(NGX_RH_NAMESPACE) - 1
        && memcmp(t, NGX_RH_NAMESPACE, sizeof(NGX_RH_NAMESPACE) - 1) == 0)
    {
        other = ngx_rh_set_by_type(t + sizeof(NGX_RH_NAMESPACE) - 1,
                                   len - (sizeof(NGX_RH_NAMESPACE) - 1));
    }

    if (other) {
        ngx_rh_fail(p, "The type '%s' is not compatible with the type "
                    "'" NGX_RH_NAMESPACE "%s' of the entity set '%s'.",
                    lit, p->set->type, p->set->set);

    } else {
        ngx_rh_fail(p, "A type named '%s' could not be resolved by the "
                    "model. When a model is available, each type name must "
                    "resolve to a valid type.", lit);
    }

    return 0;
}


static int
ngx_rh_store(ngx_rh_parser_t *p, const unsigned char *s, size_t len)
{
    char                  lit[NGX_RH_LITERAL_MAX + 8];
    char                  canon[128];
    unsigned              bits;
    unsigned char        *copy;
    ngx_rh_value_t       *v;
    const ngx_rh_prop_t  *prop;

    prop = &p->set->props[p->current];
    v = &p->values[p->current];

    switch (prop->kind) {

    case NGX_RH_DATETIME:
        if (!ngx_rh_datetime_valid(s, len)) {
            goto bad_literal;
        }

        break;

    case NGX_RH_ACTIONS:
        if (!ngx_rh_actions_parse(s, len, &bits)) {
            goto bad_literal;
        }

        /* stored in canonical form: value order, no spaces */
        len = ngx_rh_actions_format(bits, canon, sizeof(canon));
        s = (const unsigned char *) canon;
        break;

    default:
        if (p->current == NGX_RH_KEY_PROP && !ngx_rh_key_valid(p, s, len)) {
            return 0;
        }

        break;
    }

    /* one byte more: never a zero-sized allocation */

    copy = ngx_rh_alloc(p, len + 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, s, len);
    copy[len] = '\0';

    v->present = 1;
    v->data = copy;
    v->len = len;

    p->current = NGX_RH_CUR_NONE;

    return 1;

bad_literal:

    ngx_rh_literal(lit, sizeof(lit), s, len);
    ngx_rh_fail(p, "Cannot convert the literal '%s' to the expected type "
                "'%s'.", lit, ngx_rh_kind_edm(prop->kind));
    return 0;
}


/*
 * A key must fit in a URL that nginx accepts: not empty, at most
 * NGX_RH_KEY_MAX bytes, no control character (nginx refuses %00 in a
 * request line, and the others are no key a client can type).
 */

static int
ngx_rh_key_valid(ngx_rh_parser_t *p, const unsigned char *s, size_t len)
{
    size_t               i;
    const ngx_rh_prop_t  *prop;

    prop = &p->set->props[NGX_RH_KEY_PROP];

    if (len == 0) {
        ngx_rh_fail(p, "The property '%s' is the key of type "
                    "'" NGX_RH_NAMESPACE "%s' and cannot be empty.",
                    prop->name, p->set->type);
        return 0;
    }

    if (len > NGX_RH_KEY_MAX) {
        ngx_rh_fail(p, "The property '%s' is the key of type "
                    "'" NGX_RH_NAMESPACE "%s' and cannot be longer than %d "
                    "bytes (UTF-8); the value has %zu.",
                    prop->name, p->set->type, NGX_RH_KEY_MAX, len);
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            ngx_rh_fail(p, "The property '%s' is the key of type "
                        "'" NGX_RH_NAMESPACE "%s' and cannot contain a control "
                        "character (U+0000 to U+001F, U+007F): U+%04X at "
                        "byte %zu.", prop->name, p->set->type,
                        (unsigned) s[i], i);
            return 0;
        }
    }

    return 1;
}


/*
 * how many continuation bytes follow the lead byte c, and the range of
 * the first one (which rules out overlong forms, surrogates and code
 * points past U+10FFFF); 0 when c cannot start a character
 */

static unsigned
ngx_rh_utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        return 1;
    }

    if (c >= 0xe0 && c <= 0xef) {
        *lo = (c == 0xe0) ? 0xa0 : 0x80;
        *hi = (c == 0xed) ? 0x9f : 0xbf;
        return 2;
    }

    if (c >= 0xf0 && c <= 0xf4) {
        *lo = (c == 0xf0) ? 0x90 : 0x80;
        *hi = (c == 0xf4) ? 0x8f : 0xbf;
        return 3;
    }

    return 0;
}


int
ngx_rh_utf8_valid(const unsigned char *s, size_t len)
{
    size_t         i;
    unsigned       need;
    unsigned char  c, lo, hi;

    need = 0;
    lo = 0x80;
    hi = 0xbf;

    for (i = 0; i < len; i++) {
        c = s[i];

        if (need) {
            if (c < lo || c > hi) {
                return 0;
            }

            lo = 0x80;
            hi = 0xbf;
            need--;
            continue;
        }

        if (c < 0x80) {
            continue;
        }

        need = ngx_rh_utf8_lead(c, &lo, &hi);

        if (need == 0) {
            return 0;
        }
    }

    return need == 0;
}


static int
ngx_rh_digits(const unsigned char *s, size_t n, unsigned *value)
{
    size_t  i;

    *value = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        *value = *value * 10 + (s[i] - '0');
    }

    return 1;
}


/* YYYY-MM-DDThh:mm[:ss[.f{1,12}]](Z|(+|-)hh:mm), real calendar values */

int
ngx_rh_datetime_ms(const unsigned char *s, size_t len, long long *ms)
{
    size_t     i, n;
    unsigned   year, month, day, hour, min, sec, oh, om, mdays, frac;
    long long  y, era, yoe, doy, doe, days_since, offset;

    static const unsigned  days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (len < 17) {
        return 0;
    }

    if (!ngx_rh_digits(s, 4, &year) || s[4] != '-'
        || !ngx_rh_digits(s + 5, 2, &month) || s[7] != '-'
        || !ngx_rh_digits(s + 8, 2, &day) || s[10] != 'T'
        || !ngx_rh_digits(s + 11, 2, &hour) || s[13] != ':'
        || !ngx_rh_digits(s + 14, 2, &min))
    {
        return 0;
    }

    if (year == 0 || month < 1 || month > 12 || hour > 23 || min > 59) {
        return 0;
    }

    mdays = days[month - 1];

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        mdays = 29;
    }

    if (day < 1 || day > mdays) {
        return 0;
    }

    i = 16;
    sec = 0;
    frac = 0;

    if (s[i] == ':') {
        if (len < i + 3 || !ngx_rh_digits(s + i + 1, 2, &sec) || sec > 59) {
            return 0;
        }

        i += 3;

        if (i < len && s[i] == '.') {
            i++;

            for (n = 0; i < len && s[i] >= '0' && s[i] <= '9'; n++) {
                if (n < 3) {
                    frac = frac * 10 + (s[i] - '0');
                }

                i++;
            }

            if (n < 1 || n > 12) {
                return 0;
            }

            for ( /* void */ ; n < 3; n++) {
                frac *= 10;
            }
        }
    }

    if (i == len) {
        return 0;
    }

    offset = 0;

    if (s[i] == 'Z') {
        if (i + 1 != len) {
            return 0;
        }

    } else {
        if (s[i] != '+' && s[i] != '-') {
            return 0;
        }

        if (len != i + 6 || !ngx_rh_digits(s + i + 1, 2, &oh)
            || s[i + 3] != ':' || !ngx_rh_digits(s + i + 4, 2, &om))
        {
            return 0;
        }

        if (oh > 14 || om > 59 || (oh == 14 && om != 0)) {
            return 0;
        }

        offset = (long long) (oh * 60 + om) * 60000;

        if (s[i] == '-') {
            offset = -offset;
        }
    }

    if (ms == NULL) {
        return 1;
    }

    /* days since 1970-01-01 of the proleptic Gregorian calendar */

    y = (long long) year - (month <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days_since = era * 146097 + doe - 719468;

    /* local time less its offset from UTC */

    *ms = ((days_since * 24 + hour) * 60 + min) * 60000
          + (long long) sec * 1000 + frac - offset;

    return 1;
}


long long
ngx_rh_moment(const unsigned char *s, size_t len, int quoted)
{
    long long  ms;

    if (quoted) {
        /* a JSON string: its quotes are not the value */

        if (s == NULL || len < 2 || s[0] != '"') {
            return 0;
        }

        s++;
        len -= 2;
    }

    if (s == NULL || !ngx_rh_datetime_ms(s, len, &ms)) {
        return 0;
    }

    return (ms == 0) ? -1 : ms;
}


/* one member name, or several distinct ones joined by "," */

int
ngx_rh_actions_parse(const unsigned char *s, size_t len, unsigned *bits)
{
    size_t    i, start;
    unsigned  m, found;

    *bits = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != ',') {
            continue;
        }

        found = 0;

        for (m = 0; m < ngx_rh_nactions; m++) {
            if (ngx_rh_actions[m].len == i - start
                && memcmp(ngx_rh_actions[m].name, s + start, i - start) == 0)
            {
                found = ngx_rh_actions[m].value;
                break;
            }
        }

        if (found == 0 || (*bits & found)) {
            return 0;
        }

        *bits |= found;
        start = i + 1;
    }

    return 1;
}


size_t
ngx_rh_actions_format(unsigned bits, char *buf, size_t size)
{
    size_t    n;
    unsigned  m;

    n = 0;

    for (m = 0; m < ngx_rh_nactions; m++) {
        if (!(bits & ngx_rh_actions[m].value)) {
            continue;
        }

        if (n + ngx_rh_actions[m].len + 1 >= size) {
            break;
        }

        if (n) {
            buf[n++] = ',';
        }

        memcpy(buf + n, ngx_rh_actions[m].name, ngx_rh_actions[m].len);
        n += ngx_rh_actions[m].len;
    }

    buf[n] = '\0';

    return n;
}
