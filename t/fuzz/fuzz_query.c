
/*
 * libFuzzer target for $filter and $select (query.c): any bytes as a
 * filter on each set, and as a $select list.  A filter parsed must have
 * its nodes within bounds and its literals within its buffer, and
 * evaluate without fault over objects of every shape (nulls, strings
 * with escapes, flags, instants); a message is always a C string.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_query.h"


static void
fuzz_object(ngx_rh_buf_t *b, uint32_t *spans, const ngx_rh_set_t *set,
    int shape)
{
    unsigned        i;
    ngx_rh_field_t  fields[NGX_RH_MAX_PROPS];

    memset(fields, 0, sizeof(fields));

    for (i = 0; shape && i < set->nprops; i++) {
        switch (set->props[i].kind) {
        case NGX_RH_DATETIME:
            fields[i].data = (const unsigned char *)
                             "2026-12-01T09:00:00.123456789012+01:00";
            break;
        case NGX_RH_ACTIONS:
            fields[i].data = (const unsigned char *) "viewScreen,elevation";
            break;
        default:
            fields[i].data = (const unsigned char *) "a'b\"c\\\n\xc3\xa9";
        }

        fields[i].len = strlen((const char *) fields[i].data);
    }

    ngx_rh_buf_init(b, NULL, 0);

    if (ngx_rh_render_object(b, set, fields, spans) != 0) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               rc, shape;
    unsigned          s, i, mask;
    uint32_t          spans[2 * NGX_RH_MAX_PROPS];
    ngx_rh_buf_t      b;
    ngx_rh_filter_t  *f;
    char              message[NGX_RH_MESSAGE_MAX];

    f = malloc(sizeof(ngx_rh_filter_t));
    if (f == NULL) {
        return 0;
    }

    for (s = 0; s < NGX_RH_NSETS; s++) {
        const ngx_rh_set_t  *set = &ngx_rh_sets[s];

        rc = ngx_rh_select_parse(set, data, size, &mask, message,
                                 sizeof(message));

        if ((rc == NGX_RH_OK && (mask >> set->nprops) != 0)
            || (rc != NGX_RH_OK && strlen(message) >= sizeof(message)))
        {
            abort();
        }

        rc = ngx_rh_filter_parse(f, set, data, size, NULL);

        if (rc == NGX_RH_OK) {
            if (f->n == 0 || f->n > NGX_RH_FILTER_NODES || f->root >= f->n
                || f->used > f->size)
            {
                abort();
            }

            for (i = 0; i < f->n; i++) {
                if (f->nodes[i].left >= f->n || f->nodes[i].right >= f->n
                    || f->nodes[i].prop >= set->nprops
                    || (f->nodes[i].str
                        && (f->nodes[i].str < f->strings
                            || f->nodes[i].str + f->nodes[i].len
                               > f->strings + f->used)))
                {
                    abort();
                }
            }

            for (shape = 0; shape < 2; shape++) {
                fuzz_object(&b, spans, set, shape);
                (void) ngx_rh_filter_match(f, b.data, spans);
                ngx_rh_buf_free(&b);
            }

        } else if (rc == NGX_RH_INVALID) {
            if (f->message[0] == '\0'
                || strlen(f->message) >= sizeof(f->message))
            {
                abort();
            }
        }

        ngx_rh_filter_free(f);
    }

    free(f);

    return 0;
}
