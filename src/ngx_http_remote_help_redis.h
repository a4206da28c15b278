
/*
 * ngx_http_remote_help_module: a Redis server (remote_help_redis) and a
 * worker's two connections to it: one for commands, multiplexed, and one
 * that hears of changes (client-side caching's invalidations).
 */


#ifndef _NGX_HTTP_REMOTE_HELP_REDIS_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_remote_help_storage.h"


/*
 * the figures a zone counts of its backend, in its counters zone
 * (NGX_HTTP_RH_BACKEND_FIGURES of them)
 */
#define NGX_HTTP_RH_RS_ROUND_TRIPS    0
#define NGX_HTTP_RH_RS_ERRORS         1
#define NGX_HTTP_RH_RS_TIMEOUTS       2
#define NGX_HTTP_RH_RS_RECONNECTS     3
#define NGX_HTTP_RH_RS_HITS           4
#define NGX_HTTP_RH_RS_MISSES         5
#define NGX_HTTP_RH_RS_INVALIDATIONS  6
#define NGX_HTTP_RH_RS_FLUSHES        7

/* a copy may be served when the channel was heard from this recently */
#define NGX_HTTP_RH_REDIS_FRESH       100
#define NGX_HTTP_RH_REDIS_HEARTBEAT   25


typedef struct ngx_http_remote_help_redis_s  ngx_http_remote_help_redis_t;
typedef struct ngx_http_remote_help_redis_call_s
    ngx_http_remote_help_redis_call_t;

/* the command of a call, made when it is sent (its deadline known) */
typedef ngx_int_t (*ngx_http_remote_help_redis_build_pt)(
    ngx_http_remote_help_redis_call_t *call);

/* its reply: NULL when the connection went or the deadline came first */
typedef void (*ngx_http_remote_help_redis_reply_pt)(
    ngx_http_remote_help_redis_call_t *call, redisReply *reply);

/* of a zone that keeps copies: a key changed, or all may have */
typedef void (*ngx_http_remote_help_redis_invalidate_pt)(void *data,
    u_char *key, size_t len);
typedef void (*ngx_http_remote_help_redis_flush_pt)(void *data);
/* of every zone, each second: what has expired taken out */
typedef void (*ngx_http_remote_help_redis_sweep_pt)(void *data);
/* of a zone that keeps copies: a heartbeat sent at "sent" was heard */
typedef void (*ngx_http_remote_help_redis_heard_pt)(void *data,
    ngx_msec_t sent);


/*
 * A command on its way.  It is the worker's (ngx_alloc), not the
 * request's: a reply that comes after the request was answered (the
 * deadline) or went (cancel) finds op NULL and is dropped.
 */

struct ngx_http_remote_help_redis_call_s {
    ngx_http_remote_help_redis_t  *redis;
    ngx_http_remote_help_op_t     *op;          /* NULL: nobody waits */
    void                          *data;        /* the backend's */
    ngx_http_remote_help_redis_build_pt  build;
    ngx_http_remote_help_redis_reply_pt  handler;
    ngx_event_t                    timer;
    ngx_queue_t                    queue;       /* until connected */
    sds                            cmd;         /* as made, for a resend */
    int                            len;
    int64_t                        deadline;    /* our clock, ms */
    ngx_atomic_uint_t              inval;       /* the backend's count of
                                                   changes heard, sent */
    unsigned                       queued:1;
    unsigned                       resent:1;
};


typedef struct {
    ngx_str_t                      prefix;
    void                          *data;
    ngx_http_remote_help_redis_invalidate_pt  invalidate;
    ngx_http_remote_help_redis_flush_pt       flush;
    ngx_http_remote_help_redis_sweep_pt       sweep;
    ngx_http_remote_help_redis_heard_pt       heard;
} ngx_http_remote_help_redis_watch_t;


struct ngx_http_remote_help_redis_s {
    ngx_str_t                      name;
    ngx_str_t                      server;      /* as configured */
    u_char                        *host;        /* an address, or a path */
    int                            port;        /* 0: unix: */
    ngx_int_t                      db;
    ngx_str_t                      password;    /* from password_file= */
    ngx_msec_t                     timeout;
    ngx_flag_t                     cache;
    ngx_uint_t                     used;        /* by a zone's backend= */
    ngx_array_t                    watches;     /* its zones */
    ngx_array_t                    stats;       /* of ngx_atomic_t **: its
                                                   zones' figures, once
                                                   their zones are there */
    const char                   **scripts;     /* loaded at connect */
    ngx_uint_t                     nscripts;

    /* a worker's own */
    ngx_log_t                     *log;
    redisAsyncContext             *cmd;
    redisAsyncContext             *sub;
    ngx_uint_t                     cmd_state;
    ngx_uint_t                     sub_state;
    ngx_uint_t                     subscribed;
    long long                      sub_id;      /* CLIENT ID of sub */
    long long                      tracked;     /* the id tracking goes to,
                                                   acknowledged */
    ngx_uint_t                     tracking;    /* asked, not answered */
    int64_t                        offset;      /* Redis's clock - ours */
    ngx_msec_t                     rtt;
    ngx_msec_t                     backoff;
    ngx_msec_t                     heard;       /* when the last heartbeat
                                                   heard was sent */
    ngx_msec_t                     swept;
    ngx_uint_t                     listener;    /* this worker hears the
                                                   changes for them all */
    ngx_uint_t                     fresh;       /* heartbeats are heard */
    ngx_uint_t                     exiting;
    ngx_event_t                    reconnect;
    ngx_event_t                    tick;
    ngx_queue_t                    waiting;     /* calls until connected */
    u_char                         channel[48]; /* its heartbeat's */
    size_t                         channel_len;
};


#define NGX_HTTP_RH_REDIS_DOWN        0
#define NGX_HTTP_RH_REDIS_CONNECTING  1
#define NGX_HTTP_RH_REDIS_READY       2


/* remote_help_redis NAME server=... */
char *ngx_http_remote_help_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_remote_help_redis_t *ngx_http_remote_help_redis_find(
    ngx_array_t *servers, ngx_str_t *name);

ngx_int_t ngx_http_remote_help_redis_init_process(ngx_cycle_t *cycle,
    ngx_array_t *servers);
void ngx_http_remote_help_redis_exit_process(ngx_array_t *servers);

/* a call for op (NULL: none waits), to be filled and sent */
ngx_http_remote_help_redis_call_t *ngx_http_remote_help_redis_call(
    ngx_http_remote_help_redis_t *redis, ngx_http_remote_help_op_t *op);

/*
 * NGX_AGAIN: sent, or waiting for the connection, and handler will be
 * called (with NULL if the deadline comes first); else the call is
 * freed and rc is NGX_HTTP_RH_UNAVAILABLE
 */
ngx_int_t ngx_http_remote_help_redis_send(
    ngx_http_remote_help_redis_call_t *call);
void ngx_http_remote_help_redis_cancel(
    ngx_http_remote_help_redis_call_t *call);

/* the call's deadline on Redis's clock, ms since the epoch */
int64_t ngx_http_remote_help_redis_deadline(
    ngx_http_remote_help_redis_call_t *call);
/* now on Redis's clock */
int64_t ngx_http_remote_help_redis_now(ngx_http_remote_help_redis_t *redis);

ngx_uint_t ngx_http_remote_help_redis_connected(
    ngx_http_remote_help_redis_t *redis);


#endif /* _NGX_HTTP_REMOTE_HELP_REDIS_H_INCLUDED_ */
