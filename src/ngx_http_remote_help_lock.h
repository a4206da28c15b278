
/*
 * ngx_http_remote_help_module: locks in shared memory that a process
 * killed while it holds them does not wedge.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_LOCK_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_LOCK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* processes that read a zone at once with a slot of their own */
#define NGX_HTTP_RH_READERS       64

#define NGX_HTTP_RH_LINE          64            /* a cache line */

/*
 * a lock's result besides NGX_OK: taken over from a process that died
 * holding it, so what it guards may be half changed
 */
#define NGX_HTTP_RH_ORPHANED      NGX_DONE


/* the holder's pid, 0: free; and the last holder that died holding it */

typedef struct {
    ngx_atomic_t                  pid;
    ngx_atomic_t                  orphaned;
} ngx_http_remote_help_mutex_t;


/* a process's own: its pid << 1, and 1 while it reads */

typedef struct {
    ngx_atomic_t                  word;
    u_char                        pad[NGX_HTTP_RH_LINE
                                      - sizeof(ngx_atomic_t)];
} ngx_http_remote_help_reader_t;


/*
 * Readers mark their own slot (a cache line each: readers do not take
 * lines from each other), then look at the writer; a writer takes the
 * mutex, then waits for the marked slots to clear.
 */

typedef struct {
    ngx_http_remote_help_mutex_t  writer;
    ngx_atomic_t                  nslots;       /* slots ever taken */
    u_char                        pad[NGX_HTTP_RH_LINE
                                      - 3 * sizeof(ngx_atomic_t)];
    ngx_http_remote_help_reader_t slot[NGX_HTTP_RH_READERS];
} ngx_http_remote_help_rwlock_t;


ngx_int_t ngx_http_remote_help_mutex_lock(ngx_http_remote_help_mutex_t *m);
/*
 * for a thread of the pool: NGX_DECLINED instead of taking over the lock
 * of a process that died holding it, which only an event loop puts right
 */
ngx_int_t ngx_http_remote_help_mutex_lock_live(
    ngx_http_remote_help_mutex_t *m);
void ngx_http_remote_help_mutex_unlock(ngx_http_remote_help_mutex_t *m);

/* NULL: no slot was left, the process reads under the write lock */
ngx_http_remote_help_reader_t *ngx_http_remote_help_rwlock_slot(
    ngx_http_remote_help_rwlock_t *rw);
void ngx_http_remote_help_rwlock_release(ngx_http_remote_help_rwlock_t *rw,
    ngx_http_remote_help_reader_t *slot);

ngx_int_t ngx_http_remote_help_wlock(ngx_http_remote_help_rwlock_t *rw);
void ngx_http_remote_help_wunlock(ngx_http_remote_help_rwlock_t *rw);

/*
 * NGX_OK: read-locked; NGX_HTTP_RH_ORPHANED: the writer had died, and
 * the caller now holds the write lock instead
 */
ngx_int_t ngx_http_remote_help_rlock(ngx_http_remote_help_rwlock_t *rw,
    ngx_http_remote_help_reader_t *slot);
void ngx_http_remote_help_runlock(ngx_http_remote_help_rwlock_t *rw,
    ngx_http_remote_help_reader_t *slot);

/* the process is gone: no such process, or a zombie not yet reaped */
ngx_uint_t ngx_http_remote_help_gone(ngx_pid_t pid);


#endif /* _NGX_HTTP_REMOTE_HELP_LOCK_H_INCLUDED_ */
