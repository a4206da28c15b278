
/*
 * ngx_http_remote_help_module: group commit.  The records of the writes a
 * worker makes in one turn of its event loop go to the state file in one
 * write, at the turn's end; each write's response only after it.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_COMMIT_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_COMMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_record.h"


/*
 * The record of a change made (and held in flight), sealed with seq,
 * queued for this turn's write: NGX_AGAIN, and op->done() is called
 * after it (op->rc NGX_OK, or NGX_HTTP_RH_NOSTATE); NGX_DECLINED: no
 * memory to queue it, append it now
 */
ngx_int_t ngx_http_remote_help_commit_queue(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_encoded_t *rec, uint64_t seq,
    ngx_http_remote_help_op_t *op, ngx_http_remote_help_undo_t *undo);

/*
 * Writes whose records could not be written put back, the newest first
 * (the undos freed): NGX_HTTP_RH_UNWRITTEN, nothing changed; or, when
 * one cannot be, NGX_HTTP_RH_NOSTATE: the zone holds a change its file
 * does not, and takes no writes until nginx is restarted
 */
ngx_int_t ngx_http_remote_help_commit_undo(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_undo_t **undo, ngx_uint_t n);

/* at configuration: the thread pool of fdatasync()s and compactions */
ngx_int_t ngx_http_remote_help_commit_conf(ngx_conf_t *cf);

/* its request went: the record is written all the same, nobody told */
void ngx_http_remote_help_commit_cancel(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_op_t *op);

/* what is queued written now */
void ngx_http_remote_help_commit_flush(ngx_http_remote_help_zone_t *zone);
/* ... for every zone, at a worker's exit */
void ngx_http_remote_help_commit_exit(ngx_array_t *zones);


#endif /* _NGX_HTTP_REMOTE_HELP_COMMIT_H_INCLUDED_ */
