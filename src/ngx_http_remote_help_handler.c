
/*
 * ngx_http_remote_help_module: the content handler: a request's method and path
 * to a read, a write or a listing; bodies read, validated and written.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_args.h"
#include "ngx_http_remote_help_auth.h"
#include "ngx_http_remote_help_etag.h"
#include "ngx_http_remote_help_handler.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_list.h"
#include "ngx_http_remote_help_op.h"
#include "ngx_http_remote_help_parse.h"
#include "ngx_http_remote_help_pool.h"
#include "ngx_http_remote_help_reply.h"
#include "ngx_http_remote_help_request_id.h"
#include "ngx_http_remote_help_storage.h"
#include "ngx_http_remote_help_uri.h"


/* a POST's or PATCH's body, parsed, and its write */

struct ngx_http_remote_help_write_s {
    ngx_rh_parser_t               parser;
    yajl_alloc_funcs              afs;
    ngx_http_remote_help_op_t     wr;
    ngx_str_t                     key;
    ngx_uint_t                    tries;
    ngx_event_t                   again;        /* the pause before a try */
};


static void ngx_http_remote_help_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_remote_help_write(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_write_read(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_write_done(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_write_later(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static void ngx_http_remote_help_write_again(ngx_event_t *ev);
static void ngx_http_remote_help_write_cleanup(void *data);
static ngx_int_t ngx_http_remote_help_created(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_parse_body(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_rh_parser_t *p);
static ngx_int_t ngx_http_remote_help_item(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_item_done(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_delete_read(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_object(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *json,
    uint32_t *spans);
static ngx_int_t ngx_http_remote_help_precondition_failed(
    ngx_http_request_t *r, ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_json_type(ngx_http_request_t *r);

ngx_int_t
ngx_http_remote_help_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_table_elt_t             *h;
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_remote_help_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_PATCH))) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* decided before the body is read: a refused request changes nothing */

    rc = ngx_http_remote_help_authorize(r, ctx);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_remote_help_route(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "Resource not found for the segment '%V'.",
                                   &ctx->segment);
    }

    if (rc == NGX_HTTP_BAD_REQUEST) {
        return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                          "The request URI is not valid: "
                                          "the key is not a percent-encoded "
                                          "UTF-8 string.");
    }

    if (ctx->item) {
        switch (r->method) {

        case NGX_HTTP_GET:
        case NGX_HTTP_HEAD:
        case NGX_HTTP_DELETE:
            return ngx_http_remote_help_item(r, ctx);

        case NGX_HTTP_PATCH:
            break;

        default:
            h = ngx_http_remote_help_add_header(r, "Allow",
                                          (u_char *) "GET, HEAD, PATCH, DELETE",
                                          sizeof("GET, HEAD, PATCH, DELETE")
                                          - 1);
            goto not_allowed;
        }

    } else {
        switch (r->method) {

        case NGX_HTTP_GET:
        case NGX_HTTP_HEAD:
            return ngx_http_remote_help_list(r, ctx);

        case NGX_HTTP_POST:
            break;

        default:
            h = ngx_http_remote_help_add_header(r, "Allow",
                                                (u_char *) "GET, HEAD, POST",
                                                sizeof("GET, HEAD, POST") - 1);
            goto not_allowed;
        }
    }

    if (ngx_http_remote_help_json_type(r) != NGX_OK) {
        return ngx_http_remote_help_error(r, ctx,
                                   NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "Content type '%V' is not supported: "
                                   "the request body must be "
                                   "'application/json'.",
                                   &r->headers_in.content_type->value);
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_remote_help_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;

not_allowed:

    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_NOT_ALLOWED,
                                      "The HTTP method '%V' is not allowed "
                                      "on this resource.", &r->method_name);
}


static void
ngx_http_remote_help_body_handler(ngx_http_request_t *r)
{
    void                             *backend;
    ngx_int_t                         rc;
    ngx_rh_parser_t                  *parser;
    ngx_http_remote_help_ctx_t       *ctx;
    ngx_http_remote_help_write_t     *w;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    backend = rlcf->shm_zone->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    if (ctx->item) {
        /* an update's key is known: it comes into the cache meanwhile */
        ngx_http_rh_storage(backend)->prefetch(backend, &ctx->key);
    }

    w = ngx_palloc(r->pool, sizeof(ngx_http_remote_help_write_t));

    if (w == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->write = w;
    parser = &w->parser;
    w->tries = 0;
    ngx_memzero(&w->again, sizeof(ngx_event_t));

    ngx_http_remote_help_allocator(r->pool, &w->afs);

    /*
     * The parser lives as long as the request (a write may wait for its
     * backend), and all it holds, yajl's handle too, is in the request's
     * pool: there is nothing to free before the pool goes.
     */

    if (ngx_rh_parse_init(parser, ctx->set, &w->afs) != NGX_RH_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_remote_help_parse_body(r, ctx, parser);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST, "%s",
                                        parser->message);

    } else if (rc != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        if (ctx->item) {
            w->key = ctx->key;

        } else {
            w->key.data = (u_char *) parser->values[NGX_RH_KEY_PROP].data;
            w->key.len = parser->values[NGX_RH_KEY_PROP].len;

            /* a new key comes into the cache while the object is rendered */
            ngx_http_rh_storage(backend)->prefetch(backend, &w->key);

            /* for $remote_help_key */
            ctx->key.data = ngx_pstrdup(r->pool, &w->key);
            if (ctx->key.data == NULL) {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            ctx->key.len = w->key.len;
        }

        rc = ngx_http_remote_help_write(r, ctx);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * A write: an update reads the version it is made from, renders the
 * object and puts it on condition that version is still there; tried
 * again when another write came first.
 */

static ngx_int_t
ngx_http_remote_help_write(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    void                             *backend;
    ngx_int_t                         rc;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    if (ctx->write->tries++ == NGX_HTTP_RH_PATCH_TRIES) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "remote_help: update of \"%V\" kept changing under it",
                      &ctx->key);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->item) {
        return ngx_http_remote_help_write_read(r, ctx, NGX_OK);
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    backend = rlcf->shm_zone->data;

    ngx_http_remote_help_op_init(&ctx->op, r, ctx, &ctx->key);
    ctx->op.update = 1;
    ctx->op.exact = ctx->exact;

    rc = ngx_http_rh_storage(backend)->get(backend, &ctx->op);

    return ngx_http_remote_help_op_wait(r, ctx, &ctx->op, rc,
                                        ngx_http_remote_help_write_read);
}



static ngx_int_t
ngx_http_remote_help_write_read(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    void                             *backend;
    ngx_uint_t                        i;
    ngx_rh_buf_t                      out;
    ngx_rh_field_t                    fields[NGX_RH_MAX_PROPS];
    ngx_rh_value_t                   *v;
    const ngx_rh_set_t               *set;
    ngx_http_remote_help_op_t        *rd, *wr;
    ngx_http_remote_help_write_t     *w;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    w = ctx->write;
    set = ctx->set;
    rd = &ctx->op;
    wr = &w->wr;

    ngx_http_remote_help_op_init(wr, r, ctx, &w->key);
    wr->seq = NGX_HTTP_RH_CREATE;

    if (ctx->item) {
        if (rc == NGX_HTTP_RH_MISSING) {
            return r->headers_in.if_match
                   ? ngx_http_remote_help_precondition_failed(r, ctx)
                   : ngx_http_remote_help_not_found(r, ctx);
        }

        if (rc != NGX_OK) {
            return ngx_http_remote_help_failed(r, ctx, rc);
        }

        if (r->headers_in.if_match
            && !ngx_http_remote_help_etag_match(r->headers_in.if_match,
                                                rd->seq))
        {
            if (rd->copy) {
                /*
                 * a copy may not have the version the client was given
                 * by another gateway a moment ago: the truth decides
                 */
                ctx->exact = 1;
                return ngx_http_remote_help_write(r, ctx);
            }

            return ngx_http_remote_help_precondition_failed(r, ctx);
        }

        /* the update is made from this version */
        wr->seq = rd->seq;
    }

    wr->until = 0;

    for (i = 0; i < set->nprops; i++) {
        v = &w->parser.values[i];

        if (v->present || !ctx->item) {
            fields[i].data = v->data;
            fields[i].len = v->len;
            fields[i].raw = 0;

            if (set->props[i].kind == NGX_RH_DATETIME) {
                /* the moment it names, for the backend's lifetimes */
                wr->until = ngx_rh_moment(v->data, v->len, 0);
            }

        } else {
            /* kept from the stored object, verbatim */
            fields[i].data = rd->json.data + rd->spans[2 * i];
            fields[i].len = rd->spans[2 * i + 1];
            fields[i].raw = 1;

            if (set->props[i].kind == NGX_RH_DATETIME) {
                /* the literal kept */
                wr->until = ngx_rh_moment(fields[i].data, fields[i].len, 1);
            }
        }
    }

    /* sized by the renderer */
    ngx_rh_buf_init(&out, &w->afs, 0);

    if (ngx_rh_render_object(&out, set, fields, wr->spans) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wr->json.data = out.data;
    wr->json.len = out.len;

    backend = rlcf->shm_zone->data;

    rc = ngx_http_rh_storage(backend)->put(backend, wr);

    return ngx_http_remote_help_op_wait(r, ctx, wr, rc,
                                        ngx_http_remote_help_write_done);
}


static ngx_int_t
ngx_http_remote_help_write_done(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    ngx_http_remote_help_loc_conf_t  *rlcf;

    switch (rc) {

    case NGX_OK:
        break;

    case NGX_HTTP_RH_CHANGED:
        return ngx_http_remote_help_write_later(r, ctx);

    case NGX_HTTP_RH_MISSING:
        return r->headers_in.if_match
               ? ngx_http_remote_help_precondition_failed(r, ctx)
               : ngx_http_remote_help_not_found(r, ctx);

    case NGX_HTTP_RH_EXISTS:
        return ngx_http_remote_help_error(r, ctx, NGX_HTTP_CONFLICT,
                                   "An object of type '" NGX_RH_NAMESPACE "%s' "
                                   "with the key '%V' already exists.",
                                   ctx->set->type, &ctx->write->key);

    case NGX_HTTP_RH_NOSPACE:
        rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

        return ngx_http_remote_help_error(r, ctx,
                                   NGX_HTTP_INSUFFICIENT_STORAGE,
                                   "The remote_help_zone \"%V\" has no room "
                                   "for the object.",
                                   &rlcf->shm_zone->shm.name);

    default:
        return ngx_http_remote_help_failed(r, ctx, rc);
    }

    ctx->version = ctx->write->wr.seq;
    ctx->etag = 1;

    if (ctx->item) {
        return ngx_http_remote_help_send(r, ctx, NGX_HTTP_OK,
                                         &ctx->write->wr.json);
    }

    return ngx_http_remote_help_created(r, ctx);
}


/*
 * Another write of the object came first: tried again at once the first
 * time (from the version the backend's refusal gave, if it gave one,
 * without reading it), then after a random pause that doubles up to 32
 * ms, so that updates of one key racing through a network backend (each
 * try a round trip) take turns instead of failing each other
 */

static ngx_int_t
ngx_http_remote_help_write_later(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    ngx_msec_t                     delay;
    ngx_http_cleanup_t            *cln;
    ngx_http_remote_help_op_t     *rd;
    ngx_http_remote_help_write_t  *w;

    w = ctx->write;

    if (w->tries < 2) {
        if (!w->wr.current) {
            return ngx_http_remote_help_write(r, ctx);
        }

        /* the backend gave the version there now: made from it at once */
        w->tries++;

        rd = &ctx->op;
        rd->seq = w->wr.seq;
        rd->json = w->wr.json;
        ngx_memcpy(rd->spans, w->wr.spans, sizeof(rd->spans));
        rd->copy = 0;

        return ngx_http_remote_help_write_read(r, ctx, NGX_OK);
    }

    if (w->again.data == NULL) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_remote_help_write_cleanup;
        cln->data = w;

        w->again.handler = ngx_http_remote_help_write_again;
        w->again.data = r;
        w->again.log = r->connection->log;
    }

    delay = 1 + (ngx_msec_t) ngx_random() % ((ngx_msec_t) 1
                                            << ngx_min(w->tries, 5));

    ngx_add_timer(&w->again, delay);

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_remote_help_write_again(ngx_event_t *ev)
{
    ngx_int_t                    rc;
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_remote_help_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    rc = ngx_http_remote_help_write(r, ctx);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_remote_help_write_cleanup(void *data)
{
    ngx_http_remote_help_write_t *w = data;

    if (w->again.timer_set) {
        ngx_del_timer(&w->again);
    }
}


/* 201 with Location: <scheme>://<host>PREFIX/Set/{id} */

static ngx_int_t
ngx_http_remote_help_created(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    u_char              *p;
    ngx_str_t            tail, *key;
    const ngx_rh_set_t  *set;

    set = ctx->set;
    key = &ctx->write->key;

    tail.len = set->set_len + 1 + 3 * key->len;
    tail.data = ngx_pnalloc(r->pool, tail.len);
    if (tail.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(tail.data, set->set, set->set_len);
    *p++ = '/';
    p = ngx_http_remote_help_encode(p, key);
    tail.len = p - tail.data;

    r->headers_out.location = ngx_list_push(&r->headers_out.headers);
    if (r->headers_out.location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location->hash = 1;
    ngx_str_set(&r->headers_out.location->key, "Location");

    if (ngx_http_remote_help_url(r, ctx, &tail,
                                 &r->headers_out.location->value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_remote_help_send(r, ctx, NGX_HTTP_CREATED,
                                     &ctx->write->wr.json);
}


static ngx_int_t
ngx_http_remote_help_parse_body(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_rh_parser_t *p)
{
    u_char       *chunk;
    off_t         offset;
    size_t        size;
    ssize_t       n;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    chunk = NULL;
    rc = NGX_RH_OK;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl && rc == NGX_RH_OK;
         cl = cl->next)
    {
        b = cl->buf;

        if (!b->in_file) {
            rc = ngx_rh_parse_feed(p, b->pos, b->last - b->pos);
            continue;
        }

        if (chunk == NULL) {
            chunk = ngx_pnalloc(r->pool, NGX_HTTP_RH_FILE_CHUNK);
            if (chunk == NULL) {
                return NGX_ERROR;
            }
        }

        for (offset = b->file_pos;
             offset < b->file_last && rc == NGX_RH_OK;
             offset += n)
        {
            size = (size_t) ngx_min(b->file_last - offset,
                                    NGX_HTTP_RH_FILE_CHUNK);

            n = ngx_read_file(b->file, chunk, size, offset);

            if (n == NGX_ERROR || n == 0) {
                return NGX_ERROR;
            }

            rc = ngx_rh_parse_feed(p, chunk, n);
        }
    }

    if (rc == NGX_RH_OK) {
        rc = ngx_rh_parse_finish(p, ctx->item ? ctx->key.data : NULL,
                                 ctx->key.len);
    }

    if (rc == NGX_RH_OK) {
        return NGX_OK;
    }

    return (rc == NGX_RH_INVALID) ? NGX_DECLINED : NGX_ERROR;
}


/*
 * GET, HEAD or DELETE of an object.  A DELETE with If-Match other than
 * "*" reads the version first, then deletes on condition it is still
 * the one there, tried again when another write came between.
 */

static ngx_int_t
ngx_http_remote_help_item(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    void                             *backend;
    ngx_int_t                         rc;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    backend = rlcf->shm_zone->data;

    ngx_http_remote_help_op_init(&ctx->op, r, ctx, &ctx->key);

    if (r->method != NGX_HTTP_DELETE) {
        if (ngx_http_remote_help_args(r, ctx, &rc) != NGX_OK) {
            return rc;
        }

        rc = ngx_http_rh_storage(backend)->get(backend, &ctx->op);

    } else if (r->headers_in.if_match
               && !(r->headers_in.if_match->value.len == 1
                    && r->headers_in.if_match->value.data[0] == '*'))
    {
        if (ctx->tries++ == NGX_HTTP_RH_PATCH_TRIES) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->op.update = 1;
        ctx->op.exact = ctx->exact;

        rc = ngx_http_rh_storage(backend)->get(backend, &ctx->op);

        return ngx_http_remote_help_op_wait(r, ctx, &ctx->op, rc,
                                         ngx_http_remote_help_delete_read);

    } else {
        rc = ngx_http_rh_storage(backend)->remove(backend, &ctx->op);
    }

    return ngx_http_remote_help_op_wait(r, ctx, &ctx->op, rc,
                                        ngx_http_remote_help_item_done);
}


static ngx_int_t
ngx_http_remote_help_delete_read(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    void                             *backend;
    uint64_t                          version;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    if (rc == NGX_HTTP_RH_MISSING) {
        return ngx_http_remote_help_precondition_failed(r, ctx);
    }

    if (rc != NGX_OK) {
        return ngx_http_remote_help_failed(r, ctx, rc);
    }

    if (!ngx_http_remote_help_etag_match(r->headers_in.if_match,
                                         ctx->op.seq))
    {
        if (ctx->op.copy) {
            /* as for a PATCH: read where the objects are kept */
            ctx->exact = 1;
            return ngx_http_remote_help_item(r, ctx);
        }

        return ngx_http_remote_help_precondition_failed(r, ctx);
    }

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    backend = rlcf->shm_zone->data;

    version = ctx->op.seq;

    ngx_http_remote_help_op_init(&ctx->op, r, ctx, &ctx->key);
    ctx->op.seq = version;

    rc = ngx_http_rh_storage(backend)->remove(backend, &ctx->op);

    return ngx_http_remote_help_op_wait(r, ctx, &ctx->op, rc,
                                        ngx_http_remote_help_item_done);
}


static ngx_int_t
ngx_http_remote_help_item_done(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    ngx_table_elt_t  *h;

    if (rc == NGX_OK) {
        if (r->method == NGX_HTTP_DELETE) {
            return ngx_http_remote_help_send(r, ctx, NGX_HTTP_NO_CONTENT,
                                             NULL);
        }

        ctx->version = ctx->op.seq;
        ctx->etag = 1;

        h = r->headers_in.if_none_match;

        if (h && ngx_http_remote_help_etag_match(h, ctx->op.seq)) {
            return ngx_http_remote_help_send(r, ctx, NGX_HTTP_NOT_MODIFIED,
                                             NULL);
        }

        return ngx_http_remote_help_object(r, ctx, NGX_HTTP_OK,
                                           &ctx->op.json, ctx->op.spans);
    }

    if (rc == NGX_HTTP_RH_CHANGED) {
        /* a DELETE's version was replaced meanwhile: read it again */
        return ngx_http_remote_help_item(r, ctx);
    }

    if (rc == NGX_HTTP_RH_MISSING) {
        return r->headers_in.if_match
               ? ngx_http_remote_help_precondition_failed(r, ctx)
               : ngx_http_remote_help_not_found(r, ctx);
    }

    return ngx_http_remote_help_failed(r, ctx, rc);
}


/* an object's response, with $select's properties only */

static ngx_int_t
ngx_http_remote_help_object(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *json,
    uint32_t *spans)
{
    ngx_str_t         body;
    ngx_rh_buf_t      out;
    yajl_alloc_funcs  afs;

    if (ctx->select == 0) {
        return ngx_http_remote_help_send(r, ctx, status, json);
    }

    ngx_http_remote_help_allocator(r->pool, &afs);
    ngx_rh_buf_init(&out, &afs, json->len);

    if (ngx_rh_render_select(&out, ctx->set, json->data, spans, ctx->select)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = out.data;
    body.len = out.len;

    return ngx_http_remote_help_send(r, ctx, status, &body);
}


static ngx_int_t
ngx_http_remote_help_precondition_failed(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_PRECONDITION_FAILED,
                               "The If-Match precondition does not hold: "
                               "the object of type '" NGX_RH_NAMESPACE "%s' "
                               "with the key '%V' is not there in a version "
                               "it names; nothing was changed.",
                               ctx->set->type, &ctx->key);
}


/* a backend's failure: 500 (state file), 503 (resize, backend down) */

ngx_int_t
ngx_http_remote_help_failed(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    ngx_table_elt_t                  *h;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    if (rc == NGX_HTTP_RH_NOSTATE) {
        return ngx_http_remote_help_error(r, ctx,
                               NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "The state file of remote_help_zone \"%V\" "
                               "could not be written; the zone takes no "
                               "writes until nginx is restarted.",
                               &rlcf->shm_zone->shm.name);
    }

    if (rc == NGX_HTTP_RH_UNWRITTEN) {
        return ngx_http_remote_help_error(r, ctx,
                               NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "The state file of remote_help_zone \"%V\" "
                               "could not be written (is its disk full?); "
                               "nothing was changed.",
                               &rlcf->shm_zone->shm.name);
    }

    if (rc != NGX_HTTP_RH_UNAVAILABLE && rc != NGX_HTTP_RH_RETIRED) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* 503: nothing was changed, and the client may try again */

    h = ngx_http_remote_help_add_header(r, "Retry-After", (u_char *) "1", 1);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      (rc == NGX_HTTP_RH_RETIRED)
                                      ? "The remote_help_zone \"%V\" is "
                                        "being resized; nothing was changed."
                                      : "The backend of remote_help_zone "
                                        "\"%V\" did not answer in time; "
                                        "nothing was changed.",
                                      &rlcf->shm_zone->shm.name);
}


static ngx_int_t
ngx_http_remote_help_json_type(ngx_http_request_t *r)
{
    u_char     *p, *end;
    ngx_str_t  *type;

    if (r->headers_in.content_type == NULL) {
        return NGX_OK;
    }

    type = &r->headers_in.content_type->value;

    if (type->len < sizeof("application/json") - 1
        || ngx_strncasecmp(type->data, (u_char *) "application/json",
                           sizeof("application/json") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    p = type->data + sizeof("application/json") - 1;
    end = type->data + type->len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return (p == end || *p == ';') ? NGX_OK : NGX_DECLINED;
}
