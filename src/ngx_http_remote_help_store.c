
/*
 * ngx_http_remote_help_module: the shared-memory store.
 *
 * Every object is one chunk: a header with the rbtree node, the spans
 * of its property literals, its key, and its JSON rendered once at
 * write time.  Chunks come in size classes 1/16 of a power of two apart,
 * carved from blocks of slab pages (the slab's own classes are powers of
 * two: a 780-byte object would take 1,024 bytes).  Lookups go through
 * a hash table of chains.  Listings go through one rbtree per set,
 * ordered by creation: a new object goes to the right end of its tree,
 * down a path that stays in the cache, where a tree ordered by key
 * costs a cache miss per level.
 * Readers share an ngx_rwlock; writers hold it exclusively, and the slab
 * is only touched under it, so the slab's own mutex is not needed.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_state.h"


static ngx_uint_t ngx_http_remote_help_class(size_t size);
static size_t ngx_http_remote_help_class_size(ngx_uint_t cls);
static void ngx_http_remote_help_heap_init(ngx_http_remote_help_heap_t *heap,
    size_t zone_size);
static ngx_http_remote_help_node_t *ngx_http_remote_help_alloc(
    ngx_http_remote_help_zone_t *zone, size_t size);
static void ngx_http_remote_help_free(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n);
static size_t ngx_http_remote_help_capacity(ngx_http_remote_help_node_t *n);
static void ngx_http_remote_help_prefault(ngx_http_remote_help_zone_t *zone);
static ngx_http_remote_help_node_t *ngx_http_remote_help_lookup(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t set, uint32_t hash,
    ngx_str_t *key);
static void ngx_http_remote_help_link(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n);
static void ngx_http_remote_help_order_insert(
    ngx_http_remote_help_order_t *order, ngx_rbtree_node_t *node);
static void ngx_http_remote_help_order_append(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_remote_help_order_delete(
    ngx_http_remote_help_order_t *order, ngx_rbtree_node_t *node);
static void ngx_http_remote_help_unlink(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n);
static ngx_int_t ngx_http_remote_help_map_init(
    ngx_http_remote_help_zone_t *zone, void *data);
static ngx_int_t ngx_http_remote_help_copy_zone(
    ngx_http_remote_help_zone_t *zone, ngx_cycle_t *cycle,
    ngx_http_remote_help_zone_t **old);
static ngx_int_t ngx_http_remote_help_wlock(ngx_http_remote_help_sh_t *sh,
    ngx_uint_t journal);
static ngx_int_t ngx_http_remote_help_unlock(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_record_t *rec,
    uint64_t seq);
static void ngx_http_remote_help_unretire(void *data);
static ngx_int_t ngx_http_remote_help_committed(
    ngx_http_remote_help_zone_t *zone, void *data);
static ngx_int_t ngx_http_remote_help_same(ngx_http_remote_help_zone_t *zone,
    void *data);


/*
 * A block of slab pages, with its chunks of one size class after this
 * header: the ones never used yet from "top" on, the freed ones linked
 * through their first word.
 */

typedef struct {
    ngx_queue_t                   queue;        /* in heap->room[cls] */
    void                         *free;
    uint32_t                      used;         /* chunks handed out */
    uint32_t                      top;
    uint32_t                      cls;
} ngx_http_remote_help_block_t;


#define NGX_HTTP_RH_BLOCK_HEADER                                             \
    ngx_align(sizeof(ngx_http_remote_help_block_t), 16)

/* no chunk left: none freed, no room for another after "top" */
#define ngx_http_rh_block_full(b, chunk, heap)                               \
    ((b)->free == NULL && (b)->top + (chunk) > (heap)->block)

/* a class is used when a block holds at least this many of its chunks */
#define NGX_HTTP_RH_BLOCK_MIN     8


/* classes of 16 to 256 bytes 16 apart, then 16 per power of two */

static ngx_uint_t
ngx_http_remote_help_class(size_t size)
{
    ngx_uint_t  bits;

    if (size <= 256) {
        return (size + 15) / 16 - (size != 0);
    }

    /* 2^bits < size <= 2^(bits + 1) */

    for (bits = 8; ((size_t) 2 << bits) < size; bits++) { /* void */ }

    return 16 + (bits - 8) * 16
           + (size - ((size_t) 1 << bits) - 1) / ((size_t) 1 << (bits - 4));
}


static size_t
ngx_http_remote_help_class_size(ngx_uint_t cls)
{
    ngx_uint_t  bits;

    if (cls < 16) {
        return (cls + 1) * 16;
    }

    bits = 8 + (cls - 16) / 16;

    return ((size_t) 1 << bits) + ((cls % 16) + 1) * ((size_t) 1 << (bits - 4));
}


static void
ngx_http_remote_help_heap_init(ngx_http_remote_help_heap_t *heap,
    size_t zone_size)
{
    ngx_uint_t  i;

    /* 64 KB, or less in zones under 8 MB, so that they hold 128 blocks */

    for (heap->block = 65536;
         heap->block > ngx_pagesize && heap->block * 128 > zone_size;
         heap->block /= 2)
    { /* void */ }

    for (i = 0; i < NGX_HTTP_RH_CLASSES; i++) {
        ngx_queue_init(&heap->room[i]);
    }
}


/* under the zone's write lock; NULL: the zone is full */

static ngx_http_remote_help_node_t *
ngx_http_remote_help_alloc(ngx_http_remote_help_zone_t *zone, size_t size)
{
    u_char                        *p;
    size_t                         chunk;
    ngx_uint_t                     i, cls;
    ngx_queue_t                   *room;
    ngx_http_remote_help_heap_t   *heap;
    ngx_http_remote_help_node_t   *n;
    ngx_http_remote_help_block_t  *b;

    heap = &zone->sh->heap;
    cls = ngx_http_remote_help_class(size);

    if (cls >= NGX_HTTP_RH_CLASSES) {
        goto slab;
    }

    chunk = ngx_http_remote_help_class_size(cls);

    if (NGX_HTTP_RH_BLOCK_HEADER + NGX_HTTP_RH_BLOCK_MIN * chunk
        > heap->block)
    {
        goto slab;
    }

    room = &heap->room[cls];

    if (ngx_queue_empty(room)) {
        b = ngx_slab_alloc_locked(zone->shpool, heap->block);

        if (b == NULL) {
            /* no run of free pages that long: a chunk of the slab's */
            goto slab;
        }

        b->free = NULL;
        b->used = 0;
        b->top = NGX_HTTP_RH_BLOCK_HEADER;
        b->cls = (uint32_t) cls;

        ngx_queue_insert_head(room, &b->queue);

        if (zone->mapped == NULL) {
            zone->fresh = b;
        }

    } else {
        b = ngx_queue_data(ngx_queue_head(room), ngx_http_remote_help_block_t,
                           queue);
    }

    if (zone->mapped) {
        /* a block new to this process: mapped after the lock is left */

        i = ((u_char *) b - (u_char *) zone->shpool) >> ngx_pagesize_shift;

        if (!(zone->mapped[i >> 3] & (1 << (i & 7)))) {
            zone->mapped[i >> 3] |= (u_char) (1 << (i & 7));
            zone->fresh = b;
        }
    }

    if (b->free) {
        p = b->free;
        b->free = *(void **) p;

    } else {
        p = (u_char *) b + b->top;
        b->top += (uint32_t) chunk;
    }

    b->used++;

    if (ngx_http_rh_block_full(b, chunk, heap)) {
        ngx_queue_remove(&b->queue);
    }

    n = (ngx_http_remote_help_node_t *) p;
    n->cls = (u_char) cls;
    n->block = (uint32_t) (p - (u_char *) b);

    return n;

slab:

    n = ngx_slab_alloc_locked(zone->shpool, size);

    if (n) {
        n->cls = NGX_HTTP_RH_NOCLASS;
        n->block = 0;
    }

    return n;
}


static void
ngx_http_remote_help_free(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n)
{
    size_t                         chunk;
    ngx_uint_t                     full;
    ngx_http_remote_help_heap_t   *heap;
    ngx_http_remote_help_block_t  *b;

    if (n->cls == NGX_HTTP_RH_NOCLASS) {
        ngx_slab_free_locked(zone->shpool, n);
        return;
    }

    heap = &zone->sh->heap;
    b = (ngx_http_remote_help_block_t *) ((u_char *) n - n->block);
    chunk = ngx_http_remote_help_class_size(b->cls);

    full = ngx_http_rh_block_full(b, chunk, heap);

    *(void **) n = b->free;
    b->free = n;

    if (--b->used == 0) {
        if (!full) {
            ngx_queue_remove(&b->queue);
        }

        ngx_slab_free_locked(zone->shpool, b);
        return;
    }

    if (full) {
        ngx_queue_insert_head(&heap->room[b->cls], &b->queue);
    }
}


/*
 * The pages of a block this process writes to for the first time are
 * faulted in after the zone's lock is left, rather than one by one by
 * the writes under it, while the other workers wait for the lock: a
 * first touch of shared memory costs a page clear in the kernel, and a
 * page another worker cleared still costs this process a fault to map
 * it.  A worker remembers the blocks it has mapped (zone->mapped, a bit
 * per page, where a block starts); a block freed and taken again at the
 * same place stays mapped.  MADV_POPULATE_WRITE changes no byte: the
 * block may meanwhile be in use by another worker, or freed.
 */

static void
ngx_http_remote_help_prefault(ngx_http_remote_help_zone_t *zone)
{
    u_char  *p, *end;

    p = zone->fresh;
    end = p + zone->sh->heap.block;

    zone->fresh = NULL;

#if (NGX_LINUX && defined MADV_POPULATE_WRITE)

    if (madvise(p, end - p, MADV_POPULATE_WRITE) == 0) {
        return;
    }

#endif

    /* older kernels: a read fault of shared memory maps a page too */

    for ( /* void */ ; p < end; p += ngx_pagesize) {
        (void) *(volatile u_char *) p;
    }
}


/* what the object's chunk holds */

static size_t
ngx_http_remote_help_capacity(ngx_http_remote_help_node_t *n)
{
    size_t  size, chunk;

    if (n->cls != NGX_HTTP_RH_NOCLASS) {
        return ngx_http_remote_help_class_size(n->cls);
    }

    size = ngx_http_rh_size(n);

    if (size > ngx_pagesize / 2) {
        return ngx_align(size, ngx_pagesize);
    }

    for (chunk = 8; chunk < size; chunk <<= 1) { /* void */ }

    return chunk;
}


static ngx_http_remote_help_node_t *
ngx_http_remote_help_lookup(ngx_http_remote_help_zone_t *zone,
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


static void
ngx_http_remote_help_link(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_node_t *n)
{
    ngx_http_remote_help_node_t  **bucket;

    bucket = &zone->buckets[n->hash & zone->mask];

    n->next = *bucket;
    *bucket = n;
}


static void
ngx_http_remote_help_unlink(ngx_http_remote_help_zone_t *zone,
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

static void
ngx_http_remote_help_order_insert(ngx_http_remote_help_order_t *order,
    ngx_rbtree_node_t *node)
{
    if (order->last && node->key > order->last->key) {
        order->rbtree.insert = ngx_http_remote_help_order_append;

    } else {
        order->rbtree.insert = ngx_rbtree_insert_value;
    }

    ngx_rbtree_insert(&order->rbtree, node);

    if (order->last == NULL || node->key > order->last->key) {
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


static void
ngx_http_remote_help_order_delete(ngx_http_remote_help_order_t *order,
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
ngx_http_remote_help_store_first(ngx_http_remote_help_sh_t *sh,
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


ngx_int_t
ngx_http_remote_help_store_get(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_pool_t *pool,
    ngx_http_remote_help_obj_t *obj)
{
    uint32_t                      hash;
    ngx_http_remote_help_sh_t    *sh;
    ngx_http_remote_help_node_t  *n;

    sh = zone->sh;
    hash = ngx_murmur_hash2(key->data, key->len);

    ngx_rwlock_rlock(&sh->lock);

    n = ngx_http_remote_help_lookup(zone, set, hash, key);

    if (n == NULL) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_RH_MISSING;
    }

    obj->json.data = ngx_pnalloc(pool, n->json_len);
    if (obj->json.data == NULL) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_ERROR;
    }

    obj->json.len = n->json_len;
    obj->seq = n->seq;

    ngx_memcpy(obj->json.data, ngx_http_rh_json(n), n->json_len);
    ngx_memcpy(obj->spans, ngx_http_rh_spans(n), 8 * n->nprops);

    ngx_rwlock_unlock(&sh->lock);

    return NGX_OK;
}


/*
 * A write takes the zone's write lock here: not in a zone retired by a
 * resize, nor, with state=, in one whose state file failed.
 */

static ngx_int_t
ngx_http_remote_help_wlock(ngx_http_remote_help_sh_t *sh,
    ngx_uint_t journal)
{
    ngx_rwlock_wlock(&sh->lock);

    if (sh->retired) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_RH_RETIRED;
    }

    if (journal && sh->state.broken) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_RH_NOSTATE;
    }

    return NGX_OK;
}


/*
 * ... and leaves it once the change with that sequence number is made;
 * its record goes to the state file outside the zone's lock, so readers
 * do not wait for the disk; a replay keeps each key's highest number
 */

static ngx_int_t
ngx_http_remote_help_unlock(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_record_t *rec, uint64_t seq)
{
    if (rec) {
        (void) ngx_atomic_fetch_add(&zone->sh->state.pending, 1);
    }

    ngx_rwlock_unlock(&zone->sh->lock);

    if (rec && ngx_http_remote_help_state_append(zone, rec, seq) != NGX_OK) {
        return NGX_HTTP_RH_NOSTATE;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_store_put(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_str_t *json, uint32_t *spans,
    uint64_t seq)
{
    size_t                         size;
    uint32_t                       hash;
    ngx_int_t                      rc;
    ngx_uint_t                     nprops, journal;
    ngx_rbtree_key_t               created;
    ngx_http_remote_help_sh_t     *sh;
    ngx_http_remote_help_node_t   *n, *old;
    ngx_http_remote_help_record_t  rec;

    sh = zone->sh;
    hash = ngx_murmur_hash2(key->data, key->len);
    nprops = ngx_rh_sets[set].nprops;

    size = offsetof(ngx_http_remote_help_node_t, data) + 8 * nprops
           + key->len + json->len;

    journal = (zone->state && !zone->state->loading);

    if (journal) {
        ngx_http_remote_help_state_record(&rec, NGX_HTTP_RH_OP_PUT, set,
                                          nprops, spans, key, json);
    }

    rc = ngx_http_remote_help_wlock(sh, journal);

    if (rc != NGX_OK) {
        return rc;
    }

    old = ngx_http_remote_help_lookup(zone, set, hash, key);

    if (seq == NGX_HTTP_RH_CREATE) {
        if (old) {
            ngx_rwlock_unlock(&sh->lock);
            return NGX_HTTP_RH_EXISTS;
        }

    } else if (seq & NGX_HTTP_RH_REPLAY) {

        if (old && old->seq > (seq & ~NGX_HTTP_RH_REPLAY)) {
            /* a later version is there */
            ngx_rwlock_unlock(&sh->lock);
            return NGX_OK;
        }

    } else if (old == NULL) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_RH_MISSING;

    } else if (old->seq != seq) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_RH_CHANGED;
    }

    if (old && size <= ngx_http_remote_help_capacity(old)) {

        /*
         * the new version fits the old one's chunk: written in
         * place, at the same place in the tree, nothing to allocate
         */

        n = old;

    } else {
        n = ngx_http_remote_help_alloc(zone, size);

        if (n == NULL) {
            ngx_rwlock_unlock(&sh->lock);
            return NGX_HTTP_RH_NOSPACE;
        }
    }

    /* a new version keeps its place in listings */

    created = old ? old->node.key : ++sh->created;

    if (old) {
        sh->live -= ngx_http_rh_record_size(old->nprops, old->key_len,
                                            old->json_len);

        if (n != old) {
            ngx_http_remote_help_unlink(zone, old);
            ngx_http_remote_help_order_delete(&sh->order[set], &old->node);
            ngx_http_remote_help_free(zone, old);
        }

    } else {
        sh->objects[set]++;
    }

    n->node.key = created;

    if (seq & NGX_HTTP_RH_REPLAY) {
        n->seq = seq & ~NGX_HTTP_RH_REPLAY;
        sh->seq = ngx_max(sh->seq, n->seq);

    } else {
        n->seq = ++sh->seq;
    }

    n->hash = hash;
    n->key_len = (uint32_t) key->len;
    n->json_len = (uint32_t) json->len;
    n->set = (u_char) set;
    n->nprops = (u_char) nprops;

    ngx_memcpy(ngx_http_rh_spans(n), spans, 8 * nprops);
    ngx_memcpy(ngx_http_rh_key(n), key->data, key->len);
    ngx_memcpy(ngx_http_rh_json(n), json->data, json->len);

    if (n != old) {
        ngx_http_remote_help_link(zone, n);
        ngx_http_remote_help_order_insert(&sh->order[set], &n->node);
    }

    sh->live += ngx_http_rh_record_size(nprops, key->len, json->len);

    rc = ngx_http_remote_help_unlock(zone, journal ? &rec : NULL, n->seq);

    if (zone->fresh) {
        ngx_http_remote_help_prefault(zone);
    }

    return rc;
}


/* seq: only a version older than this is deleted (a replay); 0: any */

ngx_int_t
ngx_http_remote_help_store_delete(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, uint64_t seq)
{
    uint32_t                       hash;
    ngx_int_t                      rc;
    ngx_uint_t                     journal;
    ngx_http_remote_help_sh_t     *sh;
    ngx_http_remote_help_node_t   *n;
    ngx_http_remote_help_record_t  rec;

    sh = zone->sh;
    hash = ngx_murmur_hash2(key->data, key->len);

    journal = (zone->state && !zone->state->loading);

    if (journal) {
        ngx_http_remote_help_state_record(&rec, NGX_HTTP_RH_OP_DELETE, set,
                                          0, NULL, key, NULL);
    }

    rc = ngx_http_remote_help_wlock(sh, journal);

    if (rc != NGX_OK) {
        return rc;
    }

    n = ngx_http_remote_help_lookup(zone, set, hash, key);

    if (n == NULL || (seq && n->seq > seq)) {
        ngx_rwlock_unlock(&sh->lock);
        return NGX_HTTP_RH_MISSING;
    }

    sh->live -= ngx_http_rh_record_size(n->nprops, n->key_len, n->json_len);

    ngx_http_remote_help_unlink(zone, n);
    ngx_http_remote_help_order_delete(&sh->order[set], &n->node);
    ngx_http_remote_help_free(zone, n);
    sh->objects[set]--;

    /* the deletion's own sequence number, taken under the lock */

    return ngx_http_remote_help_unlock(zone, journal ? &rec : NULL,
                                       ++sh->seq);
}


ngx_int_t
ngx_http_remote_help_store_list(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, uint64_t after, ngx_uint_t top, ngx_pool_t *pool,
    ngx_array_t *items, uint64_t *last, ngx_uint_t *more)
{
    ngx_str_t                    *item;
    ngx_rbtree_node_t            *node;
    ngx_http_remote_help_sh_t    *sh;
    ngx_http_remote_help_node_t  *n;

    sh = zone->sh;

    *more = 0;
    *last = 0;

    ngx_rwlock_rlock(&sh->lock);

    n = ngx_http_remote_help_store_first(sh, set, after);

    while (n) {

        if (items->nelts == top) {
            *more = 1;
            break;
        }

        item = ngx_array_push(items);
        if (item == NULL) {
            goto failed;
        }

        item->data = ngx_pnalloc(pool, n->json_len);
        if (item->data == NULL) {
            goto failed;
        }

        item->len = n->json_len;
        ngx_memcpy(item->data, ngx_http_rh_json(n), n->json_len);

        *last = n->node.key;

        node = ngx_rbtree_next(&sh->order[set].rbtree, &n->node);
        n = (ngx_http_remote_help_node_t *) node;
    }

    ngx_rwlock_unlock(&sh->lock);

    return NGX_OK;

failed:

    ngx_rwlock_unlock(&sh->lock);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_remote_help_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_remote_help_zone_t  *ozone = data;

    size_t                        len, buckets;
    ngx_uint_t                    i;
    ngx_http_remote_help_sh_t    *sh;
    ngx_http_remote_help_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        /* a reload with the size unchanged: the zone lives on */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        zone->buckets = ozone->buckets;
        zone->mask = ozone->mask;
        return ngx_http_remote_help_state_load(zone, ozone);
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        zone->buckets = zone->sh->buckets;
        zone->mask = zone->sh->mask;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(zone->shpool, sizeof(ngx_http_remote_help_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh, sizeof(ngx_http_remote_help_sh_t));

    zone->sh = sh;
    zone->shpool->data = sh;

    for (i = 0; i < NGX_RH_NSETS; i++) {
        ngx_rbtree_init(&sh->order[i].rbtree, &sh->order[i].sentinel,
                        ngx_rbtree_insert_value);
    }

    ngx_http_remote_help_heap_init(&sh->heap, shm_zone->shm.size);

    /*
     * a bucket per 512 bytes of zone, a power of two: a zone full of
     * objects of the reference examples' size (about 800 bytes each)
     * keeps its chains shorter than one node on average
     */

    for (buckets = 64; buckets * 2 * 512 <= shm_zone->shm.size; buckets *= 2)
    { /* void */ }

    sh->buckets = ngx_slab_calloc(zone->shpool, buckets * sizeof(void *));
    if (sh->buckets == NULL) {
        return NGX_ERROR;
    }

    sh->mask = (uint32_t) (buckets - 1);

    /* the hot paths read the process's copies, not a line of sh */
    zone->buckets = sh->buckets;
    zone->mask = sh->mask;

    len = sizeof(" in remote_help_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in remote_help_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is answered with 507, not logged */
    zone->shpool->log_nomem = 0;

    ozone = NULL;

    if (ngx_http_remote_help_copy_zone(zone, (ngx_cycle_t *) ngx_cycle, &ozone)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_remote_help_state_load(zone, ozone);
}


/*
 * A reload that changed the zone's size gets a new zone; the old one is
 * still mapped while the new cycle initializes, so its objects are
 * copied over.  A new zone too small for them fails the reload.  From
 * the copy on, the old zone is retired: the old workers answer writes
 * with 503, so none is lost between the copy and their exit, and none
 * reaches the state file under the old zone's lock.  If the new cycle
 * fails, the new cycle's pool cleanup gives the old zone back.
 */

static ngx_int_t
ngx_http_remote_help_copy_zone(ngx_http_remote_help_zone_t *zone,
    ngx_cycle_t *cycle, ngx_http_remote_help_zone_t **old)
{
    size_t                        size;
    u_char                        cls;
    uint32_t                      block;
    ngx_uint_t                    i, set, copied;
    ngx_rbtree_t                 *tree;
    ngx_rbtree_node_t            *node;
    ngx_http_remote_help_sh_t    *osh;
    ngx_http_remote_help_zone_t  *ozone;
    ngx_pool_cleanup_t           *cln;
    ngx_http_remote_help_node_t  *n, *copy;

    ozone = zone;

    if (ngx_http_remote_help_store_zones(cycle, ngx_http_remote_help_same,
                                         &ozone)
        != NGX_DONE)
    {
        return NGX_OK;
    }

    if (ozone->sh == NULL) {
        return NGX_OK;
    }

    osh = ozone->sh;
    copied = 0;

    cln = ngx_pool_cleanup_add(zone->cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    *old = ozone;

    ngx_rwlock_wlock(&osh->lock);
    osh->retired = 1;
    ngx_rwlock_unlock(&osh->lock);

    zone->retire = osh;
    cln->handler = ngx_http_remote_help_unretire;
    cln->data = zone;

    /* changes made before are in the state file before the copy */

    for (i = 0; osh->state.pending && i < 1000; i++) {
        ngx_msleep(1);
    }

    ngx_rwlock_wlock(&osh->lock);

    for (set = 0; set < NGX_RH_NSETS; set++) {

        tree = &osh->order[set].rbtree;

        if (tree->root == tree->sentinel) {
            continue;
        }

        for (node = ngx_rbtree_min(tree->root, tree->sentinel);
             node;
             node = ngx_rbtree_next(tree, node))
        {
            n = (ngx_http_remote_help_node_t *) node;
            size = ngx_http_rh_size(n);

            copy = ngx_http_remote_help_alloc(zone, size);
            if (copy == NULL) {
                ngx_rwlock_unlock(&osh->lock);
                *old = NULL;
                ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                              "remote_help_zone \"%V\" is too small for the "
                              "objects it holds: copied %ui of them",
                              &zone->name, copied);
                return NGX_ERROR;
            }

            cls = copy->cls;
            block = copy->block;

            ngx_memcpy(copy, n, size);

            copy->cls = cls;
            copy->block = block;

            ngx_http_remote_help_link(zone, copy);
            ngx_http_remote_help_order_insert(&zone->sh->order[set],
                                              &copy->node);
            copied++;
        }
    }

    zone->sh->seq = osh->seq;
    zone->sh->created = osh->created;
    zone->sh->live = osh->live;
    ngx_memcpy(zone->sh->objects, osh->objects, sizeof(osh->objects));

    zone->sh->state.size = osh->state.size;
    zone->sh->state.gen = osh->state.gen;
    zone->sh->state.broken = osh->state.broken;
    zone->sh->state.compactions = osh->state.compactions;

    osh->state.abort = 1;

    ngx_rwlock_unlock(&osh->lock);

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "remote_help_zone \"%V\" resized, %ui objects kept",
                  &zone->name, copied);

    return NGX_OK;
}


/* the new cycle failed before it was committed: the old zone goes on */

static void
ngx_http_remote_help_unretire(void *data)
{
    ngx_http_remote_help_zone_t  *zone = data;

    ngx_http_remote_help_sh_t  *osh;

    osh = zone->retire;

    if (osh == NULL) {
        return;
    }

    ngx_rwlock_wlock(&osh->lock);
    osh->retired = 0;
    ngx_rwlock_unlock(&osh->lock);
}


/* init_module: the new cycle is committed, the retired zones stay so */

void
ngx_http_remote_help_store_commit(ngx_cycle_t *cycle)
{
    (void) ngx_http_remote_help_store_zones(cycle,
                                            ngx_http_remote_help_committed,
                                            NULL);
}


static ngx_int_t
ngx_http_remote_help_committed(ngx_http_remote_help_zone_t *zone, void *data)
{
    zone->retire = NULL;

    return NGX_OK;
}


/* *data: the zone of the new cycle in, the one of the same name out */

static ngx_int_t
ngx_http_remote_help_same(ngx_http_remote_help_zone_t *zone, void *data)
{
    ngx_http_remote_help_zone_t  **found = data;

    if (zone->name.len == (*found)->name.len
        && ngx_strncmp(zone->name.data, (*found)->name.data, zone->name.len)
           == 0)
    {
        *found = zone;
        return NGX_DONE;
    }

    return NGX_OK;
}


/*
 * Each worker starts with none of the zone's pages mapped (a fork does
 * not copy the page tables of shared memory): its own empty bitmap.
 */

ngx_int_t
ngx_http_remote_help_store_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_remote_help_store_zones(cycle,
                                            ngx_http_remote_help_map_init,
                                            cycle);
}


static ngx_int_t
ngx_http_remote_help_map_init(ngx_http_remote_help_zone_t *zone, void *data)
{
    ngx_cycle_t  *cycle = data;

    size_t  size;

    if (zone->sh == NULL) {
        return NGX_OK;
    }

    size = (zone->shm_zone->shm.size >> ngx_pagesize_shift) / 8 + 1;

    zone->mapped = ngx_pcalloc(cycle->pool, size);
    if (zone->mapped == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_store_zones(ngx_cycle_t *cycle,
    ngx_http_remote_help_zone_pt handler, void *data)
{
    ngx_int_t         rc;
    ngx_uint_t        i;
    ngx_shm_zone_t   *shm;
    ngx_list_part_t  *part;

    part = &cycle->shared_memory.part;
    shm = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_OK;
            }

            part = part->next;
            shm = part->elts;
            i = 0;
        }

        /* zones only named by remote_help, never declared, have no init */

        if (shm[i].init != ngx_http_remote_help_init_zone
            || shm[i].data == NULL)
        {
            continue;
        }

        rc = handler(shm[i].data, data);

        if (rc != NGX_OK) {
            return rc;
        }
    }
}
