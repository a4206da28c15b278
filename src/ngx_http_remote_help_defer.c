
/*
 * ngx_http_remote_help_module: a test backend, built with
 * -DNGX_HTTP_RH_DEFER=1 only ("make test-defer").  It makes each
 * operation in the zone backend at once and answers NGX_AGAIN; the
 * answer comes from a posted event, in a later turn of the event loop,
 * so that the request handling's continuations run as a network
 * backend's would make them run.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_defer.h"
#include "ngx_http_remote_help_zone.h"


#if (NGX_HTTP_RH_DEFER)

static void ngx_http_remote_help_defer_prefetch(void *backend,
    ngx_str_t *key);
static ngx_int_t ngx_http_remote_help_defer_get(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_defer_put(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_defer_remove(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_defer_list(void *backend,
    ngx_http_remote_help_op_t *op);
static void ngx_http_remote_help_defer_cancel(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_defer(ngx_http_remote_help_op_t *op,
    ngx_int_t rc);
static void ngx_http_remote_help_defer_handler(ngx_event_t *ev);


ngx_http_remote_help_storage_t  ngx_http_remote_help_defer_storage = {
    "defer",
    ngx_http_remote_help_defer_prefetch,
    ngx_http_remote_help_defer_get,
    ngx_http_remote_help_defer_put,
    ngx_http_remote_help_defer_remove,
    ngx_http_remote_help_defer_list,
    ngx_http_remote_help_defer_cancel,
    NULL
};


/* the posted answer of one operation, in the op's pool */

typedef struct {
    ngx_event_t                   event;
    ngx_http_remote_help_op_t    *op;
} ngx_http_remote_help_defer_t;


static void
ngx_http_remote_help_defer_prefetch(void *backend, ngx_str_t *key)
{
    ngx_http_remote_help_zone_storage.prefetch(backend, key);
}


static ngx_int_t
ngx_http_remote_help_defer_get(void *backend, ngx_http_remote_help_op_t *op)
{
    return ngx_http_remote_help_defer(op,
                         ngx_http_remote_help_zone_storage.get(backend, op));
}


static ngx_int_t
ngx_http_remote_help_defer_put(void *backend, ngx_http_remote_help_op_t *op)
{
    return ngx_http_remote_help_defer(op,
                         ngx_http_remote_help_zone_storage.put(backend, op));
}


static ngx_int_t
ngx_http_remote_help_defer_remove(void *backend,
    ngx_http_remote_help_op_t *op)
{
    return ngx_http_remote_help_defer(op,
                      ngx_http_remote_help_zone_storage.remove(backend, op));
}


static ngx_int_t
ngx_http_remote_help_defer_list(void *backend, ngx_http_remote_help_op_t *op)
{
    return ngx_http_remote_help_defer(op,
                        ngx_http_remote_help_zone_storage.list(backend, op));
}


static ngx_int_t
ngx_http_remote_help_defer(ngx_http_remote_help_op_t *op, ngx_int_t rc)
{
    ngx_http_remote_help_defer_t  *d;

    if (rc == NGX_AGAIN) {
        /* the zone answers later itself (a write's record, commit.c) */
        return rc;
    }

    d = ngx_pcalloc(op->pool, sizeof(ngx_http_remote_help_defer_t));
    if (d == NULL) {
        return rc;
    }

    op->rc = rc;
    op->backend_data = d;

    d->op = op;
    d->event.handler = ngx_http_remote_help_defer_handler;
    d->event.data = d;
    d->event.log = ngx_cycle->log;

    ngx_post_event(&d->event, &ngx_posted_events);

    return NGX_AGAIN;
}


static void
ngx_http_remote_help_defer_handler(ngx_event_t *ev)
{
    ngx_http_remote_help_defer_t  *d;

    d = ev->data;
    d->op->backend_data = NULL;

    d->op->done(d->op);
}


static void
ngx_http_remote_help_defer_cancel(void *backend,
    ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_defer_t  *d;

    d = op->backend_data;

    if (d == NULL) {
        /* the zone's own wait */
        ngx_http_remote_help_zone_storage.cancel(backend, op);
        return;
    }

    if (d->event.posted) {
        ngx_delete_posted_event(&d->event);
    }

    op->backend_data = NULL;
}

#endif
