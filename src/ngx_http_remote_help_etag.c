
/*
 * ngx_http_remote_help_module: ETags and preconditions.  An object's
 * version is the sequence number of the write that made it: every write
 * of the object changes it, and it is kept in the state file with the
 * object (and in Redis as its "v"), so it survives restarts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_etag.h"
#include "ngx_http_remote_help_reply.h"


ngx_int_t
ngx_http_remote_help_etag(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    p = ngx_pnalloc(r->pool, sizeof("W/\"\"") - 1 + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_http_remote_help_add_header(r, "ETag", p,
                                        ngx_sprintf(p, "W/\"%uL\"",
                                                    ctx->version)
                                        - p);
    if (h == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.etag = h;

    return NGX_OK;
}


ngx_uint_t
ngx_http_remote_help_etag_match(ngx_table_elt_t *h, uint64_t version)
{
    u_char    *p, *end, *start;
    uint64_t   v;

    p = h->value.data;
    end = p + h->value.len;

    for ( ;; ) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        if (p == end) {
            return 0;
        }

        if (*p == '*') {
            return 1;
        }

        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }

        if (p == end || *p != '"') {
            /* not an entity tag: nothing after it is read */
            return 0;
        }

        start = ++p;
        v = 0;

        while (p < end && *p >= '0' && *p <= '9' && p - start < 20) {
            v = v * 10 + (*p++ - '0');
        }

        if (p < end && *p == '"' && p > start && v == version) {
            return 1;
        }

        /* another tag: to its closing quote */

        while (p < end && *p != '"') {
            p++;
        }

        if (p == end) {
            return 0;
        }

        p++;
    }
}
