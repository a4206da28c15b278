
/*
 * ngx_http_remote_help_module: the module itself: its directives and
 * configuration, the hooks nginx calls at start, reload and in each
 * process.  Serves the Microsoft Graph beta remote-help session entity
 * sets out of a shared-memory zone; docs/architecture.md maps the files.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_status.h"
#include "ngx_http_remote_help_directive.h"
#include "ngx_http_remote_help_handler.h"
#include "ngx_http_remote_help_request_id.h"
#include "ngx_http_remote_help_filter.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_store_zone.h"
#include "ngx_http_remote_help_state.h"
#include "ngx_http_remote_help_commit.h"
#include "ngx_http_remote_help_sweep.h"
#include "ngx_http_remote_help_auth.h"
#include "ngx_http_remote_help_jwks.h"
#include "ngx_http_remote_help_jwt.h"
#include "ngx_http_remote_help_redis.h"
#include "ngx_http_remote_help_store_redis.h"


static void *ngx_http_remote_help_create_loc_conf(ngx_conf_t *cf);
static void *ngx_http_remote_help_create_main_conf(ngx_conf_t *cf);
static ngx_array_t *ngx_http_remote_help_zones(ngx_cycle_t *cycle);
static ngx_array_t *ngx_http_remote_help_servers(ngx_cycle_t *cycle);
static char *ngx_http_remote_help_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_remote_help_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_remote_help_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_remote_help_init_process(ngx_cycle_t *cycle);
static void ngx_http_remote_help_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_remote_help_auth[] = {
    { ngx_string("off"), NGX_HTTP_RH_AUTH_OFF },
    { ngx_string("bearer"), NGX_HTTP_RH_AUTH_BEARER },
    { ngx_string("jwt"), NGX_HTTP_RH_AUTH_JWT },
    { ngx_string("claims"), NGX_HTTP_RH_AUTH_CLAIMS },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_remote_help_page_size_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_HTTP_RH_TOP_MAX
};


/* the content handlers of remote_help and remote_help_status */

static ngx_http_handler_pt  ngx_http_remote_help_content =
    ngx_http_remote_help_handler;
static ngx_http_handler_pt  ngx_http_remote_help_status_content =
    ngx_http_remote_help_status_handler;


static ngx_command_t  ngx_http_remote_help_commands[] = {

    { ngx_string("remote_help_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_remote_help_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("remote_help_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_remote_help_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_remote_help_main_conf_t, redis),
      NULL },

    { ngx_string("remote_help"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_remote_help,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, shm_zone),
      &ngx_http_remote_help_content },

    { ngx_string("remote_help_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, auth),
      &ngx_http_remote_help_auth },

    { ngx_string("remote_help_jwt_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_remote_help_jwt_keys,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("remote_help_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_remote_help_auth_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, jwt_issuers),
      NULL },

    { ngx_string("remote_help_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_remote_help_auth_values,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, jwt_audiences),
      NULL },

    { ngx_string("remote_help_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, jwt_leeway),
      NULL },

    { ngx_string("remote_help_claims"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_remote_help_claims,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("remote_help_page_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, page_size),
      &ngx_http_remote_help_page_size_bounds },

    { ngx_string("remote_help_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_remote_help,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_remote_help_loc_conf_t, status_zone),
      &ngx_http_remote_help_status_content },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_remote_help_module_ctx = {
    ngx_http_remote_help_add_variables,    /* preconfiguration */
    ngx_http_remote_help_init,             /* postconfiguration */

    ngx_http_remote_help_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_remote_help_create_loc_conf,  /* create location configuration */
    ngx_http_remote_help_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_remote_help_module = {
    NGX_MODULE_V1,
    &ngx_http_remote_help_module_ctx,      /* module context */
    ngx_http_remote_help_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_remote_help_init_module,      /* init module */
    ngx_http_remote_help_init_process,     /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_remote_help_exit_process,     /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_remote_help_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_remote_help_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rmcf->zones, cf->pool, 2,
                       sizeof(ngx_http_remote_help_zone_t *))
        != NGX_OK
        || ngx_array_init(&rmcf->redis, cf->pool, 1,
                          sizeof(ngx_http_remote_help_redis_t *))
           != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


static ngx_array_t *
ngx_http_remote_help_zones(ngx_cycle_t *cycle)
{
    ngx_http_remote_help_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_remote_help_module);

    return rmcf ? &rmcf->zones : NULL;
}


/* the remote_help_redis servers */

static ngx_array_t *
ngx_http_remote_help_servers(ngx_cycle_t *cycle)
{
    ngx_http_remote_help_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_remote_help_module);

    return rmcf ? &rmcf->redis : NULL;
}


static void *
ngx_http_remote_help_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_remote_help_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->shm_zone = NULL;
     *     conf->file = NULL;
     *     conf->line = 0;
     */

    conf->auth = NGX_CONF_UNSET_UINT;
    conf->page_size = NGX_CONF_UNSET_UINT;
    conf->jwt_issuers = NGX_CONF_UNSET_PTR;
    conf->jwt_audiences = NGX_CONF_UNSET_PTR;
    conf->jwt_leeway = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_remote_help_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_remote_help_loc_conf_t *prev = parent;
    ngx_http_remote_help_loc_conf_t *conf = child;

    ngx_shm_zone_t  *zone;

    ngx_conf_merge_uint_value(conf->page_size, prev->page_size, 100);

    zone = conf->shm_zone ? conf->shm_zone : conf->status_zone;

    if (zone && zone->data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "unknown remote_help_zone \"%V\" in %s:%ui",
                      &zone->shm.name, conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    return ngx_http_remote_help_auth_merge(cf, prev, conf);
}


static ngx_int_t
ngx_http_remote_help_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt               *h;
    ngx_http_core_main_conf_t         *cmcf;
    ngx_http_remote_help_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_remote_help_module);

    if (ngx_http_remote_help_backends(cf, rmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_remote_help_log_handler;

    return ngx_http_remote_help_filter_init(cf);
}


static ngx_int_t
ngx_http_remote_help_init_module(ngx_cycle_t *cycle)
{
    ngx_http_remote_help_store_commit(ngx_http_remote_help_zones(cycle));

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_init_process(ngx_cycle_t *cycle)
{
    ngx_array_t  *zones;

    ngx_http_remote_help_request_id_init();

    zones = ngx_http_remote_help_zones(cycle);

    if (ngx_http_remote_help_store_init_process(cycle, zones) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_remote_help_sweep_init_process(cycle, zones) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_remote_help_jwt_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_remote_help_redis_zone_init_process(zones) != NGX_OK
        || ngx_http_remote_help_redis_init_process(cycle,
                                   ngx_http_remote_help_servers(cycle))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_remote_help_state_init_process(cycle, zones);
}


static void
ngx_http_remote_help_exit_process(ngx_cycle_t *cycle)
{
    ngx_array_t  *zones;

    zones = ngx_http_remote_help_zones(cycle);

    ngx_http_remote_help_redis_exit_process(
                                         ngx_http_remote_help_servers(cycle));
    ngx_http_remote_help_commit_exit(zones);
    ngx_http_remote_help_state_exit_process(zones);
    ngx_http_remote_help_store_exit_process(zones);
}
