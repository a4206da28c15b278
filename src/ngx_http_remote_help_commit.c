
/*
 * ngx_http_remote_help_module: group commit (state=).  A write's change
 * is made in the zone at once; its record is copied, sealed, into this
 * worker's batch for the zone, and the request waits (NGX_AGAIN).  A
 * posted event, which nginx runs after the turn's I/O handlers, writes
 * the batch with one write() under the file lock, then answers every
 * write of it: a 2xx still means the record is in the file.
 *
 * With state_sync=on the batch's fdatasync() runs in nginx's thread pool
 * ("default"), never on the event loop; the batches written while it
 * runs wait for the next one, which covers them all.  Without threads,
 * it runs on the event loop, once per batch.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_commit.h"
#include "ngx_http_remote_help_state.h"

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif


#define NGX_HTTP_RH_COMMIT_MIN    65536


/* a list of writes waiting for their answer; NULL: its request went */

typedef struct {
    ngx_http_remote_help_op_t   **op;
    ngx_uint_t                    n;
    ngx_uint_t                    nalloc;
} ngx_http_remote_help_waiters_t;


typedef struct {
    ngx_event_t                   event;
    ngx_http_remote_help_zone_t  *zone;
    u_char                       *buf;          /* the records, sealed */
    size_t                        len;
    size_t                        size;
    ngx_http_remote_help_op_t   **waiters;      /* NULL: its request went */
    ngx_http_remote_help_undo_t **undos;        /* each waiter's, or NULL */
    ngx_uint_t                    nwaiters;
    ngx_uint_t                    nalloc;
    ngx_http_remote_help_op_t   **answering;    /* a written batch's, while
                                                   they are answered */
    ngx_uint_t                    nanswering;

    /* state_sync=on with threads: written, waiting for an fdatasync() */
    ngx_http_remote_help_waiters_t  written;    /* for the next one */
    ngx_http_remote_help_waiters_t  syncing;    /* for the one running */
    ngx_fd_t                      next[2];      /* what the next syncs */
    ngx_fd_t                      fds[2];       /* what the running does */
    ngx_err_t                     err;
    ngx_uint_t                    busy;
#if (NGX_THREADS)
    ngx_thread_pool_t            *tp;
    ngx_thread_task_t            *task;
#endif
} ngx_http_remote_help_commit_t;


static ngx_str_t  ngx_http_remote_help_commit_pool = ngx_string("default");


static ngx_http_remote_help_commit_t *ngx_http_remote_help_commit_get(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_commit_handler(ngx_event_t *ev);
static void ngx_http_remote_help_commit_answer(
    ngx_http_remote_help_commit_t *c, ngx_http_remote_help_op_t **w,
    ngx_uint_t n, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_commit_add(
    ngx_http_remote_help_waiters_t *l, ngx_http_remote_help_op_t **w,
    ngx_uint_t n);
static void ngx_http_remote_help_commit_fds(ngx_fd_t *to, ngx_fd_t *from);
static ngx_err_t ngx_http_remote_help_commit_sync_files(ngx_fd_t *fds);
#if (NGX_THREADS)
static void ngx_http_remote_help_commit_unsynced(
    ngx_http_remote_help_commit_t *c, ngx_err_t err);
static void ngx_http_remote_help_commit_sync_start(
    ngx_http_remote_help_commit_t *c);
static void ngx_http_remote_help_commit_sync_thread(void *data,
    ngx_log_t *log);
static void ngx_http_remote_help_commit_synced(ngx_event_t *ev);
#endif


ngx_int_t
ngx_http_remote_help_commit_queue(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_encoded_t *rec, uint64_t seq,
    ngx_http_remote_help_op_t *op, ngx_http_remote_help_undo_t *undo)
{
    int                             i;
    size_t                          size;
    u_char                         *p;
    ngx_uint_t                      n;
    ngx_http_remote_help_op_t     **w;
    ngx_http_remote_help_undo_t   **u;
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

        u = ngx_alloc(n * sizeof(ngx_http_remote_help_undo_t *),
                      ngx_cycle->log);
        if (u == NULL) {
            ngx_free(w);
            return NGX_DECLINED;
        }

        if (c->waiters) {
            ngx_memcpy(w, c->waiters,
                       c->nwaiters * sizeof(ngx_http_remote_help_op_t *));
            ngx_memcpy(u, c->undos,
                       c->nwaiters * sizeof(ngx_http_remote_help_undo_t *));
            ngx_free(c->waiters);
            ngx_free(c->undos);
        }

        c->waiters = w;
        c->undos = u;
        c->nalloc = n;
    }

    ngx_http_remote_help_record_seal(rec, seq);

    /* the batch's own copy: the request's buffers may go before it */

    p = c->buf + c->len;

    for (i = 0; i < rec->niov; i++) {
        p = ngx_cpymem(p, rec->iov[i].iov_base, rec->iov[i].iov_len);
    }

    c->len += rec->size;
    c->undos[c->nwaiters] = undo;
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

    for (i = 0; i < c->written.n; i++) {
        if (c->written.op[i] == op) {
            c->written.op[i] = NULL;
        }
    }

    for (i = 0; i < c->syncing.n; i++) {
        if (c->syncing.op[i] == op) {
            c->syncing.op[i] = NULL;
        }
    }
}


/* at configuration: nginx's "default" thread pool, for every state= */

ngx_int_t
ngx_http_remote_help_commit_conf(ngx_conf_t *cf)
{
#if (NGX_THREADS)
    if (ngx_thread_pool_add(cf, &ngx_http_remote_help_commit_pool) == NULL) {
        return NGX_ERROR;
    }
#endif

    return NGX_OK;
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
    ngx_uint_t                      i;
    ngx_http_remote_help_zone_t   **zone;
    ngx_http_remote_help_commit_t  *c;

    if (zones == NULL) {
        return;
    }

    zone = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        c = zone[i]->state ? zone[i]->state->commit : NULL;

        if (c == NULL) {
            continue;
        }

        /* no request waits any more: written and synced here */

#if (NGX_THREADS)
        c->tp = NULL;
#endif

        ngx_http_remote_help_commit_flush(zone[i]);

        (void) ngx_http_remote_help_commit_sync_files(c->next);

        /*
         * the pool's threads are gone by now (its module exits first):
         * what this worker kept for its batches goes with it
         */

        if (c->buf) {
            ngx_free(c->buf);
        }

        if (c->written.op) {
            ngx_free(c->written.op);
        }

        if (c->syncing.op) {
            ngx_free(c->syncing.op);
        }

#if (NGX_THREADS)
        if (c->task) {
            ngx_free(c->task);
        }
#endif

        ngx_free(c);
        zone[i]->state->commit = NULL;
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
    c->next[0] = NGX_INVALID_FILE;
    c->next[1] = NGX_INVALID_FILE;
    c->fds[0] = NGX_INVALID_FILE;
    c->fds[1] = NGX_INVALID_FILE;

#if (NGX_THREADS)
    if (zone->state->sync && !ngx_exiting) {
        c->tp = ngx_thread_pool_get((ngx_cycle_t *) ngx_cycle,
                                    &ngx_http_remote_help_commit_pool);

        if (c->tp) {
            c->task = ngx_calloc(sizeof(ngx_thread_task_t), ngx_cycle->log);
            if (c->task == NULL) {
                c->tp = NULL;
            }
        }

        if (c->tp) {
            c->task->ctx = c;
            c->task->handler = ngx_http_remote_help_commit_sync_thread;
            c->task->event.handler = ngx_http_remote_help_commit_synced;
            c->task->event.data = c;
            c->task->event.log = ngx_cycle->log;
        }
    }
#endif

    zone->state->commit = c;

    return c;
}


/* the turn's batch written; then its writes finished and answered */

static void
ngx_http_remote_help_commit_handler(ngx_event_t *ev)
{
#if (NGX_THREADS)
    ngx_err_t                       err;
#endif
    ngx_int_t                       rc;
    ngx_uint_t                      i, n;
    ngx_fd_t                        fds[2], *sync;
    struct iovec                    iov;
    ngx_http_remote_help_op_t     **w;
    ngx_http_remote_help_undo_t   **u;
    ngx_http_remote_help_commit_t  *c;

    c = ev->data;

    if (c->nwaiters == 0) {
        return;
    }

    iov.iov_base = c->buf;
    iov.iov_len = c->len;

    sync = NULL;

#if (NGX_THREADS)
    if (c->tp && !ngx_exiting) {
        /* the fdatasync() is the thread pool's */
        sync = fds;
    }
#endif

    rc = ngx_http_remote_help_state_write_records(c->zone, &iov, 1, c->len,
                                                  sync);

    /*
     * The batch is the answers' now: writes they make meanwhile (an
     * update read again, say) start the next one
     */

    w = c->waiters;
    u = c->undos;
    n = c->nwaiters;

    c->waiters = NULL;
    c->undos = NULL;
    c->nwaiters = 0;
    c->nalloc = 0;
    c->len = 0;

    for (i = 0; i < n; i++) {
        ngx_http_remote_help_store_finished(c->zone);
    }

    if (rc == NGX_OK || rc == NGX_HTTP_RH_NOSTATE) {
        /* in the file: nothing will be undone */

        for (i = 0; i < n; i++) {
            if (u[i]) {
                ngx_free(u[i]);
            }
        }

    } else {
        rc = ngx_http_remote_help_commit_undo(c->zone, u, n);
    }

    ngx_free(u);

#if (NGX_THREADS)
    if (sync && rc == NGX_OK) {
        ngx_http_remote_help_commit_fds(c->next, fds);

        if (ngx_http_remote_help_commit_add(&c->written, w, n) == NGX_OK) {
            ngx_free(w);

            if (!c->busy) {
                ngx_http_remote_help_commit_sync_start(c);
            }

            return;
        }

        /* no memory to wait: synced here, as without threads */

        err = ngx_http_remote_help_commit_sync_files(c->next);

        if (err) {
            ngx_http_remote_help_commit_unsynced(c, err);
            rc = NGX_HTTP_RH_NOSTATE;
        }
    }
#endif

    ngx_http_remote_help_commit_answer(c, w, n, rc);
}


/*
 * fdatasync() of the files in fds[0] and fds[1] (-1: none), each closed
 * after it: 0, or the error of the last that failed.  No nginx call: a
 * thread of the pool runs it too.
 */

static ngx_err_t
ngx_http_remote_help_commit_sync_files(ngx_fd_t *fds)
{
    ngx_err_t   err;
    ngx_uint_t  i;

    err = 0;

    for (i = 0; i < 2; i++) {
        if (fds[i] != NGX_INVALID_FILE) {
            if (fdatasync(fds[i]) == -1) {
                err = ngx_errno;
            }

            (void) close(fds[i]);
            fds[i] = NGX_INVALID_FILE;
        }
    }

    return err;
}


#if (NGX_THREADS)

/* a batch in the file, perhaps not on the disk: it cannot be undone */

static void
ngx_http_remote_help_commit_unsynced(ngx_http_remote_help_commit_t *c,
    ngx_err_t err)
{
    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, err,
                  "fdatasync(\"%s\") failed", c->zone->state->path.data);

    ngx_http_remote_help_state_break(c->zone);
}

#endif


ngx_int_t
ngx_http_remote_help_commit_undo(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_undo_t **undo, ngx_uint_t n)
{
    ngx_int_t   rc;
    ngx_uint_t  i;

    rc = NGX_HTTP_RH_UNWRITTEN;

    for (i = n; i > 0; i--) {
        if (undo[i - 1] == NULL) {
            /* no memory to copy what it replaced: it stays */
            rc = NGX_HTTP_RH_NOSTATE;
            continue;
        }

        if (ngx_http_remote_help_store_undo(zone, undo[i - 1]) != NGX_OK) {
            rc = NGX_HTTP_RH_NOSTATE;
        }
    }

    if (rc == NGX_HTTP_RH_NOSTATE) {
        ngx_http_remote_help_state_break(zone);
    }

    return rc;
}


/* the ops of w answered with rc (NGX_OK or a failure); w is freed */

static void
ngx_http_remote_help_commit_answer(ngx_http_remote_help_commit_t *c,
    ngx_http_remote_help_op_t **w, ngx_uint_t n, ngx_int_t rc)
{
    ngx_uint_t                  i;
    ngx_http_remote_help_op_t  *op;

    c->answering = w;
    c->nanswering = n;

    for (i = 0; i < n; i++) {
        op = w[i];

        if (op == NULL) {
            continue;
        }

        w[i] = NULL;

        op->rc = rc;
        op->done(op);
    }

    c->answering = NULL;
    c->nanswering = 0;

    if (w) {
        ngx_free(w);
    }
}


static ngx_int_t
ngx_http_remote_help_commit_add(ngx_http_remote_help_waiters_t *l,
    ngx_http_remote_help_op_t **w, ngx_uint_t n)
{
    ngx_uint_t                   size;
    ngx_http_remote_help_op_t  **op;

    if (l->n + n > l->nalloc) {
        size = ngx_max(2 * l->nalloc, l->n + n);

        op = ngx_alloc(size * sizeof(ngx_http_remote_help_op_t *),
                       ngx_cycle->log);
        if (op == NULL) {
            return NGX_ERROR;
        }

        if (l->op) {
            ngx_memcpy(op, l->op, l->n * sizeof(ngx_http_remote_help_op_t *));
            ngx_free(l->op);
        }

        l->op = op;
        l->nalloc = size;
    }

    ngx_memcpy(&l->op[l->n], w, n * sizeof(ngx_http_remote_help_op_t *));
    l->n += n;

    return NGX_OK;
}


/* the files a batch wrote to, added to those the next fdatasync() does */

static void
ngx_http_remote_help_commit_fds(ngx_fd_t *to, ngx_fd_t *from)
{
    ngx_uint_t  i;

    for (i = 0; i < 2; i++) {
        if (from[i] == NGX_INVALID_FILE) {
            continue;
        }

        if (to[i] == NGX_INVALID_FILE) {
            to[i] = from[i];
            continue;
        }

        /* the same file, or one since renamed over: the later one */
        (void) close(to[i]);
        to[i] = from[i];
    }
}


#if (NGX_THREADS)

/* the writes written so far, and their files, to the thread pool */

static void
ngx_http_remote_help_commit_sync_start(ngx_http_remote_help_commit_t *c)
{
    ngx_http_remote_help_waiters_t  l;

    l = c->syncing;
    c->syncing = c->written;
    c->written = l;
    c->written.n = 0;

    c->fds[0] = c->next[0];
    c->fds[1] = c->next[1];
    c->next[0] = NGX_INVALID_FILE;
    c->next[1] = NGX_INVALID_FILE;
    c->err = 0;

    if (ngx_thread_task_post(c->tp, c->task) == NGX_OK) {
        c->busy = 1;
        return;
    }

    /* the pool refused (its queue is full): synced here */

    ngx_http_remote_help_commit_sync_thread(c, ngx_cycle->log);
    ngx_http_remote_help_commit_synced(&c->task->event);
}


/* in a thread of the pool: no nginx call but these */

static void
ngx_http_remote_help_commit_sync_thread(void *data, ngx_log_t *log)
{
    ngx_http_remote_help_commit_t *c = data;

    c->err = ngx_http_remote_help_commit_sync_files(c->fds);
}


/* back on the event loop: the synced writes answered, the next started */

static void
ngx_http_remote_help_commit_synced(ngx_event_t *ev)
{
    ngx_err_t                       err;
    ngx_uint_t                      n;
    ngx_http_remote_help_op_t     **w;
    ngx_http_remote_help_commit_t  *c;

    c = ev->data;
    c->busy = 0;
    err = c->err;

    if (err) {
        ngx_http_remote_help_commit_unsynced(c, err);
    }

    w = c->syncing.op;
    n = c->syncing.n;

    c->syncing.op = NULL;
    c->syncing.n = 0;
    c->syncing.nalloc = 0;

    if (c->written.n) {
        ngx_http_remote_help_commit_sync_start(c);
    }

    /* a record written but perhaps not on disk: the zone keeps it */

    ngx_http_remote_help_commit_answer(c, w, n,
                                       err ? NGX_HTTP_RH_NOSTATE : NGX_OK);
}

#endif
