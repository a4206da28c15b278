
/*
 * ngx_http_remote_help_module: a hiredis asynchronous context on nginx's
 * event loop.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_REDIS_ADAPTER_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_REDIS_ADAPTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


/*
 * ac's socket as an nginx connection whose events run hiredis's read and
 * write; hiredis's cleanup gives the connection back
 */
ngx_int_t ngx_http_remote_help_redis_attach(redisAsyncContext *ac,
    ngx_log_t *log);


#endif /* _NGX_HTTP_REMOTE_HELP_REDIS_ADAPTER_H_INCLUDED_ */
