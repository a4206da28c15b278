
/*
 * ngx_http_remote_help_module: the zone backend, the storage interface
 * over the shared-memory store and, with state=, its journal.  A write
 * is made in the store, then appended to the journal; the store knows
 * nothing of the journal, the journal reads the store (to replay into
 * it and to compact from it).  Every operation answers at once.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_zone.h"
#include "ngx_http_remote_help_commit.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_store_zone.h"
#include "ngx_http_remote_help_state.h"


static void ngx_http_remote_help_zone_prefetch(void *backend, ngx_str_t *key);
static ngx_int_t ngx_http_remote_help_zone_get(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_zone_put(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_zone_remove(void *backend,
    ngx_http_remote_help_op_t *op);
static void ngx_http_remote_help_zone_cancel(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_zone_list(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_zone_record(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t op,
    ngx_http_remote_help_op_t *sop, ngx_http_remote_help_record_t *rec,
    ngx_http_remote_help_encoded_t *enc);
static ngx_int_t ngx_http_remote_help_zone_append(
    ngx_http_remote_help_zone_t *zone, ngx_int_t rc,
    ngx_http_remote_help_encoded_t *enc, uint64_t seq,
    ngx_http_remote_help_op_t *op, ngx_http_remote_help_undo_t *undo);


ngx_http_remote_help_storage_t  ngx_http_remote_help_zone_storage = {
    "zone",
    ngx_http_remote_help_zone_prefetch,
    ngx_http_remote_help_zone_get,
    ngx_http_remote_help_zone_put,
    ngx_http_remote_help_zone_remove,
    ngx_http_remote_help_zone_list,
    ngx_http_remote_help_zone_cancel,
    NULL
};


/* the zone's shm init: the store, then what its journal holds */

ngx_int_t
ngx_http_remote_help_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_int_t                     rc;
    ngx_http_remote_help_zone_t  *old;

    old = NULL;

    rc = ngx_http_remote_help_store_init(shm_zone, data, &old);

    if (rc == NGX_DONE) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_remote_help_state_load(shm_zone->data, old);
}


static void
ngx_http_remote_help_zone_prefetch(void *backend, ngx_str_t *key)
{
    ngx_http_remote_help_store_prefetch(backend, key);
}


static ngx_int_t
ngx_http_remote_help_zone_get(void *backend, ngx_http_remote_help_op_t *op)
{
    return ngx_http_remote_help_store_get(backend, op);
}


/*
 * With state=, the record is prepared before the zone's lock is taken
 * and appended after it is left; a 2xx only after the append.
 */

static ngx_int_t
ngx_http_remote_help_zone_put(void *backend, ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_zone_t *zone = backend;

    ngx_int_t                       rc;
    ngx_http_remote_help_undo_t    *undo;
    ngx_http_remote_help_record_t   rec;
    ngx_http_remote_help_encoded_t  enc;

    if (ngx_http_remote_help_zone_record(zone, NGX_HTTP_RH_OP_PUT, op, &rec,
                                         &enc)
        != NGX_OK)
    {
        return NGX_HTTP_RH_NOSTATE;
    }

    undo = NULL;

    rc = ngx_http_remote_help_store_put_undo(zone, &rec, zone->state != NULL,
                                             zone->state ? &undo : NULL);

    op->seq = rec.seq;

    return ngx_http_remote_help_zone_append(zone, rc, &enc, op->seq, op,
                                            undo);
}


static ngx_int_t
ngx_http_remote_help_zone_remove(void *backend,
    ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_zone_t *zone = backend;

    ngx_int_t                       rc;
    ngx_http_remote_help_undo_t    *undo;
    ngx_http_remote_help_record_t   rec;
    ngx_http_remote_help_encoded_t  enc;

    if (ngx_http_remote_help_zone_record(zone, NGX_HTTP_RH_OP_DELETE, op,
                                         &rec, &enc)
        != NGX_OK)
    {
        return NGX_HTTP_RH_NOSTATE;
    }

    undo = NULL;

    rc = ngx_http_remote_help_store_delete(zone, op->set, &op->key, 0,
                                           op->seq, zone->state != NULL,
                                           &op->seq,
                                           zone->state ? &undo : NULL);

    return ngx_http_remote_help_zone_append(zone, rc, &enc, op->seq, op,
                                            undo);
}


/*
 * The change an operation makes, written now, and with state= its record
 * encoded; NGX_DECLINED: the state file is broken, no write is taken.
 */

static ngx_int_t
ngx_http_remote_help_zone_record(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t op, ngx_http_remote_help_op_t *sop,
    ngx_http_remote_help_record_t *rec, ngx_http_remote_help_encoded_t *enc)
{
    if (zone->state && ngx_http_remote_help_state_broken(zone)) {
        return NGX_DECLINED;
    }

    ngx_memzero(rec, sizeof(ngx_http_remote_help_record_t));

    rec->op = op;
    rec->set = sop->set;
    rec->key = sop->key;
    rec->seq = sop->seq;
    rec->written = ngx_http_rh_now();

    if (op == NGX_HTTP_RH_OP_PUT) {
        rec->nprops = ngx_rh_sets[sop->set].nprops;
        rec->spans = sop->spans;
        rec->json = sop->json;
        rec->until = sop->until;
    }

    if (zone->state) {
        ngx_http_remote_help_record_encode(enc, rec);
    }

    return NGX_OK;
}


/*
 * After the store's answer rc: a write made and held in flight gets its
 * record, with the other writes of this turn (NGX_AGAIN: op->done()
 * after the batch is written, commit.c), or at once when it cannot be
 * queued; then it is finished.  A record that cannot be written has its
 * write undone (undo: what it replaced).
 */

static ngx_int_t
ngx_http_remote_help_zone_append(ngx_http_remote_help_zone_t *zone,
    ngx_int_t rc, ngx_http_remote_help_encoded_t *rec, uint64_t seq,
    ngx_http_remote_help_op_t *op, ngx_http_remote_help_undo_t *undo)
{
    if (rc != NGX_OK || zone->state == NULL) {
        /* nothing made (or no journal): nothing held, nothing to append */

        if (undo) {
            ngx_free(undo);
        }

        return rc;
    }

    if (ngx_http_remote_help_commit_queue(zone, rec, seq, op, undo)
        == NGX_AGAIN)
    {
        return NGX_AGAIN;
    }

    rc = ngx_http_remote_help_state_append(zone, rec, seq);

    ngx_http_remote_help_store_finished(zone);

    if (rc == NGX_OK || rc == NGX_HTTP_RH_NOSTATE) {
        if (undo) {
            ngx_free(undo);
        }

        return NGX_OK;
    }

    return ngx_http_remote_help_commit_undo(zone, &undo, 1);
}


/* a write's request went while its record waits: written all the same */

static void
ngx_http_remote_help_zone_cancel(void *backend, ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_commit_cancel(backend, op);
}


static ngx_int_t
ngx_http_remote_help_zone_list(void *backend, ngx_http_remote_help_op_t *op)
{
    return ngx_http_remote_help_store_list(backend, op);
}
