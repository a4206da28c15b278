
/*
 * ngx_http_remote_help_module: the directives remote_help_zone and remote_help.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_status.h"
#include "ngx_http_remote_help_directive.h"
#include "ngx_http_remote_help_defer.h"
#include "ngx_http_remote_help_zone.h"
#include "ngx_http_remote_help_state.h"
#include "ngx_http_remote_help_commit.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_store_redis.h"


char *
ngx_http_remote_help_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_remote_help_main_conf_t *rmcf = conf;

    u_char                       *p;
    char                         *rv;
    ssize_t                       size;
    ngx_str_t                    *value, name, s, state, backend;
    ngx_int_t                     timeout;
    ngx_uint_t                    i;
    ngx_flag_t                    sync, expire;
    ngx_shm_zone_t               *shm_zone;
    ngx_http_remote_help_zone_t  *zone, **slot;

    value = cf->args->elts;

    size = 0;
    sync = NGX_CONF_UNSET;
    expire = 0;
    timeout = 0;
    ngx_str_null(&name);
    ngx_str_null(&state);
    ngx_str_null(&backend);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "state=", 6) == 0
            && value[i].len > 6)
        {
            state.data = value[i].data + 6;
            state.len = value[i].len - 6;
            continue;
        }

        if (ngx_strncmp(value[i].data, "backend=", 8) == 0
            && value[i].len > 8)
        {
            backend.data = value[i].data + 8;
            backend.len = value[i].len - 8;
            continue;
        }

        if (ngx_strcmp(value[i].data, "state_sync=on") == 0) {
            sync = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "state_sync=off") == 0) {
            sync = 0;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {

            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            timeout = ngx_parse_time(&s, 0);

            if (timeout == NGX_ERROR || timeout == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid timeout \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "expire=on") == 0) {
            expire = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "expire=off") == 0) {
            expire = 0;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (sync != NGX_CONF_UNSET && state.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"state_sync\" needs \"state\"");
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (backend.len && state.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"state\" and \"backend\" cannot be used "
                           "together: with a backend, Redis keeps the "
                           "objects");
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_remote_help_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "remote_help_zone \"%V\" is already declared",
                           &name);
        return NGX_CONF_ERROR;
    }

    zone->name = name;
    zone->shm_zone = shm_zone;
    zone->cycle = cf->cycle;
    zone->timeout = (ngx_msec_t) timeout;
    zone->expire = expire;

    /* the objects are kept by the zone backend, or by Redis */
#if (NGX_HTTP_RH_DEFER)
    zone->backend.storage = &ngx_http_remote_help_defer_storage;
#else
    zone->backend.storage = &ngx_http_remote_help_zone_storage;
#endif

    /* found when the whole configuration is read: in any order */
    zone->backend_name = backend;

    if (state.len) {
        rv = ngx_http_remote_help_state_conf(cf, &rmcf->zones, zone, &state,
                                             sync == 1);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        /*
         * nginx's "default" thread pool, made if nothing else asked for
         * it: state_sync=on's fdatasync()s run there, and the end of
         * every compaction (its fsync()s and rename)
         */
        if (ngx_http_remote_help_commit_conf(cf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_remote_help_counters_conf(cf, zone) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_remote_help_zone_init;
    shm_zone->data = zone;

    slot = ngx_array_push(&rmcf->zones);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = zone;

    return NGX_CONF_OK;
}


char *
ngx_http_remote_help(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_remote_help_loc_conf_t *rlcf = conf;

    ngx_str_t                 *value;
    ngx_shm_zone_t           **field;
    ngx_http_handler_pt       *handler;
    ngx_http_core_loc_conf_t  *clcf;

    if (rlcf->shm_zone || rlcf->status_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;
    field = (ngx_shm_zone_t **) ((char *) conf + cmd->offset);

    *field = ngx_shared_memory_add(cf, &value[1], 0,
                                   &ngx_http_remote_help_module);
    if (*field == NULL) {
        return NGX_CONF_ERROR;
    }

    rlcf->file = cf->conf_file->file.name.data;
    rlcf->line = cf->conf_file->line;

    handler = cmd->post;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = *handler;

    return NGX_CONF_OK;
}


/* postconfiguration: each zone's backend= found among remote_help_redis */

ngx_int_t
ngx_http_remote_help_backends(ngx_conf_t *cf,
    ngx_http_remote_help_main_conf_t *rmcf)
{
    ngx_uint_t                     i;
    ngx_http_remote_help_zone_t  **zone;
    ngx_http_remote_help_redis_t  *redis;

    zone = rmcf->zones.elts;

    for (i = 0; i < rmcf->zones.nelts; i++) {

        if (zone[i]->backend_name.len == 0) {
            continue;
        }

        redis = ngx_http_remote_help_redis_find(&rmcf->redis,
                                                &zone[i]->backend_name);

        if (redis == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown remote_help_redis \"%V\" in "
                          "remote_help_zone \"%V\"",
                          &zone[i]->backend_name, &zone[i]->name);
            return NGX_ERROR;
        }

        if (ngx_http_remote_help_redis_zone_conf(cf, zone[i], redis)
            != NGX_CONF_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
