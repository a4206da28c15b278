
/*
 * libFuzzer target for the validator and the renderer.
 *
 * The first byte picks the entity set, create or update, and how the
 * body is cut into buffers (as nginx hands them over); the rest is the
 * body.  An accepted body is rendered, the rendering parsed again, and
 * it must come back identical: the store relies on that.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_parse.h"
#include "ngx_http_remote_help_json.h"


static int
ngx_rh_fuzz_parse(const ngx_rh_set_t *set, const uint8_t *data, size_t size,
    size_t step, const char *key, ngx_rh_parser_t *p)
{
    int     rc;
    size_t  off, n;

    if (ngx_rh_parse_init(p, set, NULL) != NGX_RH_OK) {
        return NGX_RH_NOMEM;
    }

    rc = NGX_RH_OK;

    for (off = 0; off < size && rc == NGX_RH_OK; off += n) {
        n = (step && step < size - off) ? step : size - off;
        rc = ngx_rh_parse_feed(p, data + off, n);
    }

    if (rc == NGX_RH_OK) {
        rc = ngx_rh_parse_finish(p, (const unsigned char *) key,
                                 key ? strlen(key) : 0);
    }

    return rc;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc;
    size_t               step;
    unsigned             i;
    uint32_t             spans[2 * NGX_RH_MAX_PROPS];
    const char          *key;
    ngx_rh_buf_t         b, b2;
    ngx_rh_field_t       f[NGX_RH_MAX_PROPS];
    ngx_rh_parser_t      p, q;
    const ngx_rh_set_t  *set;

    if (size < 1) {
        return 0;
    }

    set = &ngx_rh_sets[data[0] % NGX_RH_NSETS];
    key = (data[0] & 0x04) ? "k" : NULL;
    step = (data[0] >> 3) & 0x1f;

    rc = ngx_rh_fuzz_parse(set, data + 1, size - 1, step, key, &p);

    if (rc == NGX_RH_INVALID && p.message[0] == '\0') {
        abort();
    }

    if (rc != NGX_RH_OK) {
        ngx_rh_parse_free(&p);
        return 0;
    }

    memset(f, 0, sizeof(f));

    for (i = 0; i < set->nprops; i++) {
        f[i].data = p.values[i].data;
        f[i].len = p.values[i].len;
    }

    ngx_rh_buf_init(&b, NULL, 0);

    if (ngx_rh_render_object(&b, set, f, spans) != 0) {
        abort();
    }

    /* what was rendered is accepted again and renders the same */

    rc = ngx_rh_fuzz_parse(set, b.data, b.len, 0, NULL, &q);

    if (key == NULL && rc != NGX_RH_OK) {
        abort();
    }

    if (rc == NGX_RH_OK) {
        for (i = 0; i < set->nprops; i++) {
            f[i].data = q.values[i].data;
            f[i].len = q.values[i].len;
        }

        ngx_rh_buf_init(&b2, NULL, 0);

        if (ngx_rh_render_object(&b2, set, f, NULL) != 0
            || b2.len != b.len || memcmp(b2.data, b.data, b.len) != 0)
        {
            abort();
        }

        ngx_rh_buf_free(&b2);
    }

    /* the spans are the literals: kept verbatim, they render the same */

    for (i = 0; i < set->nprops; i++) {
        if (spans[2 * i] + spans[2 * i + 1] > b.len) {
            abort();
        }

        f[i].data = b.data + spans[2 * i];
        f[i].len = spans[2 * i + 1];
        f[i].raw = 1;
    }

    ngx_rh_buf_init(&b2, NULL, 0);

    if (ngx_rh_render_object(&b2, set, f, NULL) != 0
        || b2.len != b.len || memcmp(b2.data, b.data, b.len) != 0)
    {
        abort();
    }

    ngx_rh_buf_free(&b2);
    ngx_rh_parse_free(&q);
    ngx_rh_buf_free(&b);
    ngx_rh_parse_free(&p);

    return 0;
}
