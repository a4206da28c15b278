
/*
 * ngx_http_remote_help_module: the durable state file (state=PATH).
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STATE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <zlib.h>

#include "ngx_http_remote_help_store.h"


/* the file's header: magic, version, byte order mark */
#define NGX_HTTP_RH_STATE_MAGIC   "RHSTATE\n"
#define NGX_HTTP_RH_STATE_VERSION 2
#define NGX_HTTP_RH_STATE_BOM     0x01020304
#define NGX_HTTP_RH_STATE_HEADER  16

/* CRC-32 as ngx_crc32_long() computes it, by zlib's faster code */
#define ngx_http_rh_crc(p, n)     ((uint32_t) crc32(0, (p), (uInt) (n)))

#define NGX_HTTP_RH_OP_PUT        1
#define NGX_HTTP_RH_OP_DELETE     2

/*
 * record header (len, crc, hcrc), the payload's fixed part before the
 * spans, key and JSON, and the change's sequence number after them
 */
#define NGX_HTTP_RH_REC_HEAD      12
#define NGX_HTTP_RH_REC_FIXED     12
#define NGX_HTTP_RH_REC_SEQ       8

/*
 * Where a record's fields are, for its one encoder (state.c) and its one
 * decoder (state_load.c).  The header: the length of what follows it,
 * the CRC-32 of that, the CRC-32 of these eight bytes; the fixed part:
 * op, set, the number of spans, 0, key length, JSON length; then the
 * spans, key, JSON, and the change's sequence number.
 */
#define NGX_HTTP_RH_REC_LEN       0
#define NGX_HTTP_RH_REC_CRC       4
#define NGX_HTTP_RH_REC_HCRC      8
#define NGX_HTTP_RH_REC_OP        0
#define NGX_HTTP_RH_REC_SET       1
#define NGX_HTTP_RH_REC_NPROPS    2
#define NGX_HTTP_RH_REC_KEY_LEN   4
#define NGX_HTTP_RH_REC_JSON_LEN  8

#define ngx_http_rh_record_size(nprops, key_len, json_len)                   \
    (NGX_HTTP_RH_REC_HEAD + NGX_HTTP_RH_REC_FIXED + 8 * (nprops)             \
     + (key_len) + (json_len) + NGX_HTTP_RH_REC_SEQ)


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
    ((off_t) ((sh)->bytes + (NGX_HTTP_RH_REC_HEAD + NGX_HTTP_RH_REC_FIXED    \
                             + NGX_HTTP_RH_REC_SEQ)                          \
                            * ((sh)->objects[0] + (sh)->objects[1]           \
                               + (sh)->objects[2])))


/* one record, prepared outside the lock and written under it */

typedef struct {
    u_char                        head[NGX_HTTP_RH_REC_HEAD
                                       + NGX_HTTP_RH_REC_FIXED];
    uint64_t                      seq;
    uint32_t                      crc;          /* running, without seq */
    struct iovec                  iov[5];
    int                           niov;
    size_t                        size;
} ngx_http_remote_help_record_t;


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

void ngx_http_remote_help_state_record(ngx_http_remote_help_record_t *rec,
    ngx_uint_t op, ngx_uint_t set, ngx_uint_t nprops, uint32_t *spans,
    ngx_str_t *key, ngx_str_t *json);

/* after the change is made, with its sequence number, outside the lock */
ngx_int_t ngx_http_remote_help_state_append(
    ngx_http_remote_help_zone_t *zone, ngx_http_remote_help_record_t *rec,
    uint64_t seq);

/* a new file's header */
ngx_int_t ngx_http_remote_help_state_header(ngx_fd_t fd);

/* the file failed: the zone takes no more writes */
ngx_uint_t ngx_http_remote_help_state_broken(
    ngx_http_remote_help_zone_t *zone);
void ngx_http_remote_help_state_figures(ngx_http_remote_help_zone_t *zone,
    off_t *size, ngx_uint_t *compactions);

ngx_int_t ngx_http_remote_help_state_init_process(ngx_cycle_t *cycle,
    ngx_array_t *zones);
void ngx_http_remote_help_state_exit_process(ngx_array_t *zones);


#endif /* _NGX_HTTP_REMOTE_HELP_STATE_H_INCLUDED_ */
