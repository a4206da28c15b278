
/*
 * ngx_http_remote_help_module: the query options of a request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_args.h"
#include "ngx_http_remote_help_pool.h"
#include "ngx_http_remote_help_query.h"
#include "ngx_http_remote_help_reply.h"
#include "ngx_http_remote_help_uri.h"


#define NGX_HTTP_RH_ARG_TOP        0x01
#define NGX_HTTP_RH_ARG_SKIPTOKEN  0x02
#define NGX_HTTP_RH_ARG_SELECT     0x04
#define NGX_HTTP_RH_ARG_FILTER     0x08
#define NGX_HTTP_RH_ARG_COUNT      0x10


static ngx_int_t ngx_http_remote_help_args_read(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_arg(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t arg, ngx_str_t *raw,
    ngx_str_t *value);


static const struct {
    ngx_str_t                     name;
    ngx_uint_t                    arg;
    ngx_uint_t                    listing;      /* of a set only */
} ngx_http_remote_help_options[] = {
    { ngx_string("$top"),       NGX_HTTP_RH_ARG_TOP,       1 },
    { ngx_string("$skiptoken"), NGX_HTTP_RH_ARG_SKIPTOKEN, 1 },
    { ngx_string("$select"),    NGX_HTTP_RH_ARG_SELECT,    0 },
    { ngx_string("$filter"),    NGX_HTTP_RH_ARG_FILTER,    1 },
    { ngx_string("$count"),     NGX_HTTP_RH_ARG_COUNT,     1 },
};

#define NGX_HTTP_RH_NOPTIONS                                                 \
    (sizeof(ngx_http_remote_help_options)                                    \
     / sizeof(ngx_http_remote_help_options[0]))


ngx_int_t
ngx_http_remote_help_args(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t *rc)
{
    *rc = ngx_http_remote_help_args_read(r, ctx);

    /* an error response made (ctx->own), or none could be */

    return (*rc == NGX_OK && !ctx->own) ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_remote_help_args_read(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    u_char                           *arg, *end, *next_arg, *eq, *p;
    ngx_int_t                         rc;
    ngx_str_t                         name, raw, value;
    ngx_uint_t                        i, k, opt, seen;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    ctx->top = rlcf->page_size;
    ctx->top_given = 0;
    ctx->after = 0;
    ctx->select = 0;
    ctx->filter = NULL;
    ctx->count = 0;
    ngx_str_null(&ctx->select_arg);
    ngx_str_null(&ctx->filter_arg);

    seen = 0;
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

        raw.data = (eq < next_arg) ? eq + 1 : eq;
        raw.len = next_arg - raw.data;

        if (ngx_http_remote_help_decode(r->pool, arg, eq, 1, &name)
            != NGX_OK)
        {
            goto invalid;
        }

        for (i = 0; i < NGX_HTTP_RH_NOPTIONS; i++) {
            if (name.len == ngx_http_remote_help_options[i].name.len
                && ngx_strncmp(name.data,
                               ngx_http_remote_help_options[i].name.data,
                               name.len)
                   == 0)
            {
                break;
            }
        }

        if (i == NGX_HTTP_RH_NOPTIONS
            || (ctx->item && ngx_http_remote_help_options[i].listing))
        {
            /* another option, or one an object's GET has no use for */
            continue;
        }

        opt = ngx_http_remote_help_options[i].arg;

        if (seen & opt) {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "Query option '%V' was specified more "
                                   "than once, but it must be specified at "
                                   "most once.", &name);
        }

        seen |= opt;

        if (opt == NGX_HTTP_RH_ARG_FILTER) {
            /* a "+" is a space there, as in a form; "%2B" is a "+" */

            p = ngx_pnalloc(r->pool, raw.len);
            if (p == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(p, raw.data, raw.len);

            for (k = 0; k < raw.len; k++) {
                if (p[k] == '+') {
                    p[k] = ' ';
                }
            }

            rc = ngx_http_remote_help_decode(r->pool, p, p + raw.len, 1,
                                             &value);

        } else {
            rc = ngx_http_remote_help_decode(r->pool, raw.data, next_arg, 1,
                                             &value);
        }

        if (rc != NGX_OK) {
            goto invalid;
        }

        rc = ngx_http_remote_help_arg(r, ctx, opt, &raw, &value);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;

invalid:

    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                      "The query string is not valid.");
}


static ngx_int_t
ngx_http_remote_help_arg(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t arg, ngx_str_t *raw,
    ngx_str_t *value)
{
    int                rc;
    off_t              token;
    ngx_int_t          n;
    ngx_rh_filter_t   *f;
    yajl_alloc_funcs  *afs;
    char               message[NGX_RH_MESSAGE_MAX];

    switch (arg) {

    case NGX_HTTP_RH_ARG_TOP:

        n = ngx_atoi(value->data, value->len);

        if (n == NGX_ERROR) {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "Invalid value '%V' for the $top query "
                                   "option: a non-negative integer is "
                                   "expected.", value);
        }

        ctx->top = ngx_min((ngx_uint_t) n, NGX_HTTP_RH_TOP_MAX);
        ctx->top_given = 1;

        return NGX_OK;

    case NGX_HTTP_RH_ARG_SKIPTOKEN:

        /* the place of the previous page's last object */

        token = ngx_atoof(value->data, value->len);

        if (token == NGX_ERROR) {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "Invalid value '%V' for the $skiptoken "
                                   "query option.", value);
        }

        ctx->after = (uint64_t) token;

        return NGX_OK;

    case NGX_HTTP_RH_ARG_SELECT:

        if (ngx_rh_select_parse(ctx->set, value->data, value->len,
                                &ctx->select, message, sizeof(message))
            != NGX_RH_OK)
        {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                              "%s", message);
        }

        ctx->select_arg = *raw;

        return NGX_OK;

    case NGX_HTTP_RH_ARG_COUNT:

        if (value->len == 4 && ngx_strncmp(value->data, "true", 4) == 0) {
            ctx->count = 1;

        } else if (!(value->len == 5
                     && ngx_strncmp(value->data, "false", 5) == 0))
        {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "Invalid value '%V' for the $count query "
                                   "option: true or false is expected.",
                                   value);
        }

        return NGX_OK;

    default: /* NGX_HTTP_RH_ARG_FILTER */

        f = ngx_palloc(r->pool, sizeof(ngx_rh_filter_t));
        afs = ngx_palloc(r->pool, sizeof(yajl_alloc_funcs));

        if (f == NULL || afs == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* in the request's pool: nothing to free */
        ngx_http_remote_help_allocator(r->pool, afs);

        rc = ngx_rh_filter_parse(f, ctx->set, value->data, value->len, afs);

        if (rc == NGX_RH_INVALID) {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                              "%s", f->message);
        }

        if (rc != NGX_RH_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->filter = f;
        ctx->filter_arg = *raw;

        return NGX_OK;
    }
}
