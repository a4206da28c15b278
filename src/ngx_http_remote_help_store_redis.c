
/*
 * ngx_http_remote_help_module: the Redis backend (remote_help_zone
 * backend=).  The objects are in Redis, which every gateway of the fleet
 * shares; the zone keeps copies that are answered from while the
 * gateway hears of every change (cache=on, remote_help_redis.c).
 *
 * Under the zone's prefix, "{rh:NAME}:" (a hash tag: one slot):
 *
 *     o:S:KEY  a hash per object of set S: j, its JSON; s, the spans of
 *              its property literals; v, its version; n, its place in
 *              listings; d, the moment it goes (PEXPIREAT there too)
 *     l:S      a sorted set per set: keys by place, for listings
 *     n        the counter that places and versions come from
 *     e        a sorted set of "S:KEY" by the moment each goes
 *     x        the objects that expired, counted
 *
 * Each write, a listing page and the count are one script (EVALSHA,
 * loaded at connect): atomic, and a write refuses to run past the
 * request's deadline on Redis's clock, so that one whose client got 503
 * is never made.  The JSON is kept as the module rendered it: Redis's
 * cjson would reorder and rewrite it, and none of the scripts reads it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_sha1.h>

#include "ngx_http_remote_help_store_redis.h"
#include "ngx_http_remote_help_store_zone.h"
#include "ngx_http_remote_help_schema.h"


#define NGX_HTTP_RH_SCRIPT_CREATE  0
#define NGX_HTTP_RH_SCRIPT_UPDATE  1
#define NGX_HTTP_RH_SCRIPT_DELETE  2
#define NGX_HTTP_RH_SCRIPT_LIST    3
#define NGX_HTTP_RH_SCRIPT_COUNT   4
#define NGX_HTTP_RH_SCRIPTS        5

/* what Redis has of an object is not what this module writes */
#define NGX_HTTP_RH_BROKEN         (-201)

/* a listing page scans at most this many entries (expired ones too) */
#define NGX_HTTP_RH_LIST_SCAN      10
#define NGX_HTTP_RH_SWEEP_MAX      1000

/* without copies: when PATCHes read hints (..._redis_trust) */
#define NGX_HTTP_RH_HINT_WINDOW    256
#define NGX_HTTP_RH_HINT_PROBE     32
#define NGX_HTTP_RH_HINT_PRIOR     16


struct ngx_http_remote_help_redis_zone_s {
    ngx_http_remote_help_redis_t  *redis;
    ngx_http_remote_help_zone_t   *zone;
    ngx_atomic_t                  *stats;       /* in its counters zone */
    ngx_str_t                      prefix;      /* {rh:NAME}: */
    ngx_str_t                      counter;
    ngx_str_t                      expiry;
    ngx_str_t                      expired;
    ngx_str_t                      objects;     /* PREFIX o: */
    ngx_str_t                      list[NGX_RH_NSETS];
    ngx_str_t                      object[NGX_RH_NSETS];
    ngx_msec_t                     timeout;     /* timeout= */
    ngx_flag_t                     expire;      /* expire=on */
    ngx_uint_t                     cache;
};


/* the moment of a write's lifetime, on Redis's clock; {-2}: too late */

#define NGX_HTTP_RH_LUA_MOMENT                                               \
    "local t = redis.call('TIME')\n"                                         \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"\
    "if now > tonumber(ARGV[1]) then return {-2} end\n"                      \
    "local d = 0\n"                                                          \
    "if ARGV[2] ~= '0' then d = now + tonumber(ARGV[2]) end\n"               \
    "local u = tonumber(ARGV[3])\n"                                          \
    "if ARGV[4] == '1' and u ~= 0 then\n"                                    \
    "  if u < 1 then u = 1 end\n"                                            \
    "  if d == 0 or u < d then d = u end\n"                                  \
    "end\n"

/*
 * KEYS: object, list, counter, expiry; ARGV 5-8: json, spans, key, S:KEY.
 * The object written with its lifetime (one HSET), or without one: a
 * lifetime it had ("had", its old d) taken away.
 */

#define NGX_HTTP_RH_LUA_PUT                                                  \
    "if d ~= 0 then\n"                                                       \
    "  redis.call('HSET', KEYS[1], 'j', ARGV[5], 's', ARGV[6], 'v', v,"      \
    " 'd', d)\n"                                                             \
    "  redis.call('PEXPIREAT', KEYS[1], d)\n"                                \
    "  redis.call('ZADD', KEYS[4], d, ARGV[8])\n"                            \
    "else\n"                                                                 \
    "  redis.call('HSET', KEYS[1], 'j', ARGV[5], 's', ARGV[6], 'v', v)\n"    \
    "  if had then\n"                                                        \
    "    redis.call('HDEL', KEYS[1], 'd')\n"                                 \
    "    redis.call('PERSIST', KEYS[1])\n"                                   \
    "    redis.call('ZREM', KEYS[4], ARGV[8])\n"                             \
    "  end\n"                                                                \
    "end\n"

/* an update whose moment is past: the object goes at once */

#define NGX_HTTP_RH_LUA_GONE(ret)                                            \
    "if d ~= 0 and d <= now then\n"                                          \
    "  redis.call('DEL', KEYS[1])\n"                                         \
    "  redis.call('ZREM', KEYS[2], ARGV[7])\n"                               \
    "  redis.call('ZREM', KEYS[4], ARGV[8])\n"                               \
    "  return " ret "\n"                                                     \
    "end\n"

static const char  *ngx_http_remote_help_redis_scripts[] = {

    /* create: {-1}, it exists */
    NGX_HTTP_RH_LUA_MOMENT
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end\n"
    "local v = redis.call('INCR', KEYS[3])\n"
    "if d ~= 0 and d <= now then return {v, d} end\n"
    "local had = false\n"
    "redis.call('ZADD', KEYS[2], v, ARGV[7])\n"
    NGX_HTTP_RH_LUA_PUT
    "return {v, d}\n",

    /*
     * update of version ARGV[9]: {-1}, it does not exist; {-3, json,
     * spans, version, moment}, another version is there (as a read
     * gives it, to make the update from again without one)
     */
    NGX_HTTP_RH_LUA_MOMENT
    "local cur = redis.call('HMGET', KEYS[1], 'v', 'd')\n"
    "if not cur[1] then return {-1} end\n"
    "if cur[1] ~= ARGV[9] then\n"
    "  local o = redis.call('HMGET', KEYS[1], 'j', 's')\n"
    "  return {-3, o[1], o[2], cur[1], cur[2]}\n"
    "end\n"
    "local had = cur[2]\n"
    "local v = redis.call('INCR', KEYS[3])\n"
    NGX_HTTP_RH_LUA_GONE("{v, d}")
    NGX_HTTP_RH_LUA_PUT
    "return {v, d}\n",

    /*
     * delete; KEYS: object, list, expiry; ARGV: deadline, key, S:KEY,
     * the version that must be there (0: any); -3: another is
     */
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "if now > tonumber(ARGV[1]) then return -2 end\n"
    "if ARGV[4] ~= '0' then\n"
    "  local v = redis.call('HGET', KEYS[1], 'v')\n"
    "  if not v then return -1 end\n"
    "  if v ~= ARGV[4] then return -3 end\n"
    "end\n"
    "if redis.call('DEL', KEYS[1]) == 0 then return -1 end\n"
    "redis.call('ZREM', KEYS[2], ARGV[2])\n"
    "redis.call('ZREM', KEYS[3], ARGV[3])\n"
    "return 1\n",

    /*
     * a page; KEYS: list; ARGV: after, top, the objects' prefix, the
     * most entries scanned, "1" for the count; {more, last place, the
     * count (-1: not asked), then place, JSON, spans of each}
     */
    "local top = tonumber(ARGV[2])\n"
    "local bound = tonumber(ARGV[4])\n"
    "local out = {0, ARGV[1], -1}\n"
    "if ARGV[5] == '1' then out[3] = redis.call('ZCARD', KEYS[1]) end\n"
    "local n = 0\n"
    "local scanned = 0\n"
    "local from = '(' .. ARGV[1]\n"
    "while true do\n"
    "  local m = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf',"
    " 'WITHSCORES', 'LIMIT', 0, top + 1)\n"
    "  if #m == 0 then return out end\n"
    "  for i = 1, #m, 2 do\n"
    "    local o = redis.call('HMGET', ARGV[3] .. m[i], 'j', 's')\n"
    "    if o[1] then\n"
    "      if n == top then out[1] = 1 return out end\n"
    "      n = n + 1\n"
    "      out[3 * n + 1] = m[i + 1]\n"
    "      out[3 * n + 2] = o[1]\n"
    "      out[3 * n + 3] = o[2]\n"
    "      out[2] = m[i + 1]\n"
    "    end\n"
    "    scanned = scanned + 1\n"
    "    from = '(' .. m[i + 1]\n"
    "    if scanned >= bound then\n"
    "      out[1] = 1\n"
    "      out[2] = m[i + 1]\n"
    "      return out\n"
    "    end\n"
    "  end\n"
    "end\n",

    /*
     * the sweep and the count; KEYS: expiry, the lists, expired; ARGV:
     * the objects' prefix, the most swept.  Only moments before now are
     * due: Redis expires a key once its moment is past, not at it, and
     * an entry taken out of the expiry set while its key still existed
     * would stay in its list for good (counted, never swept)
     */
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now,"
    " 'LIMIT', 0, tonumber(ARGV[2]))\n"
    "local gone = 0\n"
    "for _, m in ipairs(due) do\n"
    "  if redis.call('EXISTS', ARGV[1] .. m) == 0 then\n"
    "    local s = tonumber(string.sub(m, 1, 1))\n"
    "    redis.call('ZREM', KEYS[2 + s], string.sub(m, 3))\n"
    "    gone = gone + 1\n"
    "  end\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "end\n"
    "if gone > 0 then redis.call('INCRBY', KEYS[5], gone) end\n"
    "return {redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),"
    " redis.call('ZCARD', KEYS[4]),"
    " tonumber(redis.call('GET', KEYS[5]) or '0')}\n"
};


static u_char  ngx_http_remote_help_redis_sha[NGX_HTTP_RH_SCRIPTS][41];


static ngx_int_t ngx_http_remote_help_redis_zone_start(
    ngx_http_remote_help_zone_t *zone, void *data);
static void ngx_http_remote_help_redis_prefetch(void *backend,
    ngx_str_t *key);
static ngx_int_t ngx_http_remote_help_redis_get(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_redis_put(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_redis_remove(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_redis_list(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_redis_count(void *backend,
    ngx_http_remote_help_op_t *op);
static void ngx_http_remote_help_redis_cancel_op(void *backend,
    ngx_http_remote_help_op_t *op);
static ngx_int_t ngx_http_remote_help_redis_start(
    ngx_http_remote_help_redis_zone_t *rz, ngx_http_remote_help_op_t *op,
    ngx_http_remote_help_redis_build_pt build,
    ngx_http_remote_help_redis_reply_pt handler);
static ngx_int_t ngx_http_remote_help_redis_format(
    ngx_http_remote_help_redis_call_t *call, int argc, const char **argv,
    size_t *lens);
static ngx_int_t ngx_http_remote_help_redis_object_key(
    ngx_http_remote_help_redis_zone_t *rz, ngx_http_remote_help_op_t *op,
    ngx_str_t *key, ngx_str_t *member);
static ngx_int_t ngx_http_remote_help_redis_get_build(
    ngx_http_remote_help_redis_call_t *call);
static ngx_int_t ngx_http_remote_help_redis_object(
    ngx_http_remote_help_redis_zone_t *rz, ngx_http_remote_help_op_t *op,
    redisReply **e, int64_t *death);
static void ngx_http_remote_help_redis_got(
    ngx_http_remote_help_redis_call_t *call, redisReply *reply);
static void ngx_http_remote_help_redis_broken(
    ngx_http_remote_help_redis_call_t *call);
static ngx_int_t ngx_http_remote_help_redis_put_build(
    ngx_http_remote_help_redis_call_t *call);
static void ngx_http_remote_help_redis_put_done(
    ngx_http_remote_help_redis_call_t *call, redisReply *reply);
static ngx_int_t ngx_http_remote_help_redis_remove_build(
    ngx_http_remote_help_redis_call_t *call);
static void ngx_http_remote_help_redis_removed(
    ngx_http_remote_help_redis_call_t *call, redisReply *reply);
static ngx_int_t ngx_http_remote_help_redis_list_build(
    ngx_http_remote_help_redis_call_t *call);
static void ngx_http_remote_help_redis_listed(
    ngx_http_remote_help_redis_call_t *call, redisReply *reply);
static ngx_int_t ngx_http_remote_help_redis_count_build(
    ngx_http_remote_help_redis_call_t *call);
static void ngx_http_remote_help_redis_counted(
    ngx_http_remote_help_redis_call_t *call, redisReply *reply);
static void ngx_http_remote_help_redis_answer(
    ngx_http_remote_help_redis_call_t *call, ngx_int_t rc);
static void ngx_http_remote_help_redis_keep(
    ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_redis_call_t *call, ngx_http_remote_help_op_t *op,
    int64_t death);
static void ngx_http_remote_help_redis_hint(
    ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_redis_call_t *call, ngx_http_remote_help_op_t *op,
    uint64_t from, int64_t death);
static void ngx_http_remote_help_redis_record(
    ngx_http_remote_help_redis_zone_t *rz, ngx_http_remote_help_op_t *op,
    int64_t death, ngx_http_remote_help_record_t *rec);
static void ngx_http_remote_help_redis_drop(
    ngx_http_remote_help_redis_zone_t *rz, ngx_uint_t set, ngx_str_t *key);
static ngx_uint_t ngx_http_remote_help_redis_trust(
    ngx_http_remote_help_redis_zone_t *rz);
static void ngx_http_remote_help_redis_invalidate(void *data, u_char *key,
    size_t len);
static void ngx_http_remote_help_redis_flush_zone(void *data);
static void ngx_http_remote_help_redis_sweep(void *data);
static ngx_uint_t ngx_http_remote_help_redis_fresh(
    ngx_http_remote_help_redis_zone_t *rz);
static void ngx_http_remote_help_redis_heard(void *data, ngx_msec_t sent);
static void ngx_http_remote_help_redis_figure(
    ngx_http_remote_help_redis_zone_t *rz, ngx_uint_t figure);
static ngx_int_t ngx_http_remote_help_redis_number(redisReply *r,
    int64_t *n);


ngx_http_remote_help_storage_t  ngx_http_remote_help_redis_storage = {
    "redis",
    ngx_http_remote_help_redis_prefetch,
    ngx_http_remote_help_redis_get,
    ngx_http_remote_help_redis_put,
    ngx_http_remote_help_redis_remove,
    ngx_http_remote_help_redis_list,
    ngx_http_remote_help_redis_cancel_op,
    ngx_http_remote_help_redis_count
};


char *
ngx_http_remote_help_redis_zone_conf(ngx_conf_t *cf,
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_redis_t *redis)
{
    u_char                              *p, *h;
    size_t                               len;
    ngx_uint_t                           i, k;
    ngx_sha1_t                           sha1;
    ngx_atomic_t                      ***stats;
    ngx_http_remote_help_redis_zone_t   *rz;
    ngx_http_remote_help_redis_watch_t  *w;
    u_char                               digest[20];

    rz = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_redis_zone_t));
    if (rz == NULL) {
        return NGX_CONF_ERROR;
    }

    rz->redis = redis;
    rz->zone = zone;
    rz->timeout = zone->timeout;
    rz->expire = zone->expire;
    rz->cache = redis->cache;

    /*
     * The zone keeps copies with the moments Redis gave them: its own
     * lifetimes go by sessionExpirationDateTime, which the copies carry
     */
    zone->timeout = 0;
    zone->expire = 1;

    len = sizeof("{rh:}:") - 1 + zone->name.len;

    p = ngx_pnalloc(cf->pool, 8 * (len + 8));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

#define ngx_http_rh_redis_key(field, fmt, ...)                               \
    rz->field.data = p;                                                      \
    p = ngx_sprintf(p, "{rh:%V}:" fmt, &zone->name, ##__VA_ARGS__);          \
    rz->field.len = p - rz->field.data;

    ngx_http_rh_redis_key(prefix, "");
    ngx_http_rh_redis_key(counter, "n");
    ngx_http_rh_redis_key(expiry, "e");
    ngx_http_rh_redis_key(expired, "x");
    ngx_http_rh_redis_key(objects, "o:");

    for (i = 0; i < NGX_RH_NSETS; i++) {
        ngx_http_rh_redis_key(list[i], "l:%ui", i);
        ngx_http_rh_redis_key(object[i], "o:%ui:", i);
    }

#undef ngx_http_rh_redis_key

    zone->redis = rz;
    zone->backend.storage = &ngx_http_remote_help_redis_storage;

    redis->used = 1;
    redis->scripts = ngx_http_remote_help_redis_scripts;
    redis->nscripts = NGX_HTTP_RH_SCRIPTS;

    w = ngx_array_push(&redis->watches);
    stats = ngx_array_push(&redis->stats);

    if (w == NULL || stats == NULL) {
        return NGX_CONF_ERROR;
    }

    /* told of the objects' changes only, not of the lists' */
    w->prefix = rz->objects;
    w->data = rz;
    w->invalidate = ngx_http_remote_help_redis_invalidate;
    w->flush = ngx_http_remote_help_redis_flush_zone;
    w->sweep = ngx_http_remote_help_redis_sweep;
    w->heard = ngx_http_remote_help_redis_heard;

    *stats = &rz->stats;

    if (ngx_http_remote_help_redis_sha[0][0] == '\0') {
        for (k = 0; k < NGX_HTTP_RH_SCRIPTS; k++) {
            ngx_sha1_init(&sha1);
            ngx_sha1_update(&sha1, ngx_http_remote_help_redis_scripts[k],
                            ngx_strlen(ngx_http_remote_help_redis_scripts[k]));
            ngx_sha1_final(digest, &sha1);

            h = ngx_hex_dump(ngx_http_remote_help_redis_sha[k], digest, 20);
            *h = '\0';
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_remote_help_redis_zone_init_process(ngx_array_t *zones)
{
    return ngx_http_remote_help_store_each(zones,
                                        ngx_http_remote_help_redis_zone_start,
                                        NULL);
}


/* a worker's start: its zone's figures, once the counters are there */

static ngx_int_t
ngx_http_remote_help_redis_zone_start(ngx_http_remote_help_zone_t *zone,
    void *data)
{
    if (zone->redis && zone->counters) {
        zone->redis->stats = zone->counters->backend;
    }

    return NGX_OK;
}


ngx_str_t *
ngx_http_remote_help_redis_zone_name(ngx_http_remote_help_zone_t *zone)
{
    return &zone->redis->redis->name;
}


ngx_uint_t
ngx_http_remote_help_redis_zone_connected(ngx_http_remote_help_zone_t *zone)
{
    return ngx_http_remote_help_redis_connected(zone->redis->redis);
}


ngx_uint_t
ngx_http_remote_help_redis_zone_cache(ngx_http_remote_help_zone_t *zone)
{
    return zone->redis->cache;
}


static void
ngx_http_remote_help_redis_prefetch(void *backend, ngx_str_t *key)
{
    ngx_http_remote_help_zone_t *zone = backend;

    if (zone->redis->cache) {
        ngx_http_remote_help_store_prefetch(zone, key);
    }
}


/* a copy, while every change is heard of; or Redis's */

static ngx_int_t
ngx_http_remote_help_redis_get(void *backend, ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_zone_t *zone = backend;

    ngx_http_remote_help_redis_zone_t  *rz;

    rz = zone->redis;

    /*
     * a PATCH's read may be behind (a hint, or a copy whose change is not
     * heard of yet): the update script refuses a write made from it.
     * Without copies, the zone has hints only, read while few of them
     * turn out to be behind
     */

    if (op->exact) {
        goto redis;
    }

    if (rz->cache) {
        if (!op->update && !ngx_http_remote_help_redis_fresh(rz)) {
            goto redis;
        }

    } else if (!op->update || !ngx_http_remote_help_redis_trust(rz)) {
        goto redis;
    }

    if (ngx_http_remote_help_store_get(zone, op) == NGX_OK) {
        op->copy = 1;

        if (rz->cache) {
            ngx_http_remote_help_redis_figure(rz, NGX_HTTP_RH_RS_HITS);

        } else {
            (void) ngx_atomic_fetch_add(&zone->counters->hints_read, 1);
        }

        return NGX_OK;
    }

    if (rz->cache) {
        ngx_http_remote_help_redis_figure(rz, NGX_HTTP_RH_RS_MISSES);
    }

redis:

    return ngx_http_remote_help_redis_start(rz, op,
                                        ngx_http_remote_help_redis_get_build,
                                        ngx_http_remote_help_redis_got);
}


static ngx_int_t
ngx_http_remote_help_redis_put(void *backend, ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_zone_t *zone = backend;

    return ngx_http_remote_help_redis_start(zone->redis, op,
                                        ngx_http_remote_help_redis_put_build,
                                        ngx_http_remote_help_redis_put_done);
}


static ngx_int_t
ngx_http_remote_help_redis_remove(void *backend,
    ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_zone_t *zone = backend;

    return ngx_http_remote_help_redis_start(zone->redis, op,
                                     ngx_http_remote_help_redis_remove_build,
                                     ngx_http_remote_help_redis_removed);
}


static ngx_int_t
ngx_http_remote_help_redis_list(void *backend, ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_zone_t *zone = backend;

    return ngx_http_remote_help_redis_start(zone->redis, op,
                                       ngx_http_remote_help_redis_list_build,
                                       ngx_http_remote_help_redis_listed);
}


static ngx_int_t
ngx_http_remote_help_redis_count(void *backend, ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_zone_t *zone = backend;

    return ngx_http_remote_help_redis_start(zone->redis, op,
                                      ngx_http_remote_help_redis_count_build,
                                      ngx_http_remote_help_redis_counted);
}


static void
ngx_http_remote_help_redis_cancel_op(void *backend,
    ngx_http_remote_help_op_t *op)
{
    if (op->backend_data) {
        ngx_http_remote_help_redis_cancel(op->backend_data);
        op->backend_data = NULL;
    }
}


static ngx_int_t
ngx_http_remote_help_redis_start(ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_op_t *op, ngx_http_remote_help_redis_build_pt build,
    ngx_http_remote_help_redis_reply_pt handler)
{
    ngx_int_t                           rc;
    ngx_http_remote_help_redis_call_t  *call;

    call = ngx_http_remote_help_redis_call(rz->redis, op);
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->data = rz;
    call->build = build;
    call->handler = handler;

    if (op) {
        op->backend_data = call;
    }

    rc = ngx_http_remote_help_redis_send(call);

    if (rc != NGX_AGAIN && op) {
        op->backend_data = NULL;
    }

    return rc;
}


static ngx_int_t
ngx_http_remote_help_redis_format(ngx_http_remote_help_redis_call_t *call,
    int argc, const char **argv, size_t *lens)
{
    int  len;
    sds  cmd;

    /*
     * hiredis's sds formatter: its own number formatting, where
     * redisFormatCommandArgv() calls sprintf() for each argument's length
     * (3.2 % of the workers' CPU under a PATCH load with backend=)
     */

    cmd = NULL;
    len = redisFormatSdsCommandArgv(&cmd, argc, argv, lens);

    if (len < 0 || cmd == NULL) {
        call->cmd = NULL;
        return NGX_ERROR;
    }

    call->cmd = cmd;
    call->len = len;

    return NGX_OK;
}


/* PREFIX o:S:KEY, and S:KEY, the object's entry in the expiry set */

static ngx_int_t
ngx_http_remote_help_redis_object_key(ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_op_t *op, ngx_str_t *key, ngx_str_t *member)
{
    u_char  *p;

    p = ngx_pnalloc(op->pool, rz->object[op->set].len + op->key.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    key->len = ngx_cpymem(p, rz->object[op->set].data,
                          rz->object[op->set].len)
               - p;
    key->len = ngx_cpymem(p + key->len, op->key.data, op->key.len) - p;

    /* "S:KEY" is the object key's tail */
    member->data = key->data + rz->objects.len;
    member->len = key->len - rz->objects.len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_redis_get_build(ngx_http_remote_help_redis_call_t *call)
{
    ngx_str_t                           key, member;
    ngx_http_remote_help_redis_zone_t  *rz;
    const char                         *argv[6];
    size_t                              lens[6];

    rz = call->data;

    if (ngx_http_remote_help_redis_object_key(rz, call->op, &key, &member)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the changes heard so far: a copy of the reply only if none since */
    call->inval = rz->zone->counters->changes;

    argv[0] = "HMGET"; lens[0] = 5;
    argv[1] = (char *) key.data; lens[1] = key.len;
    argv[2] = "j"; lens[2] = 1;
    argv[3] = "s"; lens[3] = 1;
    argv[4] = "v"; lens[4] = 1;
    argv[5] = "d"; lens[5] = 1;

    return ngx_http_remote_help_redis_format(call, 6, argv, lens);
}


/*
 * An object as Redis gives it, e: its JSON, spans, version and moment
 * (nil: none), into op; NGX_HTTP_RH_BROKEN: not one this module wrote
 */

static ngx_int_t
ngx_http_remote_help_redis_object(ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_op_t *op, redisReply **e, int64_t *death)
{
    size_t   spans;
    int64_t  version;

    if (e[0]->type == REDIS_REPLY_NIL) {
        return NGX_HTTP_RH_MISSING;
    }

    spans = 8 * (size_t) ngx_rh_sets[op->set].nprops;

    if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING
        || (size_t) e[1]->len != spans
        || ngx_http_remote_help_redis_number(e[2], &version) != NGX_OK)
    {
        return NGX_HTTP_RH_BROKEN;
    }

    *death = 0;

    if (e[3]->type != REDIS_REPLY_NIL) {
        if (ngx_http_remote_help_redis_number(e[3], death) != NGX_OK) {
            return NGX_HTTP_RH_BROKEN;
        }

        /* gone by its moment, whether Redis removed it yet or not */
        if (*death <= ngx_http_remote_help_redis_now(rz->redis)) {
            return NGX_HTTP_RH_MISSING;
        }
    }

    op->json.len = e[0]->len;
    op->json.data = ngx_pnalloc(op->pool, op->json.len);
    if (op->json.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(op->json.data, e[0]->str, op->json.len);
    ngx_memcpy(op->spans, e[1]->str, spans);
    op->seq = (uint64_t) version;

    return NGX_OK;
}


static void
ngx_http_remote_help_redis_got(ngx_http_remote_help_redis_call_t *call,
    redisReply *reply)
{
    int64_t                             death;
    ngx_int_t                           rc;
    ngx_http_remote_help_op_t          *op;
    ngx_http_remote_help_redis_zone_t  *rz;

    op = call->op;
    rz = call->data;

    if (reply == NULL) {
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_UNAVAILABLE);
        return;
    }

    rc = NGX_HTTP_RH_BROKEN;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 4) {
        rc = ngx_http_remote_help_redis_object(rz, op, reply->element,
                                               &death);
    }

    if (rc == NGX_HTTP_RH_BROKEN) {
        ngx_http_remote_help_redis_broken(call);
        return;
    }

    if (rc == NGX_OK && !op->update) {
        /* a PATCH's read: the write that follows drops it anyway */
        ngx_http_remote_help_redis_keep(rz, call, op, death);
    }

    ngx_http_remote_help_redis_answer(call, rc);
}


static void
ngx_http_remote_help_redis_broken(ngx_http_remote_help_redis_call_t *call)
{
    ngx_log_error(NGX_LOG_ERR, call->redis->log, 0,
                  "remote_help_redis \"%V\": the object \"%V\" in Redis is "
                  "not one this module wrote", &call->redis->name,
                  &call->op->key);

    ngx_http_remote_help_redis_answer(call, NGX_ERROR);
}


static ngx_int_t
ngx_http_remote_help_redis_put_build(ngx_http_remote_help_redis_call_t *call)
{
    int                                 argc;
    ngx_str_t                           key, member;
    ngx_uint_t                          update, s;
    ngx_http_remote_help_op_t          *op;
    ngx_http_remote_help_redis_zone_t  *rz;
    const char                         *argv[16];
    size_t                              lens[16];
    u_char                              deadline[NGX_INT64_LEN];
    u_char                              timeout[NGX_INT64_LEN];
    u_char                              until[NGX_INT64_LEN];
    u_char                              version[NGX_INT64_LEN];

    op = call->op;
    rz = call->data;
    update = (op->seq != NGX_HTTP_RH_CREATE);
    s = update ? NGX_HTTP_RH_SCRIPT_UPDATE : NGX_HTTP_RH_SCRIPT_CREATE;
    call->inval = rz->zone->counters->changes;

    if (ngx_http_remote_help_redis_object_key(rz, op, &key, &member)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    argc = 0;

#define ngx_http_rh_arg(d, l)                                                \
    argv[argc] = (const char *) (d); lens[argc++] = (l)

    ngx_http_rh_arg("EVALSHA", 7);
    ngx_http_rh_arg(ngx_http_remote_help_redis_sha[s], 40);
    ngx_http_rh_arg("4", 1);
    ngx_http_rh_arg(key.data, key.len);
    ngx_http_rh_arg(rz->list[op->set].data, rz->list[op->set].len);
    ngx_http_rh_arg(rz->counter.data, rz->counter.len);
    ngx_http_rh_arg(rz->expiry.data, rz->expiry.len);
    ngx_http_rh_arg(deadline, ngx_sprintf(deadline, "%L",
                        ngx_http_remote_help_redis_deadline(call))
                              - deadline);
    ngx_http_rh_arg(timeout, ngx_sprintf(timeout, "%M", rz->timeout)
                             - timeout);
    ngx_http_rh_arg(until, ngx_sprintf(until, "%L", op->until) - until);
    ngx_http_rh_arg(rz->expire ? "1" : "0", 1);
    ngx_http_rh_arg(op->json.data, op->json.len);
    ngx_http_rh_arg(op->spans, 8 * (size_t) ngx_rh_sets[op->set].nprops);
    ngx_http_rh_arg(op->key.data, op->key.len);
    ngx_http_rh_arg(member.data, member.len);

    if (update) {
        ngx_http_rh_arg(version, ngx_sprintf(version, "%uL", op->seq)
                                 - version);
    }

    return ngx_http_remote_help_redis_format(call, argc, argv, lens);
}


static void
ngx_http_remote_help_redis_put_done(ngx_http_remote_help_redis_call_t *call,
    redisReply *reply)
{
    int64_t                             version, death;
    uint64_t                            from;
    ngx_int_t                           rc;
    ngx_http_remote_help_op_t          *op;
    ngx_http_remote_help_redis_zone_t  *rz;

    op = call->op;
    rz = call->data;

    if (reply == NULL) {
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_UNAVAILABLE);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
        || ngx_http_remote_help_redis_number(reply->element[0], &version)
           != NGX_OK)
    {
        ngx_http_remote_help_redis_answer(call, NGX_ERROR);
        return;
    }

    switch (version) {

    case -1:
        ngx_http_remote_help_redis_drop(rz, op->set, &op->key);
        ngx_http_remote_help_redis_answer(call,
                                          (op->seq == NGX_HTTP_RH_CREATE)
                                          ? NGX_HTTP_RH_EXISTS
                                          : NGX_HTTP_RH_MISSING);
        return;

    case -2:
        /* the deadline passed before it ran: nothing was made */
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_UNAVAILABLE);
        return;

    case -3:
        /*
         * made from a version that is not the last: the one there now
         * came with the answer, to make the update from again
         */
        ngx_http_remote_help_redis_drop(rz, op->set, &op->key);

        if (!rz->cache) {
            (void) ngx_atomic_fetch_add(&rz->zone->counters->hints_behind,
                                        1);
        }

        rc = NGX_HTTP_RH_BROKEN;

        if (reply->elements == 5) {
            rc = ngx_http_remote_help_redis_object(rz, op,
                                                   &reply->element[1],
                                                   &death);
        }

        switch (rc) {

        case NGX_OK:
            op->current = 1;
            rc = NGX_HTTP_RH_CHANGED;
            break;

        case NGX_HTTP_RH_BROKEN:
            ngx_http_remote_help_redis_broken(call);
            return;
        }

        ngx_http_remote_help_redis_answer(call, rc);
        return;
    }

    if (reply->elements != 2
        || ngx_http_remote_help_redis_number(reply->element[1], &death)
           != NGX_OK)
    {
        ngx_http_remote_help_redis_answer(call, NGX_ERROR);
        return;
    }

    from = op->seq;
    op->seq = (uint64_t) version;

    ngx_http_remote_help_redis_hint(rz, call, op, from, death);

    ngx_http_remote_help_redis_answer(call, NGX_OK);
}


/*
 * What was just written is kept as a hint in place of the copy: the
 * next PATCH of the object through this gateway reads it rather than
 * Redis, and is refused by the update script if another write came
 * since; a GET never answers from it (the listener is told of this
 * change too, and could not tell it from a later one).  Hints take at
 * most half the zone: above that, the copy only goes.
 *
 * A hint is forgotten at the second change heard of after it, its own
 * being the first, unless its own was heard of before it was kept:
 * then at the first.  An update was made from the version "from" (no
 * other came between), so a change heard of since is this write's, and
 * what the zone had of "from" went with it; a new object's, if any
 * change at all was heard of since it was sent.  Either errs only to
 * the side of forgetting a hint early.
 *
 * The hint of a create costs a create about a tenth more (measured,
 * docs/performance.md), and it is what lets the hint of the first
 * update survive that update's own change heard of: an update whose
 * "from" the zone does not have is taken as heard of already.  Without
 * copies, nothing is heard of: a hint stays until replaced or dropped,
 * and a create keeps none.
 */

static void
ngx_http_remote_help_redis_hint(ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_redis_call_t *call, ngx_http_remote_help_op_t *op,
    uint64_t from, int64_t death)
{
    ngx_uint_t                     heard;
    ngx_http_remote_help_record_t  rec;

    if (!rz->cache && from == NGX_HTTP_RH_CREATE) {
        /* nothing to start a chain of hints for: its cost stays */
        return;
    }

    heard = rz->cache && (rz->zone->counters->changes != call->inval);

    /* fills of it in flight, read before this write, are refused */
    (void) ngx_atomic_fetch_add(&rz->zone->counters->changes, 1);

    ngx_http_remote_help_redis_record(rz, op, death, &rec);

    if (ngx_http_remote_help_store_hint(rz->zone, &rec, from, heard)
        != NGX_OK)
    {
        ngx_http_remote_help_redis_drop(rz, op->set, &op->key);
    }
}


static ngx_int_t
ngx_http_remote_help_redis_remove_build(
    ngx_http_remote_help_redis_call_t *call)
{
    int                                 argc;
    ngx_str_t                           key, member;
    ngx_http_remote_help_op_t          *op;
    ngx_http_remote_help_redis_zone_t  *rz;
    const char                         *argv[10];
    size_t                              lens[10];
    u_char                              deadline[NGX_INT64_LEN];
    u_char                              version[NGX_INT64_LEN];

    op = call->op;
    rz = call->data;

    if (ngx_http_remote_help_redis_object_key(rz, op, &key, &member)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    argc = 0;

    ngx_http_rh_arg("EVALSHA", 7);
    ngx_http_rh_arg(ngx_http_remote_help_redis_sha[NGX_HTTP_RH_SCRIPT_DELETE],
                    40);
    ngx_http_rh_arg("3", 1);
    ngx_http_rh_arg(key.data, key.len);
    ngx_http_rh_arg(rz->list[op->set].data, rz->list[op->set].len);
    ngx_http_rh_arg(rz->expiry.data, rz->expiry.len);
    ngx_http_rh_arg(deadline, ngx_sprintf(deadline, "%L",
                        ngx_http_remote_help_redis_deadline(call))
                              - deadline);
    ngx_http_rh_arg(op->key.data, op->key.len);
    ngx_http_rh_arg(member.data, member.len);
    ngx_http_rh_arg(version, ngx_sprintf(version, "%uL", op->seq) - version);

    return ngx_http_remote_help_redis_format(call, argc, argv, lens);
}


static void
ngx_http_remote_help_redis_removed(ngx_http_remote_help_redis_call_t *call,
    redisReply *reply)
{
    int64_t                             rc;
    ngx_http_remote_help_op_t          *op;
    ngx_http_remote_help_redis_zone_t  *rz;

    op = call->op;
    rz = call->data;

    if (reply == NULL) {
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_UNAVAILABLE);
        return;
    }

    if (ngx_http_remote_help_redis_number(reply, &rc) != NGX_OK) {
        ngx_http_remote_help_redis_answer(call, NGX_ERROR);
        return;
    }

    if (rc == -2) {
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_UNAVAILABLE);
        return;
    }

    ngx_http_remote_help_redis_drop(rz, op->set, &op->key);

    op->seq = 0;

    if (rc == -3) {
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_CHANGED);
        return;
    }

    ngx_http_remote_help_redis_answer(call, (rc == 1) ? NGX_OK
                                                      : NGX_HTTP_RH_MISSING);
}


static ngx_int_t
ngx_http_remote_help_redis_list_build(ngx_http_remote_help_redis_call_t *call)
{
    int                                 argc;
    ngx_http_remote_help_op_t          *op;
    ngx_http_remote_help_redis_zone_t  *rz;
    ngx_uint_t                          fetch;
    const char                         *argv[9];
    size_t                              lens[9];
    u_char                              after[NGX_INT64_LEN];
    u_char                              top[NGX_INT64_LEN];
    u_char                              bound[NGX_INT64_LEN];

    op = call->op;
    rz = call->data;
    argc = 0;

    /* with a filter, every object examined comes back to be matched */
    fetch = (op->filter || op->tally) ? op->scan : op->top;

    ngx_http_rh_arg("EVALSHA", 7);
    ngx_http_rh_arg(ngx_http_remote_help_redis_sha[NGX_HTTP_RH_SCRIPT_LIST],
                    40);
    ngx_http_rh_arg("1", 1);
    ngx_http_rh_arg(rz->list[op->set].data, rz->list[op->set].len);
    ngx_http_rh_arg(after, ngx_sprintf(after, "%uL", op->after) - after);
    ngx_http_rh_arg(top, ngx_sprintf(top, "%ui", fetch) - top);
    ngx_http_rh_arg(rz->object[op->set].data, rz->object[op->set].len);
    ngx_http_rh_arg(bound, ngx_sprintf(bound, "%ui",
                                       NGX_HTTP_RH_LIST_SCAN * fetch
                                       + NGX_HTTP_RH_SWEEP_MAX)
                           - bound);
    ngx_http_rh_arg(op->count ? "1" : "0", 1);

    return ngx_http_remote_help_redis_format(call, argc, argv, lens);
}


static void
ngx_http_remote_help_redis_listed(ngx_http_remote_help_redis_call_t *call,
    redisReply *reply)
{
    size_t                        spans;
    int64_t                       more, last, total, place;
    uint32_t                      match[2 * NGX_RH_MAX_PROPS];
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    redisReply                  **e;
    ngx_http_remote_help_op_t    *op;

    op = call->op;

    if (reply == NULL) {
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_UNAVAILABLE);
        return;
    }

    spans = 8 * (size_t) ngx_rh_sets[op->set].nprops;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3
        || (reply->elements - 3) % 3 != 0
        || ngx_http_remote_help_redis_number(reply->element[0], &more)
           != NGX_OK
        || ngx_http_remote_help_redis_number(reply->element[1], &last)
           != NGX_OK
        || ngx_http_remote_help_redis_number(reply->element[2], &total)
           != NGX_OK)
    {
        goto broken;
    }

    op->more = 0;
    op->last = 0;
    op->total = (op->count && total > 0) ? (ngx_uint_t) total : 0;

    /* the objects examined, matched here as the zone matches its own */

    for (i = 3; i < reply->elements; i += 3) {
        e = &reply->element[i];

        if (ngx_http_remote_help_redis_number(e[0], &place) != NGX_OK
            || e[1]->type != REDIS_REPLY_STRING
            || e[2]->type != REDIS_REPLY_STRING
            || (size_t) e[2]->len != spans)
        {
            goto broken;
        }

        /* aligned for the filter */
        ngx_memcpy(match, e[2]->str, spans);

        rc = ngx_http_remote_help_store_listed(op, (uint64_t) place,
                                               (u_char *) e[1]->str,
                                               e[1]->len, match);
        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            ngx_http_remote_help_redis_answer(call, NGX_ERROR);
            return;
        }
    }

    if (i >= reply->elements && more == 1) {
        /* all examined: the script says where it stopped, after them */
        op->more = 1;
        op->last = (uint64_t) last;
    }

    ngx_http_remote_help_redis_answer(call, NGX_OK);
    return;

broken:

    ngx_http_remote_help_redis_answer(call, NGX_ERROR);
}


static ngx_int_t
ngx_http_remote_help_redis_count_build(
    ngx_http_remote_help_redis_call_t *call)
{
    int                                 argc;
    ngx_uint_t                          i;
    ngx_http_remote_help_redis_zone_t  *rz;
    const char                         *argv[12];
    size_t                              lens[12];
    u_char                              max[NGX_INT64_LEN];

    rz = call->data;
    argc = 0;

    ngx_http_rh_arg("EVALSHA", 7);
    ngx_http_rh_arg(ngx_http_remote_help_redis_sha[NGX_HTTP_RH_SCRIPT_COUNT],
                    40);
    ngx_http_rh_arg("5", 1);
    ngx_http_rh_arg(rz->expiry.data, rz->expiry.len);

    for (i = 0; i < NGX_RH_NSETS; i++) {
        ngx_http_rh_arg(rz->list[i].data, rz->list[i].len);
    }

    ngx_http_rh_arg(rz->expired.data, rz->expired.len);
    ngx_http_rh_arg(rz->objects.data, rz->objects.len);
    ngx_http_rh_arg(max, ngx_sprintf(max, "%ui", NGX_HTTP_RH_SWEEP_MAX)
                         - max);

#undef ngx_http_rh_arg

    return ngx_http_remote_help_redis_format(call, argc, argv, lens);
}


static void
ngx_http_remote_help_redis_counted(ngx_http_remote_help_redis_call_t *call,
    redisReply *reply)
{
    int64_t                     n;
    ngx_uint_t                  i;
    ngx_http_remote_help_op_t  *op;

    op = call->op;

    if (reply == NULL) {
        ngx_http_remote_help_redis_answer(call, NGX_HTTP_RH_UNAVAILABLE);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != NGX_RH_NSETS + 1)
    {
        ngx_http_remote_help_redis_answer(call, NGX_ERROR);
        return;
    }

    for (i = 0; i <= NGX_RH_NSETS; i++) {
        if (ngx_http_remote_help_redis_number(reply->element[i], &n)
            != NGX_OK)
        {
            ngx_http_remote_help_redis_answer(call, NGX_ERROR);
            return;
        }

        if (i < NGX_RH_NSETS) {
            op->objects[i] = (ngx_uint_t) n;

        } else {
            op->expired = (ngx_uint_t) n;
        }
    }

    ngx_http_remote_help_redis_answer(call, NGX_OK);
}


/* the op answered, from the event loop (a reply, or its deadline) */

static void
ngx_http_remote_help_redis_answer(ngx_http_remote_help_redis_call_t *call,
    ngx_int_t rc)
{
    ngx_http_remote_help_op_t  *op;

    op = call->op;

    if (op == NULL) {
        return;
    }

    call->op = NULL;
    op->backend_data = NULL;
    op->rc = rc;

    op->done(op);
}


/*
 * A copy of what Redis answered, unless a change was heard of since the
 * call was sent (it may be of this object, and older than the answer)
 */

static void
ngx_http_remote_help_redis_keep(ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_redis_call_t *call, ngx_http_remote_help_op_t *op,
    int64_t death)
{
    ngx_int_t                      rc;
    ngx_http_remote_help_record_t  rec;

    if (!rz->cache) {
        return;
    }

    if (!ngx_http_remote_help_redis_fresh(rz)) {
        ngx_http_remote_help_redis_drop(rz, op->set, &op->key);
        return;
    }

    ngx_http_remote_help_redis_record(rz, op, death, &rec);

    /* under the zone's lock, refused if a change was heard of since */

    rc = ngx_http_remote_help_store_put_guarded(rz->zone, &rec,
                                                &rz->zone->counters->changes,
                                                call->inval);

    if (rc != NGX_OK && rc != NGX_DECLINED) {
        /* no room: it is not kept, and no older copy either */
        ngx_http_remote_help_redis_drop(rz, op->set, &op->key);
    }
}


/* the zone's record of a version Redis has, with the moment it goes */

static void
ngx_http_remote_help_redis_record(ngx_http_remote_help_redis_zone_t *rz,
    ngx_http_remote_help_op_t *op, int64_t death,
    ngx_http_remote_help_record_t *rec)
{
    ngx_memzero(rec, sizeof(ngx_http_remote_help_record_t));

    rec->op = NGX_HTTP_RH_OP_PUT;
    rec->set = op->set;
    rec->key = op->key;
    rec->seq = NGX_HTTP_RH_REPLAY | op->seq;
    rec->nprops = ngx_rh_sets[op->set].nprops;
    rec->spans = op->spans;
    rec->json = op->json;
    rec->written = ngx_http_rh_now();

    /* the zone's own lifetimes go by this alone: the moment Redis has */
    rec->until = death ? death - rz->redis->offset : 0;
}


/* a copy dropped, and fills of it in flight refused */

static void
ngx_http_remote_help_redis_drop(ngx_http_remote_help_redis_zone_t *rz,
    ngx_uint_t set, ngx_str_t *key)
{
    ngx_http_remote_help_store_forget(rz->zone, set, key,
                                      &rz->zone->counters->changes);
}


/*
 * Without copies, a PATCH reads a hint while at most about a quarter of
 * the hints read lately were behind (another gateway wrote the object
 * since, and the update was made again from the version its refusal
 * gave: one call more than a read from Redis would have cost), as if
 * NGX_HTTP_RH_HINT_PRIOR more had been read, none behind.  Otherwise one
 * PATCH in NGX_HTTP_RH_HINT_PROBE still reads one, to learn when they are
 * of use again.  The figures are halved every NGX_HTTP_RH_HINT_WINDOW
 * PATCHes; the workers' races on them only blur them.
 */

static ngx_uint_t
ngx_http_remote_help_redis_trust(ngx_http_remote_help_redis_zone_t *rz)
{
    ngx_atomic_uint_t                 n;
    ngx_http_remote_help_counters_t  *c;

    c = rz->zone->counters;
    n = ngx_atomic_fetch_add(&c->hints_considered, 1) + 1;

    if (n % NGX_HTTP_RH_HINT_WINDOW == 0) {
        c->hints_read /= 2;
        c->hints_behind /= 2;
    }

    if (4 * c->hints_behind <= c->hints_read + NGX_HTTP_RH_HINT_PRIOR) {
        return 1;
    }

    return n % NGX_HTTP_RH_HINT_PROBE == 0;
}


/*
 * Copies are served while the listener of this gateway has heard a
 * heartbeat sent at most 100 ms ago (ngx_current_msec is the monotonic
 * clock, the same in every worker)
 */

static ngx_uint_t
ngx_http_remote_help_redis_fresh(ngx_http_remote_help_redis_zone_t *rz)
{
    return (ngx_msec_int_t) (ngx_current_msec - rz->zone->counters->heard)
           <= NGX_HTTP_RH_REDIS_FRESH;
}


static void
ngx_http_remote_help_redis_heard(void *data, ngx_msec_t sent)
{
    ngx_http_remote_help_redis_zone_t *rz = data;

    ngx_http_remote_help_counters_t  *c;

    c = rz->zone->counters;

    /* the latest of the listeners' (two, for a while, after a reload) */
    if ((ngx_msec_int_t) (sent - c->heard) > 0) {
        c->heard = sent;
    }
}


/* "S:KEY", after the objects' prefix, changed */

static void
ngx_http_remote_help_redis_invalidate(void *data, u_char *key, size_t len)
{
    ngx_http_remote_help_redis_zone_t *rz = data;

    ngx_str_t   k;
    ngx_uint_t  set;

    if (len < 3 || key[1] != ':' || key[0] < '0'
        || key[0] >= '0' + NGX_RH_NSETS)
    {
        return;
    }

    set = key[0] - '0';
    k.data = key + 2;
    k.len = len - 2;

    ngx_http_remote_help_redis_figure(rz, NGX_HTTP_RH_RS_INVALIDATIONS);

    if (rz->cache) {
        ngx_http_remote_help_store_invalidate(rz->zone, set, &k,
                                              &rz->zone->counters->changes);
    }
}


static void
ngx_http_remote_help_redis_flush_zone(void *data)
{
    ngx_http_remote_help_redis_zone_t *rz = data;

    ngx_http_remote_help_counters_t  *c;

    c = rz->zone->counters;

    /* no copy served, no fill in flight kept, and none left */

    c->heard = ngx_current_msec - 2 * NGX_HTTP_RH_REDIS_FRESH;
    (void) ngx_atomic_fetch_add(&c->changes, 1);

    ngx_http_remote_help_redis_figure(rz, NGX_HTTP_RH_RS_FLUSHES);
    ngx_http_remote_help_store_clear(rz->zone);
}


/* what expired, out of the listings (a call none waits for) */

static void
ngx_http_remote_help_redis_sweep(void *data)
{
    (void) ngx_http_remote_help_redis_start(data, NULL,
                                      ngx_http_remote_help_redis_count_build,
                                      NULL);
}


static void
ngx_http_remote_help_redis_figure(ngx_http_remote_help_redis_zone_t *rz,
    ngx_uint_t figure)
{
    if (rz->stats) {
        (void) ngx_atomic_fetch_add(&rz->stats[figure], 1);
    }
}


/* an integer, or a string of one (a score, a hash field) */

static ngx_int_t
ngx_http_remote_help_redis_number(redisReply *r, int64_t *n)
{
    u_char    *p, *end;
    int64_t    v;
    ngx_int_t  neg;

    if (r->type == REDIS_REPLY_INTEGER) {
        *n = r->integer;
        return NGX_OK;
    }

    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 19) {
        return NGX_ERROR;
    }

    p = (u_char *) r->str;
    end = p + r->len;
    neg = (*p == '-');

    if (neg) {
        p++;
    }

    if (p == end) {
        return NGX_ERROR;
    }

    for (v = 0; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        v = v * 10 + (*p - '0');
    }

    *n = neg ? -v : v;

    return NGX_OK;
}
