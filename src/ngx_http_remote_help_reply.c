
/*
 * ngx_http_remote_help_module: responses: headers, bodies, Graph errors.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_etag.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_pool.h"
#include "ngx_http_remote_help_reply.h"


ngx_str_t  ngx_http_remote_help_json_type_value =
    ngx_string("application/json; charset=utf-8");


ngx_int_t
ngx_http_remote_help_send(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ctx->own = 1;

    r->headers_out.status = status;

    /* preconditions are the module's (etag.c), never nginx's own filter */
    r->disable_not_modified = 1;

    if (ngx_http_remote_help_headers(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (body == NULL || body->len == 0) {
        r->header_only = 1;
        r->headers_out.content_length_n =
                               (status == NGX_HTTP_NOT_MODIFIED) ? -1 : 0;
        return ngx_http_send_header(r);
    }

    if (ctx->content_type.len) {
        r->headers_out.content_type = ctx->content_type;
        r->headers_out.content_type_len = ctx->content_type.len;

    } else {
        r->headers_out.content_type = ngx_http_remote_help_json_type_value;
        r->headers_out.content_type_len = sizeof("application/json") - 1;
    }

    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = body->len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_remote_help_error(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, const char *fmt, ...)
{
    u_char     *p;
    va_list     args;
    ngx_int_t   rc;
    ngx_str_t   message, body;
    u_char      buf[NGX_HTTP_RH_ERROR_MAX];

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    message.data = buf;
    message.len = p - buf;

    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_remote_help_error_body(r, ctx, status, &message, &body)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_remote_help_send(r, ctx, status, &body);
}


ngx_int_t
ngx_http_remote_help_not_found(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_NOT_FOUND,
                                      "No object of type "
                                      "'" NGX_RH_NAMESPACE "%s' has the key "
                                      "'%V'.", ctx->set->type, &ctx->key);
}


ngx_int_t
ngx_http_remote_help_error_body(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *message,
    ngx_str_t *body)
{
    u_char            date[NGX_HTTP_RH_DATE_LEN];
    ngx_tm_t          tm;
    ngx_rh_buf_t      out;
    ngx_rh_str_t      msg, dt, rid, crid;
    yajl_alloc_funcs  afs;

    ngx_gmtime(ngx_time(), &tm);

    ngx_sprintf(date, "%4d-%02d-%02dT%02d:%02d:%02d",
                tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    msg.data = message->data;
    msg.len = message->len;
    dt.data = date;
    dt.len = NGX_HTTP_RH_DATE_LEN;
    rid.data = ctx->request_id;
    rid.len = NGX_HTTP_RH_UUID_LEN;
    crid.data = ctx->client_request_id.data;
    crid.len = ctx->client_request_id.len;

    ngx_http_remote_help_allocator(r->pool, &afs);
    ngx_rh_buf_init(&out, &afs, 256 + message->len);

    if (ngx_rh_render_error(&out, ngx_http_remote_help_code(status), &msg,
                            &dt, &rid, &crid)
        != 0)
    {
        return NGX_ERROR;
    }

    body->data = out.data;
    body->len = out.len;

    return NGX_OK;
}


const char *
ngx_http_remote_help_code(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
        return "BadRequest";

    case NGX_HTTP_UNAUTHORIZED:
        return "InvalidAuthenticationToken";

    case NGX_HTTP_FORBIDDEN:
        return "Forbidden";

    case NGX_HTTP_NOT_FOUND:
        return "ResourceNotFound";

    case NGX_HTTP_NOT_ALLOWED:
        return "MethodNotAllowed";

    case NGX_HTTP_REQUEST_TIME_OUT:
        return "RequestTimeout";

    case NGX_HTTP_CONFLICT:
        return "Conflict";

    case NGX_HTTP_LENGTH_REQUIRED:
        return "LengthRequired";

    case NGX_HTTP_PRECONDITION_FAILED:
        return "PreconditionFailed";

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "RequestEntityTooLarge";

    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        return "RequestUriTooLong";

    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
        return "UnsupportedMediaType";

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return "TooManyRequests";

    case NGX_HTTP_NOT_IMPLEMENTED:
        return "NotImplemented";

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return "ServiceUnavailable";

    case NGX_HTTP_INSUFFICIENT_STORAGE:
        return "InsufficientStorage";

    default:
        return (status >= 500) ? "InternalServerError" : "BadRequest";
    }
}


ngx_int_t
ngx_http_remote_help_headers(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    if (ngx_http_remote_help_add_header(r, "OData-Version",
                                        (u_char *) "4.0", 3)
        == NULL
        || ngx_http_remote_help_add_header(r, "request-id", ctx->request_id,
                                           NGX_HTTP_RH_UUID_LEN)
           == NULL
        || ngx_http_remote_help_add_header(r, "client-request-id",
                                           ctx->client_request_id.data,
                                           ctx->client_request_id.len)
           == NULL)
    {
        return NGX_ERROR;
    }

    if (ctx->etag && ngx_http_remote_help_etag(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_table_elt_t *
ngx_http_remote_help_add_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return h;
}
