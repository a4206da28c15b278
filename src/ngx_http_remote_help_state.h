
/*
 * ngx_http_remote_help_module: the durable state file (state=PATH).
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STATE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif
#include <ngx_event.h>

#include "ngx_http_remote_help_record.h"
#include "ngx_http_remote_help_store.h"


/* the file's header: magic, version, byte order mark */
#define NGX_HTTP_RH_STATE_MAGIC   "RHSTATE\n"
#define NGX_HTTP_RH_STATE_VERSION 4
/*
 * the versions a start reads: 2 (records without times), 3, and 4 (the
 * records' checksums CRC-32C; an earlier file's CRC-32 records stay)
 */
#define NGX_HTTP_RH_STATE_OLDEST  2
#define NGX_HTTP_RH_STATE_BOM     0x01020304
#define NGX_HTTP_RH_STATE_HEADER  16

/* where a compaction's end in the thread pool stopped */
#define NGX_HTTP_RH_TASK_FSYNC    1             /* PATH.tmp's fsync() failed */
#define NGX_HTTP_RH_TASK_LOCK     2             /* a dead process's lock */
#define NGX_HTTP_RH_TASK_RENAME   3             /* renamed, or task_err */

/* the state file's shared figures, changed under its own lock */

typedef struct {
    ngx_http_remote_help_mutex_t  lock;         /* appends take it too */
    ngx_atomic_t                  size;         /* bytes in the file */
    ngx_atomic_t                  tmp_size;     /* bytes in PATH.tmp */
    ngx_uint_t                    gen;          /* bumped by each rename */
    ngx_uint_t                    tmp_gen;      /* bumped by each PATH.tmp */
    ngx_pid_t                     compactor;    /* 0: no compaction */
    ngx_uint_t                    abort;        /* the compaction must stop */
    off_t                         next;         /* no compaction below */
    ngx_uint_t                    broken;       /* a failed append stuck */
    ngx_uint_t                    compactions;
} ngx_http_remote_help_state_sh_t;


/* kept in the zone's words for its journal */
#define ngx_http_rh_state_sh(sh)                                             \
    ((ngx_http_remote_help_state_sh_t *) (void *) (sh)->journal)

/* what the file holds for the objects of the zone: a record each */
#define ngx_http_rh_state_live(sh)                                           \
    ((off_t) ((sh)->bytes + NGX_HTTP_RH_REC_OVERHEAD                        \
                            * ((sh)->objects[0] + (sh)->objects[1]           \
                               + (sh)->objects[2])))


struct ngx_http_remote_help_state_s {
    ngx_str_t                     path;         /* null-terminated */
    ngx_str_t                     tmp;          /* PATH.tmp */
    ngx_str_t                     dir;
    ngx_flag_t                    sync;         /* state_sync=on */

    ngx_fd_t                      fd;           /* process-local */
    ngx_uint_t                    gen;
    ngx_fd_t                      tmp_fd;
    ngx_uint_t                    tmp_gen;

    ngx_uint_t                    compact;      /* arm the compaction */
    ngx_msec_t                    checked;      /* compactor still alive? */

    /* the compaction's cursor: after the last object written */
    ngx_uint_t                    cursor_set;
    uint64_t                      cursor;

    void                         *commit;       /* this worker's group
                                                   commit (commit.c) */
#if (NGX_THREADS)
    /* the compaction's end (fsync()s and rename), in the thread pool */
    ngx_thread_task_t            *task;
    ngx_fd_t                      task_fd;      /* -1: none runs */
    ngx_uint_t                    task_step;    /* where it ended */
    ngx_err_t                     task_err;
    ngx_err_t                     task_dir_err;
#endif

    u_char                       *buf;          /* a batch */
    size_t                        buf_size;
    ngx_event_t                   event;
    ngx_http_remote_help_zone_t  *zone;
};


/* zones: the ones declared before, none of which may have the same file */
char *ngx_http_remote_help_state_conf(ngx_conf_t *cf, ngx_array_t *zones,
    ngx_http_remote_help_zone_t *zone, ngx_str_t *path, ngx_flag_t sync);

ngx_int_t ngx_http_remote_help_state_load(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_zone_t *ozone);

/* after the change is made, with its sequence number, outside the lock */
ngx_int_t ngx_http_remote_help_state_append(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_encoded_t *rec,
    uint64_t seq);

/*
 * sealed records (one or a batch) appended; NGX_ERROR: the file failed
 * (nothing of them is in it); NGX_HTTP_RH_NOSTATE: they are, but their
 * fdatasync() failed (the zone takes no more writes); sync: NULL, or
 * where the files to fdatasync() are given back
 */
ngx_int_t ngx_http_remote_help_state_write_records(
    ngx_http_remote_help_zone_t *zone, struct iovec *iov, int niov,
    size_t size, ngx_fd_t *sync);

/* a new file's header */
ngx_int_t ngx_http_remote_help_state_header(ngx_fd_t fd);

/* the file failed: the zone takes no more writes */
/* the zone holds a change its file does not: no more writes */
void ngx_http_remote_help_state_break(ngx_http_remote_help_zone_t *zone);
ngx_uint_t ngx_http_remote_help_state_broken(
    ngx_http_remote_help_zone_t *zone);
void ngx_http_remote_help_state_figures(ngx_http_remote_help_zone_t *zone,
    off_t *size, ngx_uint_t *compactions);

ngx_int_t ngx_http_remote_help_state_init_process(ngx_cycle_t *cycle,
    ngx_array_t *zones);
void ngx_http_remote_help_state_exit_process(ngx_array_t *zones);


#endif /* _NGX_HTTP_REMOTE_HELP_STATE_H_INCLUDED_ */
