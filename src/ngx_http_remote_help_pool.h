
/*
 * ngx_http_remote_help_module: yajl's allocator over an nginx pool.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_POOL_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_POOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_common.h>

#include "ngx_http_remote_help_module.h"


void ngx_http_remote_help_allocator(ngx_pool_t *pool,
    yajl_alloc_funcs *afs);


#endif /* _NGX_HTTP_REMOTE_HELP_POOL_H_INCLUDED_ */
