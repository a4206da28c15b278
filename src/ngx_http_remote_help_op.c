
/*
 * ngx_http_remote_help_module: a request's storage operations, whether
 * the backend answers at once or later.  A later answer comes from the
 * event loop through op->done: the request was held (r->main->count) and
 * is finalized with the status of what follows, as upstream does it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_op.h"


static void ngx_http_remote_help_op_done(ngx_http_remote_help_op_t *op);
static void ngx_http_remote_help_op_cancel(void *data);
static void *ngx_http_remote_help_op_backend(ngx_http_request_t *r);


void
ngx_http_remote_help_op_init(ngx_http_remote_help_op_t *op,
    ngx_http_request_t *r, ngx_http_remote_help_ctx_t *ctx, ngx_str_t *key)
{
    ngx_memzero(op, sizeof(ngx_http_remote_help_op_t));

    op->set = ctx->set_index;

    if (key) {
        op->key = *key;
    }

    op->pool = r->pool;
    op->done = ngx_http_remote_help_op_done;
    op->data = r;
}


ngx_int_t
ngx_http_remote_help_op_wait(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_http_remote_help_op_t *op,
    ngx_int_t rc, ngx_http_remote_help_next_pt next)
{
    void                *backend;
    ngx_http_cleanup_t  *cln;

    if (rc != NGX_AGAIN) {
        return next(r, ctx, rc);
    }

    if (!ctx->cleanup) {
        backend = ngx_http_remote_help_op_backend(r);

        if (ngx_http_rh_storage(backend)->cancel) {
            /* a request terminated while it waits cancels the operation */

            cln = ngx_http_cleanup_add(r, 0);
            if (cln == NULL) {
                ngx_http_rh_storage(backend)->cancel(backend, op);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            cln->handler = ngx_http_remote_help_op_cancel;
            cln->data = r;
        }

        ctx->cleanup = 1;
    }

    ctx->waiting = op;
    ctx->next = next;

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_remote_help_op_done(ngx_http_remote_help_op_t *op)
{
    ngx_int_t                    rc;
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_remote_help_ctx_t  *ctx;

    r = op->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "remote_help: storage answered %i", op->rc);

    ctx->waiting = NULL;

    rc = ctx->next(r, ctx, op->rc);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_remote_help_op_cancel(void *data)
{
    ngx_http_request_t *r = data;

    void                        *backend;
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    if (ctx == NULL || ctx->waiting == NULL) {
        return;
    }

    backend = ngx_http_remote_help_op_backend(r);

    ngx_http_rh_storage(backend)->cancel(backend, ctx->waiting);
    ctx->waiting = NULL;
}


/* the zone of the location: its objects, or its status */

static void *
ngx_http_remote_help_op_backend(ngx_http_request_t *r)
{
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    return rlcf->shm_zone ? rlcf->shm_zone->data : rlcf->status_zone->data;
}
