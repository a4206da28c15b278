
/*
 * ngx_http_remote_help_module: the shared-memory store.
 *
 * Every object is one chunk of the zone's heap: a header with the
 * rbtree node, the spans of its property literals, its key, and its JSON
 * rendered once at write time.  Lookups go through a hash table of
 * chains.  Listings go through one rbtree per set, ordered by creation:
 * a new object goes to the right end of its tree, down a path that stays
 * in the cache, where a tree ordered by key costs a cache miss per level.
 *
 * Readers share the zone's lock, writers hold it alone.  A process may
 * be killed while it holds it: the hash table is therefore only ever
 * changed by one aligned store of a complete object (a new version that
 * fits the old chunk is written over it with the old one kept aside, any
 * other is a new chunk put in the old one's place), so that it always
 * holds every object exactly once, as it was or as it was written; whoever
 * takes the lock over from a dead writer rebuilds the rest (the heap,
 * the trees, the counts) from it (ngx_http_remote_help_repair_locked).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_parse.h"


/* what store_hint asks of a put */

typedef struct {
    uint64_t                      from;
    ngx_uint_t                    heard;
} ngx_http_remote_help_hint_t;

/* a hint whose own change is not heard of yet (n may be NULL) */
#define ngx_http_rh_unspent(n)                                               \
    ((n) && ((n)->flags & (NGX_HTTP_RH_HINT | NGX_HTTP_RH_SPENT))           \
            == NGX_HTTP_RH_HINT)


static void ngx_http_remote_help_free_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n);
static size_t ngx_http_remote_help_capacity(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n);
static ngx_http_remote_help_node_t *ngx_http_remote_help_lookup_locked(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t set, uint32_t hash,
    ngx_str_t *key);
static void ngx_http_remote_help_replace_locked(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_node_t *old,
    ngx_http_remote_help_node_t *n);
static void ngx_http_remote_help_unlink_locked(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_node_t *n);
static void ngx_http_remote_help_order_append(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_remote_help_order_replace_locked(
    ngx_http_remote_help_order_t *order, ngx_rbtree_node_t *old,
    ngx_rbtree_node_t *node);
static void ngx_http_remote_help_order_delete_locked(
    ngx_http_remote_help_order_t *order, ngx_rbtree_node_t *node);
static void ngx_http_remote_help_remove_locked(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_node_t *n);
static void ngx_http_remote_help_expiry_delete_locked(
    ngx_http_remote_help_sh_t *sh, ngx_http_remote_help_node_t *n);
static void ngx_http_remote_help_expiry_update_locked(
    ngx_http_remote_help_sh_t *sh, ngx_http_remote_help_node_t *old,
    ngx_http_remote_help_node_t *n);
static ngx_uint_t ngx_http_remote_help_expire_locked(
    ngx_http_remote_help_zone_t *zone, int64_t now, ngx_uint_t max,
    ngx_rbtree_key_t *next);
static int64_t ngx_http_remote_help_store_until(
    ngx_http_remote_help_node_t *o);
static ngx_int_t ngx_http_remote_help_locked(
    ngx_http_remote_help_zone_t *zone, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_repair_locked(
    ngx_http_remote_help_zone_t *zone);
static int ngx_libc_cdecl ngx_http_remote_help_created_cmp(const void *one,
    const void *two);
static void ngx_http_remote_help_forget(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_atomic_t *changes,
    ngx_uint_t spare);
static ngx_int_t ngx_http_remote_help_put(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, ngx_uint_t hold,
    ngx_atomic_t *changes, ngx_atomic_uint_t seen,
    ngx_http_remote_help_undo_t **undo, ngx_http_remote_help_hint_t *hint);
static ngx_http_remote_help_undo_t *ngx_http_remote_help_undo_copy_locked(
    ngx_uint_t set, ngx_str_t *key, ngx_http_remote_help_node_t *n);
static void ngx_http_remote_help_install_locked(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_node_t *old,
    ngx_http_remote_help_node_t *n);
static ngx_int_t ngx_http_remote_help_write_lock(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_write_unlock(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t hold);


/* under the zone's write lock; NULL: the zone is full */

/* size: the whole chunk's; life: an object with lifetimes, its part first */

ngx_http_remote_help_node_t *
ngx_http_remote_help_alloc_locked(ngx_http_remote_help_zone_t *zone,
    size_t size, ngx_uint_t life)
{
    u_char                        *p;
    ngx_http_remote_help_node_t   *n;
    ngx_http_remote_help_chunk_t   c;

    p = ngx_http_remote_help_heap_alloc_locked(&zone->sh->heap, &zone->local,
                                               size, &c);
    if (p == NULL) {
        return NULL;
    }

    n = (ngx_http_remote_help_node_t *)
            (p + (life ? sizeof(ngx_http_remote_help_life_t) : 0));

    n->cls = c.cls;
    n->block = c.block;
    n->flags = life ? NGX_HTTP_RH_LIFE : 0;

    return n;
}


static void
ngx_http_remote_help_free_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_chunk_t  c;

    c.cls = n->cls;
    c.block = n->block;

    ngx_http_remote_help_heap_free_locked(&zone->sh->heap,
                                          ngx_http_rh_chunk(n), &c);
}


static size_t
ngx_http_remote_help_capacity(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_chunk_t  c;

    c.cls = n->cls;
    c.block = n->block;

    return ngx_http_remote_help_heap_capacity(&zone->sh->heap, &c,
                                              ngx_http_rh_size(n));
}


static ngx_http_remote_help_node_t *
ngx_http_remote_help_lookup_locked(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, uint32_t hash, ngx_str_t *key)
{
    ngx_http_remote_help_node_t  *n;

    for (n = zone->buckets[hash & zone->mask]; n; n = n->next) {

        if (n->hash == hash
            && n->set == set
            && n->key_len == key->len
            && ngx_memcmp(ngx_http_rh_key(n), key->data, key->len) == 0)
        {
            return n;
        }
    }

    return NULL;
}


/*
 * The hash chains change by one aligned store each, after the node is
 * complete: a process killed anywhere in a write leaves every chain
 * whole, with the object as it was or as it was being written.
 */

void
ngx_http_remote_help_link_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_node_t  **bucket;

    bucket = &zone->buckets[n->hash & zone->mask];

    n->next = *bucket;

    ngx_memory_barrier();

    *bucket = n;
}


static void
ngx_http_remote_help_replace_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *old, ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_node_t  **p;

    for (p = &zone->buckets[old->hash & zone->mask];
         *p != old;
         p = &(*p)->next)
    {
        /* void */
    }

    n->next = old->next;

    ngx_memory_barrier();

    *p = n;
}


static void
ngx_http_remote_help_unlink_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_node_t  **p;

    for (p = &zone->buckets[n->hash & zone->mask]; *p != n; p = &(*p)->next)
    {
        /* void */
    }

    *p = n->next;
}


/*
 * The tree's insert function is set for each insert, so that no pointer
 * into this module is called from shared memory that may outlive it.
 */

void
ngx_http_remote_help_order_insert_locked(ngx_http_remote_help_order_t *order,
    ngx_rbtree_node_t *node)
{
    /* an equal key goes to the right, as ngx_rbtree_insert_value does */

    if (order->last && node->key >= order->last->key) {
        order->rbtree.insert = ngx_http_remote_help_order_append;

    } else {
        order->rbtree.insert = ngx_rbtree_insert_value;
    }

    ngx_rbtree_insert(&order->rbtree, node);

    if (order->last == NULL || node->key >= order->last->key) {
        order->last = node;
    }
}


static void
ngx_http_remote_help_order_append(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_remote_help_order_t  *order;

    order = (ngx_http_remote_help_order_t *)
                ((u_char *) sentinel
                 - offsetof(ngx_http_remote_help_order_t, sentinel));

    /* the largest key in the tree has no right child */

    temp = order->last;

    temp->right = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* a new version takes the old one's place in the tree: no rebalancing */

static void
ngx_http_remote_help_order_replace_locked(ngx_http_remote_help_order_t *order,
    ngx_rbtree_node_t *old, ngx_rbtree_node_t *node)
{
    ngx_rbtree_node_t  *sentinel;

    sentinel = order->rbtree.sentinel;

    node->key = old->key;
    node->left = old->left;
    node->right = old->right;
    node->parent = old->parent;
    node->color = old->color;

    if (old == order->rbtree.root) {
        order->rbtree.root = node;

    } else if (old == old->parent->left) {
        old->parent->left = node;

    } else {
        old->parent->right = node;
    }

    if (node->left != sentinel) {
        node->left->parent = node;
    }

    if (node->right != sentinel) {
        node->right->parent = node;
    }

    if (order->last == old) {
        order->last = node;
    }
}


static void
ngx_http_remote_help_order_delete_locked(ngx_http_remote_help_order_t *order,
    ngx_rbtree_node_t *node)
{
    ngx_rbtree_node_t  *prev, *sentinel;

    if (node == order->last) {

        /*
         * the newest has no right child: the one before it is the
         * largest of its left subtree, or else its parent
         */

        sentinel = order->rbtree.sentinel;

        if (node->left != sentinel) {
            for (prev = node->left; prev->right != sentinel; prev = prev->right)
            {
                /* void */
            }

        } else {
            prev = (node == order->rbtree.root) ? NULL : node->parent;
        }

        order->last = prev;
    }

    ngx_rbtree_delete(&order->rbtree, node);
}


ngx_http_remote_help_node_t *
ngx_http_remote_help_store_first_locked(ngx_http_remote_help_sh_t *sh,
    ngx_uint_t set, uint64_t after)
{
    ngx_rbtree_node_t  *node, *sentinel, *best;

    node = sh->order[set].rbtree.root;
    sentinel = sh->order[set].rbtree.sentinel;
    best = NULL;

    while (node != sentinel) {

        if (node->key > after) {
            best = node;
            node = node->left;

        } else {
            node = node->right;
        }
    }

    return (ngx_http_remote_help_node_t *) best;
}


/*
 * Starts fetching the hash bucket of a key about to be looked up, so
 * that the cache miss is taken while the caller works on, not under the
 * zone's lock.  The table never moves: its address is the process's own
 * copy, read without the lock.
 */

void
ngx_http_remote_help_store_prefetch(ngx_http_remote_help_zone_t *zone,
    ngx_str_t *key)
{
#if (defined __GNUC__)
    uint32_t  hash;

    hash = ngx_murmur_hash2(key->data, key->len);

    __builtin_prefetch(&zone->buckets[hash & zone->mask]);
#endif
}


/*
 * The zone's locks.  A lock taken over from a process that died holding
 * it, or a rebuild that a dead process left undone (sh->repair), has the
 * zone rebuilt before anything else is done under it.
 */

static ngx_int_t
ngx_http_remote_help_locked(ngx_http_remote_help_zone_t *zone, ngx_int_t rc)
{
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;

    if (rc == NGX_HTTP_RH_ORPHANED) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "remote_help_zone \"%V\": process %P exited while it "
                      "changed the zone, rebuilding the zone's index",
                      &zone->name, (ngx_pid_t) sh->lock.writer.orphaned);
        sh->repair = 1;
    }

    if (sh->repair) {
        return ngx_http_remote_help_repair_locked(zone);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_lock_write(ngx_http_remote_help_zone_t *zone)
{
    return ngx_http_remote_help_locked(zone,
                                       ngx_http_remote_help_wlock(
                                           &zone->sh->lock));
}


/* NGX_ERROR: the zone needs a rebuild that cannot be made now */

ngx_int_t
ngx_http_remote_help_store_rlock(ngx_http_remote_help_zone_t *zone)
{
    ngx_int_t                   rc;
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;

    for ( ;; ) {

        rc = ngx_http_remote_help_rlock(&sh->lock, zone->reader);

        if (zone->reader == NULL) {
            /* a process without a slot reads under the write lock */

            if (ngx_http_remote_help_locked(zone, rc) == NGX_OK) {
                return NGX_OK;
            }

            ngx_http_remote_help_wunlock(&sh->lock);
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            if (!sh->repair) {
                return NGX_OK;
            }

            /* a rebuild left undone: made under the write lock first */

            ngx_http_remote_help_runlock(&sh->lock, zone->reader);
            rc = ngx_http_remote_help_lock_write(zone);

        } else {
            /* the writer died: this process holds its lock now */
            rc = ngx_http_remote_help_locked(zone, rc);
        }

        ngx_http_remote_help_wunlock(&sh->lock);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }
}


void
ngx_http_remote_help_store_runlock(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_runlock(&zone->sh->lock, zone->reader);
}


size_t
ngx_http_remote_help_store_free_locked(ngx_http_remote_help_zone_t *zone)
{
    return ngx_http_remote_help_heap_free_size(&zone->sh->heap);
}


ngx_int_t
ngx_http_remote_help_store_get(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_op_t *op)
{
    uint32_t                      hash;
    ngx_int_t                     rc;
    ngx_http_remote_help_node_t  *n;

    hash = ngx_murmur_hash2(op->key.data, op->key.len);

    if (ngx_http_remote_help_store_rlock(zone) != NGX_OK) {
        return NGX_ERROR;
    }

    n = ngx_http_remote_help_lookup_locked(zone, op->set, hash, &op->key);

    /* one comparison: an object without a lifetime goes at no moment */

    if (n == NULL || n->death <= (ngx_rbtree_key_t) ngx_http_rh_now()
        || ((n->flags & NGX_HTTP_RH_HINT) && !op->update))
    {
        rc = NGX_HTTP_RH_MISSING;
        goto done;
    }

    op->json.data = ngx_pnalloc(op->pool, n->json_len);
    if (op->json.data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    op->json.len = n->json_len;
    op->seq = n->seq;

    ngx_memcpy(op->json.data, ngx_http_rh_json(n), n->json_len);
    ngx_memcpy(op->spans, ngx_http_rh_spans(n), 8 * n->nprops);

    rc = NGX_OK;

done:

    ngx_http_remote_help_store_runlock(zone);

    return rc;
}


/*
 * A copy of the key gone, for a cache: *changes counted first, under the
 * read lock, so that a guarded put (store_put_guarded) that took the
 * write lock after it sees the change, and one before it is deleted now.
 * Most keys have no copy: the delete's write lock only when one is there.
 */

void
ngx_http_remote_help_store_forget(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_atomic_t *changes)
{
    ngx_http_remote_help_forget(zone, set, key, changes, 0);
}


void
ngx_http_remote_help_store_invalidate(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_atomic_t *changes)
{
    ngx_http_remote_help_forget(zone, set, key, changes, 1);
}


/*
 * Both: with "spare", a hint whose own change was not heard of yet is
 * marked so (NGX_HTTP_RH_SPENT) rather than deleted
 */

static void
ngx_http_remote_help_forget(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_atomic_t *changes, ngx_uint_t spare)
{
    uint32_t                      hash;
    uint64_t                      written;
    ngx_uint_t                    has;
    ngx_http_remote_help_node_t  *n;

    hash = ngx_murmur_hash2(key->data, key->len);

    if (ngx_http_remote_help_store_rlock(zone) != NGX_OK) {
        (void) ngx_atomic_fetch_add(changes, 1);
        has = 1;
        spare = 0;

    } else {
        (void) ngx_atomic_fetch_add(changes, 1);
        n = ngx_http_remote_help_lookup_locked(zone, set, hash, key);
        has = (n != NULL);
        spare = spare && ngx_http_rh_unspent(n);
        ngx_http_remote_help_store_runlock(zone);
    }

    if (spare && ngx_http_remote_help_write_lock(zone) == NGX_OK) {
        n = ngx_http_remote_help_lookup_locked(zone, set, hash, key);

        if (ngx_http_rh_unspent(n)) {
            n->flags |= NGX_HTTP_RH_SPENT;
            has = 0;
        }

        ngx_http_remote_help_wunlock(&zone->sh->lock);
    }

    if (has) {
        (void) ngx_http_remote_help_store_delete(zone, set, key, 0, 0, 0,
                                                 &written, NULL);
    }
}


/* a write takes the zone's write lock here: not in a zone retired */

static ngx_int_t
ngx_http_remote_help_write_lock(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;

    if (ngx_http_remote_help_lock_write(zone) != NGX_OK) {
        ngx_http_remote_help_wunlock(&sh->lock);
        return NGX_ERROR;
    }

    if (sh->retired) {
        ngx_http_remote_help_wunlock(&sh->lock);
        return NGX_HTTP_RH_RETIRED;
    }

    return NGX_OK;
}


/*
 * ... and leaves it once the change is made.  A held write is counted as
 * in flight, under the lock, until its caller has done what follows it
 * (a journal's append, outside the lock, so that readers do not wait
 * for a disk): a resize copies the zone only when none is.
 */

static void
ngx_http_remote_help_write_unlock(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t hold)
{
    if (hold) {
        (void) ngx_atomic_fetch_add(&zone->sh->inflight, 1);
    }

    ngx_http_remote_help_wunlock(&zone->sh->lock);
}


void
ngx_http_remote_help_store_finished(ngx_http_remote_help_zone_t *zone)
{
    (void) ngx_atomic_fetch_add(&zone->sh->inflight, -1);
}


ngx_int_t
ngx_http_remote_help_store_put(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, ngx_uint_t hold)
{
    return ngx_http_remote_help_put(zone, rec, hold, NULL, 0, NULL, NULL);
}


ngx_int_t
ngx_http_remote_help_store_put_undo(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, ngx_uint_t hold,
    ngx_http_remote_help_undo_t **undo)
{
    return ngx_http_remote_help_put(zone, rec, hold, NULL, 0, undo, NULL);
}


ngx_int_t
ngx_http_remote_help_store_put_guarded(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, ngx_atomic_t *changes,
    ngx_atomic_uint_t seen)
{
    return ngx_http_remote_help_put(zone, rec, 0, changes, seen, NULL, NULL);
}


ngx_int_t
ngx_http_remote_help_store_hint(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, uint64_t from, ngx_uint_t heard)
{
    ngx_http_remote_help_hint_t  hint;

    hint.from = from;
    hint.heard = heard;

    return ngx_http_remote_help_put(zone, rec, 0, NULL, 0, NULL, &hint);
}


/*
 * The old version n (NULL: none) copied out for an undo of the write
 * that replaces it; NULL: no memory (the write goes on without one)
 */

static ngx_http_remote_help_undo_t *
ngx_http_remote_help_undo_copy_locked(ngx_uint_t set, ngx_str_t *key,
    ngx_http_remote_help_node_t *n)
{
    size_t                        payload;
    ngx_http_remote_help_life_t  *l;
    ngx_http_remote_help_undo_t  *u;

    payload = n ? ngx_http_rh_payload(n) : key->len;

    u = ngx_alloc(offsetof(ngx_http_remote_help_undo_t, payload) + payload,
                  ngx_cycle->log);
    if (u == NULL) {
        return NULL;
    }

    u->set = set;
    u->seq = 0;
    u->deleted = 0;
    u->written = 0;
    u->until = 0;

    if (n == NULL) {
        u->old_seq = 0;
        u->place = 0;
        u->nprops = 0;
        u->key_len = (uint32_t) key->len;
        u->json_len = 0;
        u->key = u->payload;
        ngx_memcpy(u->key, key->data, key->len);

        return u;
    }

    u->old_seq = n->seq;
    u->place = n->node.key;
    u->nprops = n->nprops;
    u->key_len = n->key_len;
    u->json_len = n->json_len;
    u->key = u->payload + 8 * n->nprops;

    if (n->flags & NGX_HTTP_RH_LIFE) {
        l = ngx_http_rh_life(n);
        u->written = l->written;
        u->until = l->until;
    }

    ngx_memcpy(u->payload, n->data, payload);

    return u;
}


ngx_int_t
ngx_http_remote_help_store_undo(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_undo_t *undo)
{
    size_t                         size;
    uint32_t                       hash;
    ngx_int_t                      rc;
    ngx_str_t                      key;
    ngx_uint_t                     life;
    ngx_rbtree_key_t               death;
    ngx_http_remote_help_sh_t     *sh;
    ngx_http_remote_help_life_t   *l;
    ngx_http_remote_help_node_t   *cur, *n;

    sh = zone->sh;
    key.data = undo->key;
    key.len = undo->key_len;
    hash = ngx_murmur_hash2(key.data, key.len);
    life = (zone->timeout || zone->expire);

    rc = ngx_http_remote_help_write_lock(zone);

    if (rc != NGX_OK) {
        ngx_free(undo);
        return NGX_ERROR;
    }

    cur = ngx_http_remote_help_lookup_locked(zone, undo->set, hash, &key);

    rc = NGX_OK;

    if (undo->deleted ? (cur != NULL) : (cur == NULL || cur->seq != undo->seq))
    {
        /*
         * A later write, of another worker, was made over this one: it
         * is not known whether that one will be in the file, and if it
         * is not, its undo would put back this write's version
         */
        rc = NGX_DECLINED;
        goto done;
    }

    if (undo->old_seq == 0) {
        /* an object created: taken out again */
        ngx_http_remote_help_remove_locked(zone, cur);
        goto done;
    }

    /* the old version, in a chunk of its own, at its place */

    size = offsetof(ngx_http_remote_help_node_t, data) + 8 * undo->nprops
           + undo->key_len + undo->json_len
           + (life ? sizeof(ngx_http_remote_help_life_t) : 0);

    n = ngx_http_remote_help_alloc_locked(zone, size, life);

    if (n == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    death = life ? ngx_http_remote_help_store_death(zone, undo->written,
                                                    undo->until)
                 : NGX_HTTP_RH_NEVER;

    n->seq = undo->old_seq;
    n->node.key = undo->place;
    n->hash = hash;
    n->key_len = undo->key_len;
    n->json_len = undo->json_len;
    n->set = (u_char) undo->set;
    n->nprops = (u_char) undo->nprops;
    n->death = death;

    ngx_memcpy(n->data, undo->payload,
               8 * undo->nprops + undo->key_len + undo->json_len);

    if (life) {
        l = ngx_http_rh_life(n);
        l->written = undo->written;
        l->until = undo->until;
    }

    if (cur) {
        sh->bytes -= ngx_http_rh_payload(cur);
    }

    ngx_http_remote_help_install_locked(zone, cur, n);

    sh->bytes += ngx_http_rh_payload(n);

done:

    ngx_http_remote_help_write_unlock(zone, 0);

    ngx_free(undo);

    return rc;
}


/*
 * A filled node n in the table, its set's tree and the expiry tree: in
 * old's place (old freed), or anew when old is NULL
 */

static void
ngx_http_remote_help_install_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *old, ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;

    if (old) {
        ngx_http_remote_help_replace_locked(zone, old, n);
        ngx_http_remote_help_order_replace_locked(&sh->order[n->set],
                                                  &old->node, &n->node);
        ngx_http_remote_help_expiry_update_locked(sh, old, n);
        ngx_http_remote_help_free_locked(zone, old);
        return;
    }

    ngx_http_remote_help_link_locked(zone, n);
    ngx_http_remote_help_order_insert_locked(&sh->order[n->set], &n->node);
    sh->objects[n->set]++;

    ngx_http_remote_help_expiry_update_locked(sh, NULL, n);
}


static ngx_int_t
ngx_http_remote_help_put(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, ngx_uint_t hold,
    ngx_atomic_t *changes, ngx_atomic_uint_t seen,
    ngx_http_remote_help_undo_t **undo, ngx_http_remote_help_hint_t *hint)
{
    size_t                         size;
    int64_t                        now;
    uint32_t                       hash;
    uint64_t                       seq;
    ngx_int_t                      rc;
    ngx_str_t                     *key, *json;
    ngx_uint_t                     set, nprops, life, flags;
    ngx_rbtree_key_t               next, death;
    ngx_http_remote_help_life_t   *l;
    ngx_http_remote_help_sh_t     *sh;
    ngx_http_remote_help_node_t   *n, *old;

    sh = zone->sh;
    set = rec->set;
    key = &rec->key;
    json = &rec->json;
    seq = rec->seq;
    now = ngx_http_rh_now();
    hash = ngx_murmur_hash2(key->data, key->len);
    nprops = ngx_rh_sets[set].nprops;

    life = (zone->timeout || zone->expire);
    death = life ? ngx_http_remote_help_store_death(zone, rec->written,
                                                    rec->until)
                 : NGX_HTTP_RH_NEVER;

    size = offsetof(ngx_http_remote_help_node_t, data) + 8 * nprops
           + key->len + json->len
           + (life ? sizeof(ngx_http_remote_help_life_t) : 0);

    rc = ngx_http_remote_help_write_lock(zone);

    if (rc != NGX_OK) {
        return rc;
    }

    if (changes && *changes != seen) {
        /* a change was heard of since what is put was read */
        ngx_http_remote_help_wunlock(&sh->lock);
        return NGX_DECLINED;
    }

    old = ngx_http_remote_help_lookup_locked(zone, set, hash, key);

    if (old && old->death <= (ngx_rbtree_key_t) now) {
        /* its moment has come: it is gone, whether swept yet or not */
        ngx_http_remote_help_remove_locked(zone, old);
        sh->expired++;
        old = NULL;
    }

    flags = 0;

    if (hint) {
        if (ngx_http_remote_help_heap_free_size(&sh->heap)
            <= zone->shm_zone->shm.size / 2)
        {
            ngx_http_remote_help_wunlock(&sh->lock);
            return NGX_DECLINED;
        }

        /* "from" gone: a change heard of since, which is the write's */

        flags = NGX_HTTP_RH_HINT;

        if (hint->from ? !(old && old->seq == hint->from) : hint->heard) {
            flags |= NGX_HTTP_RH_SPENT;
        }
    }

    if (seq == NGX_HTTP_RH_CREATE) {
        if (old) {
            ngx_http_remote_help_wunlock(&sh->lock);
            return NGX_HTTP_RH_EXISTS;
        }

    } else if (seq & NGX_HTTP_RH_REPLAY) {

        if (old && old->seq > (seq & ~NGX_HTTP_RH_REPLAY)) {
            /* a later version is there */
            ngx_http_remote_help_wunlock(&sh->lock);
            return NGX_OK;
        }

    } else if (old == NULL) {
        ngx_http_remote_help_wunlock(&sh->lock);
        return NGX_HTTP_RH_MISSING;

    } else if (old->seq != seq) {
        ngx_http_remote_help_wunlock(&sh->lock);
        return NGX_HTTP_RH_CHANGED;
    }

    if (undo) {
        *undo = ngx_http_remote_help_undo_copy_locked(set, key, old);
    }

    if (old && size <= ngx_http_remote_help_capacity(zone, old)
        && ngx_http_rh_size(old) <= sh->heap.block
        && (old->flags & NGX_HTTP_RH_LIFE) == (life ? NGX_HTTP_RH_LIFE : 0))
    {
        /*
         * The new version fits the old one's chunk: written over it, at
         * the same place in chain and tree, with nothing to allocate.
         * The old version is kept in the spare block until the new one
         * is written, so that a rebuild after a death in between puts
         * it back.
         */

        n = old;

        sh->undo_len = ngx_http_rh_size(old);
        ngx_memcpy(ngx_http_remote_help_heap_spare(&sh->heap),
                   ngx_http_rh_chunk(old), sh->undo_len);

        ngx_memory_barrier();

        sh->undo = ngx_http_rh_chunk(old);

    } else {
        /*
         * A new chunk: until the new version takes the old one's place
         * in its chain, the old one is whole.
         */

        n = ngx_http_remote_help_alloc_locked(zone, size, life);

        if (n == NULL
            && ngx_http_remote_help_expire_locked(zone, now,
                                                  NGX_HTTP_RH_SWEEP_FULL,
                                                  &next))
        {
            /* a full zone gives back what has gone first */
            n = ngx_http_remote_help_alloc_locked(zone, size, life);
        }

        if (n == NULL) {
            ngx_http_remote_help_wunlock(&sh->lock);

            if (undo && *undo) {
                ngx_free(*undo);
                *undo = NULL;
            }

            return NGX_HTTP_RH_NOSPACE;
        }
    }

    if (old) {
        sh->bytes -= ngx_http_rh_payload(old);
    }

    if (seq & NGX_HTTP_RH_REPLAY) {
        n->seq = seq & ~NGX_HTTP_RH_REPLAY;
        sh->seq = ngx_max(sh->seq, n->seq);

    } else {
        n->seq = ++sh->seq;
    }

    /* a new version keeps its place in listings */

    n->node.key = old ? old->node.key : ++sh->created;
    n->hash = hash;
    n->key_len = (uint32_t) key->len;
    n->json_len = (uint32_t) json->len;
    n->set = (u_char) set;
    n->nprops = (u_char) nprops;
    n->death = death;
    n->flags = (u_char) ((n->flags & ~(NGX_HTTP_RH_HINT | NGX_HTTP_RH_SPENT))
                         | flags);

    ngx_memcpy(ngx_http_rh_spans(n), rec->spans, 8 * nprops);
    ngx_memcpy(ngx_http_rh_key(n), key->data, key->len);
    ngx_memcpy(ngx_http_rh_json(n), json->data, json->len);

    if (life) {
        l = ngx_http_rh_life(n);
        l->written = rec->written;
        l->until = rec->until;
    }

    if (n == old) {
        ngx_memory_barrier();

        sh->undo = NULL;

        ngx_http_remote_help_expiry_update_locked(sh, n, n);

    } else {
        ngx_http_remote_help_install_locked(zone, old, n);
    }

    sh->bytes += ngx_http_rh_payload(n);
    rec->seq = n->seq;

    if (undo && *undo) {
        (*undo)->seq = n->seq;
    }

    ngx_http_remote_help_write_unlock(zone, hold);

    ngx_http_remote_help_heap_prefault(&sh->heap, &zone->local);

    return NGX_OK;
}


/* an object taken out of the table, its tree, the counts and the heap */

static void
ngx_http_remote_help_remove_locked(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;

    sh->bytes -= ngx_http_rh_payload(n);

    ngx_http_remote_help_unlink_locked(zone, n);
    ngx_http_remote_help_order_delete_locked(&sh->order[n->set], &n->node);
    ngx_http_remote_help_expiry_delete_locked(sh, n);
    sh->objects[n->set]--;

    ngx_http_remote_help_free_locked(zone, n);
}


/*
 * Lifetimes.  The moment an object goes is computed at each write from
 * the write's moment and its sessionExpirationDateTime, with the zone's
 * timeout= and expire=; the objects that have one are in a tree ordered
 * by it, so that the sweep takes the due ones from its left end.
 */

ngx_rbtree_key_t
ngx_http_remote_help_store_death(ngx_http_remote_help_zone_t *zone,
    int64_t written, int64_t until)
{
    ngx_rbtree_key_t  death;

    death = NGX_HTTP_RH_NEVER;

    if (zone->timeout) {
        death = (ngx_rbtree_key_t) (written + (int64_t) zone->timeout);
    }

    if (zone->expire && until) {
        /* a moment before 1970 is as past as any */
        death = ngx_min(death, (ngx_rbtree_key_t) ngx_max(until, 1));
    }

    return death;
}


/* n, in a zone with lifetimes, into the expiry tree at its death */

void
ngx_http_remote_help_expiry_insert_locked(ngx_http_remote_help_sh_t *sh,
    ngx_http_remote_help_node_t *n)
{
    ngx_rbtree_node_t            *last;
    ngx_http_remote_help_life_t  *l;

    if (n->death == NGX_HTTP_RH_NEVER) {
        return;
    }

    last = sh->expiry.last;

    if (last && n->death < last->key
        && last->key - n->death <= NGX_HTTP_RH_SKEW)
    {
        /*
         * Another worker, whose clock the event loop read a moment later,
         * wrote the latest moment so far: this one is taken as the same,
         * so that it goes in at the end, with no walk down the tree.
         */
        n->death = last->key;
    }

    l = ngx_http_rh_life(n);
    l->expiry.key = n->death;
    ngx_http_remote_help_order_insert_locked(&sh->expiry, &l->expiry);

    n->flags |= NGX_HTTP_RH_QUEUED;
}


static void
ngx_http_remote_help_expiry_delete_locked(ngx_http_remote_help_sh_t *sh,
    ngx_http_remote_help_node_t *n)
{
    if (n->flags & NGX_HTTP_RH_QUEUED) {
        ngx_http_remote_help_order_delete_locked(&sh->expiry,
                                                 &ngx_http_rh_life(n)->expiry);
        n->flags &= ~NGX_HTTP_RH_QUEUED;
    }
}


/*
 * A write gave n its death (n->death): old, the version it replaces
 * (n itself when written over in place; NULL for a new object), leaves
 * its place in the tree to it when that place is not later than the new
 * death, which is what almost every write does (timeout= counts from
 * now): the tree does not change.
 */

static void
ngx_http_remote_help_expiry_update_locked(ngx_http_remote_help_sh_t *sh,
    ngx_http_remote_help_node_t *old, ngx_http_remote_help_node_t *n)
{
    ngx_rbtree_node_t  *place;

    if (old && (old->flags & NGX_HTTP_RH_QUEUED)) {

        place = &ngx_http_rh_life(old)->expiry;

        if ((n->flags & NGX_HTTP_RH_LIFE) && place->key <= n->death) {

            if (n != old) {
                ngx_http_remote_help_order_replace_locked(&sh->expiry, place,
                                               &ngx_http_rh_life(n)->expiry);
                old->flags &= ~NGX_HTTP_RH_QUEUED;
                n->flags |= NGX_HTTP_RH_QUEUED;
            }

            return;
        }

        ngx_http_remote_help_expiry_delete_locked(sh, old);
    }

    if (n->flags & NGX_HTTP_RH_LIFE) {
        n->flags &= ~NGX_HTTP_RH_QUEUED;
        ngx_http_remote_help_expiry_insert_locked(sh, n);
    }
}


static ngx_uint_t
ngx_http_remote_help_expire_locked(ngx_http_remote_help_zone_t *zone,
    int64_t now, ngx_uint_t max, ngx_rbtree_key_t *next)
{
    ngx_uint_t                    i, removed;
    ngx_rbtree_t                 *tree;
    ngx_rbtree_node_t            *node;
    ngx_http_remote_help_sh_t    *sh;
    ngx_http_remote_help_node_t  *n;

    sh = zone->sh;
    tree = &sh->expiry.rbtree;
    removed = 0;

    /* max bounds the objects removed and those moved on alike */

    for (i = 0; /* void */ ; i++) {

        if (tree->root == tree->sentinel) {
            *next = NGX_HTTP_RH_NEVER;
            return removed;
        }

        node = ngx_rbtree_min(tree->root, tree->sentinel);

        if (node->key > (ngx_rbtree_key_t) now || i == max) {
            *next = node->key;
            return removed;
        }

        n = ngx_http_rh_life_node(node);

        if (n->death <= (ngx_rbtree_key_t) now) {
            ngx_http_remote_help_remove_locked(zone, n);
            sh->expired++;
            removed++;
            continue;
        }

        /* written since it was placed: to its place now */

        ngx_http_remote_help_expiry_delete_locked(sh, n);
        ngx_http_remote_help_expiry_insert_locked(sh, n);
    }
}


ngx_uint_t
ngx_http_remote_help_store_expire(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t max, ngx_rbtree_key_t *next)
{
    int64_t                     now;
    ngx_uint_t                  n;
    ngx_rbtree_t               *tree;
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;
    tree = &sh->expiry.rbtree;
    now = ngx_http_rh_now();

    /* a look under the read lock first: most ticks find nothing due */

    if (ngx_http_remote_help_store_rlock(zone) != NGX_OK) {
        *next = NGX_HTTP_RH_NEVER;
        return 0;
    }

    *next = (tree->root == tree->sentinel)
            ? NGX_HTTP_RH_NEVER
            : ngx_rbtree_min(tree->root, tree->sentinel)->key;

    ngx_http_remote_help_store_runlock(zone);

    if (*next > (ngx_rbtree_key_t) now) {
        return 0;
    }

    if (ngx_http_remote_help_write_lock(zone) != NGX_OK) {
        *next = NGX_HTTP_RH_NEVER;
        return 0;
    }

    n = ngx_http_remote_help_expire_locked(zone, now, max, next);

    ngx_http_remote_help_write_unlock(zone, 0);

    return n;
}


/* seq: only a version older than this is deleted (a replay); 0: any */

ngx_int_t
ngx_http_remote_help_store_delete(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, uint64_t seq, uint64_t version,
    ngx_uint_t hold, uint64_t *written, ngx_http_remote_help_undo_t **undo)
{
    uint32_t                       hash;
    ngx_int_t                      rc;
    ngx_http_remote_help_sh_t     *sh;
    ngx_http_remote_help_node_t   *n;

    sh = zone->sh;
    hash = ngx_murmur_hash2(key->data, key->len);

    rc = ngx_http_remote_help_write_lock(zone);

    if (rc != NGX_OK) {
        return rc;
    }

    n = ngx_http_remote_help_lookup_locked(zone, set, hash, key);

    if (n && n->death <= (ngx_rbtree_key_t) ngx_http_rh_now()) {
        /* gone by its lifetime already */
        ngx_http_remote_help_remove_locked(zone, n);
        sh->expired++;
        n = NULL;
    }

    if (n == NULL || (seq && n->seq > seq)) {
        ngx_http_remote_help_wunlock(&sh->lock);
        return NGX_HTTP_RH_MISSING;
    }

    if (version && n->seq != version) {
        ngx_http_remote_help_wunlock(&sh->lock);
        return NGX_HTTP_RH_CHANGED;
    }

    if (undo) {
        *undo = ngx_http_remote_help_undo_copy_locked(set, key, n);
    }

    ngx_http_remote_help_remove_locked(zone, n);

    /* the deletion's own sequence number, taken under the lock */

    *written = ++sh->seq;

    if (undo && *undo) {
        (*undo)->seq = *written;
        (*undo)->deleted = 1;
    }

    ngx_http_remote_help_write_unlock(zone, hold);

    return NGX_OK;
}


/* every object taken out (a cache that may have missed changes) */

void
ngx_http_remote_help_store_clear(ngx_http_remote_help_zone_t *zone)
{
    ngx_uint_t                  set;
    ngx_rbtree_t               *tree;
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;

    if (ngx_http_remote_help_write_lock(zone) != NGX_OK) {
        return;
    }

    for (set = 0; set < NGX_RH_NSETS; set++) {
        tree = &sh->order[set].rbtree;

        while (tree->root != tree->sentinel) {
            ngx_http_remote_help_remove_locked(zone,
                               (ngx_http_remote_help_node_t *)
                               ngx_rbtree_min(tree->root, tree->sentinel));
        }
    }

    ngx_http_remote_help_write_unlock(zone, 0);
}


ngx_int_t
ngx_http_remote_help_store_listed(ngx_http_remote_help_op_t *op,
    uint64_t place, u_char *json, size_t len, uint32_t *spans)
{
    size_t                        size;
    ngx_http_remote_help_item_t  *item;

    if (op->filter && !ngx_rh_filter_match(op->filter, json, spans)) {
        /* the next page starts after what this one examined */
        op->last = place;
        return NGX_OK;
    }

    if (op->tally) {
        op->total++;
        op->last = place;
        return NGX_OK;
    }

    if (op->items->nelts == op->top) {
        /* a match after the page's last: the page has a next */
        op->more = 1;
        return NGX_DONE;
    }

    size = 8 * (size_t) ngx_rh_sets[op->set].nprops;

    item = ngx_array_push(op->items);
    if (item == NULL) {
        return NGX_ERROR;
    }

    item->json.len = len;
    item->json.data = ngx_pnalloc(op->pool, len);
    item->spans = ngx_palloc(op->pool, size);

    if (item->json.data == NULL || item->spans == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(item->json.data, json, len);
    ngx_memcpy(item->spans, spans, size);

    op->last = place;

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_store_list(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_op_t *op)
{
    ngx_int_t                     rc;
    ngx_uint_t                    examined;
    ngx_rbtree_key_t              now;
    ngx_rbtree_node_t            *node;
    ngx_http_remote_help_sh_t    *sh;
    ngx_http_remote_help_node_t  *n;

    sh = zone->sh;

    op->more = 0;
    op->last = 0;
    op->total = 0;

    rc = NGX_OK;
    examined = 0;

    if (ngx_http_remote_help_store_rlock(zone) != NGX_OK) {
        return NGX_ERROR;
    }

    if (op->count) {
        /* kept as objects come and go; the expired not yet swept too */
        op->total = sh->objects[op->set];
    }

    now = (ngx_rbtree_key_t) ngx_http_rh_now();

    n = ngx_http_remote_help_store_first_locked(sh, op->set, op->after);

    for ( /* void */ ; n; n = (ngx_http_remote_help_node_t *) node) {

        node = ngx_rbtree_next(&sh->order[op->set].rbtree, &n->node);

        if (n->death <= now) {
            /* gone, not yet swept: skipped, never counted */
            continue;
        }

        if (op->scan && examined == op->scan) {
            op->more = 1;
            break;
        }

        examined++;

        rc = ngx_http_remote_help_store_listed(op, n->node.key,
                                               ngx_http_rh_json(n),
                                               n->json_len,
                                               ngx_http_rh_spans(n));
        if (rc != NGX_OK) {
            break;
        }
    }

    if (rc == NGX_DONE) {
        rc = NGX_OK;
    }

    ngx_http_remote_help_store_runlock(zone);

    return rc;
}


/*
 * A process died while it held the zone's write lock.  What it may have
 * left half done: the heap's block lists, a tree's rebalancing, the
 * counts; never a hash chain.  So every object the hash table reaches is
 * taken as the truth (a chunk that no chain reaches was being written or
 * freed, and is free now), and the heap, the trees and the counts are
 * made again from them, in place.  The table is not changed: a process
 * killed during the rebuild leaves sh->repair set, and the next one to
 * take the lock starts it again from the same objects.
 */

static ngx_int_t
ngx_http_remote_help_repair_locked(ngx_http_remote_help_zone_t *zone)
{
    uint64_t                        seq, created;
    ngx_msec_t                      start;
    ngx_uint_t                      i, n, max, set, dropped;
    struct timeval                  tv;
    ngx_http_remote_help_sh_t      *sh;
    ngx_http_remote_help_used_t    *used;
    ngx_http_remote_help_node_t    *node, **nodes;
    ngx_http_remote_help_order_t   *order;

    sh = zone->sh;
    sh->repair = 1;

    ngx_gettimeofday(&tv);
    start = (ngx_msec_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;

    if (sh->undo) {
        /* an update was being written over its object: put it back */

        ngx_memcpy(sh->undo, ngx_http_remote_help_heap_spare(&sh->heap),
                   sh->undo_len);

        ngx_memory_barrier();

        sh->undo = NULL;

        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "remote_help_zone \"%V\": an object written over "
                      "in place is back as it was", &zone->name);
    }

    /* no more objects than chunks of the smallest class could be */

    max = sh->heap.nblocks * (sh->heap.block / 16) + 1;

    n = 0;

    for (i = 0; i <= zone->mask; i++) {
        for (node = zone->buckets[i]; node && n < max; node = node->next) {
            n++;
        }
    }

    used = ngx_alloc(n * sizeof(ngx_http_remote_help_used_t) + 1,
                     ngx_cycle->log);
    nodes = ngx_alloc(n * sizeof(ngx_http_remote_help_node_t *) + 1,
                      ngx_cycle->log);

    if (used == NULL || nodes == NULL) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "remote_help_zone \"%V\" cannot be rebuilt now, "
                      "it takes no requests until it is", &zone->name);
        ngx_free(used);
        ngx_free(nodes);
        return NGX_ERROR;
    }

    n = 0;
    dropped = 0;
    seq = sh->seq;
    created = sh->created;

    for (i = 0; i <= zone->mask; i++) {

        for (node = zone->buckets[i]; node && n < max; node = node->next) {

            used[n].p = ngx_http_rh_chunk(node);
            used[n].chunk.cls = node->cls;
            used[n].chunk.block = node->block;
            used[n].size = ngx_http_rh_size(node);

            /* cannot be, by the way chains change; never followed */

            if (!ngx_http_remote_help_heap_valid(&sh->heap, used[n].p,
                                                 &used[n].chunk,
                                                 used[n].size)
                || node->set >= NGX_RH_NSETS
                || (node->hash & zone->mask) != i)
            {
                dropped++;
                break;
            }

            nodes[n] = node;
            seq = ngx_max(seq, node->seq);
            created = ngx_max(created, (uint64_t) node->node.key);
            n++;
        }
    }

    ngx_qsort(used, n, sizeof(ngx_http_remote_help_used_t),
              ngx_http_remote_help_used_cmp);

    ngx_http_remote_help_heap_rebuild_locked(&sh->heap, used, n);

    /* the trees, in creation order */

    ngx_qsort(nodes, n, sizeof(ngx_http_remote_help_node_t *),
              ngx_http_remote_help_created_cmp);

    for (set = 0; set < NGX_RH_NSETS; set++) {
        order = &sh->order[set];
        ngx_rbtree_init(&order->rbtree, &order->sentinel,
                        ngx_rbtree_insert_value);
        order->last = NULL;
        sh->objects[set] = 0;
    }

    sh->bytes = 0;

    ngx_rbtree_init(&sh->expiry.rbtree, &sh->expiry.sentinel,
                    ngx_rbtree_insert_value);
    sh->expiry.last = NULL;

    for (i = 0; i < n; i++) {
        node = nodes[i];

        ngx_http_remote_help_order_insert_locked(&sh->order[node->set],
                                                 &node->node);

        /* the expiry tree anew: each object with its death as its key */

        node->flags &= ~NGX_HTTP_RH_QUEUED;

        if (node->flags & NGX_HTTP_RH_LIFE) {
            ngx_http_remote_help_expiry_insert_locked(sh, node);

        } else {
            node->death = NGX_HTTP_RH_NEVER;
        }

        sh->objects[node->set]++;
        sh->bytes += ngx_http_rh_payload(node);
    }

    sh->seq = seq;
    sh->created = created;
    sh->repairs++;

    ngx_free(used);
    ngx_free(nodes);

    sh->repair = 0;

    ngx_gettimeofday(&tv);

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                  "remote_help_zone \"%V\" rebuilt: %ui objects in %M ms%s",
                  &zone->name, n,
                  (ngx_msec_t) tv.tv_sec * 1000 + tv.tv_usec / 1000 - start,
                  dropped ? ", a broken hash chain was cut" : "");

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_remote_help_created_cmp(const void *one, const void *two)
{
    ngx_http_remote_help_node_t  *a = *(ngx_http_remote_help_node_t **) one;
    ngx_http_remote_help_node_t  *b = *(ngx_http_remote_help_node_t **) two;

    return (a->node.key > b->node.key) - (a->node.key < b->node.key);
}


void
ngx_http_remote_help_store_record(ngx_http_remote_help_node_t *o,
    ngx_http_remote_help_record_t *rec)
{
    rec->op = NGX_HTTP_RH_OP_PUT;
    rec->set = o->set;
    rec->nprops = o->nprops;
    rec->spans = ngx_http_rh_spans(o);
    rec->key.data = ngx_http_rh_key(o);
    rec->key.len = o->key_len;
    rec->json.data = ngx_http_rh_json(o);
    rec->json.len = o->json_len;
    rec->seq = o->seq;

    if (o->flags & NGX_HTTP_RH_LIFE) {
        rec->written = ngx_http_rh_life(o)->written;
        rec->until = ngx_http_rh_life(o)->until;

    } else {
        /* not known: the moment of a replay stands in */
        rec->written = 0;
        rec->until = ngx_http_remote_help_store_until(o);
    }
}


/* the object's sessionExpirationDateTime, read from its JSON; 0: none */

static int64_t
ngx_http_remote_help_store_until(ngx_http_remote_help_node_t *o)
{
    uint32_t            *spans;
    ngx_uint_t           i;
    const ngx_rh_set_t  *set;

    set = &ngx_rh_sets[o->set];
    spans = ngx_http_rh_spans(o);

    for (i = 0; i < set->nprops; i++) {
        if (set->props[i].kind == NGX_RH_DATETIME) {
            return ngx_rh_moment(ngx_http_rh_json(o) + spans[2 * i],
                                 spans[2 * i + 1], 1);
        }
    }

    return 0;
}
