
/*
 * ngx_http_remote_help_module: the shared-memory store.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STORE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_schema.h"


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_atomic_t                  lock;         /* ngx_rwlock */
    uint64_t                      seq;
    ngx_uint_t                    objects[NGX_RH_NSETS];
} ngx_http_remote_help_sh_t;


typedef struct {
    ngx_http_remote_help_sh_t    *sh;
    ngx_slab_pool_t              *shpool;
    ngx_str_t                     name;
    ngx_shm_zone_t               *shm_zone;
} ngx_http_remote_help_zone_t;


/* a copy of a stored object, taken under the lock */

typedef struct {
    uint64_t                      seq;
    ngx_str_t                     json;
    uint32_t                      spans[2 * NGX_RH_MAX_PROPS];
} ngx_http_remote_help_obj_t;


/* store results besides NGX_OK and NGX_ERROR */
#define NGX_HTTP_RH_MISSING       NGX_DECLINED   /* 404 */
#define NGX_HTTP_RH_EXISTS        NGX_DONE       /* 409 */
#define NGX_HTTP_RH_CHANGED       NGX_AGAIN      /* retry the update */
#define NGX_HTTP_RH_NOSPACE       NGX_ABORT      /* 507 */


ngx_int_t ngx_http_remote_help_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

ngx_int_t ngx_http_remote_help_store_get(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_pool_t *pool,
    ngx_http_remote_help_obj_t *obj);

/* seq == 0: create; otherwise replace the version read with that seq */
ngx_int_t ngx_http_remote_help_store_put(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *key, ngx_str_t *json, uint32_t *spans,
    uint64_t seq);

ngx_int_t ngx_http_remote_help_store_delete(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t set, ngx_str_t *key);

/*
 * up to "top" objects of the set that follow "after" (NULL: the first)
 * in the store's order; items is an array of ngx_str_t; *more is set
 * when objects remain after the last one returned
 */
ngx_int_t ngx_http_remote_help_store_list(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t set, ngx_str_t *after, ngx_uint_t top, ngx_pool_t *pool,
    ngx_array_t *items, ngx_str_t *last, ngx_uint_t *more);


#endif /* _NGX_HTTP_REMOTE_HELP_STORE_H_INCLUDED_ */
