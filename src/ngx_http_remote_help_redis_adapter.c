
/*
 * ngx_http_remote_help_module: a hiredis asynchronous context on nginx's
 * event loop.  hiredis owns the socket and asks for reading and writing
 * through five hooks; its socket is an nginx connection (from the
 * worker's own, ngx_get_connection) whose events call hiredis back.
 *
 * The read event is level-triggered: hiredis reads at most 16 KB at a
 * time, and what it leaves in the socket must wake the loop again.  The
 * commands one turn of the loop makes are written together at its end,
 * from a posted event, without asking the kernel first; only a write
 * that could not take them all waits for the socket's write event.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_redis_adapter.h"


static void ngx_http_remote_help_redis_read(ngx_event_t *ev);
static void ngx_http_remote_help_redis_write(ngx_event_t *ev);
static void ngx_http_remote_help_redis_add_read(void *data);
static void ngx_http_remote_help_redis_del_read(void *data);
static void ngx_http_remote_help_redis_add_write(void *data);
static void ngx_http_remote_help_redis_del_write(void *data);
static void ngx_http_remote_help_redis_cleanup(void *data);


ngx_int_t
ngx_http_remote_help_redis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_remote_help_redis_read;
    c->write->handler = ngx_http_remote_help_redis_write;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_remote_help_redis_add_read;
    ac->ev.delRead = ngx_http_remote_help_redis_del_read;
    ac->ev.addWrite = ngx_http_remote_help_redis_add_write;
    ac->ev.delWrite = ngx_http_remote_help_redis_del_write;
    ac->ev.cleanup = ngx_http_remote_help_redis_cleanup;

    return NGX_OK;
}


static void
ngx_http_remote_help_redis_read(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    /* c may be given back within: hiredis frees a context it lost */
    redisAsyncHandleRead(c->data);
}


static void
ngx_http_remote_help_redis_write(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    /* what is left after this write waits for the socket */
    c->buffered = 1;

    redisAsyncHandleWrite(c->data);

    /* c may be given back within, as for a read */
}


static void
ngx_http_remote_help_redis_add_read(void *data)
{
    ngx_connection_t *c = data;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_remote_help_redis_del_read(void *data)
{
    ngx_connection_t *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_remote_help_redis_add_write(void *data)
{
    ngx_connection_t *c = data;

    redisAsyncContext  *ac;

    ac = c->data;

    if (c->write->active || c->write->posted) {
        return;
    }

    if (!c->buffered && (ac->c.flags & REDIS_CONNECTED)) {
        /* at the end of this turn, with whatever else it adds */
        ngx_post_event(c->write, &ngx_posted_events);
        return;
    }

    /* connecting, or the socket took only part: when it is writable */
    (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
}


static void
ngx_http_remote_help_redis_del_write(void *data)
{
    ngx_connection_t *c = data;

    /* all written: the next commands go out at the end of their turn */
    c->buffered = 0;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis closes the socket right after: the events go with it */

static void
ngx_http_remote_help_redis_cleanup(void *data)
{
    ngx_connection_t *c = data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
}
