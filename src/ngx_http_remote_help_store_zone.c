
/*
 * ngx_http_remote_help_module: a zone's life: its shared memory made or
 * adopted by a reload (and its lifetimes computed again when timeout=
 * or expire= changed), the copy into a zone of a new size, the commit
 * of a new cycle, a worker's start and exit, and the walk over the
 * zones of the module's main configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_store_zone.h"


static void ngx_http_remote_help_reindex_locked(
    ngx_http_remote_help_zone_t *zone);
static ngx_int_t ngx_http_remote_help_copy_zone(
    ngx_http_remote_help_zone_t *zone, ngx_cycle_t *cycle,
    ngx_http_remote_help_zone_t **old);
static void ngx_http_remote_help_unretire(void *data);
static ngx_int_t ngx_http_remote_help_committed(
    ngx_http_remote_help_zone_t *zone, void *data);
static ngx_int_t ngx_http_remote_help_map_init(
    ngx_http_remote_help_zone_t *zone, void *data);
static ngx_int_t ngx_http_remote_help_map_exit(
    ngx_http_remote_help_zone_t *zone, void *data);
static ngx_int_t ngx_http_remote_help_same_kind(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_zone_t *ozone);
static ngx_http_remote_help_zone_t *ngx_http_remote_help_old_zone(
    ngx_cycle_t *cycle, ngx_http_remote_help_zone_t *zone);


/*
 * A reload that changed timeout= or expire=: every object's moment is
 * computed again with them, from its last write and its
 * sessionExpirationDateTime.
 */

static void
ngx_http_remote_help_reindex_locked(ngx_http_remote_help_zone_t *zone)
{
    ngx_uint_t                    set, n;
    ngx_rbtree_t                 *tree;
    ngx_rbtree_node_t            *node;
    ngx_http_remote_help_sh_t    *sh;
    ngx_http_remote_help_node_t  *o;
    ngx_http_remote_help_life_t  *l;

    sh = zone->sh;
    n = 0;

    ngx_rbtree_init(&sh->expiry.rbtree, &sh->expiry.sentinel,
                    ngx_rbtree_insert_value);
    sh->expiry.last = NULL;

    for (set = 0; set < NGX_RH_NSETS; set++) {

        tree = &sh->order[set].rbtree;

        if (tree->root == tree->sentinel) {
            continue;
        }

        for (node = ngx_rbtree_min(tree->root, tree->sentinel);
             node;
             node = ngx_rbtree_next(tree, node))
        {
            o = (ngx_http_remote_help_node_t *) node;
            o->flags &= ~NGX_HTTP_RH_QUEUED;

            if (!(o->flags & NGX_HTTP_RH_LIFE)) {
                /* written while the zone had no lifetimes */
                continue;
            }

            l = ngx_http_rh_life(o);
            o->death = ngx_http_remote_help_store_death(zone, l->written,
                                                        l->until);
            ngx_http_remote_help_expiry_insert_locked(sh, o);
            n++;
        }
    }

    sh->timeout = zone->timeout;
    sh->expire = (ngx_uint_t) zone->expire;

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "remote_help_zone \"%V\": the lifetimes of %ui objects "
                  "follow timeout=%M expire=%s now", &zone->name, n,
                  zone->timeout, zone->expire ? "on" : "off");
}


ngx_int_t
ngx_http_remote_help_store_init(ngx_shm_zone_t *shm_zone, void *data,
    ngx_http_remote_help_zone_t **old)
{
    ngx_http_remote_help_zone_t  *ozone = data;

    size_t                        len, buckets;
    ngx_uint_t                    i;
    ngx_http_remote_help_sh_t    *sh;
    ngx_http_remote_help_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        if (ngx_http_remote_help_same_kind(zone, ozone) != NGX_OK) {
            return NGX_ERROR;
        }

        /* a reload with the size unchanged: the zone lives on */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        zone->buckets = ozone->buckets;
        zone->mask = ozone->mask;
        *old = ozone;

        sh = zone->sh;

        if (sh->timeout != zone->timeout
            || sh->expire != (ngx_uint_t) zone->expire)
        {

            if (ngx_http_remote_help_lock_write(zone) != NGX_OK) {
                ngx_http_remote_help_wunlock(&sh->lock);
                return NGX_ERROR;
            }

            ngx_http_remote_help_reindex_locked(zone);

            ngx_http_remote_help_wunlock(&sh->lock);
        }

        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        zone->buckets = zone->sh->buckets;
        zone->mask = zone->sh->mask;
        return NGX_DONE;
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

    ngx_rbtree_init(&sh->expiry.rbtree, &sh->expiry.sentinel,
                    ngx_rbtree_insert_value);
    sh->expiry.last = NULL;

    sh->timeout = zone->timeout;
    sh->expire = (ngx_uint_t) zone->expire;

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

    /* last: the heap takes the pages left */

    if (ngx_http_remote_help_heap_init(&sh->heap, zone->shpool,
                                       shm_zone->shm.size)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                      "remote_help_zone \"%V\" is too small",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    ozone = NULL;

    if (ngx_http_remote_help_copy_zone(zone, (ngx_cycle_t *) ngx_cycle, &ozone)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    *old = ozone;

    return NGX_OK;
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
    ngx_http_remote_help_life_t  *l;

    ozone = ngx_http_remote_help_old_zone(cycle, zone);

    if (ozone == NULL || ozone->sh == NULL) {
        return NGX_OK;
    }

    if (ngx_http_remote_help_same_kind(zone, ozone) != NGX_OK) {
        return NGX_ERROR;
    }

    if (zone->backend_name.len) {
        /*
         * copies need no copy: the new workers' listener drops them when
         * it starts hearing changes; the old workers keep theirs
         */
        return NGX_OK;
    }

    osh = ozone->sh;
    copied = 0;

    cln = ngx_pool_cleanup_add(zone->cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    *old = ozone;

    if (ngx_http_remote_help_lock_write(ozone) != NGX_OK) {
        ngx_http_remote_help_wunlock(&osh->lock);
        *old = NULL;
        return NGX_ERROR;
    }

    osh->retired = 1;
    ngx_http_remote_help_wunlock(&osh->lock);

    zone->retire = osh;
    cln->handler = ngx_http_remote_help_unretire;
    cln->data = zone;

    /* writes made before have finished what follows them (an append) */

    for (i = 0; osh->inflight && i < 1000; i++) {
        ngx_msleep(1);
    }

    if (ngx_http_remote_help_lock_write(ozone) != NGX_OK) {
        ngx_http_remote_help_wunlock(&osh->lock);
        *old = NULL;
        return NGX_ERROR;
    }

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

            copy = ngx_http_remote_help_alloc_locked(zone, size,
                                                     n->flags
                                                     & NGX_HTTP_RH_LIFE);
            if (copy == NULL) {
                ngx_http_remote_help_wunlock(&osh->lock);
                *old = NULL;
                ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                              "remote_help_zone \"%V\" is too small for the "
                              "objects it holds: copied %ui of them",
                              &zone->name, copied);
                return NGX_ERROR;
            }

            cls = copy->cls;
            block = copy->block;

            ngx_memcpy(ngx_http_rh_chunk(copy), ngx_http_rh_chunk(n), size);

            copy->cls = cls;
            copy->block = block;
            copy->flags &= ~NGX_HTTP_RH_QUEUED;

            ngx_http_remote_help_link_locked(zone, copy);
            ngx_http_remote_help_order_insert_locked(&zone->sh->order[set],
                                                     &copy->node);

            if (copy->flags & NGX_HTTP_RH_LIFE) {
                l = ngx_http_rh_life(copy);
                copy->death = ngx_http_remote_help_store_death(zone,
                                                               l->written,
                                                               l->until);
                ngx_http_remote_help_expiry_insert_locked(zone->sh, copy);
            }
            copied++;
        }
    }

    zone->sh->seq = osh->seq;
    zone->sh->created = osh->created;
    zone->sh->bytes = osh->bytes;
    zone->sh->expired = osh->expired;
    ngx_memcpy(zone->sh->objects, osh->objects, sizeof(osh->objects));

    ngx_http_remote_help_wunlock(&osh->lock);

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

    /* a rebuild this cannot make is left to the old workers */

    if (ngx_http_remote_help_wlock(&osh->lock) == NGX_HTTP_RH_ORPHANED) {
        osh->repair = 1;
    }

    osh->retired = 0;
    ngx_http_remote_help_wunlock(&osh->lock);
}


/* init_module: the new cycle is committed, the retired zones stay so */

void
ngx_http_remote_help_store_commit(ngx_array_t *zones)
{
    (void) ngx_http_remote_help_store_each(zones,
                                           ngx_http_remote_help_committed,
                                           NULL);
}


static ngx_int_t
ngx_http_remote_help_committed(ngx_http_remote_help_zone_t *zone, void *data)
{
    zone->retire = NULL;

    return NGX_OK;
}


/*
 * Each worker starts with none of the zone's blocks mapped (a fork does
 * not copy the page tables of shared memory): its own empty bitmap; and
 * it takes a reader's slot in the zone's lock, given back at its exit.
 */

ngx_int_t
ngx_http_remote_help_store_init_process(ngx_cycle_t *cycle,
    ngx_array_t *zones)
{
    return ngx_http_remote_help_store_each(zones,
                                           ngx_http_remote_help_map_init,
                                           cycle);
}


void
ngx_http_remote_help_store_exit_process(ngx_array_t *zones)
{
    (void) ngx_http_remote_help_store_each(zones,
                                           ngx_http_remote_help_map_exit,
                                           NULL);
}


static ngx_int_t
ngx_http_remote_help_map_init(ngx_http_remote_help_zone_t *zone, void *data)
{
    ngx_cycle_t  *cycle = data;

    if (zone->sh == NULL) {
        return NGX_OK;
    }

    zone->reader = ngx_http_remote_help_rwlock_slot(&zone->sh->lock);

    if (zone->reader == NULL) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "remote_help_zone \"%V\": all %d reader slots are "
                      "taken, this process reads under the write lock",
                      &zone->name, NGX_HTTP_RH_READERS);
    }

    return ngx_http_remote_help_heap_local_init(&zone->sh->heap,
                                                &zone->local, cycle->pool);
}


static ngx_int_t
ngx_http_remote_help_map_exit(ngx_http_remote_help_zone_t *zone, void *data)
{
    if (zone->sh) {
        ngx_http_remote_help_rwlock_release(&zone->sh->lock, zone->reader);
        zone->reader = NULL;
    }

    return NGX_OK;
}


/* calls handler for each zone of the list until one does not return NGX_OK */

ngx_int_t
ngx_http_remote_help_store_each(ngx_array_t *zones,
    ngx_http_remote_help_zone_pt handler, void *data)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i;
    ngx_http_remote_help_zone_t  **zone;

    if (zones == NULL) {
        return NGX_OK;
    }

    zone = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        rc = handler(zone[i], data);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/*
 * A zone of objects and a zone of a backend's copies are not each other:
 * what one holds would be wrong in the other
 */

static ngx_int_t
ngx_http_remote_help_same_kind(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_zone_t *ozone)
{
    if (ozone->backend_name.len == zone->backend_name.len
        && ngx_strncmp(ozone->backend_name.data, zone->backend_name.data,
                       zone->backend_name.len)
           == 0)
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, 0,
                  "the backend= of remote_help_zone \"%V\" cannot change "
                  "on reload, nginx must be restarted for it", &zone->name);

    return NGX_ERROR;
}


/*
 * The running cycle's zone of the same name, for a resize: found among
 * its shared memory zones, as nginx itself matches a zone across a
 * reload (by name and tag); its module's configuration of that cycle
 * is not looked at, since the module's indexes may differ between the
 * two cycles.
 */

static ngx_http_remote_help_zone_t *
ngx_http_remote_help_old_zone(ngx_cycle_t *cycle,
    ngx_http_remote_help_zone_t *zone)
{
    ngx_uint_t                    i;
    ngx_shm_zone_t               *shm;
    ngx_list_part_t              *part;
    ngx_http_remote_help_zone_t  *old;

    part = &cycle->shared_memory.part;
    shm = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            shm = part->elts;
            i = 0;
        }

        /*
         * a zone of the same kind has the same init; zones only named by
         * remote_help, never declared, have none
         */

        if (shm[i].init != zone->shm_zone->init || shm[i].data == NULL) {
            continue;
        }

        old = shm[i].data;

        if (old->name.len == zone->name.len
            && ngx_strncmp(old->name.data, zone->name.data, zone->name.len)
               == 0)
        {
            return old;
        }
    }
}
