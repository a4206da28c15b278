
/*
 * ngx_http_remote_help_module: the shared-memory store.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STORE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_storage.h"
#include "ngx_http_remote_help_lock.h"
#include "ngx_http_remote_help_heap.h"
#include "ngx_http_remote_help_record.h"


/* words of the zone that its journal keeps its shared figures in */
#define NGX_HTTP_RH_JOURNAL_WORDS 16

/* what a zone counts of its backend (remote_help_redis.h) */
#define NGX_HTTP_RH_BACKEND_FIGURES  8

/* responses counted by status, 100 to 599 */
#define NGX_HTTP_RH_STATUSES      500


typedef struct ngx_http_remote_help_node_s  ngx_http_remote_help_node_t;


/*
 * A set's objects in creation order, and a zone's objects with lifetimes
 * in the order of their moments.  A node with the largest key so far
 * goes in as the right child of "last", with no walk down the tree.
 */

typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_rbtree_node_t            *last;         /* the newest; NULL: empty */
} ngx_http_remote_help_order_t;


/*
 * Lookups go through a hash table of chains (a bucket per 512 bytes of
 * zone); listings through a tree per set, ordered by creation.
 */

typedef struct {
    ngx_http_remote_help_rwlock_t lock;

    /* what every write changes or checks, on the line after the lock's */
    uint64_t                      seq;
    uint64_t                      created;      /* objects ever created */
    size_t                        bytes;        /* of spans, keys, JSON */
    ngx_atomic_t                  inflight;     /* held writes */
    ngx_uint_t                    objects[NGX_RH_NSETS];
    ngx_uint_t                    retired;      /* replaced by a resize */
    ngx_uint_t                    repair;       /* a writer died: rebuild */
    u_char                       *undo;         /* a chunk written over in
                                                   place, its old version
                                                   in the heap's spare
                                                   block */
    size_t                        undo_len;
    ngx_uint_t                    repairs;      /* rebuilds so far */

    /*
     * lifetimes: the objects that go by themselves, by their moment (most
     * writes give the latest moment so far: appended, as in the sets)
     */
    ngx_http_remote_help_order_t  expiry;
    ngx_uint_t                    expired;      /* removed so far */
    ngx_msec_t                    timeout;      /* the moments were */
    ngx_uint_t                    expire;       /* computed with these */

    ngx_http_remote_help_order_t  order[NGX_RH_NSETS];
    ngx_http_remote_help_node_t **buckets;
    uint32_t                      mask;         /* buckets - 1 */
    ngx_http_remote_help_heap_t   heap;

    /* the journal's own (state=), which the store does not look into */
    ngx_atomic_t                  journal[NGX_HTTP_RH_JOURNAL_WORDS];
} ngx_http_remote_help_sh_t;


typedef struct ngx_http_remote_help_state_s  ngx_http_remote_help_state_t;


/*
 * The responses counted by status live in a small zone of their own
 * ("NAME#requests", remote_help_status.c) whose size never changes: a
 * reload that resizes the objects' zone keeps it, so the old workers
 * that finish their requests after the copy count where the new ones do.
 */

typedef struct {
    ngx_atomic_t                  requests[NGX_HTTP_RH_STATUSES];
    ngx_atomic_t                  backend[NGX_HTTP_RH_BACKEND_FIGURES];

    /*
     * backend= with copies: when the heartbeat a gateway's listener
     * heard last was sent (ngx_current_msec), and the changes heard
     */
    ngx_atomic_t                  heard;
    ngx_atomic_t                  changes;

    /*
     * backend= without copies: the PATCHes that might have read a hint,
     * the hints read, and those found behind
     */
    ngx_atomic_t                  hints_considered;
    ngx_atomic_t                  hints_read;
    ngx_atomic_t                  hints_behind;
} ngx_http_remote_help_counters_t;


typedef struct ngx_http_remote_help_redis_zone_s
    ngx_http_remote_help_redis_zone_t;


typedef struct {
    ngx_http_remote_help_backend_t  backend;    /* its storage: first */
    ngx_http_remote_help_sh_t    *sh;
    ngx_slab_pool_t              *shpool;
    ngx_str_t                     name;
    ngx_shm_zone_t               *shm_zone;
    ngx_cycle_t                  *cycle;
    ngx_http_remote_help_state_t *state;        /* NULL: no state= */
    ngx_http_remote_help_counters_t  *counters; /* in "NAME#requests" */
    ngx_http_remote_help_sh_t    *retire;       /* resized from, until
                                                   the cycle commits */
    ngx_http_remote_help_node_t **buckets;      /* sh's, fixed for life */
    uint32_t                      mask;
    ngx_http_remote_help_heap_local_t  local;   /* a worker's blocks */
    ngx_http_remote_help_reader_t  *reader;     /* its slot in sh->lock */

    ngx_msec_t                    timeout;      /* timeout=, 0: none */
    ngx_flag_t                    expire;       /* expire=on */
    ngx_event_t                   sweep;        /* a worker's sweeper */

    /* backend=: the objects are in Redis, the zone is its cache */
    ngx_str_t                     backend_name;
    ngx_http_remote_help_redis_zone_t  *redis;
} ngx_http_remote_help_zone_t;


/*
 * An object is one chunk: the rbtree node, its hash chain, the spans of
 * its property literals, its key and its JSON; in a zone with lifetimes,
 * a part before the node with its place in the expiry tree.  A new
 * version is written over the old one when it fits its chunk (the old
 * one kept in the heap's spare block meanwhile), or else is a new chunk
 * that takes the old one's place.
 */

struct ngx_http_remote_help_node_s {
    ngx_rbtree_node_t             node;         /* node.key: its place in
                                                   listings */
    ngx_http_remote_help_node_t  *next;         /* in its hash chain */
    uint64_t                      seq;
    ngx_rbtree_key_t              death;        /* the moment it goes, ms
                                                   since the epoch, or
                                                   NGX_HTTP_RH_NEVER */
    uint32_t                      key_len;
    uint32_t                      json_len;
    uint32_t                      hash;         /* of the key */
    uint32_t                      block;        /* offset in its block */
    u_char                        set;
    u_char                        nprops;
    u_char                        cls;          /* size class */
    u_char                        flags;        /* NGX_HTTP_RH_LIFE */
    u_char                        data[1];      /* spans, key, JSON */
};


/*
 * What goes before the node of an object written in a zone with
 * lifetimes (timeout=, expire=on; objects of other zones pay nothing for
 * it): its place in the zone's expiry tree and what its death is
 * computed from.  Its place is taken lazily: the tree's key is never
 * later than the object's death, and a write that moves the death later
 * leaves the tree as it is; the sweep moves an object whose death it
 * finds later than its key (NGX_HTTP_RH_QUEUED: it is in the tree).
 */

typedef struct {
    ngx_rbtree_node_t             expiry;
    int64_t                       written;      /* ms since the epoch */
    int64_t                       until;        /* ms, 0: none */
} ngx_http_remote_help_life_t;

#define NGX_HTTP_RH_LIFE          0x01
#define NGX_HTTP_RH_QUEUED        0x02
/* a cache's hint (store_hint): never a GET's answer */
#define NGX_HTTP_RH_HINT          0x04
/* a hint whose own change has been heard of (store_invalidate) */
#define NGX_HTTP_RH_SPENT         0x08


#define ngx_http_rh_spans(n)    ((uint32_t *) (n)->data)
#define ngx_http_rh_key(n)      ((n)->data + 8 * (n)->nprops)
#define ngx_http_rh_json(n)     (ngx_http_rh_key(n) + (n)->key_len)
/* what a record of the object carries besides its header */
#define ngx_http_rh_payload(n)                                               \
    (8 * (size_t) (n)->nprops + (n)->key_len + (n)->json_len)
#define ngx_http_rh_life(n)                                                  \
    ((ngx_http_remote_help_life_t *)                                         \
     ((u_char *) (n) - sizeof(ngx_http_remote_help_life_t)))
#define ngx_http_rh_life_node(l)                                             \
    ((ngx_http_remote_help_node_t *)                                         \
     ((u_char *) (l) + sizeof(ngx_http_remote_help_life_t)))
/* where its chunk starts, and how large it is */
#define ngx_http_rh_chunk(n)                                                 \
    ((u_char *) (n) - (((n)->flags & NGX_HTTP_RH_LIFE)                       \
                       ? sizeof(ngx_http_remote_help_life_t) : 0))
#define ngx_http_rh_size(n)                                                  \
    (offsetof(ngx_http_remote_help_node_t, data) + ngx_http_rh_payload(n)    \
     + (((n)->flags & NGX_HTTP_RH_LIFE)                                      \
        ? sizeof(ngx_http_remote_help_life_t) : 0))


/*
 * store_put's seq: create; or, when replaying the state file, create or
 * replace what is there with a version of that sequence number, unless
 * what is there is later
 */
#define NGX_HTTP_RH_REPLAY        ((uint64_t) 1 << 63)

/* what a write into a full zone sweeps before it gives up */
#define NGX_HTTP_RH_SWEEP_FULL    64

/*
 * how much later than computed an object may go, so that a write whose
 * worker's clock is behind another's goes in at the end of the expiry
 * tree (ms)
 */
#define NGX_HTTP_RH_SKEW          50

/* an object without a lifetime goes at no moment */
#define NGX_HTTP_RH_NEVER         ((ngx_rbtree_key_t) -1)

/* the wall clock, in ms since the epoch, as the event loop last saw it */
#define ngx_http_rh_now()                                                    \
    ((int64_t) ngx_cached_time->sec * 1000 + ngx_cached_time->msec)


/*
 * For the zone's life (ngx_http_remote_help_store_zone.c): the helpers
 * it makes a zone's index with, under the zone's write lock
 */
ngx_http_remote_help_node_t *ngx_http_remote_help_alloc_locked(
    ngx_http_remote_help_zone_t *zone, size_t size, ngx_uint_t life);
void ngx_http_remote_help_link_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n);
void ngx_http_remote_help_order_insert_locked(
    ngx_http_remote_help_order_t *order, ngx_rbtree_node_t *node);
void ngx_http_remote_help_expiry_insert_locked(
    ngx_http_remote_help_sh_t *sh, ngx_http_remote_help_node_t *n);
/* the zone's write lock taken (a dead writer's work rebuilt first) */
ngx_int_t ngx_http_remote_help_lock_write(ngx_http_remote_help_zone_t *zone);

void ngx_http_remote_help_store_prefetch(ngx_http_remote_help_zone_t *zone,
    ngx_str_t *key);
/* op: set, key and pool in; a copy of the object (seq, json, spans) out */
ngx_int_t ngx_http_remote_help_store_get(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_op_t *op);

/*
 * What a write replaced, copied out as it is made (state=), so that the
 * zone can be put back as it was if the write's record cannot be
 * written: the write's own version (undone only while it is still the
 * one there; a deletion's, only while the key stays absent), and the old
 * version, if there was one, whole (payload: spans, key, JSON).
 */

typedef struct {
    ngx_uint_t                    set;
    uint64_t                      seq;          /* the write's */
    ngx_uint_t                    deleted;      /* the write deleted */
    uint64_t                      old_seq;      /* 0: there was none */
    ngx_rbtree_key_t              place;
    int64_t                       written;      /* its lifetime's */
    int64_t                       until;
    uint32_t                      key_len;
    uint32_t                      json_len;
    ngx_uint_t                    nprops;
    u_char                       *key;          /* in payload, or after */
    u_char                        payload[1];
} ngx_http_remote_help_undo_t;

/*
 * The zone as it was before the write of undo (and undo freed);
 * NGX_DECLINED: a later write was made over it, NGX_ERROR: no memory
 * for the old version: the zone cannot be put back
 */
ngx_int_t ngx_http_remote_help_store_undo(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_undo_t *undo);

/*
 * The change rec (set, key, JSON, spans, the write's moment and the
 * object's sessionExpirationDateTime) made: rec->seq NGX_HTTP_RH_CREATE
 * creates; otherwise it replaces the version read with that seq; then
 * rec->seq is the new version's sequence number.  With hold, the write
 * stays in flight until ngx_http_remote_help_store_finished().
 */
ngx_int_t ngx_http_remote_help_store_put(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, ngx_uint_t hold);

/* the same, and in *undo what it replaced (worker memory, ngx_alloc) */
ngx_int_t ngx_http_remote_help_store_put_undo(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_record_t *rec,
    ngx_uint_t hold, ngx_http_remote_help_undo_t **undo);

/*
 * The key deleted: NGX_HTTP_RH_MISSING if it is not there, or is there
 * in a version later than seq (a replayed deletion; 0: any);
 * NGX_HTTP_RH_CHANGED if version (If-Match; 0: any) is not the one
 * there; *written: the deletion's sequence number; with undo, in *undo
 * the object deleted.
 */
ngx_int_t ngx_http_remote_help_store_delete(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t set, ngx_str_t *key,
    uint64_t seq, uint64_t version, ngx_uint_t hold, uint64_t *written,
    ngx_http_remote_help_undo_t **undo);

void ngx_http_remote_help_store_finished(ngx_http_remote_help_zone_t *zone);

/* every object taken out */
void ngx_http_remote_help_store_clear(ngx_http_remote_help_zone_t *zone);

/*
 * For a cache kept by other processes' news of changes: a put refused
 * (NGX_DECLINED) when *changes is no longer "seen"; a key dropped with
 * *changes counted
 */
ngx_int_t ngx_http_remote_help_store_put_guarded(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_record_t *rec,
    ngx_atomic_t *changes, ngx_atomic_uint_t seen);
void ngx_http_remote_help_store_forget(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_atomic_t *changes);

/*
 * For a cache, a change of the key heard of: a copy is forgotten; a
 * hint is kept the first time (the change of the write it was made
 * from, which is heard of too) and forgotten the next
 */
void ngx_http_remote_help_store_invalidate(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t set, ngx_str_t *key,
    ngx_atomic_t *changes);

/*
 * For a cache: the version a write of this gateway made (rec->seq, with
 * NGX_HTTP_RH_REPLAY) kept as a hint, which an update may be made from
 * (its write is refused if another came since) and which store_get
 * gives to no other read; while more than half the zone is free, else
 * NGX_DECLINED.  The change of its own write counts as heard of already
 * when the zone no longer has "from", the version the write was made
 * from, or, for a new object (from 0), when "heard" is set.
 */
ngx_int_t ngx_http_remote_help_store_hint(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, uint64_t from, ngx_uint_t heard);

/*
 * Lifetimes: removes up to max objects whose moment has come; *next:
 * the moment of the next one then (NGX_HTTP_RH_NEVER: none)
 */
ngx_uint_t ngx_http_remote_help_store_expire(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t max,
    ngx_rbtree_key_t *next);

/* the moment an object written at "written" goes, with this zone's */
ngx_rbtree_key_t ngx_http_remote_help_store_death(
    ngx_http_remote_help_zone_t *zone, int64_t written, int64_t until);

/* the put record of an object, over the object's own bytes */
void ngx_http_remote_help_store_record(ngx_http_remote_help_node_t *o,
    ngx_http_remote_help_record_t *rec);


/*
 * The zone's lock for those who read it whole (the status, the state
 * file's compaction): a zone that a dead writer left half changed is
 * rebuilt first; NGX_ERROR: it cannot be now (no memory), and the lock
 * is not held.
 */
ngx_int_t ngx_http_remote_help_store_rlock(
    ngx_http_remote_help_zone_t *zone);
void ngx_http_remote_help_store_runlock(ngx_http_remote_help_zone_t *zone);

/* bytes of the zone not in use */
size_t ngx_http_remote_help_store_free_locked(
    ngx_http_remote_help_zone_t *zone);

/* the first object of the set listed after "after" (0: the first) */
ngx_http_remote_help_node_t *ngx_http_remote_help_store_first_locked(
    ngx_http_remote_help_sh_t *sh, ngx_uint_t set, uint64_t after);

/*
 * One object a listing examined (at place, its JSON and spans): left
 * out by the filter, tallied, or copied out as an item; NGX_DONE: a
 * match after a full page (op->more set), NGX_ERROR: no memory.  Both
 * backends' lists go through it.
 */
ngx_int_t ngx_http_remote_help_store_listed(ngx_http_remote_help_op_t *op,
    uint64_t place, u_char *json, size_t len, uint32_t *spans);

/* a listing's page, or its tally (the storage interface's list) */
ngx_int_t ngx_http_remote_help_store_list(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_op_t *op);


#endif /* _NGX_HTTP_REMOTE_HELP_STORE_H_INCLUDED_ */
