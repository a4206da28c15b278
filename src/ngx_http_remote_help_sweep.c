
/*
 * ngx_http_remote_help_module: the sweeper.  Every worker keeps a timer
 * for each zone with lifetimes (timeout=, expire=on).  A tick removes
 * the objects whose moment has come, at most a batch of them, so that
 * the event loop never stalls; when more are due, the next tick follows
 * at once, otherwise at the next object's moment (at most a second
 * away).  The requests do not wait for it: an object whose moment has
 * come is gone for them already (ngx_http_remote_help_store.c), the
 * sweep gives its memory back.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_sweep.h"
#include "ngx_http_remote_help_store_zone.h"


static ngx_int_t ngx_http_remote_help_sweep_init(
    ngx_http_remote_help_zone_t *zone, void *data);
static void ngx_http_remote_help_sweep_handler(ngx_event_t *ev);


ngx_int_t
ngx_http_remote_help_sweep_init_process(ngx_cycle_t *cycle,
    ngx_array_t *zones)
{
    return ngx_http_remote_help_store_each(zones,
                                           ngx_http_remote_help_sweep_init,
                                           cycle);
}


static ngx_int_t
ngx_http_remote_help_sweep_init(ngx_http_remote_help_zone_t *zone,
    void *data)
{
    ngx_cycle_t  *cycle = data;

    if (zone->sh == NULL || (zone->timeout == 0 && !zone->expire)) {
        return NGX_OK;
    }

    zone->sweep.handler = ngx_http_remote_help_sweep_handler;
    zone->sweep.data = zone;
    zone->sweep.log = cycle->log;

    /* a worker that is shutting down does not wait for it */
    zone->sweep.cancelable = 1;

    ngx_add_timer(&zone->sweep, NGX_HTTP_RH_SWEEP_PERIOD);

    return NGX_OK;
}


static void
ngx_http_remote_help_sweep_handler(ngx_event_t *ev)
{
    int64_t                       now;
    ngx_msec_t                    delay;
    ngx_uint_t                    n;
    ngx_rbtree_key_t              next;
    ngx_http_remote_help_zone_t  *zone;

    zone = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    n = ngx_http_remote_help_store_expire(zone, NGX_HTTP_RH_SWEEP_BATCH,
                                          &next);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "remote_help_zone \"%V\": %ui objects expired",
                   &zone->name, n);

    now = ngx_http_rh_now();

    if (n == NGX_HTTP_RH_SWEEP_BATCH) {
        /* more are due: after what else is waiting in this loop */
        delay = 1;

    } else if (next == NGX_HTTP_RH_NEVER
               || next >= (ngx_rbtree_key_t) now + NGX_HTTP_RH_SWEEP_PERIOD)
    {
        delay = NGX_HTTP_RH_SWEEP_PERIOD;

    } else if (next > (ngx_rbtree_key_t) now) {
        delay = (ngx_msec_t) (next - (ngx_rbtree_key_t) now);

    } else {
        delay = 1;
    }

    ngx_add_timer(ev, delay);
}
