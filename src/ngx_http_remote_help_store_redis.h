
/*
 * ngx_http_remote_help_module: the Redis backend (remote_help_zone
 * backend=): the objects are in Redis, the zone keeps copies of them.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STORE_REDIS_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STORE_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_storage.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_redis.h"


extern ngx_http_remote_help_storage_t  ngx_http_remote_help_redis_storage;


/* the zone's objects in this Redis server, and its lifetimes there */
char *ngx_http_remote_help_redis_zone_conf(ngx_conf_t *cf,
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_redis_t *redis);

ngx_int_t ngx_http_remote_help_redis_zone_init_process(ngx_array_t *zones);

/* for the status */
ngx_str_t *ngx_http_remote_help_redis_zone_name(
    ngx_http_remote_help_zone_t *zone);
ngx_uint_t ngx_http_remote_help_redis_zone_connected(
    ngx_http_remote_help_zone_t *zone);
ngx_uint_t ngx_http_remote_help_redis_zone_cache(
    ngx_http_remote_help_zone_t *zone);


#endif /* _NGX_HTTP_REMOTE_HELP_STORE_REDIS_H_INCLUDED_ */
