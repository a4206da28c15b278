
/*
 * ngx_http_remote_help_module: the sweeper: each worker's timer that
 * gives the memory of objects whose lifetime is over back to the zone.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_SWEEP_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_SWEEP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_store.h"


/* objects removed by one tick at most: a bound on the pause it makes */
#define NGX_HTTP_RH_SWEEP_BATCH   1000

/* the longest wait between two ticks */
#define NGX_HTTP_RH_SWEEP_PERIOD  1000


ngx_int_t ngx_http_remote_help_sweep_init_process(ngx_cycle_t *cycle,
    ngx_array_t *zones);


#endif /* _NGX_HTTP_REMOTE_HELP_SWEEP_H_INCLUDED_ */
