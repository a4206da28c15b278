
/*
 * ngx_http_remote_help_module: listings: $top, $skiptoken, a page and its
 * nextLink.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_list.h"
#include "ngx_http_remote_help_op.h"
#include "ngx_http_remote_help_pool.h"
#include "ngx_http_remote_help_reply.h"
#include "ngx_http_remote_help_storage.h"
#include "ngx_http_remote_help_handler.h"
#include "ngx_http_remote_help_uri.h"


static ngx_int_t ngx_http_remote_help_listed(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);


ngx_int_t
ngx_http_remote_help_list(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    void                             *backend;
    u_char                           *arg, *end, *next_arg, *eq;
    off_t                             token;
    uint64_t                          after;
    ngx_int_t                         n, rc;
    ngx_str_t                         name, value;
    ngx_uint_t                        top, top_given;
    ngx_array_t                      *items;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    top = rlcf->page_size;
    top_given = 0;
    after = 0;

    /* $top and $skiptoken; other query options are ignored */

    end = r->args.data + r->args.len;

    for (arg = r->args.data; arg < end; arg = next_arg + 1) {

        next_arg = ngx_strlchr(arg, end, '&');
        if (next_arg == NULL) {
            next_arg = end;
        }

        eq = ngx_strlchr(arg, next_arg, '=');
        if (eq == NULL) {
            eq = next_arg;
        }

        if (ngx_http_remote_help_decode(r->pool, arg, eq, 1, &name)
            != NGX_OK
            || ngx_http_remote_help_decode(r->pool,
                                           eq < next_arg ? eq + 1 : eq,
                                           next_arg, 1, &value)
               != NGX_OK)
        {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                              "The query string is not "
                                              "valid.");
        }

        if (name.len == 4 && ngx_strncmp(name.data, "$top", 4) == 0) {
            n = ngx_atoi(value.data, value.len);

            if (n == NGX_ERROR) {
                return ngx_http_remote_help_error(r, ctx,
                                   NGX_HTTP_BAD_REQUEST,
                                   "Invalid value '%V' for the $top query "
                                   "option: a non-negative integer is "
                                   "expected.", &value);
            }

            top = ngx_min((ngx_uint_t) n, NGX_HTTP_RH_TOP_MAX);
            top_given = 1;

        } else if (name.len == 10
                   && ngx_strncmp(name.data, "$skiptoken", 10) == 0)
        {
            /* the place of the previous page's last object */

            token = ngx_atoof(value.data, value.len);

            if (token == NGX_ERROR) {
                return ngx_http_remote_help_error(r, ctx,
                                   NGX_HTTP_BAD_REQUEST,
                                   "Invalid value '%V' for the $skiptoken "
                                   "query option.", &value);
            }

            after = (uint64_t) token;
        }
    }

    items = ngx_array_create(r->pool, ngx_min(top, 64) + 1,
                             sizeof(ngx_str_t));
    if (items == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->top = top;
    ctx->top_given = top_given;

    ngx_http_remote_help_op_init(&ctx->op, r, ctx, NULL);
    ctx->op.after = after;
    ctx->op.top = top;
    ctx->op.items = items;

    backend = rlcf->shm_zone->data;

    rc = ngx_http_rh_storage(backend)->list(backend, &ctx->op);

    return ngx_http_remote_help_op_wait(r, ctx, &ctx->op, rc,
                                        ngx_http_remote_help_listed);
}


/* the page the backend gave, with its context and nextLink */

static ngx_int_t
ngx_http_remote_help_listed(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    u_char            *p;
    size_t             size;
    uint64_t           last;
    ngx_str_t          tail, body;
    ngx_str_t         *json;
    ngx_uint_t         i, more;
    ngx_array_t       *items;
    ngx_rh_buf_t       out;
    ngx_rh_str_t       context, next, *objects;
    yajl_alloc_funcs   afs;

    if (rc != NGX_OK) {
        return ngx_http_remote_help_failed(r, ctx, rc);
    }

    last = ctx->op.last;
    more = ctx->op.more;
    items = ctx->op.items;

    /* @odata.context: PREFIX/$metadata#Set */

    tail.len = sizeof("$metadata#") - 1 + ctx->set->set_len;
    tail.data = ngx_pnalloc(r->pool, tail.len);
    if (tail.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(tail.data, "$metadata#", sizeof("$metadata#") - 1);
    ngx_memcpy(p, ctx->set->set, ctx->set->set_len);

    if (ngx_http_remote_help_url(r, ctx, &tail, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    context.data = body.data;
    context.len = body.len;

    /* @odata.nextLink: PREFIX/Set?$top=N&$skiptoken=PLACE */

    if (more && last) {
        tail.len = ctx->set->set_len + sizeof("?$top=&$skiptoken=") - 1
                   + NGX_INT_T_LEN + NGX_INT64_LEN;
        tail.data = ngx_pnalloc(r->pool, tail.len);
        if (tail.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(tail.data, ctx->set->set, ctx->set->set_len);

        if (ctx->top_given) {
            p = ngx_sprintf(p, "?$top=%ui&$skiptoken=", ctx->top);

        } else {
            p = ngx_cpymem(p, "?$skiptoken=", sizeof("?$skiptoken=") - 1);
        }

        p = ngx_sprintf(p, "%uL", last);
        tail.len = p - tail.data;

        if (ngx_http_remote_help_url(r, ctx, &tail, &body) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        next.data = body.data;
        next.len = body.len;
    }

    objects = ngx_palloc(r->pool, (items->nelts + 1) * sizeof(ngx_rh_str_t));
    if (objects == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json = items->elts;
    size = 256;

    for (i = 0; i < items->nelts; i++) {
        objects[i].data = json[i].data;
        objects[i].len = json[i].len;
        size += json[i].len + 1;
    }

    ngx_http_remote_help_allocator(r->pool, &afs);
    ngx_rh_buf_init(&out, &afs, size + context.len + 2 * tail.len);

    if (ngx_rh_render_list(&out, &context, (more && last) ? &next : NULL,
                           objects, items->nelts)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = out.data;
    body.len = out.len;

    return ngx_http_remote_help_send(r, ctx, NGX_HTTP_OK, &body);
}
