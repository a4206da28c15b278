
/*
 * ngx_http_remote_help_module: JSON rendering with yajl_gen.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_http_remote_help_json.h"


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


static void
ngx_rh_print(void *ctx, const char *s, size_t len)
{
    ngx_rh_buf_t  *b = ctx;

    size_t          cap;
    unsigned char  *p;

    if (b->failed) {
        return;
    }

    if (b->len + len > b->cap) {
        cap = b->cap ? b->cap * 2 : 256;

        while (cap < b->len + len) {
            cap *= 2;
        }

        if (b->afs) {
            p = b->afs->realloc(b->afs->ctx, b->data, cap);

        } else {
            p = realloc(b->data, cap);
        }

        if (p == NULL) {
            b->failed = 1;
            return;
        }

        b->data = p;
        b->cap = cap;
    }

    memcpy(b->data + b->len, s, len);
    b->len += len;
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


int
ngx_rh_render_object(ngx_rh_buf_t *b, const ngx_rh_set_t *set,
    const ngx_rh_field_t *fields, uint32_t *spans)
{
    size_t                 start;
    unsigned               i;
    yajl_gen               g;
    yajl_gen_status        st;
    const ngx_rh_field_t  *f;

    g = ngx_rh_gen(b);
    if (g == NULL) {
        return -1;
    }

    st = yajl_gen_map_open(g);
    st |= ngx_rh_gen_lit(g, "@odata.type");
    st |= ngx_rh_gen_str(g, set->odata_type, set->odata_type_len);

    for (i = 0; st == yajl_gen_status_ok && i < set->nprops; i++) {
        f = &fields[i];

        st = ngx_rh_gen_str(g, set->props[i].name, set->props[i].len);

        start = b->len;

        if (f->raw) {
            /* yajl_gen_number() writes its argument verbatim */
            st |= yajl_gen_number(g, (const char *) f->data, f->len);

        } else if (f->data) {
            st |= yajl_gen_string(g, f->data, f->len);

        } else {
            st |= yajl_gen_null(g);
        }

        if (spans) {
            /* the value is preceded by the ':' the generator inserts */
            if (start < b->len && b->data[start] == ':') {
                start++;
            }

            spans[2 * i] = (uint32_t) start;
            spans[2 * i + 1] = (uint32_t) (b->len - start);
        }
    }

    if (st == yajl_gen_status_ok) {
        st = yajl_gen_map_close(g);
    }

    return ngx_rh_done(b, g, st);
}


int
ngx_rh_render_list(ngx_rh_buf_t *b, const ngx_rh_str_t *context,
    const ngx_rh_str_t *next, const ngx_rh_str_t *items, size_t n)
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
