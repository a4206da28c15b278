
/*
 * ngx_http_remote_help_module: a test backend (built with
 * -DNGX_HTTP_RH_DEFER=1 only) that answers every operation of the zone
 * backend later, from a posted event, as a network backend does.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_DEFER_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_DEFER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_storage.h"


#if (NGX_HTTP_RH_DEFER)
extern ngx_http_remote_help_storage_t  ngx_http_remote_help_defer_storage;
#endif


#endif /* _NGX_HTTP_REMOTE_HELP_DEFER_H_INCLUDED_ */
