
/*
 * ngx_http_remote_help_module: a Redis server (remote_help_redis) and a
 * worker's connections to it.
 *
 * The command connection is made at the worker's start and again after
 * a loss, with a backoff (50 ms doubled up to 1 s): AUTH, SELECT, the
 * scripts, then TIME, whose answer gives Redis's clock and makes it
 * ready; calls made meanwhile wait for it (within their timeout).
 *
 * When a zone keeps copies (cache=on), one worker of the gateway (the
 * first, ngx_worker 0: the listener) hears of the changes for all of
 * them, so that a write costs Redis one message per gateway, not one per
 * worker: a second connection subscribes to __redis__:invalidate and to
 * a heartbeat channel of its own, and the command connection's CLIENT
 * TRACKING (BCAST, the zones' prefixes) sends it every change, its own
 * writes' too.  It publishes a heartbeat every 25 ms carrying the moment
 * it was sent: when one is heard, every change Redis made before it was
 * sent was heard before it.  The backend keeps when the last one was
 * sent, and the changes heard, in the zone's shared counters: any
 * worker serves a copy while it is at most 100 ms old.  Losing either
 * connection, or the heartbeat, drops every copy at once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_redis.h"
#include "ngx_http_remote_help_redis_adapter.h"


#define NGX_HTTP_RH_REDIS_BACKOFF_MIN 50
#define NGX_HTTP_RH_REDIS_BACKOFF_MAX 1000
#define NGX_HTTP_RH_REDIS_SWEEP       1000


static ngx_int_t ngx_http_remote_help_redis_server(ngx_conf_t *cf,
    ngx_http_remote_help_redis_t *redis, ngx_str_t *value);
static ngx_int_t ngx_http_remote_help_redis_password(ngx_conf_t *cf,
    ngx_http_remote_help_redis_t *redis, ngx_str_t *file);
static void ngx_http_remote_help_redis_connect(
    ngx_http_remote_help_redis_t *redis);
static redisAsyncContext *ngx_http_remote_help_redis_open(
    ngx_http_remote_help_redis_t *redis);
static void ngx_http_remote_help_redis_connected_cb(
    const redisAsyncContext *ac, int status);
static void ngx_http_remote_help_redis_disconnected(
    const redisAsyncContext *ac, int status);
static void ngx_http_remote_help_redis_lost(
    ngx_http_remote_help_redis_t *redis, const redisAsyncContext *ac);
static void ngx_http_remote_help_redis_setup(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_remote_help_redis_time(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_remote_help_redis_client_id(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_remote_help_redis_message(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_remote_help_redis_invalidated(
    ngx_http_remote_help_redis_t *redis, redisReply *keys);
static void ngx_http_remote_help_redis_track(
    ngx_http_remote_help_redis_t *redis);
static void ngx_http_remote_help_redis_tracked(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_remote_help_redis_flush(
    ngx_http_remote_help_redis_t *redis);
static void ngx_http_remote_help_redis_load(
    ngx_http_remote_help_redis_t *redis);
static ngx_int_t ngx_http_remote_help_redis_write(
    ngx_http_remote_help_redis_call_t *call);
static void ngx_http_remote_help_redis_reply(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_remote_help_redis_expired(ngx_event_t *ev);
static void ngx_http_remote_help_redis_free(
    ngx_http_remote_help_redis_call_t *call);
static void ngx_http_remote_help_redis_count(
    ngx_http_remote_help_redis_t *redis, ngx_uint_t figure);
static u_char *ngx_http_remote_help_redis_moment(u_char *buf);
static void ngx_http_remote_help_redis_reconnect(ngx_event_t *ev);
static void ngx_http_remote_help_redis_tick(ngx_event_t *ev);


/* remote_help_redis NAME server=ADDR [db=] [password_file=] ... */

char *
ngx_http_remote_help_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_array_t                    *servers;
    ngx_str_t                      *value, s;
    ngx_int_t                       n;
    ngx_uint_t                      i;
    ngx_http_remote_help_redis_t   *redis, **slot;

    servers = (ngx_array_t *) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if (ngx_http_remote_help_redis_find(servers, &value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "remote_help_redis \"%V\" is already declared",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    redis = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_redis_t));
    if (redis == NULL) {
        return NGX_CONF_ERROR;
    }

    redis->name = value[1];
    redis->timeout = 1000;
    redis->cache = 1;

    if (ngx_array_init(&redis->watches, cf->pool, 2,
                       sizeof(ngx_http_remote_help_redis_watch_t))
        != NGX_OK
        || ngx_array_init(&redis->stats, cf->pool, 2,
                          sizeof(ngx_atomic_t **))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "server=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            if (ngx_http_remote_help_redis_server(cf, redis, &s) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            n = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (n == NGX_ERROR || n > 65535) {
                goto invalid;
            }

            redis->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0
            && value[i].len > 14)
        {
            s.data = value[i].data + 14;
            s.len = value[i].len - 14;

            if (ngx_http_remote_help_redis_password(cf, redis, &s)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            n = ngx_parse_time(&s, 0);

            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            redis->timeout = (ngx_msec_t) n;
            continue;
        }

        if (ngx_strcmp(value[i].data, "cache=on") == 0) {
            redis->cache = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "cache=off") == 0) {
            redis->cache = 0;
            continue;
        }

        goto invalid;
    }

    if (redis->host == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"server\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    slot = ngx_array_push(servers);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = redis;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


/*
 * An IP address and port, or unix:PATH: hiredis resolves a name with a
 * blocking getaddrinfo(), which the event loop must never wait for
 */

static ngx_int_t
ngx_http_remote_help_redis_server(ngx_conf_t *cf,
    ngx_http_remote_help_redis_t *redis, ngx_str_t *value)
{
    u_char     *p, *host;
    size_t      len;
    ngx_int_t   port;

    redis->server = *value;

    if (value->len > 5 && ngx_strncmp(value->data, "unix:", 5) == 0) {
        redis->host = ngx_pnalloc(cf->pool, value->len - 4);
        if (redis->host == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_cpystrn(redis->host, value->data + 5, value->len - 4);
        redis->port = 0;

        return NGX_OK;
    }

    p = ngx_strlchr(value->data, value->data + value->len, ']');

    if (value->len && value->data[0] == '[' && p) {
        host = value->data + 1;
        len = p - host;
        p++;

    } else {
        p = value->data + value->len;

        while (p > value->data && p[-1] != ':') {
            p--;
        }

        if (p == value->data) {
            goto invalid;
        }

        host = value->data;
        len = p - 1 - host;
        p--;
    }

    if (p >= value->data + value->len || *p != ':') {
        goto invalid;
    }

    p++;
    port = ngx_atoi(p, value->data + value->len - p);

    if (port < 1 || port > 65535 || len == 0) {
        goto invalid;
    }

    redis->host = ngx_pnalloc(cf->pool, len + 1);
    if (redis->host == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(redis->host, host, len + 1);
    redis->port = (int) port;

    if (ngx_inet_addr(redis->host, len) == INADDR_NONE
#if (NGX_HAVE_INET6)
        && ngx_inet6_addr(redis->host, len, (u_char [16]) { 0 }) != NGX_OK
#endif
        )
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "remote_help_redis \"%V\": \"%V\" is not an IP "
                           "address (names are not resolved: that would "
                           "block the event loop)", &redis->name, value);
        return NGX_ERROR;
    }

    return NGX_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid server \"%V\" (ADDRESS:PORT or unix:PATH)",
                       value);
    return NGX_ERROR;
}


/* the first line of the file, read once, at configuration time */

static ngx_int_t
ngx_http_remote_help_redis_password(ngx_conf_t *cf,
    ngx_http_remote_help_redis_t *redis, ngx_str_t *file)
{
    u_char     *p, *end;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_str_t   name;
    u_char      buf[1024];

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));

    (void) ngx_close_file(fd);

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", &name);
        return NGX_ERROR;
    }

    end = buf + n;

    for (p = buf; p < end && *p != LF && *p != CR; p++) {
        /* void */
    }

    if (p == buf) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the password file \"%V\" is empty", &name);
        return NGX_ERROR;
    }

    redis->password.len = p - buf;
    redis->password.data = ngx_pnalloc(cf->pool, redis->password.len);
    if (redis->password.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(redis->password.data, buf, redis->password.len);

    return NGX_OK;
}


ngx_http_remote_help_redis_t *
ngx_http_remote_help_redis_find(ngx_array_t *servers, ngx_str_t *name)
{
    ngx_uint_t                      i;
    ngx_http_remote_help_redis_t  **redis;

    redis = servers->elts;

    for (i = 0; i < servers->nelts; i++) {
        if (redis[i]->name.len == name->len
            && ngx_strncmp(redis[i]->name.data, name->data, name->len) == 0)
        {
            return redis[i];
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_remote_help_redis_init_process(ngx_cycle_t *cycle,
    ngx_array_t *servers)
{
    ngx_uint_t                      i;
    ngx_http_remote_help_redis_t   *redis, **all;

    if (servers == NULL) {
        return NGX_OK;
    }

    all = servers->elts;

    for (i = 0; i < servers->nelts; i++) {
        redis = all[i];

        if (!redis->used) {
            continue;
        }

        redis->log = cycle->log;
        redis->listener = (ngx_worker == 0);
        redis->backoff = NGX_HTTP_RH_REDIS_BACKOFF_MIN;
        ngx_queue_init(&redis->waiting);

        redis->channel_len = ngx_sprintf(redis->channel,
                                         "{rh}:heartbeat:%08xD%08xD:%P",
                                         (uint32_t) ngx_random(),
                                         (uint32_t) ngx_random(), ngx_pid)
                             - redis->channel;

        redis->reconnect.handler = ngx_http_remote_help_redis_reconnect;
        redis->reconnect.data = redis;
        redis->reconnect.log = cycle->log;
        redis->reconnect.cancelable = 1;

        redis->tick.handler = ngx_http_remote_help_redis_tick;
        redis->tick.data = redis;
        redis->tick.log = cycle->log;
        redis->tick.cancelable = 1;

        ngx_http_remote_help_redis_connect(redis);

        ngx_add_timer(&redis->tick, NGX_HTTP_RH_REDIS_HEARTBEAT);
    }

    return NGX_OK;
}


void
ngx_http_remote_help_redis_exit_process(ngx_array_t *servers)
{
    ngx_uint_t                      i;
    redisAsyncContext              *ac;
    ngx_http_remote_help_redis_t   *redis, **all;

    if (servers == NULL) {
        return;
    }

    all = servers->elts;

    for (i = 0; i < servers->nelts; i++) {
        redis = all[i];

        if (!redis->used) {
            continue;
        }

        /* the pending calls' replies are dropped, unanswered */
        redis->exiting = 1;

        if (redis->cmd) {
            ac = redis->cmd;
            redis->cmd = NULL;
            redisAsyncFree(ac);
        }

        if (redis->sub) {
            ac = redis->sub;
            redis->sub = NULL;
            redisAsyncFree(ac);
        }
    }
}


/* the connections that are not there, made (again) */

static void
ngx_http_remote_help_redis_connect(ngx_http_remote_help_redis_t *redis)
{
    ngx_uint_t  i;

    if (redis->cmd == NULL) {
        redis->cmd = ngx_http_remote_help_redis_open(redis);

        if (redis->cmd) {
            redis->cmd_state = NGX_HTTP_RH_REDIS_CONNECTING;
            redis->tracked = 0;
            redis->tracking = 0;

            if (redis->db) {
                (void) redisAsyncCommand(redis->cmd,
                                         ngx_http_remote_help_redis_setup,
                                         redis, "SELECT %d", (int) redis->db);
            }

            for (i = 0; i < redis->nscripts; i++) {
                (void) redisAsyncCommand(redis->cmd,
                                         ngx_http_remote_help_redis_setup,
                                         redis, "SCRIPT LOAD %s",
                                         redis->scripts[i]);
            }

            ngx_time_update();

            (void) redisAsyncCommand(redis->cmd,
                                     ngx_http_remote_help_redis_time,
                                     (void *) (uintptr_t) ngx_current_msec,
                                     "TIME");
        }
    }

    if (redis->sub == NULL && redis->listener && redis->cache
        && redis->watches.nelts)
    {
        redis->sub = ngx_http_remote_help_redis_open(redis);

        if (redis->sub) {
            redis->sub_state = NGX_HTTP_RH_REDIS_CONNECTING;
            redis->subscribed = 0;

            (void) redisAsyncCommand(redis->sub,
                                     ngx_http_remote_help_redis_client_id,
                                     redis, "CLIENT ID");
            (void) redisAsyncCommand(redis->sub,
                                     ngx_http_remote_help_redis_message,
                                     redis, "SUBSCRIBE __redis__:invalidate "
                                     "%b", redis->channel,
                                     redis->channel_len);
        }
    }

    if ((redis->cmd == NULL
         || (redis->sub == NULL && redis->listener && redis->cache
             && redis->watches.nelts))
        && !redis->reconnect.timer_set && !redis->exiting)
    {
        ngx_add_timer(&redis->reconnect, redis->backoff);
        redis->backoff = ngx_min(2 * redis->backoff,
                                 NGX_HTTP_RH_REDIS_BACKOFF_MAX);
    }
}


static redisAsyncContext *
ngx_http_remote_help_redis_open(ngx_http_remote_help_redis_t *redis)
{
    redisAsyncContext  *ac;

    if (redis->port) {
        ac = redisAsyncConnect((char *) redis->host, redis->port);

    } else {
        ac = redisAsyncConnectUnix((char *) redis->host);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "remote_help_redis \"%V\": no memory to connect",
                      &redis->name);
        return NULL;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "remote_help_redis \"%V\": connect to %V failed: %s",
                      &redis->name, &redis->server, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }

    if (ngx_http_remote_help_redis_attach(ac, redis->log) != NGX_OK) {
        redisAsyncFree(ac);
        return NULL;
    }

    ac->data = redis;

    (void) redisAsyncSetConnectCallback(ac,
                                      ngx_http_remote_help_redis_connected_cb);
    (void) redisAsyncSetDisconnectCallback(ac,
                                      ngx_http_remote_help_redis_disconnected);

    if (redis->password.len) {
        (void) redisAsyncCommand(ac, ngx_http_remote_help_redis_setup, redis,
                                 "AUTH %b", redis->password.data,
                                 redis->password.len);
    }

    return ac;
}


static void
ngx_http_remote_help_redis_connected_cb(const redisAsyncContext *ac,
    int status)
{
    ngx_http_remote_help_redis_t  *redis;

    redis = ac->data;

    if (status == REDIS_OK) {
        return;
    }

    /* hiredis frees the context after this, with no disconnect call */

    ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                  "remote_help_redis \"%V\": connect to %V failed: %s",
                  &redis->name, &redis->server, ac->errstr);

    ngx_http_remote_help_redis_lost(redis, ac);
}


static void
ngx_http_remote_help_redis_disconnected(const redisAsyncContext *ac,
    int status)
{
    ngx_http_remote_help_redis_t  *redis;

    redis = ac->data;

    if (!redis->exiting) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "remote_help_redis \"%V\": connection to %V lost%s%s",
                      &redis->name, &redis->server,
                      ac->errstr ? ": " : "", ac->errstr ? ac->errstr : "");
    }

    ngx_http_remote_help_redis_lost(redis, ac);
}


/*
 * A connection gone (hiredis frees it): the copies go with either, and
 * the calls waiting for the command connection are answered 503
 */

static void
ngx_http_remote_help_redis_lost(ngx_http_remote_help_redis_t *redis,
    const redisAsyncContext *ac)
{
    ngx_queue_t                        *q;
    ngx_http_remote_help_redis_call_t  *call;

    if (ac == redis->cmd) {
        redis->cmd = NULL;
        redis->cmd_state = NGX_HTTP_RH_REDIS_DOWN;
        redis->tracked = 0;
        redis->tracking = 0;

        while (!ngx_queue_empty(&redis->waiting)) {
            q = ngx_queue_head(&redis->waiting);
            call = ngx_queue_data(q, ngx_http_remote_help_redis_call_t,
                                  queue);
            ngx_queue_remove(q);
            call->queued = 0;

            ngx_http_remote_help_redis_reply(NULL, NULL, call);
        }

    } else if (ac == redis->sub) {
        redis->sub = NULL;
        redis->sub_state = NGX_HTTP_RH_REDIS_DOWN;
        redis->subscribed = 0;
        redis->sub_id = 0;

    } else {
        return;
    }

    if (redis->exiting) {
        return;
    }

    if (redis->listener || !redis->cache) {
        /*
         * the changes are no longer heard: what was kept may be stale;
         * without copies, the hints may be of a Redis that is gone
         */
        ngx_http_remote_help_redis_flush(redis);
    }

    ngx_http_remote_help_redis_count(redis, NGX_HTTP_RH_RS_RECONNECTS);

    if (!redis->reconnect.timer_set) {
        ngx_add_timer(&redis->reconnect, redis->backoff);
        redis->backoff = ngx_min(2 * redis->backoff,
                                 NGX_HTTP_RH_REDIS_BACKOFF_MAX);
    }
}


/* AUTH, SELECT, SCRIPT LOAD: a refusal drops the connection */

static void
ngx_http_remote_help_redis_setup(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                    *rep = reply;
    ngx_http_remote_help_redis_t  *redis = data;

    if (rep == NULL || rep->type != REDIS_REPLY_ERROR) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                  "remote_help_redis \"%V\": %V refused the connection's "
                  "set-up: %*s", &redis->name, &redis->server,
                  (size_t) rep->len, rep->str);

    redisAsyncDisconnect(ac);
}


/* TIME: Redis's clock, and the command connection is ready */

static void
ngx_http_remote_help_redis_time(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                    *rep = reply;
    ngx_msec_t                     sent;
    ngx_queue_t                   *q;
    int64_t                        redis_ms, ours;
    ngx_http_remote_help_redis_t  *redis;
    ngx_http_remote_help_redis_call_t  *call;

    redis = ac->data;
    sent = (ngx_msec_t) (uintptr_t) data;

    if (rep == NULL || ac != redis->cmd) {
        return;
    }

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2
        || rep->element[0]->type != REDIS_REPLY_STRING
        || rep->element[1]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "remote_help_redis \"%V\": %V answered TIME with "
                      "something else%s%*s", &redis->name, &redis->server,
                      rep->type == REDIS_REPLY_ERROR ? ": " : "",
                      rep->type == REDIS_REPLY_ERROR ? (size_t) rep->len : 0,
                      rep->str);
        redisAsyncDisconnect(ac);
        return;
    }

    ngx_time_update();

    redis_ms = (int64_t) ngx_atoi((u_char *) rep->element[0]->str,
                                  rep->element[0]->len) * 1000
               + ngx_atoi((u_char *) rep->element[1]->str,
                          rep->element[1]->len) / 1000;

    redis->rtt = ngx_current_msec - sent;

    ours = (int64_t) ngx_cached_time->sec * 1000 + ngx_cached_time->msec
           - (int64_t) redis->rtt / 2;

    redis->offset = redis_ms - ours;
    redis->cmd_state = NGX_HTTP_RH_REDIS_READY;
    redis->backoff = NGX_HTTP_RH_REDIS_BACKOFF_MIN;

    ngx_log_error(NGX_LOG_INFO, redis->log, 0,
                  "remote_help_redis \"%V\": connected to %V (round trip "
                  "%M ms, clock %L ms from ours)", &redis->name,
                  &redis->server, redis->rtt, redis->offset);

    if (!redis->cache) {
        /* hints kept while it was away may be another Redis's */
        ngx_http_remote_help_redis_flush(redis);
    }

    /* the calls made while it connected, in their order */

    while (!ngx_queue_empty(&redis->waiting)) {
        q = ngx_queue_head(&redis->waiting);
        call = ngx_queue_data(q, ngx_http_remote_help_redis_call_t, queue);
        ngx_queue_remove(q);
        call->queued = 0;

        if (ngx_http_remote_help_redis_write(call) != NGX_OK) {
            ngx_http_remote_help_redis_reply(NULL, NULL, call);
        }
    }

    ngx_http_remote_help_redis_track(redis);
}


static void
ngx_http_remote_help_redis_client_id(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                    *rep = reply;
    ngx_http_remote_help_redis_t  *redis = data;

    if (rep == NULL || ac != redis->sub) {
        return;
    }

    if (rep->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "remote_help_redis \"%V\": CLIENT ID refused%s%*s",
                      &redis->name, rep->type == REDIS_REPLY_ERROR ? ": " : "",
                      rep->type == REDIS_REPLY_ERROR ? (size_t) rep->len : 0,
                      rep->str);
        redisAsyncDisconnect(ac);
        return;
    }

    redis->sub_id = rep->integer;
}


/* what the subscribed connection hears: changes, and its heartbeat */

static void
ngx_http_remote_help_redis_message(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                          *rep = reply;
    ngx_int_t                            sent;
    ngx_uint_t                           i;
    redisReply                          *kind, *channel, *payload;
    ngx_http_remote_help_redis_t        *redis = data;
    ngx_http_remote_help_redis_watch_t  *w;

    if (rep == NULL || ac != redis->sub) {
        return;
    }

    if (rep->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "remote_help_redis \"%V\": SUBSCRIBE refused: %*s",
                      &redis->name, (size_t) rep->len, rep->str);
        redisAsyncDisconnect(ac);
        return;
    }

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
        return;
    }

    kind = rep->element[0];
    channel = rep->element[1];
    payload = rep->element[2];

    if (kind->type != REDIS_REPLY_STRING
        || channel->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (kind->len == 9 && ngx_strncmp(kind->str, "subscribe", 9) == 0) {

        if (++redis->subscribed == 2) {
            redis->sub_state = NGX_HTTP_RH_REDIS_READY;
            ngx_http_remote_help_redis_track(redis);
        }

        return;
    }

    if (!(kind->len == 7 && ngx_strncmp(kind->str, "message", 7) == 0)) {
        return;
    }

    if ((size_t) channel->len == redis->channel_len
        && ngx_strncmp(channel->str, redis->channel, redis->channel_len)
           == 0)
    {
        if (payload->type == REDIS_REPLY_STRING) {
            sent = ngx_atoi((u_char *) payload->str, payload->len);

            /* heard only while tracking goes to this connection */
            if (sent != NGX_ERROR && redis->tracked == redis->sub_id
                && redis->tracked)
            {
                redis->heard = (ngx_msec_t) sent;
                redis->fresh = 1;

                w = redis->watches.elts;

                for (i = 0; i < redis->watches.nelts; i++) {
                    w[i].heard(w[i].data, (ngx_msec_t) sent);
                }
            }
        }

        return;
    }

    ngx_http_remote_help_redis_invalidated(redis, payload);
}


/* keys changed (an array), or all of them (nil: FLUSHDB, FLUSHALL) */

static void
ngx_http_remote_help_redis_invalidated(ngx_http_remote_help_redis_t *redis,
    redisReply *keys)
{
    size_t                               len;
    ngx_uint_t                           i, k;
    redisReply                          *key;
    ngx_http_remote_help_redis_watch_t  *w;

    w = redis->watches.elts;

    if (keys->type != REDIS_REPLY_ARRAY) {
        ngx_http_remote_help_redis_flush(redis);
        return;
    }

    for (k = 0; k < keys->elements; k++) {
        key = keys->element[k];

        if (key->type != REDIS_REPLY_STRING) {
            continue;
        }

        len = key->len;

        for (i = 0; i < redis->watches.nelts; i++) {
            if (len > w[i].prefix.len
                && ngx_strncmp(key->str, w[i].prefix.data, w[i].prefix.len)
                   == 0)
            {
                w[i].invalidate(w[i].data,
                                (u_char *) key->str + w[i].prefix.len,
                                len - w[i].prefix.len);
                break;
            }
        }
    }
}


/*
 * CLIENT TRACKING to the subscribed connection, once both are ready; a
 * new subscribed connection has a new id, to which it is moved
 */

static void
ngx_http_remote_help_redis_track(ngx_http_remote_help_redis_t *redis)
{
    int                                  argc;
    size_t                              *lens;
    ngx_uint_t                           i;
    const char                         **argv;
    u_char                               id[NGX_INT64_LEN];
    ngx_http_remote_help_redis_watch_t  *w;

    if (redis->cmd_state != NGX_HTTP_RH_REDIS_READY
        || redis->sub_state != NGX_HTTP_RH_REDIS_READY
        || redis->sub_id == 0 || redis->tracking
        || redis->tracked == redis->sub_id)
    {
        return;
    }

    argv = ngx_alloc((7 + 2 * redis->watches.nelts) * sizeof(char *),
                     redis->log);
    lens = ngx_alloc((7 + 2 * redis->watches.nelts) * sizeof(size_t),
                     redis->log);

    if (argv == NULL || lens == NULL) {
        goto done;
    }

    if (redis->tracked) {
        (void) redisAsyncCommand(redis->cmd, NULL, NULL,
                                 "CLIENT TRACKING off");
        redis->tracked = 0;
    }

    argc = 0;
    argv[argc] = "CLIENT"; lens[argc++] = 6;
    argv[argc] = "TRACKING"; lens[argc++] = 8;
    argv[argc] = "on"; lens[argc++] = 2;
    argv[argc] = "REDIRECT"; lens[argc++] = 8;
    argv[argc] = (char *) id;
    lens[argc++] = ngx_sprintf(id, "%L", (int64_t) redis->sub_id) - id;
    argv[argc] = "BCAST"; lens[argc++] = 5;

    w = redis->watches.elts;

    for (i = 0; i < redis->watches.nelts; i++) {
        argv[argc] = "PREFIX"; lens[argc++] = 6;
        argv[argc] = (char *) w[i].prefix.data;
        lens[argc++] = w[i].prefix.len;
    }

    /* no NOLOOP: the listener's own writes are news for the others */

    redis->tracking = 1;

    if (redisAsyncCommandArgv(redis->cmd, ngx_http_remote_help_redis_tracked,
                              (void *) (intptr_t) redis->sub_id, argc, argv,
                              lens)
        != REDIS_OK)
    {
        redis->tracking = 0;
    }

done:

    if (argv) {
        ngx_free(argv);
    }

    if (lens) {
        ngx_free(lens);
    }
}


static void
ngx_http_remote_help_redis_tracked(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                    *rep = reply;
    ngx_http_remote_help_redis_t  *redis;
    u_char                         moment[NGX_INT64_LEN + 1];

    redis = ac->data;

    if (rep == NULL || ac != redis->cmd) {
        return;
    }

    redis->tracking = 0;

    if (rep->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                      "remote_help_redis \"%V\": CLIENT TRACKING refused "
                      "(copies are not kept): %*s", &redis->name,
                      (size_t) rep->len, rep->str);
        return;
    }

    redis->tracked = (long long) (intptr_t) data;

    /*
     * What this worker was not told of before, another one may have been
     * told of since: copies are kept from now on only
     */
    ngx_http_remote_help_redis_flush(redis);

    if (redis->tracked != redis->sub_id) {
        /* the subscribed connection changed meanwhile */
        ngx_http_remote_help_redis_track(redis);
        return;
    }

    /* the first heartbeat at once */
    (void) redisAsyncCommand(redis->cmd, NULL, NULL, "PUBLISH %b %s",
                             redis->channel, redis->channel_len,
                             ngx_http_remote_help_redis_moment(moment));
}


/* every copy dropped, and fills in flight refused */

static void
ngx_http_remote_help_redis_flush(ngx_http_remote_help_redis_t *redis)
{
    ngx_uint_t                           i;
    ngx_http_remote_help_redis_watch_t  *w;

    redis->heard = ngx_current_msec - 2 * NGX_HTTP_RH_REDIS_FRESH;
    redis->fresh = 0;

    w = redis->watches.elts;

    for (i = 0; i < redis->watches.nelts; i++) {
        w[i].flush(w[i].data);
    }
}


ngx_uint_t
ngx_http_remote_help_redis_connected(ngx_http_remote_help_redis_t *redis)
{
    return redis->cmd_state == NGX_HTTP_RH_REDIS_READY;
}


ngx_http_remote_help_redis_call_t *
ngx_http_remote_help_redis_call(ngx_http_remote_help_redis_t *redis,
    ngx_http_remote_help_op_t *op)
{
    ngx_http_remote_help_redis_call_t  *call;

    call = ngx_calloc(sizeof(ngx_http_remote_help_redis_call_t), redis->log);
    if (call == NULL) {
        return NULL;
    }

    call->redis = redis;
    call->op = op;
    call->deadline = (int64_t) ngx_cached_time->sec * 1000
                     + ngx_cached_time->msec + redis->timeout;

    call->timer.handler = ngx_http_remote_help_redis_expired;
    call->timer.data = call;
    call->timer.log = redis->log;

    return call;
}


ngx_int_t
ngx_http_remote_help_redis_send(ngx_http_remote_help_redis_call_t *call)
{
    ngx_http_remote_help_redis_t  *redis;

    redis = call->redis;

    if (redis->cmd == NULL) {
        ngx_http_remote_help_redis_count(redis, NGX_HTTP_RH_RS_ERRORS);
        ngx_http_remote_help_redis_free(call);
        return NGX_HTTP_RH_UNAVAILABLE;
    }

    if (redis->cmd_state != NGX_HTTP_RH_REDIS_READY) {
        ngx_queue_insert_tail(&redis->waiting, &call->queue);
        call->queued = 1;

    } else if (ngx_http_remote_help_redis_write(call) != NGX_OK) {
        ngx_http_remote_help_redis_count(redis, NGX_HTTP_RH_RS_ERRORS);
        ngx_http_remote_help_redis_free(call);
        return NGX_HTTP_RH_UNAVAILABLE;
    }

    if (call->op) {
        ngx_add_timer(&call->timer, redis->timeout);
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_remote_help_redis_write(ngx_http_remote_help_redis_call_t *call)
{
    if (call->cmd == NULL && call->build(call) != NGX_OK) {
        return NGX_ERROR;
    }

    if (redisAsyncFormattedCommand(call->redis->cmd,
                                   ngx_http_remote_help_redis_reply, call,
                                   call->cmd, call->len)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A call's reply (ac NULL: it was never sent).  NOSCRIPT (Redis lost
 * its scripts: SCRIPT FLUSH, a restart behind a proxy) loads them again
 * and sends the call once more, in the same order on the connection.
 */

static void
ngx_http_remote_help_redis_reply(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                         *rep = reply;
    ngx_http_remote_help_redis_t       *redis;
    ngx_http_remote_help_redis_call_t  *call = data;

    redis = call->redis;

    if (redis->exiting) {
        ngx_http_remote_help_redis_free(call);
        return;
    }

    if (rep) {
        ngx_http_remote_help_redis_count(redis, NGX_HTTP_RH_RS_ROUND_TRIPS);

        if (rep->type == REDIS_REPLY_ERROR) {

            if (rep->len >= 8 && ngx_strncmp(rep->str, "NOSCRIPT", 8) == 0
                && !call->resent && ac && ac == redis->cmd)
            {
                ngx_log_error(NGX_LOG_WARN, redis->log, 0,
                              "remote_help_redis \"%V\": the scripts are "
                              "gone from %V: loaded again", &redis->name,
                              &redis->server);

                call->resent = 1;
                ngx_http_remote_help_redis_load(redis);

                if (redisAsyncFormattedCommand(ac,
                                               ngx_http_remote_help_redis_reply,
                                               call, call->cmd, call->len)
                    == REDIS_OK)
                {
                    return;
                }
            }

            ngx_log_error(NGX_LOG_ERR, redis->log, 0,
                          "remote_help_redis \"%V\": %*s", &redis->name,
                          (size_t) rep->len, rep->str);

            ngx_http_remote_help_redis_count(redis, NGX_HTTP_RH_RS_ERRORS);
            rep = NULL;
        }

    } else {
        ngx_http_remote_help_redis_count(redis, NGX_HTTP_RH_RS_ERRORS);
    }

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (call->op && call->handler) {
        call->handler(call, rep);
    }

    ngx_http_remote_help_redis_free(call);
}


static void
ngx_http_remote_help_redis_load(ngx_http_remote_help_redis_t *redis)
{
    ngx_uint_t  i;

    for (i = 0; i < redis->nscripts; i++) {
        (void) redisAsyncCommand(redis->cmd, NULL, NULL, "SCRIPT LOAD %s",
                                 redis->scripts[i]);
    }
}


/* the deadline came first: 503, and the reply, if any, dropped */

static void
ngx_http_remote_help_redis_expired(ngx_event_t *ev)
{
    ngx_http_remote_help_redis_call_t  *call;

    call = ev->data;

    ngx_log_error(NGX_LOG_ERR, call->redis->log, 0,
                  "remote_help_redis \"%V\": %V did not answer within %M ms",
                  &call->redis->name, &call->redis->server,
                  call->redis->timeout);

    ngx_http_remote_help_redis_count(call->redis, NGX_HTTP_RH_RS_TIMEOUTS);

    if (call->op && call->handler) {
        call->handler(call, NULL);
    }

    call->op = NULL;

    if (call->queued) {
        ngx_queue_remove(&call->queue);
        ngx_http_remote_help_redis_free(call);
    }
}


void
ngx_http_remote_help_redis_cancel(ngx_http_remote_help_redis_call_t *call)
{
    call->op = NULL;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (call->queued) {
        ngx_queue_remove(&call->queue);
        ngx_http_remote_help_redis_free(call);
    }
}


static void
ngx_http_remote_help_redis_free(ngx_http_remote_help_redis_call_t *call)
{
    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (call->cmd) {
        redisFreeSdsCommand(call->cmd);
    }

    ngx_free(call);
}


int64_t
ngx_http_remote_help_redis_deadline(ngx_http_remote_help_redis_call_t *call)
{
    ngx_msec_t  margin;

    /*
     * Its reply must come before the request's timer: the clock's error
     * (half a round trip) and the way back taken off, with some room
     */

    margin = ngx_min(call->redis->timeout / 10 + 2 * call->redis->rtt + 5,
                     call->redis->timeout / 2);

    return call->deadline - (int64_t) margin + call->redis->offset;
}


int64_t
ngx_http_remote_help_redis_now(ngx_http_remote_help_redis_t *redis)
{
    return (int64_t) ngx_cached_time->sec * 1000 + ngx_cached_time->msec
           + redis->offset;
}


static void
ngx_http_remote_help_redis_count(ngx_http_remote_help_redis_t *redis,
    ngx_uint_t figure)
{
    ngx_uint_t      i;
    ngx_atomic_t ***stats;

    stats = redis->stats.elts;

    for (i = 0; i < redis->stats.nelts; i++) {
        if (*stats[i]) {
            (void) ngx_atomic_fetch_add(&(*stats[i])[figure], 1);
        }
    }
}


/* a heartbeat's payload: when it is sent, on this worker's clock */

static u_char *
ngx_http_remote_help_redis_moment(u_char *buf)
{
    *ngx_sprintf(buf, "%M", ngx_current_msec) = '\0';

    return buf;
}


static void
ngx_http_remote_help_redis_reconnect(ngx_event_t *ev)
{
    ngx_http_remote_help_redis_t  *redis;

    redis = ev->data;

    if (!redis->exiting) {
        ngx_http_remote_help_redis_connect(redis);
    }
}


/*
 * Every 25 ms: the heartbeat, and copies dropped once it is not heard;
 * every second, the sweep a backend asks for
 */

static void
ngx_http_remote_help_redis_tick(ngx_event_t *ev)
{
    ngx_uint_t                           i;
    ngx_http_remote_help_redis_t        *redis;
    ngx_http_remote_help_redis_watch_t  *w;
    u_char                               moment[NGX_INT64_LEN + 1];

    redis = ev->data;

    if (redis->exiting || ngx_exiting) {
        return;
    }

    if (redis->listener && redis->cache && redis->watches.nelts) {

        if (redis->fresh
            && (ngx_msec_int_t) (ngx_current_msec - redis->heard)
               > NGX_HTTP_RH_REDIS_FRESH)
        {
            ngx_log_error(NGX_LOG_WARN, redis->log, 0,
                          "remote_help_redis \"%V\": no heartbeat heard for "
                          "%M ms: copies dropped", &redis->name,
                          (ngx_msec_t) (ngx_current_msec - redis->heard));

            ngx_http_remote_help_redis_flush(redis);
        }

        if (redis->cmd_state == NGX_HTTP_RH_REDIS_READY && redis->tracked) {
            (void) redisAsyncCommand(redis->cmd, NULL, NULL,
                                     "PUBLISH %b %s", redis->channel,
                                     redis->channel_len,
                                     ngx_http_remote_help_redis_moment(
                                                                  moment));
        }

        if ((ngx_msec_int_t) (ngx_current_msec - redis->swept)
            >= NGX_HTTP_RH_REDIS_SWEEP
            && redis->cmd_state == NGX_HTTP_RH_REDIS_READY)
        {
            redis->swept = ngx_current_msec;

            w = redis->watches.elts;

            for (i = 0; i < redis->watches.nelts; i++) {
                w[i].sweep(w[i].data);
            }
        }
    }

    ngx_add_timer(ev, NGX_HTTP_RH_REDIS_HEARTBEAT);
}
