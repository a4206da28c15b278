
/*
 * ngx_http_remote_help_module: a zone's life (its shared memory made,
 * adopted or copied at a reload, committed) and the walk over the zones
 * of the module's main configuration.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STORE_ZONE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STORE_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_store.h"


/*
 * the zone's initialization, called by its owner's shm init: *old is the
 * previous cycle's zone whose objects this one adopted or copied, or
 * NULL; NGX_DONE: the zone existed already, nothing was done
 */
ngx_int_t ngx_http_remote_help_store_init(ngx_shm_zone_t *shm_zone,
    void *data, ngx_http_remote_help_zone_t **old);

/*
 * calls handler for each zone of a list (the module's main configuration
 * keeps the zones its remote_help_zone directives declared), until one
 * call returns other than NGX_OK, and returns that
 */
typedef ngx_int_t (*ngx_http_remote_help_zone_pt)(
    ngx_http_remote_help_zone_t *zone, void *data);

ngx_int_t ngx_http_remote_help_store_init_process(ngx_cycle_t *cycle,
    ngx_array_t *zones);
void ngx_http_remote_help_store_exit_process(ngx_array_t *zones);
ngx_int_t ngx_http_remote_help_store_each(ngx_array_t *zones,
    ngx_http_remote_help_zone_pt handler, void *data);

void ngx_http_remote_help_store_commit(ngx_array_t *zones);


#endif /* _NGX_HTTP_REMOTE_HELP_STORE_ZONE_H_INCLUDED_ */
