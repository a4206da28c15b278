
/*
 * ngx_http_remote_help_module: JSON rendering.  Listings and errors go
 * through yajl_gen; an object, rendered on every POST and PATCH, is
 * written straight into its buffer, byte for byte what yajl_gen would
 * write (t/unit/test_rh.c renders the same fields both ways).
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_run.h"


static int ngx_rh_reserve(ngx_rh_buf_t *b, size_t len);
static void ngx_rh_print(void *ctx, const char *s, size_t len);
static yajl_gen ngx_rh_gen(ngx_rh_buf_t *b);
static int ngx_rh_done(ngx_rh_buf_t *b, yajl_gen g, yajl_gen_status st);


#define ngx_rh_gen_str(g, s, n)                                              \
    yajl_gen_string(g, (const unsigned char *) (s), n)

#define ngx_rh_gen_lit(g, s)                                                 \
    yajl_gen_string(g, (const unsigned char *) (s), sizeof(s) - 1)


void
ngx_rh_buf_init(ngx_rh_buf_t *b, const yajl_alloc_funcs *afs, size_t hint)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->afs = afs;
    b->failed = 0;

    if (hint == 0) {
        return;
    }

    b->data = afs ? afs->malloc(afs->ctx, hint) : malloc(hint);

    if (b->data == NULL) {
        b->failed = 1;
        return;
    }

    b->cap = hint;
}


void
ngx_rh_buf_free(ngx_rh_buf_t *b)
{
    if (b->data) {
        if (b->afs) {
            b->afs->free(b->afs->ctx, b->data);

        } else {
            free(b->data);
        }
    }

    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}


/* room for len more bytes */

static int
ngx_rh_reserve(ngx_rh_buf_t *b, size_t len)
{
    size_t          cap;
    unsigned char  *p;

    if (b->failed) {
        return -1;
    }

    if (b->len + len <= b->cap) {
        return 0;
    }

    /* doubling for the printer's small pieces; what a render needs at once */

    cap = b->cap ? b->cap * 2 : 256;

    if (cap < b->len + len) {
        cap = b->len + len;
    }

    if (b->afs) {
        p = b->afs->realloc(b->afs->ctx, b->data, cap);

    } else {
        p = realloc(b->data, cap);
    }

    if (p == NULL) {
        b->failed = 1;
        return -1;
    }

    b->data = p;
    b->cap = cap;

    return 0;
}


static void
ngx_rh_print(void *ctx, const char *s, size_t len)
{
    ngx_rh_buf_t  *b = ctx;

    if (ngx_rh_reserve(b, len) != 0) {
        return;
    }

    memcpy(b->data + b->len, s, len);
    b->len += len;
}


/*
 * What yajl_string_encode() writes for a byte: 0, the byte itself;
 * 'u', "\u00XX"; else a backslash and this letter.  A solidus is not
 * escaped (yajl_gen_escape_solidus is off).
 */

static const unsigned char  ngx_rh_escapes[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0
    /* 0x60 - 0xff: 0 */
};


/* upper case: JSON's \u escapes and percent-encoding alike */

const char  ngx_rh_hex[] = "0123456789ABCDEF";


size_t
ngx_rh_json_escaped_len(const unsigned char *s, size_t len)
{
    size_t  i, n;

    n = len;

    for (i = ngx_rh_run(s, len, 0x20, 0); i < len; /* void */ ) {
        n += (ngx_rh_escapes[s[i]] == 'u') ? 5 : 1;
        i++;
        i += ngx_rh_run(s + i, len - i, 0x20, 0);
    }

    return n;
}


unsigned char *
ngx_rh_json_escape(unsigned char *p, const unsigned char *s, size_t len)
{
    size_t          n;
    unsigned char   c, e;

    for ( ;; ) {
        n = ngx_rh_run(s, len, 0x20, 0);

        memcpy(p, s, n);
        p += n;

        if (n == len) {
            return p;
        }

        c = s[n];
        e = ngx_rh_escapes[c];
        s += n + 1;
        len -= n + 1;

        *p++ = '\\';

        if (e == 'u') {
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = ngx_rh_hex[c >> 4];
            *p++ = ngx_rh_hex[c & 0xf];

        } else {
            *p++ = e;
        }
    }
}


static yajl_gen
ngx_rh_gen(ngx_rh_buf_t *b)
{
    yajl_gen  g;

    if (b->failed) {
        return NULL;
    }

    g = yajl_gen_alloc((yajl_alloc_funcs *) b->afs);
    if (g == NULL) {
        b->failed = 1;
        return NULL;
    }

    yajl_gen_config(g, yajl_gen_print_callback, ngx_rh_print, b);

    return g;
}


static int
ngx_rh_done(ngx_rh_buf_t *b, yajl_gen g, yajl_gen_status st)
{
    yajl_gen_free(g);

    if (st != yajl_gen_status_ok || b->failed) {
        b->failed = 1;
        return -1;
    }

    return 0;
}


/* an object's start: {"@odata.type":"T" */

static unsigned char *
ngx_rh_put_type(unsigned char *p, const ngx_rh_set_t *set)
{
    memcpy(p, "{\"@odata.type\":\"", sizeof("{\"@odata.type\":\"") - 1);
    p += sizeof("{\"@odata.type\":\"") - 1;
    memcpy(p, set->odata_type, set->odata_type_len);
    p += set->odata_type_len;
    *p++ = '"';

    return p;
}


int
ngx_rh_render_object(ngx_rh_buf_t *b, const ngx_rh_set_t *set,
    const ngx_rh_field_t *fields, uint32_t *spans)
{
    size_t                 size;
    unsigned               i;
    unsigned char         *p, *start;
    const ngx_rh_field_t  *f;

    /*
     * {"@odata.type":"T"} and ,"name":value for each property, to the
     * byte: the buffer is sized for the object once (type and property
     * names are plain ASCII in the schema table)
     */

    size = sizeof("{\"@odata.type\":\"\"}") - 1 + set->odata_type_len;

    for (i = 0; i < set->nprops; i++) {
        f = &fields[i];

        size += sizeof(",\"\":") - 1 + set->props[i].len;

        if (f->raw) {
            size += f->len;

        } else if (f->data) {
            size += 2 + ngx_rh_json_escaped_len(f->data, f->len);

        } else {
            size += sizeof("null") - 1;
        }
    }

    if (ngx_rh_reserve(b, size) != 0) {
        return -1;
    }

    p = ngx_rh_put_type(b->data + b->len, set);

    for (i = 0; i < set->nprops; i++) {
        f = &fields[i];

        *p++ = ',';
        *p++ = '"';
        memcpy(p, set->props[i].name, set->props[i].len);
        p += set->props[i].len;
        *p++ = '"';
        *p++ = ':';

        start = p;

        if (f->raw) {
            memcpy(p, f->data, f->len);
            p += f->len;

        } else if (f->data) {
            *p++ = '"';
            p = ngx_rh_json_escape(p, f->data, f->len);
            *p++ = '"';

        } else {
            memcpy(p, "null", 4);
            p += 4;
        }

        if (spans) {
            spans[2 * i] = (uint32_t) (start - b->data);
            spans[2 * i + 1] = (uint32_t) (p - start);
        }
    }

    *p++ = '}';

    if ((size_t) (p - b->data) != b->len + size) {
        /* cannot happen: the sizes above are what was written */
        b->failed = 1;
        return -1;
    }

    b->len += size;

    return 0;
}


int
ngx_rh_render_select(ngx_rh_buf_t *b, const ngx_rh_set_t *set,
    const unsigned char *json, const uint32_t *spans, unsigned mask)
{
    size_t          size;
    unsigned        i;
    unsigned char  *p;

    /* as ngx_rh_render_object: sized to the byte, written once */

    size = sizeof("{\"@odata.type\":\"\"}") - 1 + set->odata_type_len;

    for (i = 0; i < set->nprops; i++) {
        if (mask & (1u << i)) {
            size += sizeof(",\"\":") - 1 + set->props[i].len + spans[2 * i + 1];
        }
    }

    if (ngx_rh_reserve(b, size) != 0) {
        return -1;
    }

    p = ngx_rh_put_type(b->data + b->len, set);

    for (i = 0; i < set->nprops; i++) {
        if (!(mask & (1u << i))) {
            continue;
        }

        *p++ = ',';
        *p++ = '"';
        memcpy(p, set->props[i].name, set->props[i].len);
        p += set->props[i].len;
        *p++ = '"';
        *p++ = ':';
        memcpy(p, json + spans[2 * i], spans[2 * i + 1]);
        p += spans[2 * i + 1];
    }

    *p++ = '}';

    b->len += size;

    return 0;
}


int
ngx_rh_render_list(ngx_rh_buf_t *b, const ngx_rh_str_t *context,
    const long long *count, const ngx_rh_str_t *next,
    const ngx_rh_str_t *items, size_t n)
{
    size_t           i;
    yajl_gen         g;
    yajl_gen_status  st;

    g = ngx_rh_gen(b);
    if (g == NULL) {
        return -1;
    }

    st = yajl_gen_map_open(g);
    st |= ngx_rh_gen_lit(g, "@odata.context");
    st |= yajl_gen_string(g, context->data, context->len);

    if (count) {
        st |= ngx_rh_gen_lit(g, "@odata.count");
        st |= yajl_gen_integer(g, *count);
    }

    if (next) {
        st |= ngx_rh_gen_lit(g, "@odata.nextLink");
        st |= yajl_gen_string(g, next->data, next->len);
    }

    st |= ngx_rh_gen_lit(g, "value");
    st |= yajl_gen_array_open(g);

    for (i = 0; st == yajl_gen_status_ok && i < n; i++) {
        /* an object rendered before, inserted verbatim */
        st = yajl_gen_number(g, (const char *) items[i].data, items[i].len);
    }

    if (st == yajl_gen_status_ok) {
        st = yajl_gen_array_close(g);
        st |= yajl_gen_map_close(g);
    }

    return ngx_rh_done(b, g, st);
}


int
ngx_rh_render_error(ngx_rh_buf_t *b, const char *code,
    const ngx_rh_str_t *message, const ngx_rh_str_t *date,
    const ngx_rh_str_t *request_id, const ngx_rh_str_t *client_request_id)
{
    yajl_gen         g;
    yajl_gen_status  st;

    g = ngx_rh_gen(b);
    if (g == NULL) {
        return -1;
    }

    st = yajl_gen_map_open(g);
    st |= ngx_rh_gen_lit(g, "error");
    st |= yajl_gen_map_open(g);
    st |= ngx_rh_gen_lit(g, "code");
    st |= ngx_rh_gen_str(g, code, strlen(code));
    st |= ngx_rh_gen_lit(g, "message");
    st |= yajl_gen_string(g, message->data, message->len);
    st |= ngx_rh_gen_lit(g, "innerError");
    st |= yajl_gen_map_open(g);
    st |= ngx_rh_gen_lit(g, "date");
    st |= yajl_gen_string(g, date->data, date->len);
    st |= ngx_rh_gen_lit(g, "request-id");
    st |= yajl_gen_string(g, request_id->data, request_id->len);
    st |= ngx_rh_gen_lit(g, "client-request-id");
    st |= yajl_gen_string(g, client_request_id->data,
                          client_request_id->len);
    st |= yajl_gen_map_close(g);
    st |= yajl_gen_map_close(g);
    st |= yajl_gen_map_close(g);

    return ngx_rh_done(b, g, st);
}
