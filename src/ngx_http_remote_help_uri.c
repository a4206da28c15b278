
/*
 * ngx_http_remote_help_module: the set and key in a request path, and the URLs
 * of responses.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_parse.h"
#include "ngx_http_remote_help_uri.h"


static ngx_int_t ngx_http_remote_help_quoted(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, u_char *start, u_char *end,
    ngx_uint_t decode);


ngx_int_t
ngx_http_remote_help_route(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    u_char                    *start, *end, *last, *prev, *p;
    ngx_int_t                  rc;
    ngx_uint_t                 decode;
    const ngx_rh_set_t        *set;
    ngx_http_core_loc_conf_t  *clcf;

    if (r->valid_unparsed_uri) {
        start = r->unparsed_uri.data;
        end = ngx_strlchr(start, start + r->unparsed_uri.len, '?');
        if (end == NULL) {
            end = start + r->unparsed_uri.len;
        }

        decode = 1;

    } else {
        start = r->uri.data;
        end = start + r->uri.len;
        decode = 0;
    }

    /* the last segment, and the one before it */

    for (last = end; last > start && last[-1] != '/'; last--) { /* void */ }
    for (prev = last - 1; prev > start && prev[-1] != '/'; prev--) {
        /* void */
    }

    set = (last > start) ? ngx_rh_set_by_name((char *) last, end - last)
                         : NULL;

    if (set) {
        ctx->set = set;
        ctx->prefix.data = start;
        ctx->prefix.len = last - start;
        goto found;
    }

    if (last > start && end - last > 2 && end[-1] == ')') {
        rc = ngx_http_remote_help_quoted(r, ctx, last, end, decode);

        if (rc != NGX_DECLINED) {
            ctx->prefix.data = start;
            ctx->prefix.len = last - start;
            return rc;
        }
    }

    if (last - 1 > start) {
        set = ngx_rh_set_by_name((char *) prev, last - 1 - prev);

        if (set) {
            ctx->set = set;
            ctx->prefix.data = start;
            ctx->prefix.len = prev - start;

            if (last == end) {
                /* "Set/" is the collection */
                goto found;
            }

            if (ngx_http_remote_help_decode(r->pool, last, end, decode,
                                            &ctx->key)
                != NGX_OK)
            {
                return NGX_HTTP_BAD_REQUEST;
            }

            ctx->item = 1;
            goto found;
        }
    }

    /* a quoted key with a "/" in it: "/Set('a/b')" */

    for (p = start; p < end && end[-1] == ')'; p++) {
        if (*p != '/') {
            continue;
        }

        rc = ngx_http_remote_help_quoted(r, ctx, p + 1, end, decode);

        if (rc != NGX_DECLINED) {
            ctx->prefix.data = start;
            ctx->prefix.len = p + 1 - start;
            return rc;
        }
    }

    /* an unknown set: name the segment after the location's prefix */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    end = r->uri.data + r->uri.len;

    if (clcf->name.len < r->uri.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;

        while (p < end && *p == '/') {
            p++;
        }

    } else {
        for (p = end; p > r->uri.data && p[-1] != '/'; p--) { /* void */ }
    }

    last = ngx_strlchr(p, end, '/');

    ctx->segment.data = p;
    ctx->segment.len = (last ? last : end) - p;

    return NGX_DECLINED;

found:

    ctx->set_index = set - ngx_rh_sets;

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_quoted(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, u_char *start, u_char *end,
    ngx_uint_t decode)
{
    u_char              *p, *q, *open;
    ngx_str_t            seg;
    ngx_uint_t           i;
    const ngx_rh_set_t  *set;

    set = NULL;

    for (i = 0; i < NGX_RH_NSETS; i++) {
        if ((size_t) (end - start) > ngx_rh_sets[i].set_len
            && ngx_strncmp(start, ngx_rh_sets[i].set, ngx_rh_sets[i].set_len)
               == 0
            && start[ngx_rh_sets[i].set_len] == '(')
        {
            set = &ngx_rh_sets[i];
            break;
        }
    }

    if (set == NULL) {
        return NGX_DECLINED;
    }

    open = start + set->set_len + 1;

    if (ngx_http_remote_help_decode(r->pool, open, end, decode, &seg)
        != NGX_OK)
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (seg.len < 4 || seg.data[0] != '\'' || seg.data[seg.len - 1] != ')'
        || seg.data[seg.len - 2] != '\'')
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    /* unquote in place */

    q = seg.data;

    for (p = seg.data + 1; p < seg.data + seg.len - 2; p++) {

        if (*p == '\'') {
            if (p + 1 >= seg.data + seg.len - 2 || p[1] != '\'') {
                return NGX_HTTP_BAD_REQUEST;
            }

            p++;
        }

        *q++ = *p;
    }

    ctx->key.data = seg.data;
    ctx->key.len = q - seg.data;

    if (ctx->key.len == 0) {
        return NGX_HTTP_BAD_REQUEST;
    }

    ctx->set = set;
    ctx->set_index = set - ngx_rh_sets;
    ctx->item = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_decode(ngx_pool_t *pool, u_char *start, u_char *end,
    ngx_uint_t decode, ngx_str_t *out)
{
    u_char      *p, *q, c;
    ngx_uint_t   i, d;

    out->data = ngx_pnalloc(pool, (end - start) + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    q = out->data;

    for (p = start; p < end; p++) {

        if (*p != '%' || !decode) {
            *q++ = *p;
            continue;
        }

        if (end - p < 3) {
            return NGX_DECLINED;
        }

        c = 0;

        for (i = 1; i <= 2; i++) {
            d = p[i] | 0x20;

            if (p[i] >= '0' && p[i] <= '9') {
                c = (u_char) (c * 16 + p[i] - '0');

            } else if (d >= 'a' && d <= 'f') {
                c = (u_char) (c * 16 + d - 'a' + 10);

            } else {
                return NGX_DECLINED;
            }
        }

        *q++ = c;
        p += 2;
    }

    out->len = q - out->data;

    if (!ngx_rh_utf8_valid(out->data, out->len)) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


u_char *
ngx_http_remote_help_encode(u_char *dst, ngx_str_t *src)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < src->len; i++) {
        c = src->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = (u_char) ngx_rh_hex[c >> 4];
        *dst++ = (u_char) ngx_rh_hex[c & 0xf];
    }

    return dst;
}


ngx_int_t
ngx_http_remote_help_url(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_str_t *tail, ngx_str_t *url)
{
    u_char                    *p;
    ngx_str_t                  scheme, host;
    ngx_http_core_srv_conf_t  *cscf;

    ngx_str_set(&scheme, "http://");

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https://");
    }
#endif

    if (r->headers_in.host && r->headers_in.host->value.len) {
        host = r->headers_in.host->value;

    } else {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        host = cscf->server_name;
    }

    url->len = scheme.len + host.len + ctx->prefix.len + tail->len;
    url->data = ngx_pnalloc(r->pool, url->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, scheme.data, scheme.len);
    p = ngx_cpymem(p, host.data, host.len);
    p = ngx_cpymem(p, ctx->prefix.data, ctx->prefix.len);
    ngx_memcpy(p, tail->data, tail->len);

    return NGX_OK;
}
