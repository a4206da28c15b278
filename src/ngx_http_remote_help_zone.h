
/*
 * ngx_http_remote_help_module: the zone backend (the shared-memory
 * store and its journal) behind the storage interface.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_ZONE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_storage.h"


extern ngx_http_remote_help_storage_t  ngx_http_remote_help_zone_storage;

/* the shm init of a remote_help_zone */
ngx_int_t ngx_http_remote_help_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);


#endif /* _NGX_HTTP_REMOTE_HELP_ZONE_H_INCLUDED_ */
