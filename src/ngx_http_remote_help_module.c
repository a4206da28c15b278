
/*
 * ngx_http_remote_help_module: directives, routing, request handling.
 *
 * Serves the Microsoft Graph beta remote-help session entity sets out
 * of a shared-memory zone.  The body is validated by the pure C parser
 * (ngx_http_remote_help_parse.c), rendered by yajl_gen
 * (ngx_http_remote_help_json.c) and kept in the zone
 * (ngx_http_remote_help_store.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_parse.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_state.h"


static ngx_int_t ngx_http_remote_help_handler(ngx_http_request_t *r);
static void ngx_http_remote_help_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_remote_help_write(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_apply(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_rh_parser_t *parser,
    yajl_alloc_funcs *afs);
static ngx_int_t ngx_http_remote_help_parse_body(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_rh_parser_t *p);
static ngx_int_t ngx_http_remote_help_get(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_delete(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_list(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_failed(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);

static uint64_t ngx_http_remote_help_random(void);
static ngx_int_t ngx_http_remote_help_route(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_quoted(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, u_char *start, u_char *end,
    ngx_uint_t decode);
static ngx_int_t ngx_http_remote_help_decode(ngx_pool_t *pool,
    u_char *start, u_char *end, ngx_uint_t decode, ngx_str_t *out);
static u_char *ngx_http_remote_help_encode(u_char *dst, ngx_str_t *src);
static ngx_int_t ngx_http_remote_help_bearer(ngx_http_request_t *r);
static ngx_int_t ngx_http_remote_help_json_type(ngx_http_request_t *r);
static ngx_int_t ngx_http_remote_help_url(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_str_t *tail, ngx_str_t *url);

static ngx_int_t ngx_http_remote_help_error_body(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *message,
    ngx_str_t *body);
static ngx_int_t ngx_http_remote_help_not_found(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static ngx_int_t ngx_http_remote_help_headers(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx);
static void ngx_http_remote_help_allocator(ngx_pool_t *pool,
    yajl_alloc_funcs *afs);

static ngx_int_t ngx_http_remote_help_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_remote_help_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);

static void *ngx_http_remote_help_create_loc_conf(ngx_conf_t *cf);
static void *ngx_http_remote_help_create_main_conf(ngx_conf_t *cf);
static ngx_array_t *ngx_http_remote_help_zones(ngx_cycle_t *cycle);
static char *ngx_http_remote_help_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_remote_help_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_remote_help(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_remote_help_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_remote_help_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_remote_help_init_process(ngx_cycle_t *cycle);
static void ngx_http_remote_help_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_remote_help_auth[] = {
    { ngx_string("off"), NGX_HTTP_RH_AUTH_OFF },
    { ngx_string("bearer"), NGX_HTTP_RH_AUTH_BEARER },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_remote_help_page_size_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_HTTP_RH_TOP_MAX
};


/* the content handlers of remote_help and remote_help_status */

static ngx_http_handler_pt  ngx_http_remote_help_content =
    ngx_http_remote_help_handler;
static ngx_http_handler_pt  ngx_http_remote_help_status_content =
    ngx_http_remote_help_status_handler;


static ngx_command_t  ngx_http_remote_help_commands[] = {

    { ngx_string("remote_help_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_remote_help_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("remote_help"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_remote_help,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, shm_zone),
      &ngx_http_remote_help_content },

    { ngx_string("remote_help_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, auth),
      &ngx_http_remote_help_auth },

    { ngx_string("remote_help_page_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, page_size),
      &ngx_http_remote_help_page_size_bounds },

    { ngx_string("remote_help_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_remote_help,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, status_zone),
      &ngx_http_remote_help_status_content },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_remote_help_module_ctx = {
    ngx_http_remote_help_add_variables,    /* preconfiguration */
    ngx_http_remote_help_init,             /* postconfiguration */

    ngx_http_remote_help_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_remote_help_create_loc_conf,  /* create location configuration */
    ngx_http_remote_help_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_remote_help_module = {
    NGX_MODULE_V1,
    &ngx_http_remote_help_module_ctx,      /* module context */
    ngx_http_remote_help_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_remote_help_init_module,      /* init module */
    ngx_http_remote_help_init_process,     /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_remote_help_exit_process,     /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static uint64_t  ngx_http_remote_help_seed;

static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_remote_help_json_type_value =
    ngx_string("application/json; charset=utf-8");


static ngx_int_t
ngx_http_remote_help_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_table_elt_t                  *h;
    ngx_http_remote_help_ctx_t       *ctx;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

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

    if (rlcf->auth == NGX_HTTP_RH_AUTH_BEARER
        && ngx_http_remote_help_bearer(r) != NGX_OK)
    {
        h = ngx_http_remote_help_add_header(r, "WWW-Authenticate",
                                            (u_char *) "Bearer", 6);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.www_authenticate = h;

        return ngx_http_remote_help_error(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                          "Access token is empty.");
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
            return ngx_http_remote_help_get(r, ctx);

        case NGX_HTTP_DELETE:
            return ngx_http_remote_help_delete(r, ctx);

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
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    ngx_http_finalize_request(r, ngx_http_remote_help_write(r, ctx));
}


/*
 * The parser lives on this stack, not in the request pool: nothing it
 * holds is used after the write, and the pool keeps its room.
 */

static ngx_int_t
ngx_http_remote_help_write(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_rh_parser_t   parser;
    yajl_alloc_funcs  afs;

    ngx_http_remote_help_allocator(r->pool, &afs);

    if (ngx_rh_parse_init(&parser, ctx->set, &afs) != NGX_RH_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        rc = ngx_http_remote_help_apply(r, ctx, &parser, &afs);
    }

    ngx_rh_parse_free(&parser);

    return rc;
}


static ngx_int_t
ngx_http_remote_help_apply(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_rh_parser_t *parser,
    yajl_alloc_funcs *afs)
{
    u_char                           *p;
    uint32_t                          spans[2 * NGX_RH_MAX_PROPS];
    uint64_t                          seq;
    ngx_int_t                         rc;
    ngx_str_t                         json, key, tail;
    ngx_uint_t                        i, tries;
    ngx_rh_buf_t                      out;
    ngx_rh_field_t                    fields[NGX_RH_MAX_PROPS];
    ngx_rh_value_t                   *v;
    const ngx_rh_set_t               *set;
    ngx_http_remote_help_obj_t        obj;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    set = ctx->set;

    if (ctx->item) {
        /* an update's key is known: its bucket comes in during the parse */
        ngx_http_remote_help_store_prefetch(rlcf->shm_zone->data, &ctx->key);
    }

    rc = ngx_http_remote_help_parse_body(r, ctx, parser);

    if (rc == NGX_DECLINED) {
        return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST, "%s",
                                          parser->message);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->item) {
        key = ctx->key;

    } else {
        key.data = (u_char *) parser->values[NGX_RH_KEY_PROP].data;
        key.len = parser->values[NGX_RH_KEY_PROP].len;

        /* a new key's bucket comes in while the object is rendered */
        ngx_http_remote_help_store_prefetch(rlcf->shm_zone->data, &key);
    }

    for (tries = 0; tries < NGX_HTTP_RH_PATCH_TRIES; tries++) {

        seq = 0;

        if (ctx->item) {
            rc = ngx_http_remote_help_store_get(rlcf->shm_zone->data,
                                                ctx->set_index, &ctx->key,
                                                r->pool, &obj);
            if (rc == NGX_HTTP_RH_MISSING) {
                goto missing;
            }

            if (rc != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            seq = obj.seq;
        }

        for (i = 0; i < set->nprops; i++) {
            v = &parser->values[i];

            if (v->present || !ctx->item) {
                fields[i].data = v->data;
                fields[i].len = v->len;
                fields[i].raw = 0;

            } else {
                /* kept from the stored object, verbatim */
                fields[i].data = obj.json.data + obj.spans[2 * i];
                fields[i].len = obj.spans[2 * i + 1];
                fields[i].raw = 1;
            }
        }

        /* sized by the renderer */
        ngx_rh_buf_init(&out, afs, 0);

        if (ngx_rh_render_object(&out, set, fields, spans) != 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        json.data = out.data;
        json.len = out.len;

        if (!ctx->item && ctx->key.len == 0) {
            /* for $remote_help_key */
            ctx->key.data = ngx_pstrdup(r->pool, &key);
            if (ctx->key.data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->key.len = key.len;
        }

        rc = ngx_http_remote_help_store_put(rlcf->shm_zone->data,
                                            ctx->set_index, &key, &json,
                                            spans, seq);

        switch (rc) {

        case NGX_OK:
            break;

        case NGX_HTTP_RH_CHANGED:
            continue;

        case NGX_HTTP_RH_MISSING:
            goto missing;

        case NGX_HTTP_RH_EXISTS:
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_CONFLICT,
                                   "An object of type '" NGX_RH_NAMESPACE "%s' "
                                   "with the key '%V' already exists.",
                                   set->type, &key);

        case NGX_HTTP_RH_NOSPACE:
            return ngx_http_remote_help_error(r, ctx,
                                   NGX_HTTP_INSUFFICIENT_STORAGE,
                                   "The remote_help_zone \"%V\" has no room "
                                   "for the object.",
                                   &rlcf->shm_zone->shm.name);

        default:
            return ngx_http_remote_help_failed(r, ctx, rc);
        }

        if (ctx->item) {
            return ngx_http_remote_help_send(r, ctx, NGX_HTTP_OK, &json);
        }

        /* Location: <scheme>://<host>PREFIX/Set/{id} */

        tail.len = set->set_len + 1 + 3 * key.len;
        tail.data = ngx_pnalloc(r->pool, tail.len);
        if (tail.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(tail.data, set->set, set->set_len);
        *p++ = '/';
        p = ngx_http_remote_help_encode(p, &key);
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

        return ngx_http_remote_help_send(r, ctx, NGX_HTTP_CREATED, &json);
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "remote_help: update of \"%V\" kept changing under it",
                  &ctx->key);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;

missing:

    return ngx_http_remote_help_not_found(r, ctx);
}


/*
 * feeds every body buffer to the parser, those in the temp file too;
 * NGX_DECLINED: the body is invalid, the parser's message says why
 */

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


static ngx_int_t
ngx_http_remote_help_get(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    ngx_int_t                         rc;
    ngx_http_remote_help_obj_t        obj;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    rc = ngx_http_remote_help_store_get(rlcf->shm_zone->data, ctx->set_index,
                                        &ctx->key, r->pool, &obj);

    if (rc == NGX_OK) {
        return ngx_http_remote_help_send(r, ctx, NGX_HTTP_OK, &obj.json);
    }

    if (rc == NGX_HTTP_RH_MISSING) {
        return ngx_http_remote_help_not_found(r, ctx);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_http_remote_help_delete(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    ngx_int_t                         rc;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    rc = ngx_http_remote_help_store_delete(rlcf->shm_zone->data,
                                           ctx->set_index, &ctx->key, 0);

    if (rc == NGX_OK) {
        return ngx_http_remote_help_send(r, ctx, NGX_HTTP_NO_CONTENT, NULL);
    }

    if (rc == NGX_HTTP_RH_MISSING) {
        return ngx_http_remote_help_not_found(r, ctx);
    }

    return ngx_http_remote_help_failed(r, ctx, rc);
}


/* a write the store did not make: the state file, a resized zone */

static ngx_int_t
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

    if (rc == NGX_HTTP_RH_RETIRED) {
        h = ngx_http_remote_help_add_header(r, "Retry-After",
                                            (u_char *) "1", 1);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_remote_help_error(r, ctx,
                               NGX_HTTP_SERVICE_UNAVAILABLE,
                               "The remote_help_zone \"%V\" is being "
                               "resized; nothing was changed.",
                               &rlcf->shm_zone->shm.name);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_http_remote_help_list(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    u_char                           *p, *arg, *end, *next_arg, *eq;
    size_t                            size;
    off_t                             token;
    uint64_t                          after, last;
    ngx_int_t                         n, rc;
    ngx_str_t                         name, value, tail, body;
    ngx_str_t                        *json;
    ngx_uint_t                        i, top, more, top_given;
    ngx_array_t                       items;
    ngx_rh_buf_t                      out;
    ngx_rh_str_t                      context, next, *objects;
    yajl_alloc_funcs                  afs;
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

    if (ngx_array_init(&items, r->pool, ngx_min(top, 64) + 1,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_remote_help_store_list(rlcf->shm_zone->data,
                                         ctx->set_index, after, top,
                                         r->pool, &items, &last, &more);
    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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

        if (top_given) {
            p = ngx_sprintf(p, "?$top=%ui&$skiptoken=", top);

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

    objects = ngx_palloc(r->pool, (items.nelts + 1) * sizeof(ngx_rh_str_t));
    if (objects == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json = items.elts;
    size = 256;

    for (i = 0; i < items.nelts; i++) {
        objects[i].data = json[i].data;
        objects[i].len = json[i].len;
        size += json[i].len + 1;
    }

    ngx_http_remote_help_allocator(r->pool, &afs);
    ngx_rh_buf_init(&out, &afs, size + context.len + 2 * tail.len);

    if (ngx_rh_render_list(&out, &context, (more && last) ? &next : NULL,
                           objects, items.nelts)
        != 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = out.data;
    body.len = out.len;

    return ngx_http_remote_help_send(r, ctx, NGX_HTTP_OK, &body);
}


ngx_http_remote_help_ctx_t *
ngx_http_remote_help_ctx(ngx_http_request_t *r)
{
    u_char                      *p, *u;
    uint64_t                     rnd[2];
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_remote_help_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /* request-id: a random (version 4) UUID, RFC 4122 */

    rnd[0] = ngx_http_remote_help_random();
    rnd[1] = ngx_http_remote_help_random();

    u = (u_char *) rnd;
    u[6] = (u_char) ((u[6] & 0x0f) | 0x40);
    u[8] = (u_char) ((u[8] & 0x3f) | 0x80);

    p = ngx_hex_dump(ctx->request_id, u, 4);
    *p++ = '-';
    p = ngx_hex_dump(p, u + 4, 2);
    *p++ = '-';
    p = ngx_hex_dump(p, u + 6, 2);
    *p++ = '-';
    p = ngx_hex_dump(p, u + 8, 2);
    *p++ = '-';
    (void) ngx_hex_dump(p, u + 10, 6);

    ctx->client_request_id.data = ctx->request_id;
    ctx->client_request_id.len = NGX_HTTP_RH_UUID_LEN;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("client-request-id") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "client-request-id",
                               sizeof("client-request-id") - 1)
               == 0
            && h[i].value.len)
        {
            ctx->client_request_id = h[i].value;
            break;
        }
    }

    ngx_http_set_ctx(r, ctx, ngx_http_remote_help_module);

    return ctx;
}


/*
 * splitmix64, seeded per process: request ids are for correlating logs,
 * not secrets, and libc's random() takes a lock for each of the eight
 * calls a UUID took
 */

static uint64_t
ngx_http_remote_help_random(void)
{
    uint64_t  z;

    ngx_http_remote_help_seed += 0x9e3779b97f4a7c15ULL;

    z = ngx_http_remote_help_seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/*
 * The set is found at the end of the path, so one handler serves
 * "location /beta/" and one location per set alike:
 *
 *     PREFIX/Set           the collection
 *     PREFIX/Set/{id}      an object, {id} percent-encoded
 *     PREFIX/Set('{id}')   an object, '' standing for '
 *
 * The raw request path is used while it is valid, so that an encoded
 * "/" in a key is told apart from a path separator.
 */

static ngx_int_t
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


/* "Set('{id}')": decoded first, then '' stands for ' */

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


/* strict percent-decoding into a new string; the result must be UTF-8 */

static ngx_int_t
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


/* percent-encodes all but the unreserved characters of RFC 3986 */

static u_char *
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


static ngx_int_t
ngx_http_remote_help_bearer(ngx_http_request_t *r)
{
    u_char           *p, *end;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    p = h->value.data + sizeof("Bearer ") - 1;
    end = h->value.data + h->value.len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return (p < end) ? NGX_OK : NGX_DECLINED;
}


/* no Content-Type, or application/json with or without parameters */

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


/* <scheme>://<host>PREFIX<tail> */

static ngx_int_t
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


ngx_int_t
ngx_http_remote_help_send(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_uint_t status, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ctx->own = 1;

    r->headers_out.status = status;

    if (ngx_http_remote_help_headers(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (body == NULL || body->len == 0) {
        r->header_only = 1;
        r->headers_out.content_length_n = 0;
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


static ngx_int_t
ngx_http_remote_help_not_found(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx)
{
    return ngx_http_remote_help_error(r, ctx, NGX_HTTP_NOT_FOUND,
                                      "No object of type "
                                      "'" NGX_RH_NAMESPACE "%s' has the key "
                                      "'%V'.", ctx->set->type, &ctx->key);
}


static ngx_int_t
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


static ngx_int_t
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


/*
 * yajl allocates from the request pool: nothing is malloc()ed per
 * request outside of it, and nothing outlives it.  Each block keeps
 * its size in front of it for realloc().
 */

static void *
ngx_http_remote_help_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, size + sizeof(size_t));
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void
ngx_http_remote_help_free(void *ctx, void *ptr)
{
    if (ptr) {
        /* returns large blocks at once, leaves the rest to the pool */
        (void) ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}


static void *
ngx_http_remote_help_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  old;
    void   *p;

    if (ptr == NULL) {
        return ngx_http_remote_help_malloc(ctx, size);
    }

    old = ((size_t *) ptr)[-1];

    if (size <= old) {
        return ptr;
    }

    p = ngx_http_remote_help_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, old);
    ngx_http_remote_help_free(ctx, ptr);

    return p;
}


static void
ngx_http_remote_help_allocator(ngx_pool_t *pool, yajl_alloc_funcs *afs)
{
    afs->malloc = ngx_http_remote_help_malloc;
    afs->realloc = ngx_http_remote_help_realloc;
    afs->free = ngx_http_remote_help_free;
    afs->ctx = pool;
}


/*
 * Responses that nginx itself makes in a remote_help location (a body
 * over client_max_body_size, a broken chunked body, an internal error)
 * get Graph's JSON error body in place of nginx's HTML page.
 */

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


static void *
ngx_http_remote_help_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_remote_help_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rmcf->zones, cf->pool, 2,
                       sizeof(ngx_http_remote_help_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


/* the cycle's zones; NULL: no http block */

static ngx_array_t *
ngx_http_remote_help_zones(ngx_cycle_t *cycle)
{
    ngx_http_remote_help_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_remote_help_module);

    return rmcf ? &rmcf->zones : NULL;
}


static void *
ngx_http_remote_help_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_remote_help_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->shm_zone = NULL;
     *     conf->file = NULL;
     *     conf->line = 0;
     */

    conf->auth = NGX_CONF_UNSET_UINT;
    conf->page_size = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_remote_help_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_remote_help_loc_conf_t *prev = parent;
    ngx_http_remote_help_loc_conf_t *conf = child;

    ngx_shm_zone_t  *zone;

    ngx_conf_merge_uint_value(conf->auth, prev->auth,
                              NGX_HTTP_RH_AUTH_BEARER);
    ngx_conf_merge_uint_value(conf->page_size, prev->page_size, 100);

    zone = conf->shm_zone ? conf->shm_zone : conf->status_zone;

    if (zone && zone->data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "unknown remote_help_zone \"%V\" in %s:%ui",
                      &zone->shm.name, conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* remote_help_zone zone=NAME:SIZE [state=PATH]; */

static char *
ngx_http_remote_help_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_remote_help_main_conf_t *rmcf = conf;

    u_char                       *p;
    char                         *rv;
    ssize_t                       size;
    ngx_str_t                    *value, name, s, state;
    ngx_uint_t                    i;
    ngx_flag_t                    sync;
    ngx_shm_zone_t               *shm_zone;
    ngx_http_remote_help_zone_t  *zone, **slot;

    value = cf->args->elts;

    size = 0;
    sync = NGX_CONF_UNSET;
    ngx_str_null(&name);
    ngx_str_null(&state);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "state=", 6) == 0
            && value[i].len > 6)
        {
            state.data = value[i].data + 6;
            state.len = value[i].len - 6;
            continue;
        }

        if (ngx_strcmp(value[i].data, "state_sync=on") == 0) {
            sync = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "state_sync=off") == 0) {
            sync = 0;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (sync != NGX_CONF_UNSET && state.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"state_sync\" needs \"state\"");
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_remote_help_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "remote_help_zone \"%V\" is already declared",
                           &name);
        return NGX_CONF_ERROR;
    }

    zone->name = name;
    zone->shm_zone = shm_zone;
    zone->cycle = cf->cycle;

    if (state.len) {
        rv = ngx_http_remote_help_state_conf(cf, &rmcf->zones, zone, &state,
                                             sync == 1);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (ngx_http_remote_help_counters_conf(cf, zone) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_remote_help_init_zone;
    shm_zone->data = zone;

    slot = ngx_array_push(&rmcf->zones);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = zone;

    return NGX_CONF_OK;
}


/*
 * remote_help NAME; and remote_help_status NAME;  cmd->offset: the zone
 * field, cmd->post: the content handler.  A location serves one of them.
 */

static char *
ngx_http_remote_help(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_remote_help_loc_conf_t *rlcf = conf;

    ngx_str_t                 *value;
    ngx_shm_zone_t           **field;
    ngx_http_handler_pt       *handler;
    ngx_http_core_loc_conf_t  *clcf;

    if (rlcf->shm_zone || rlcf->status_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;
    field = (ngx_shm_zone_t **) ((char *) conf + cmd->offset);

    *field = ngx_shared_memory_add(cf, &value[1], 0,
                                   &ngx_http_remote_help_module);
    if (*field == NULL) {
        return NGX_CONF_ERROR;
    }

    rlcf->file = cf->conf_file->file.name.data;
    rlcf->line = cf->conf_file->line;

    handler = cmd->post;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = *handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_remote_help_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_remote_help_log_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_remote_help_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_remote_help_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_init_module(ngx_cycle_t *cycle)
{
    ngx_http_remote_help_store_commit(ngx_http_remote_help_zones(cycle));

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_init_process(ngx_cycle_t *cycle)
{
    ngx_array_t  *zones;

    /* nginx has seeded random() with the pid and the time */

    ngx_http_remote_help_seed = ((uint64_t) ngx_random() << 32)
                                ^ (uint64_t) ngx_random()
                                ^ ((uint64_t) ngx_pid << 48)
                                ^ (uint64_t) ngx_current_msec;

    zones = ngx_http_remote_help_zones(cycle);

    if (ngx_http_remote_help_store_init_process(cycle, zones) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_remote_help_state_init_process(cycle, zones);
}


static void
ngx_http_remote_help_exit_process(ngx_cycle_t *cycle)
{
    ngx_array_t  *zones;

    zones = ngx_http_remote_help_zones(cycle);

    ngx_http_remote_help_state_exit_process(zones);
    ngx_http_remote_help_store_exit_process(zones);
}
