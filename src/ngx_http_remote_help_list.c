
/*
 * ngx_http_remote_help_module: listings: a page (filtered, its properties
 * selected), its count and its nextLink.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_args.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_list.h"
#include "ngx_http_remote_help_op.h"
#include "ngx_http_remote_help_pool.h"
#include "ngx_http_remote_help_reply.h"
#include "ngx_http_remote_help_storage.h"
#include "ngx_http_remote_help_handler.h"
#include "ngx_http_remote_help_uri.h"


static ngx_int_t ngx_http_remote_help_tally(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_tallied(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_tally_step(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_page(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_listed(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_next_link(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, uint64_t last, ngx_str_t *link);


ngx_int_t
ngx_http_remote_help_list(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ngx_http_remote_help_args(r, ctx, &rc) != NGX_OK) {
        return rc;
    }

    if (ctx->count && ctx->filter) {
        /* the matches of the whole set counted first, a scan at a time */
        ctx->matched = 0;
        ctx->rounds = 0;
        ctx->op.last = 0;

        return ngx_http_remote_help_tally(r, ctx);
    }

    return ngx_http_remote_help_page(r, ctx);
}


static ngx_int_t
ngx_http_remote_help_tally(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    void                             *backend;
    uint64_t                          after;
    ngx_int_t                         rc;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    backend = rlcf->shm_zone->data;

    for ( ;; ) {
        after = ctx->op.last;

        ngx_http_remote_help_op_init(&ctx->op, r, ctx, NULL);
        ctx->op.after = after;
        ctx->op.filter = ctx->filter;
        ctx->op.scan = NGX_HTTP_RH_FILTER_SCAN;
        ctx->op.tally = 1;

        rc = ngx_http_rh_storage(backend)->list(backend, &ctx->op);

        if (rc == NGX_AGAIN) {
            return ngx_http_remote_help_op_wait(r, ctx, &ctx->op, rc,
                                                ngx_http_remote_help_tallied);
        }

        rc = ngx_http_remote_help_tally_step(r, ctx, rc);

        if (rc != NGX_BUSY) {
            return rc;
        }
    }
}


/* a scan answered later: the count goes on from there */

static ngx_int_t
ngx_http_remote_help_tallied(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    rc = ngx_http_remote_help_tally_step(r, ctx, rc);

    return (rc == NGX_BUSY) ? ngx_http_remote_help_tally(r, ctx) : rc;
}


/* NGX_BUSY: there is more to count */

static ngx_int_t
ngx_http_remote_help_tally_step(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    if (rc != NGX_OK) {
        return ngx_http_remote_help_failed(r, ctx, rc);
    }

    ctx->matched += ctx->op.total;

    if (!ctx->op.more) {
        return ngx_http_remote_help_page(r, ctx);
    }

    if (++ctx->rounds == NGX_HTTP_RH_COUNT_MAX / NGX_HTTP_RH_FILTER_SCAN) {
        return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "$count=true with $filter counts sets of "
                                   "at most %ui objects; this one has more. "
                                   "Page through the filtered listing "
                                   "without $count instead.",
                                   (ngx_uint_t) NGX_HTTP_RH_COUNT_MAX);
    }

    return NGX_BUSY;
}


static ngx_int_t
ngx_http_remote_help_page(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    void                             *backend;
    ngx_int_t                         rc;
    ngx_array_t                      *items;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    items = ngx_array_create(r->pool, ngx_min(ctx->top, 64) + 1,
                             sizeof(ngx_http_remote_help_item_t));
    if (items == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_remote_help_op_init(&ctx->op, r, ctx, NULL);
    ctx->op.after = ctx->after;
    ctx->op.top = ctx->top;
    ctx->op.items = items;
    ctx->op.filter = ctx->filter;
    ctx->op.scan = ctx->filter ? NGX_HTTP_RH_FILTER_SCAN : 0;
    ctx->op.count = (ctx->count && ctx->filter == NULL);

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
    u_char                       *p;
    size_t                        size;
    ngx_str_t                     tail, body, link;
    long long                     count;
    ngx_uint_t                    i, more, n;
    ngx_array_t                  *items;
    ngx_rh_buf_t                  out, sel;
    ngx_rh_str_t                  context, next, *objects;
    yajl_alloc_funcs              afs;
    const ngx_rh_set_t           *set;
    ngx_http_remote_help_item_t  *item;

    if (rc != NGX_OK) {
        return ngx_http_remote_help_failed(r, ctx, rc);
    }

    set = ctx->set;
    more = ctx->op.more && ctx->op.last;
    items = ctx->op.items;
    item = items->elts;

    /* @odata.context: PREFIX/$metadata#Set, or #Set(p1,p2) with $select */

    tail.len = sizeof("$metadata#()") - 1 + set->set_len;

    for (i = 0; i < set->nprops; i++) {
        if (ctx->select & (1u << i)) {
            tail.len += set->props[i].len + 1;
        }
    }

    tail.data = ngx_pnalloc(r->pool, tail.len);
    if (tail.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(tail.data, "$metadata#", sizeof("$metadata#") - 1);
    p = ngx_cpymem(p, set->set, set->set_len);

    if (ctx->select) {
        *p++ = '(';

        for (i = 0; i < set->nprops; i++) {
            if (ctx->select & (1u << i)) {
                p = ngx_cpymem(p, set->props[i].name, set->props[i].len);
                *p++ = ',';
            }
        }

        p[-1] = ')';
    }

    tail.len = p - tail.data;

    if (ngx_http_remote_help_url(r, ctx, &tail, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    context.data = body.data;
    context.len = body.len;

    if (more) {
        if (ngx_http_remote_help_next_link(r, ctx, ctx->op.last, &link)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        next.data = link.data;
        next.len = link.len;
    }

    objects = ngx_palloc(r->pool, (items->nelts + 1) * sizeof(ngx_rh_str_t));
    if (objects == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_remote_help_allocator(r->pool, &afs);

    n = items->nelts;
    size = 256 + context.len + (more ? next.len : 0);

    for (i = 0; i < n; i++) {

        if (ctx->select) {
            /* the object with its selected properties, sized by them */

            ngx_rh_buf_init(&sel, &afs, 0);

            if (ngx_rh_render_select(&sel, set, item[i].json.data,
                                     item[i].spans, ctx->select)
                != 0)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            objects[i].data = sel.data;
            objects[i].len = sel.len;

        } else {
            objects[i].data = item[i].json.data;
            objects[i].len = item[i].json.len;
        }

        size += objects[i].len + 1;
    }

    count = ctx->filter ? (long long) ctx->matched
                        : (long long) ctx->op.total;

    ngx_rh_buf_init(&out, &afs, size);

    if (ngx_rh_render_list(&out, &context, ctx->count ? &count : NULL,
                           more ? &next : NULL, objects, n)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = out.data;
    body.len = out.len;

    return ngx_http_remote_help_send(r, ctx, NGX_HTTP_OK, &body);
}


/*
 * @odata.nextLink: PREFIX/Set?$top=N&$filter=F&$select=S&$count=true
 * &$skiptoken=PLACE, the options as the request sent them
 */

static ngx_int_t
ngx_http_remote_help_next_link(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, uint64_t last, ngx_str_t *link)
{
    u_char     *p;
    ngx_str_t   tail;

    tail.len = ctx->set->set_len
               + sizeof("?$top=&$filter=&$select=&$count=true&$skiptoken=")
               - 1 + NGX_INT_T_LEN + NGX_INT64_LEN
               + ctx->filter_arg.len + ctx->select_arg.len;

    tail.data = ngx_pnalloc(r->pool, tail.len);
    if (tail.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(tail.data, ctx->set->set, ctx->set->set_len);
    *p++ = '?';

    if (ctx->top_given) {
        p = ngx_sprintf(p, "$top=%ui&", ctx->top);
    }

    if (ctx->filter) {
        p = ngx_sprintf(p, "$filter=%V&", &ctx->filter_arg);
    }

    if (ctx->select) {
        p = ngx_sprintf(p, "$select=%V&", &ctx->select_arg);
    }

    if (ctx->count) {
        p = ngx_cpymem(p, "$count=true&", sizeof("$count=true&") - 1);
    }

    p = ngx_sprintf(p, "$skiptoken=%uL", last);
    tail.len = p - tail.data;

    return ngx_http_remote_help_url(r, ctx, &tail, link);
}
