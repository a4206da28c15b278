
/*
 * ngx_http_remote_help_module: the Graph error shape of the responses nginx
 * itself makes in a remote_help location.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_filter.h"
#include "ngx_http_remote_help_reply.h"
#include "ngx_http_remote_help_request_id.h"


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t ngx_http_remote_help_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_remote_help_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_int_t
ngx_http_remote_help_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                         message, body;
    ngx_buf_t                        *b;
    ngx_uint_t                        status;
    ngx_http_remote_help_ctx_t       *ctx;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    status = r->headers_out.status;

    if (rlcf->shm_zone == NULL || r != r->main
        || status < NGX_HTTP_BAD_REQUEST || status >= 600
        || status == NGX_HTTP_CLOSE || status == NGX_HTTP_CLIENT_CLOSED_REQUEST)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_remote_help_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->own) {
        return ngx_http_next_header_filter(r);
    }

    ctx->own = 1;

    switch (status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_str_set(&message, "The request body is larger than the "
                              "client_max_body_size of this location.");
        break;

    case NGX_HTTP_BAD_REQUEST:
        ngx_str_set(&message, "The request could not be read.");
        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        ngx_str_set(&message, "The request body was not received in time.");
        break;

    default:
        message.data = (u_char *) ngx_http_remote_help_code(status);
        message.len = ngx_strlen(message.data);
        break;
    }

    if (ngx_http_remote_help_error_body(r, ctx, status, &message, &body)
        != NGX_OK
        || ngx_http_remote_help_headers(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body.data;
    b->last = body.data + body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    ctx->replace = b;

    r->headers_out.content_type = ngx_http_remote_help_json_type_value;
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = body.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_remote_help_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                  out, *cl;
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    if (ctx == NULL || ctx->replace == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's own page is consumed and dropped */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->replaced) {
        return ngx_http_next_body_filter(r, NULL);
    }

    ctx->replaced = 1;

    out.buf = ctx->replace;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


ngx_int_t
ngx_http_remote_help_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_remote_help_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_remote_help_body_filter;

    return NGX_OK;
}
