
/*
 * ngx_http_remote_help_module: the status endpoint, the responses
 * counted by status, and the variables for log_format.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_status.h"
#include "ngx_http_remote_help_request_id.h"
#include "ngx_http_remote_help_reply.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_state.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_op.h"
#include "ngx_http_remote_help_store_redis.h"


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     quoted;       /* "name", escaped */
    off_t                         size;
    off_t                         used;
    off_t                         free;
    ngx_uint_t                    objects[NGX_RH_NSETS];
    ngx_atomic_uint_t             requests[NGX_HTTP_RH_STATUSES];
    ngx_uint_t                    state;
    off_t                         state_size;
    ngx_uint_t                    compactions;
    ngx_uint_t                    repairs;
    ngx_uint_t                    expired;

    /* backend=: its name (quoted), whether it is connected, its figures */
    ngx_str_t                     backend;
    ngx_uint_t                    connected;
    ngx_uint_t                    cache;
    ngx_uint_t                    counted;      /* objects are the fleet's */
    ngx_atomic_uint_t             figures[NGX_HTTP_RH_BACKEND_FIGURES];
} ngx_http_remote_help_figures_t;


static const char  *ngx_http_remote_help_backend_figures[] = {
    "round_trips", "errors", "timeouts", "reconnects", "cache_hits",
    "cache_misses", "invalidations", "flushes"
};


static ngx_int_t ngx_http_remote_help_status_send(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_remote_help_figures(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_figures_t *f);
static u_char *ngx_http_remote_help_quote(u_char *p, ngx_str_t *s);
static u_char *ngx_http_remote_help_status_json(u_char *p,
    ngx_http_remote_help_figures_t *f);
static u_char *ngx_http_remote_help_status_prometheus(u_char *p,
    ngx_http_remote_help_figures_t *f);
static ngx_int_t ngx_http_remote_help_counters_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_remote_help_value(ngx_http_variable_value_t *v,
    u_char *data, size_t len);
static ngx_int_t ngx_http_remote_help_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_remote_help_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_remote_help_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_remote_help_vars[] = {

    { ngx_string("remote_help_set"), NULL,
      ngx_http_remote_help_set_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("remote_help_key"), NULL,
      ngx_http_remote_help_key_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("remote_help_error"), NULL,
      ngx_http_remote_help_error_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_remote_help_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_str_t                         format;
    ngx_uint_t                        prometheus;
    ngx_table_elt_t                  *h;
    ngx_http_remote_help_ctx_t       *ctx;
    ngx_http_remote_help_zone_t      *zone;
    ngx_http_remote_help_storage_t   *storage;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    ctx = ngx_http_remote_help_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        h = ngx_http_remote_help_add_header(r, "Allow", (u_char *) "GET, HEAD",
                                            sizeof("GET, HEAD") - 1);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_remote_help_error(r, ctx, NGX_HTTP_NOT_ALLOWED,
                                          "The method is not allowed on the "
                                          "status of a remote_help_zone.");
    }

    prometheus = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            prometheus = 1;

        } else if (!(format.len == 4
                     && ngx_strncmp(format.data, "json", 4) == 0))
        {
            return ngx_http_remote_help_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                                              "The format '%V' is not "
                                              "supported: use 'json' or "
                                              "'prometheus'.", &format);
        }
    }

    if (prometheus) {
        ngx_str_set(&ctx->content_type, "text/plain; version=0.0.4");
    }

    zone = rlcf->status_zone->data;
    storage = ngx_http_rh_storage(zone);

    if (storage->count == NULL) {
        return ngx_http_remote_help_status_send(r, ctx, NGX_DECLINED);
    }

    /* a backend's zone: the fleet's objects are counted there */

    ngx_http_remote_help_op_init(&ctx->op, r, ctx, NULL);

    rc = storage->count(zone, &ctx->op);

    return ngx_http_remote_help_op_wait(r, ctx, &ctx->op, rc,
                                        ngx_http_remote_help_status_send);
}


/* rc: the count's answer (NGX_DECLINED: none was asked for) */

static ngx_int_t
ngx_http_remote_help_status_send(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc)
{
    size_t                            len;
    ngx_str_t                         body;
    ngx_uint_t                        i;
    ngx_http_remote_help_zone_t      *zone;
    ngx_http_remote_help_figures_t   *f;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);
    zone = rlcf->status_zone->data;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_remote_help_figures_t));
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_remote_help_figures(zone, f) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (zone->redis) {
        f->connected = ngx_http_remote_help_redis_zone_connected(zone);
        f->cache = ngx_http_remote_help_redis_zone_cache(zone);

        for (i = 0; i < NGX_HTTP_RH_BACKEND_FIGURES; i++) {
            f->figures[i] = zone->counters->backend[i];
        }

        f->backend.data = ngx_pnalloc(r->pool,
                     6 * ngx_http_remote_help_redis_zone_name(zone)->len + 2);
        if (f->backend.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        f->backend.len = ngx_http_remote_help_quote(f->backend.data,
                               ngx_http_remote_help_redis_zone_name(zone))
                         - f->backend.data;

        if (rc == NGX_OK) {
            /* the fleet's, not the copies' */
            for (i = 0; i < NGX_RH_NSETS; i++) {
                f->objects[i] = ctx->op.objects[i];
            }

            f->expired = ctx->op.expired;
            f->counted = 1;

        } else {
            /* Redis did not answer: the count is unknown */
            f->connected = 0;
        }
    }

    /* the name quoted: at most 6 bytes for each of its bytes */

    f->quoted.data = ngx_pnalloc(r->pool, 6 * f->name.len + 2);
    if (f->quoted.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f->quoted.len = ngx_http_remote_help_quote(f->quoted.data, &f->name)
                    - f->quoted.data;

    len = 8192 + NGX_HTTP_RH_STATUSES * (96 + f->quoted.len)
          + 32 * f->quoted.len + 32 * f->backend.len;

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->content_type.len) {
        body.len = ngx_http_remote_help_status_prometheus(body.data, f)
                   - body.data;

    } else {
        body.len = ngx_http_remote_help_status_json(body.data, f) - body.data;
    }

    return ngx_http_remote_help_send(r, ctx, NGX_HTTP_OK, &body);
}


static ngx_int_t
ngx_http_remote_help_figures(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_figures_t *f)
{
    ngx_uint_t                  i;
    ngx_http_remote_help_sh_t  *sh;

    sh = zone->sh;

    f->name = zone->name;
    f->size = zone->shm_zone->shm.size;

    if (ngx_http_remote_help_store_rlock(zone) != NGX_OK) {
        return NGX_ERROR;
    }

    f->free = (off_t) ngx_http_remote_help_store_free_locked(zone);

    for (i = 0; i < NGX_RH_NSETS; i++) {
        f->objects[i] = sh->objects[i];
    }

    f->state = (zone->state != NULL);
    ngx_http_remote_help_state_figures(zone, &f->state_size,
                                       &f->compactions);
    f->repairs = sh->repairs;
    f->expired = sh->expired;

    ngx_http_remote_help_store_runlock(zone);

    f->used = f->size - f->free;

    for (i = 0; i < NGX_HTTP_RH_STATUSES; i++) {
        f->requests[i] = zone->counters->requests[i];
    }

    return NGX_OK;
}


/* a zone name as a JSON string or a Prometheus label value */

static u_char *
ngx_http_remote_help_quote(u_char *p, ngx_str_t *s)
{
    *p++ = '"';
    p = ngx_rh_json_escape(p, s->data, s->len);
    *p++ = '"';

    return p;
}


static u_char *
ngx_http_remote_help_status_json(u_char *p, ngx_http_remote_help_figures_t *f)
{
    ngx_uint_t  i, first;

    p = ngx_cpymem(p, "{\"zone\":", 8);
    p = ngx_cpymem(p, f->quoted.data, f->quoted.len);
    p = ngx_sprintf(p, ",\"size\":%O,\"used\":%O,\"free\":%O,\"objects\":{",
                    f->size, f->used, f->free);

    for (i = 0; i < NGX_RH_NSETS; i++) {
        p = ngx_sprintf(p, "%s\"%s\":%ui", i ? "," : "", ngx_rh_sets[i].set,
                        f->objects[i]);
    }

    p = ngx_cpymem(p, "},\"requests\":{", 14);

    first = 1;

    for (i = 0; i < NGX_HTTP_RH_STATUSES; i++) {
        if (f->requests[i]) {
            p = ngx_sprintf(p, "%s\"%ui\":%uA", first ? "" : ",", i + 100,
                            f->requests[i]);
            first = 0;
        }
    }

    *p++ = '}';

    /* removed by timeout= or expire=; rebuilds after a writer died */
    p = ngx_sprintf(p, ",\"expired\":%ui,\"repairs\":%ui", f->expired,
                    f->repairs);

    if (f->state) {
        p = ngx_sprintf(p, ",\"state\":{\"bytes\":%O,\"compactions\":%ui}",
                        f->state_size, f->compactions);
    }

    if (f->backend.len) {
        p = ngx_sprintf(p, ",\"backend\":{\"name\":%V,\"connected\":%s,"
                        "\"cache\":%s,\"counted\":%s", &f->backend,
                        f->connected ? "true" : "false",
                        f->cache ? "true" : "false",
                        f->counted ? "true" : "false");

        for (i = 0; i < NGX_HTTP_RH_BACKEND_FIGURES; i++) {
            p = ngx_sprintf(p, ",\"%s\":%uA",
                            ngx_http_remote_help_backend_figures[i],
                            f->figures[i]);
        }

        *p++ = '}';
    }

    *p++ = '}';

    return p;
}


static u_char *
ngx_http_remote_help_status_prometheus(u_char *p,
    ngx_http_remote_help_figures_t *f)
{
    ngx_str_t   z;
    ngx_uint_t  i;

    z = f->quoted;

    p = ngx_sprintf(p,
            "# HELP nginx_remote_help_zone_size_bytes Size of the "
            "remote_help shared memory zone.\n"
            "# TYPE nginx_remote_help_zone_size_bytes gauge\n"
            "nginx_remote_help_zone_size_bytes{zone=%V} %O\n"
            "# HELP nginx_remote_help_zone_used_bytes Bytes of the zone "
            "in use.\n"
            "# TYPE nginx_remote_help_zone_used_bytes gauge\n"
            "nginx_remote_help_zone_used_bytes{zone=%V} %O\n"
            "# HELP nginx_remote_help_zone_free_bytes Bytes of the zone "
            "free for objects.\n"
            "# TYPE nginx_remote_help_zone_free_bytes gauge\n"
            "nginx_remote_help_zone_free_bytes{zone=%V} %O\n"
            "# HELP nginx_remote_help_objects Objects stored, by entity "
            "set.\n"
            "# TYPE nginx_remote_help_objects gauge\n",
            &z, f->size, &z, f->used, &z, f->free);

    for (i = 0; i < NGX_RH_NSETS; i++) {
        p = ngx_sprintf(p, "nginx_remote_help_objects{zone=%V,set=\"%s\"} "
                        "%ui\n", &z, ngx_rh_sets[i].set, f->objects[i]);
    }

    p = ngx_sprintf(p,
            "# HELP nginx_remote_help_requests_total Responses sent by the "
            "zone's remote_help locations, by status.\n"
            "# TYPE nginx_remote_help_requests_total counter\n");

    for (i = 0; i < NGX_HTTP_RH_STATUSES; i++) {
        if (f->requests[i]) {
            p = ngx_sprintf(p, "nginx_remote_help_requests_total{zone=%V,"
                            "status=\"%ui\"} %uA\n", &z, i + 100,
                            f->requests[i]);
        }
    }

    p = ngx_sprintf(p,
            "# HELP nginx_remote_help_expired_total Objects removed by "
            "their lifetime (timeout=, expire=on).\n"
            "# TYPE nginx_remote_help_expired_total counter\n"
            "nginx_remote_help_expired_total{zone=%V} %ui\n",
            &z, f->expired);

    p = ngx_sprintf(p,
            "# HELP nginx_remote_help_repairs_total Rebuilds of the zone "
            "after a process died while it changed it.\n"
            "# TYPE nginx_remote_help_repairs_total counter\n"
            "nginx_remote_help_repairs_total{zone=%V} %ui\n",
            &z, f->repairs);

    if (f->state) {
        p = ngx_sprintf(p,
                "# HELP nginx_remote_help_state_bytes Size of the zone's "
                "state file.\n"
                "# TYPE nginx_remote_help_state_bytes gauge\n"
                "nginx_remote_help_state_bytes{zone=%V} %O\n"
                "# HELP nginx_remote_help_state_compactions_total "
                "Compactions of the state file.\n"
                "# TYPE nginx_remote_help_state_compactions_total counter\n"
                "nginx_remote_help_state_compactions_total{zone=%V} %ui\n",
                &z, f->state_size, &z, f->compactions);
    }

    if (f->backend.len) {
        p = ngx_sprintf(p,
                "# HELP nginx_remote_help_backend_connected Whether the "
                "zone's Redis backend is connected.\n"
                "# TYPE nginx_remote_help_backend_connected gauge\n"
                "nginx_remote_help_backend_connected{zone=%V,backend=%V} "
                "%d\n", &z, &f->backend, f->connected ? 1 : 0);

        for (i = 0; i < NGX_HTTP_RH_BACKEND_FIGURES; i++) {
            p = ngx_sprintf(p,
                    "# TYPE nginx_remote_help_backend_%s_total counter\n"
                    "nginx_remote_help_backend_%s_total{zone=%V,backend=%V}"
                    " %uA\n", ngx_http_remote_help_backend_figures[i],
                    ngx_http_remote_help_backend_figures[i], &z,
                    &f->backend, f->figures[i]);
        }
    }

    return p;
}


/* the log phase: every response of a remote_help location is counted */

ngx_int_t
ngx_http_remote_help_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                        status;
    ngx_http_remote_help_zone_t      *zone;
    ngx_http_remote_help_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_remote_help_module);

    if (rlcf->shm_zone == NULL || r != r->main) {
        return NGX_OK;
    }

    zone = rlcf->shm_zone->data;

    /*
     * A request whose client went away before any response (nginx logs
     * the status it would have sent) is counted as nginx's 499, never
     * as an error the client did not get.
     */

    status = r->header_sent ? r->headers_out.status
                            : NGX_HTTP_CLIENT_CLOSED_REQUEST;

    if (zone->counters == NULL || status < 100 || status >= 600) {
        return NGX_OK;
    }

    (void) ngx_atomic_fetch_add(&zone->counters->requests[status - 100], 1);

    return NGX_OK;
}


/* the counters' own zone, "NAME#requests", beside the objects' zone */

ngx_int_t
ngx_http_remote_help_counters_conf(ngx_conf_t *cf,
    ngx_http_remote_help_zone_t *zone)
{
    ngx_str_t        name;
    ngx_shm_zone_t  *shm_zone;

    name.len = zone->name.len + sizeof("#requests") - 1;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "%V#requests", &zone->name);

    /* the size never changes, so every reload keeps the zone */

    shm_zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                     &ngx_http_remote_help_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "shared memory zone \"%V\" is already declared",
                           &name);
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_remote_help_counters_init;
    shm_zone->data = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_counters_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_remote_help_zone_t  *ozone = data;

    ngx_slab_pool_t              *shpool;
    ngx_http_remote_help_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->counters = ozone->counters;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->counters = shpool->data;
        return NGX_OK;
    }

    zone->counters = ngx_slab_calloc(shpool,
                                     sizeof(ngx_http_remote_help_counters_t));
    if (zone->counters == NULL) {
        return NGX_ERROR;
    }

    shpool->data = zone->counters;

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_remote_help_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * every value is found, if empty: an access log shows "", not "-"
 */

static ngx_int_t
ngx_http_remote_help_value(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    if (ctx == NULL || ctx->set == NULL) {
        return ngx_http_remote_help_value(v, (u_char *) "", 0);
    }

    return ngx_http_remote_help_value(v, (u_char *) ctx->set->set,
                                      ctx->set->set_len);
}


static ngx_int_t
ngx_http_remote_help_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);

    if (ctx == NULL || ctx->key.len == 0) {
        return ngx_http_remote_help_value(v, (u_char *) "", 0);
    }

    return ngx_http_remote_help_value(v, ctx->key.data, ctx->key.len);
}


/* the Graph error code of the response; empty on success */

static ngx_int_t
ngx_http_remote_help_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char                  *code;
    ngx_uint_t                   status;
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);
    status = r->headers_out.status;

    if (ctx == NULL || !ctx->own || status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_remote_help_value(v, (u_char *) "", 0);
    }

    code = ngx_http_remote_help_code(status);

    return ngx_http_remote_help_value(v, (u_char *) code, ngx_strlen(code));
}
