
/*
 * ngx_http_remote_help_module: group commit (state=).  A write's change
 * is made in the zone at once; its record is copied, sealed, into this
 * worker's batch for the zone, and the request waits (NGX_AGAIN).  A
 * posted event, which nginx runs after the turn's I/O handlers, writes
 * the batch with one write() under the file lock (and one fdatasync()
 * with state_sync=on), then answers every write of it: a 2xx still means
 * the record is in the file.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_commit.h"
#include "ngx_http_remote_help_state.h"


#define NGX_HTTP_RH_COMMIT_MIN    65536


typedef struct {
    ngx_event_t                   event;
    ngx_http_remote_help_zone_t  *zone;
    u_char                       *buf;          /* the records, sealed */
    size_t                        len;
    size_t                        size;
    ngx_http_remote_help_op_t   **waiters;      /* NULL: its request went */
    ngx_uint_t                    nwaiters;
    ngx_uint_t                    nalloc;
    ngx_http_remote_help_op_t   **answering;    /* a written batch's, while
                                                   they are answered */
    ngx_uint_t                    nanswering;
} ngx_http_remote_help_commit_t;


static ngx_http_remote_help_commit_t *ngx_http_remote_help_commit_get(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_commit_handler(ngx_event_t *ev);


ngx_int_t
ngx_http_remote_help_commit_queue(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_encoded_t *rec, uint64_t seq,
    ngx_http_remote_help_op_t *op)
{
    int                             i;
    size_t                          size;
    u_char                         *p;
    ngx_uint_t                      n;
    ngx_http_remote_help_op_t     **w;
    ngx_http_remote_help_commit_t  *c;

    c = ngx_http_remote_help_commit_get(zone);
    if (c == NULL) {
        return NGX_DECLINED;
    }

    if (c->len + rec->size > c->size) {
        size = ngx_max(ngx_max(2 * c->size, c->len + rec->size),
                       NGX_HTTP_RH_COMMIT_MIN);

        p = ngx_alloc(size, ngx_cycle->log);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        if (c->buf) {
            ngx_memcpy(p, c->buf, c->len);
            ngx_free(c->buf);
        }

        c->buf = p;
        c->size = size;
    }

    if (c->nwaiters == c->nalloc) {
        n = ngx_max(2 * c->nalloc, 64);

        w = ngx_alloc(n * sizeof(ngx_http_remote_help_op_t *),
                      ngx_cycle->log);
        if (w == NULL) {
            return NGX_DECLINED;
        }

        if (c->waiters) {
            ngx_memcpy(w, c->waiters,
                       c->nwaiters * sizeof(ngx_http_remote_help_op_t *));
            ngx_free(c->waiters);
        }

        c->waiters = w;
        c->nalloc = n;
    }

    ngx_http_remote_help_record_seal(rec, seq);

    /* the batch's own copy: the request's buffers may go before it */

    p = c->buf + c->len;

    for (i = 0; i < rec->niov; i++) {
        p = ngx_cpymem(p, rec->iov[i].iov_base, rec->iov[i].iov_len);
    }

    c->len += rec->size;
    c->waiters[c->nwaiters++] = op;

    if (!c->event.posted) {
        ngx_post_event(&c->event, &ngx_posted_events);
    }

    return NGX_AGAIN;
}


void
ngx_http_remote_help_commit_cancel(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_op_t *op)
{
    ngx_uint_t                      i;
    ngx_http_remote_help_commit_t  *c;

    c = zone->state ? zone->state->commit : NULL;

    if (c == NULL) {
        return;
    }

    for (i = 0; i < c->nwaiters; i++) {
        if (c->waiters[i] == op) {
            c->waiters[i] = NULL;
        }
    }

    /* one answer may end another request of the batch (an HTTP/2 stream) */

    for (i = 0; i < c->nanswering; i++) {
        if (c->answering[i] == op) {
            c->answering[i] = NULL;
        }
    }
}


void
ngx_http_remote_help_commit_flush(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_commit_t  *c;

    c = zone->state ? zone->state->commit : NULL;

    if (c == NULL || c->nwaiters == 0) {
        return;
    }

    if (c->event.posted) {
        ngx_delete_posted_event(&c->event);
    }

    ngx_http_remote_help_commit_handler(&c->event);
}


void
ngx_http_remote_help_commit_exit(ngx_array_t *zones)
{
    ngx_uint_t                     i;
    ngx_http_remote_help_zone_t  **zone;

    if (zones == NULL) {
        return;
    }

    zone = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        if (zone[i]->state) {
            ngx_http_remote_help_commit_flush(zone[i]);
        }
    }
}


static ngx_http_remote_help_commit_t *
ngx_http_remote_help_commit_get(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_commit_t  *c;

    c = zone->state->commit;

    if (c) {
        return c;
    }

    c = ngx_calloc(sizeof(ngx_http_remote_help_commit_t), ngx_cycle->log);
    if (c == NULL) {
        return NULL;
    }

    c->zone = zone;
    c->event.handler = ngx_http_remote_help_commit_handler;
    c->event.data = c;
    c->event.log = ngx_cycle->log;

    zone->state->commit = c;

    return c;
}


/* the turn's batch written; then its writes finished and answered */

static void
ngx_http_remote_help_commit_handler(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_uint_t                      i, n;
    struct iovec                    iov;
    ngx_http_remote_help_op_t     **w, *op;
    ngx_http_remote_help_commit_t  *c;

    c = ev->data;

    if (c->nwaiters == 0) {
        return;
    }

    iov.iov_base = c->buf;
    iov.iov_len = c->len;

    rc = ngx_http_remote_help_state_write_records(c->zone, &iov, 1, c->len);

    /*
     * The batch is the answers' now: writes they make meanwhile (an
     * update read again, say) start the next one
     */

    w = c->waiters;
    n = c->nwaiters;

    c->waiters = NULL;
    c->nwaiters = 0;
    c->nalloc = 0;
    c->len = 0;

    for (i = 0; i < n; i++) {
        ngx_http_remote_help_store_finished(c->zone);
    }

    c->answering = w;
    c->nanswering = n;

    for (i = 0; i < n; i++) {
        op = w[i];

        if (op == NULL) {
            continue;
        }

        w[i] = NULL;

        op->rc = (rc == NGX_OK) ? NGX_OK : NGX_HTTP_RH_NOSTATE;
        op->done(op);
    }

    c->answering = NULL;
    c->nanswering = 0;

    ngx_free(w);
}
