
/*
 * ngx_http_remote_help_module: the durable state file (state=PATH).
 *
 * The file is a header and a log of records, one per write: the object
 * as the zone holds it (spans, key, JSON), or a key deleted, with the
 * change's sequence number.  A record is appended with one writev()
 * after the change is made in the zone and before the response is sent,
 * under the file's own lock, not the zone's: readers and the zone's
 * other writers do not wait for the file.  The kernel keeps the bytes
 * when every nginx process dies; state_sync=on also waits for the disk.
 *
 * When the file grows past four times the live data, one worker compacts it:
 * it writes every object to PATH.tmp in batches, while every append also
 * goes to PATH.tmp; then PATH.tmp is fsynced and renamed over PATH, and
 * each worker reopens PATH.
 *
 * At start the master replays the file into the zone
 * (ngx_http_remote_help_state_load.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_store_zone.h"
#include "ngx_http_remote_help_state.h"


/* the journal's figures fit the words the zone keeps for them */
typedef char ngx_http_rh_state_sh_fits[
    sizeof(ngx_http_remote_help_state_sh_t)
    <= NGX_HTTP_RH_JOURNAL_WORDS * sizeof(ngx_atomic_t) ? 1 : -1];

/* compact when the file is over 2 x live + this, in batches of this */
#define NGX_HTTP_RH_COMPACT_MIN   (64 * 1024)
/*
 * the file compacted past this many times the live data: 4 rewrites the
 * live objects once per three times their bytes written (2, every time
 * once more: PATCH with state= went from 0.84 to 0.97 of the module
 * without it, docs/performance.md), for a file up to 4 times as large
 */
#define NGX_HTTP_RH_COMPACT_RATIO 4
#define NGX_HTTP_RH_COMPACT_BATCH (256 * 1024)


static void ngx_http_remote_help_state_lock(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_state_unlock(
    ngx_http_remote_help_zone_t *zone);
static ngx_int_t ngx_http_remote_help_state_fd(
    ngx_http_remote_help_zone_t *zone);
static off_t ngx_http_remote_help_state_cut(
    ngx_http_remote_help_zone_t *zone);
static ngx_int_t ngx_http_remote_help_state_write(ngx_fd_t fd,
    struct iovec *iov, int niov, size_t size);
static void ngx_http_remote_help_state_start(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_state_step(ngx_event_t *ev);
static ngx_http_remote_help_node_t *ngx_http_remote_help_state_next(
    ngx_http_remote_help_sh_t *sh, ngx_http_remote_help_state_t *st,
    ngx_http_remote_help_node_t *o);
static ngx_int_t ngx_http_remote_help_state_batch(
    ngx_http_remote_help_zone_t *zone, ngx_uint_t *done);
static void ngx_http_remote_help_state_finish(
    ngx_http_remote_help_zone_t *zone);
static ngx_err_t ngx_http_remote_help_state_rename_locked(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_state_renamed(
    ngx_http_remote_help_zone_t *zone, ngx_err_t err);
static ngx_err_t ngx_http_remote_help_state_sync_dir(
    ngx_http_remote_help_state_t *st);
#if (NGX_THREADS)
static ngx_int_t ngx_http_remote_help_state_post(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_state_end_thread(void *data,
    ngx_log_t *log);
static void ngx_http_remote_help_state_ended(ngx_event_t *ev);

static ngx_str_t  ngx_http_remote_help_state_pool = ngx_string("default");
#endif
static void ngx_http_remote_help_state_abort(
    ngx_http_remote_help_zone_t *zone);
static ngx_int_t ngx_http_remote_help_state_shared(
    ngx_http_remote_help_zone_t *zone, void *data);
static ngx_int_t ngx_http_remote_help_state_open(
    ngx_http_remote_help_zone_t *zone, void *data);
static ngx_int_t ngx_http_remote_help_state_close(
    ngx_http_remote_help_zone_t *zone, void *data);


char *
ngx_http_remote_help_state_conf(ngx_conf_t *cf, ngx_array_t *zones,
    ngx_http_remote_help_zone_t *zone, ngx_str_t *path, ngx_flag_t sync)
{
    u_char                        *p;
    ngx_file_info_t                fi;
    ngx_http_remote_help_zone_t   *other;
    ngx_http_remote_help_state_t  *st;

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_remote_help_state_t));
    if (st == NULL) {
        return NGX_CONF_ERROR;
    }

    st->path = *path;

    if (ngx_conf_full_name(cf->cycle, &st->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* null-terminated: PATH, PATH.tmp and the directory */

    p = ngx_pnalloc(cf->pool, 3 * st->path.len + sizeof(".tmp") + 2);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, st->path.data, st->path.len);
    st->path.data = p;
    p += st->path.len;
    *p++ = '\0';

    st->tmp.data = p;
    st->tmp.len = st->path.len + sizeof(".tmp") - 1;
    p = ngx_cpymem(p, st->path.data, st->path.len);
    p = ngx_cpymem(p, ".tmp", sizeof(".tmp"));

    st->dir.data = p;
    ngx_memcpy(p, st->path.data, st->path.len);

    for (st->dir.len = st->path.len;
         st->dir.len && p[st->dir.len - 1] != '/';
         st->dir.len--)
    {
        /* void */
    }

    if (st->dir.len == 0 || st->dir.len == st->path.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid state file \"%V\"", path);
        return NGX_CONF_ERROR;
    }

    if (st->dir.len > 1) {
        st->dir.len--;
    }

    p[st->dir.len] = '\0';

    if (ngx_file_info(st->dir.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "state directory \"%s\" is not usable",
                           st->dir.data);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "state directory \"%s\" is not a directory",
                           st->dir.data);
        return NGX_CONF_ERROR;
    }

    /* two zones must not share a file */

    other = zone;
    zone->state = st;

    if (ngx_http_remote_help_store_each(zones,
                                        ngx_http_remote_help_state_shared,
                                        &other)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "state file \"%s\" is already used by "
                           "remote_help_zone \"%V\"",
                           st->path.data, &other->name);
        return NGX_CONF_ERROR;
    }

    st->sync = sync;
    st->fd = NGX_INVALID_FILE;
    st->tmp_fd = NGX_INVALID_FILE;
    st->zone = zone;

    return NGX_CONF_OK;
}


/* *data: a zone in; out, another zone with the same state file */

static ngx_int_t
ngx_http_remote_help_state_shared(ngx_http_remote_help_zone_t *zone,
    void *data)
{
    ngx_http_remote_help_zone_t  **other = data;

    ngx_http_remote_help_state_t  *st;

    st = (*other)->state;

    if (zone != *other && zone->state
        && zone->state->path.len == st->path.len
        && ngx_strcmp(zone->state->path.data, st->path.data) == 0)
    {
        *other = zone;
        return NGX_DONE;
    }

    return NGX_OK;
}




ngx_int_t
ngx_http_remote_help_state_header(ngx_fd_t fd)
{
    u_char        header[NGX_HTTP_RH_STATE_HEADER];
    uint32_t      n;
    struct iovec  iov;

    ngx_memcpy(header, NGX_HTTP_RH_STATE_MAGIC, 8);
    n = NGX_HTTP_RH_STATE_VERSION;
    ngx_memcpy(header + 8, &n, 4);
    n = NGX_HTTP_RH_STATE_BOM;
    ngx_memcpy(header + 12, &n, 4);

    iov.iov_base = header;
    iov.iov_len = sizeof(header);

    return ngx_http_remote_help_state_write(fd, &iov, 1, sizeof(header));
}


static ngx_int_t
ngx_http_remote_help_state_write(ngx_fd_t fd, struct iovec *iov, int niov,
    size_t size)
{
    ssize_t  n;

    do {
        n = writev(fd, iov, niov);
    } while (n == -1 && ngx_errno == NGX_EINTR);

    if (n == (ssize_t) size) {
        return NGX_OK;
    }

    if (n >= 0) {
        ngx_set_errno(NGX_ENOSPC);
    }

    return NGX_ERROR;
}


/*
 * The file lock.  Appends take it one at a time (the kernel writes
 * O_APPEND writes to one file one at a time anyway), so that the part
 * of a record a killed process may leave (a write is cut short between
 * two pages when a SIGKILL arrives) is always at the end of the file:
 * whoever takes the lock over cuts PATH back to the bytes counted, and
 * abandons a compaction under way (PATH.tmp may end the same way).
 */

static void
ngx_http_remote_help_state_lock(ngx_http_remote_help_zone_t *zone)
{
    off_t                             cut;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = ngx_http_rh_state_sh(zone->sh);
    st = zone->state;

    if (ngx_http_remote_help_mutex_lock(&ssh->lock)
        != NGX_HTTP_RH_ORPHANED)
    {
        return;
    }

    ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                  "remote_help_zone \"%V\": process %P exited while it "
                  "wrote state file \"%s\"", &zone->name,
                  (ngx_pid_t) ssh->lock.orphaned, st->path.data);

    if (ssh->compactor) {
        ssh->abort = 1;
    }

    cut = ngx_http_remote_help_state_cut(zone);

    if (cut > 0) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "state file \"%s\": %O bytes of a record not "
                      "acknowledged cut off at offset %O", st->path.data,
                      cut, (off_t) ssh->size);
    }
}


/*
 * Under the file lock: nothing may follow a part of a record, it would
 * read as damage.  All whole records are counted in ssh->size, and only
 * one process appends at a time, so whatever follows them is the part
 * of one record that a failed or killed append left: it is cut off.
 * Returns how many bytes were; -1: they could not be, and the zone
 * takes no more writes.
 */

static off_t
ngx_http_remote_help_state_cut(ngx_http_remote_help_zone_t *zone)
{
    off_t                             end;
    ngx_file_info_t                   fi;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = ngx_http_rh_state_sh(zone->sh);
    st = zone->state;

    if (ngx_http_remote_help_state_fd(zone) != NGX_OK
        || ngx_fd_info(st->fd, &fi) == NGX_FILE_ERROR)
    {
        return 0;
    }

    end = (off_t) ssh->size;

    if (ngx_file_size(&fi) <= end) {
        return 0;
    }

    if (ftruncate(st->fd, end) == -1) {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, ngx_errno,
                      "ftruncate(\"%s\", %O) failed, remote_help_zone "
                      "\"%V\" takes no writes until nginx is restarted",
                      st->path.data, end, &zone->name);
        ssh->broken = 1;
        return -1;
    }

    return ngx_file_size(&fi) - end;
}


static void
ngx_http_remote_help_state_unlock(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_mutex_unlock(&ngx_http_rh_state_sh(zone->sh)->lock);
}


/* under the file lock: this process's descriptor of the current PATH */

static ngx_int_t
ngx_http_remote_help_state_fd(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = ngx_http_rh_state_sh(zone->sh);
    st = zone->state;

    if (st->gen == ssh->gen && st->fd != NGX_INVALID_FILE) {
        return NGX_OK;
    }

    /* a compaction renamed a new file over PATH */

    if (st->fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(st->fd);
    }

    st->fd = ngx_open_file(st->path.data, NGX_FILE_WRONLY|O_APPEND,
                           NGX_FILE_OPEN, 0);

    if (st->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, ngx_errno,
                      ngx_open_file_n " state file \"%s\" failed, "
                      "remote_help_zone \"%V\" takes no writes until "
                      "nginx is restarted", st->path.data, &zone->name);
        ssh->broken = 1;
        return NGX_ERROR;
    }

    st->gen = ssh->gen;

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_state_append(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_encoded_t *rec, uint64_t seq)
{
    ngx_http_remote_help_record_seal(rec, seq);

    return ngx_http_remote_help_state_write_records(zone, rec->iov,
                                                    rec->niov, rec->size,
                                                    NULL);
}


/*
 * Sealed records, one or a batch, appended under the file lock (and to
 * the compaction's new file while one runs); with state_sync=on, on disk
 * before this returns, or, given sync, the files to fdatasync() in
 * sync[0] and sync[1] (dup()ed: the caller's to close; -1: none)
 */

ngx_int_t
ngx_http_remote_help_state_write_records(ngx_http_remote_help_zone_t *zone,
    struct iovec *iov, int niov, size_t size, ngx_fd_t *sync)
{
    ngx_err_t                         err;
    ngx_int_t                         rc;
    ngx_uint_t                        wrote, failed, compact;
    ngx_http_remote_help_sh_t        *sh;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    sh = zone->sh;
    ssh = ngx_http_rh_state_sh(sh);
    st = zone->state;

    rc = NGX_ERROR;
    wrote = 0;
    failed = 0;
    compact = 0;

    ngx_http_remote_help_state_lock(zone);

    if (ssh->broken || ngx_http_remote_help_state_fd(zone) != NGX_OK) {
        goto done;
    }

    if (ngx_http_remote_help_state_write(st->fd, iov, niov, size)
        != NGX_OK)
    {
        /*
         * What it wrote of them is cut off below, so that the file ends
         * with its last whole record, and the writes are undone (commit.c):
         * the next writes try again, and when the disk takes them (space
         * freed) the zone goes on without a restart
         */

        err = ngx_errno;
        failed = 1;

        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, err,
                      "writev() to state file \"%s\" failed, the writes "
                      "of remote_help_zone \"%V\" it held are undone",
                      st->path.data, &zone->name);

        if (ssh->compactor && !ssh->abort) {
            /* its walk of the zone may have copied a write undone now */

            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "compaction of \"%s\" abandoned", st->path.data);
            ssh->abort = 1;
        }

        goto done;
    }

    ssh->size += size;
    wrote = 1;
    rc = NGX_OK;

    if (ssh->compactor && !ssh->abort) {

        if (st->tmp_gen != ssh->tmp_gen || st->tmp_fd == NGX_INVALID_FILE) {

            if (st->tmp_fd != NGX_INVALID_FILE) {
                (void) ngx_close_file(st->tmp_fd);
            }

            st->tmp_fd = ngx_open_file(st->tmp.data,
                                       NGX_FILE_WRONLY|O_APPEND,
                                       NGX_FILE_OPEN, 0);
            st->tmp_gen = ssh->tmp_gen;
        }

        if (st->tmp_fd == NGX_INVALID_FILE
            || ngx_http_remote_help_state_write(st->tmp_fd, iov, niov,
                                                size)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "cannot write \"%s\", compaction abandoned",
                          st->tmp.data);
            ssh->abort = 1;

        } else {
            ssh->tmp_size += size;
            wrote |= 2;
        }

        /* a compactor that was killed leaves its mark behind */

        if (ssh->compactor != ngx_pid
            && ngx_current_msec - st->checked > 1000)
        {
            st->checked = ngx_current_msec;

            if (ngx_http_remote_help_gone(ssh->compactor)) {
                compact = 2;
            }
        }

    } else if (ssh->compactor == 0
               && (off_t) ssh->size
                  > NGX_HTTP_RH_COMPACT_RATIO * ngx_http_rh_state_live(sh)
                    + NGX_HTTP_RH_COMPACT_MIN
               && (off_t) ssh->size >= ssh->next)
    {
        compact = 1;
    }

done:

    if (failed) {
        (void) ngx_http_remote_help_state_cut(zone);
    }

    if (compact == 1) {
        ngx_http_remote_help_state_start(zone);

    } else if (compact == 2) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "compaction of \"%s\" by process %P is gone, "
                      "starting it again", st->path.data,
                      ssh->compactor);
        ngx_http_remote_help_state_start(zone);
    }

    ngx_http_remote_help_state_unlock(zone);

    if (sync) {
        sync[0] = (wrote & 1) ? dup(st->fd) : NGX_INVALID_FILE;
        sync[1] = (wrote & 2) ? dup(st->tmp_fd) : NGX_INVALID_FILE;

        if (((wrote & 1) && sync[0] == NGX_INVALID_FILE)
            || ((wrote & 2) && sync[1] == NGX_INVALID_FILE))
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "dup() of state file \"%s\" failed, "
                          "synced here", st->path.data);

            if (sync[0] != NGX_INVALID_FILE) {
                (void) close(sync[0]);
            }

            if (sync[1] != NGX_INVALID_FILE) {
                (void) close(sync[1]);
            }

            sync[0] = NGX_INVALID_FILE;
            sync[1] = NGX_INVALID_FILE;
            sync = NULL;
        }
    }

    if (st->sync && sync == NULL) {
        if ((wrote & 1) && fdatasync(st->fd) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "fdatasync(\"%s\") failed", st->path.data);
            rc = NGX_HTTP_RH_NOSTATE;
        }

        if ((wrote & 2) && fdatasync(st->tmp_fd) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "fdatasync(\"%s\") failed", st->tmp.data);
            rc = NGX_HTTP_RH_NOSTATE;
        }

        if (rc == NGX_HTTP_RH_NOSTATE) {
            /* in the file, perhaps not on the disk: it cannot be undone */
            ngx_http_remote_help_state_break(zone);
        }
    }

    if (st->compact) {
        st->compact = 0;

        if (!st->event.timer_set) {
            ngx_add_timer(&st->event, 1);
        }
    }

    return rc;
}


/* under the file lock: this process becomes the compactor */

static void
ngx_http_remote_help_state_start(ngx_http_remote_help_zone_t *zone)
{
    ngx_fd_t                          fd;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    st = zone->state;
    ssh = ngx_http_rh_state_sh(zone->sh);

    if (st->event.handler == NULL) {
        /* not a worker */
        return;
    }

    fd = ngx_open_file(st->tmp.data, NGX_FILE_WRONLY|O_APPEND,
                       NGX_FILE_TRUNCATE, NGX_FILE_DEFAULT_ACCESS);

    if (fd == NGX_INVALID_FILE
        || ngx_http_remote_help_state_header(fd) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "cannot start compaction of \"%s\" into \"%s\"",
                      st->path.data, st->tmp.data);

        if (fd != NGX_INVALID_FILE) {
            (void) ngx_close_file(fd);
        }

        /* not again before the file has grown by half */
        ssh->next = (off_t) ssh->size + (off_t) ssh->size / 2;
        return;
    }

    if (st->tmp_fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(st->tmp_fd);
    }

    ssh->compactor = ngx_pid;
    ssh->abort = 0;
    ssh->tmp_gen++;
    ssh->tmp_size = NGX_HTTP_RH_STATE_HEADER;

    st->tmp_fd = fd;
    st->tmp_gen = ssh->tmp_gen;
    st->cursor_set = 0;
    st->cursor = 0;
    st->compact = 1;
}


static void
ngx_http_remote_help_state_step(ngx_event_t *ev)
{
    ngx_uint_t                     done;
    ngx_http_remote_help_zone_t   *zone;
    ngx_http_remote_help_state_t  *st;

    st = ev->data;
    zone = st->zone;

    if (st->buf == NULL) {
        st->buf = ngx_alloc(NGX_HTTP_RH_COMPACT_BATCH, ev->log);
        if (st->buf == NULL) {
            ngx_http_remote_help_state_abort(zone);
            return;
        }

        st->buf_size = NGX_HTTP_RH_COMPACT_BATCH;
    }

    if (ngx_http_remote_help_state_batch(zone, &done) != NGX_OK) {
        ngx_http_remote_help_state_abort(zone);
        return;
    }

    if (!done) {
#if (NGX_LINUX)
        /* let the kernel write back while the walk goes on */
        (void) sync_file_range(st->tmp_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
        ngx_add_timer(ev, 1);
        return;
    }

    ngx_http_remote_help_state_finish(zone);
}


/*
 * The object after the cursor (after "o", the cursor's own object, when
 * given): the sets one after another, each in its listing order.
 */

static ngx_http_remote_help_node_t *
ngx_http_remote_help_state_next(ngx_http_remote_help_sh_t *sh,
    ngx_http_remote_help_state_t *st, ngx_http_remote_help_node_t *o)
{
    ngx_rbtree_node_t  *node;

    if (o) {
        node = ngx_rbtree_next(&sh->order[st->cursor_set].rbtree, &o->node);
        o = (ngx_http_remote_help_node_t *) node;

    } else {
        o = ngx_http_remote_help_store_first_locked(sh, st->cursor_set,
                                                    st->cursor);
    }

    while (o == NULL && st->cursor_set < NGX_RH_NSETS - 1) {
        st->cursor_set++;
        st->cursor = 0;
        o = ngx_http_remote_help_store_first_locked(sh, st->cursor_set, 0);
    }

    return o;
}


/*
 * Up to a batch of objects after the cursor: copied under the zone's
 * read lock, written under the file lock.  A change made meanwhile is
 * appended to PATH.tmp too, with a higher sequence number: wherever it
 * lands, it wins at a replay.
 */

static ngx_int_t
ngx_http_remote_help_state_batch(ngx_http_remote_help_zone_t *zone,
    ngx_uint_t *done)
{
    size_t                            used, size;
    u_char                           *p;
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    struct iovec                      iov;
    ngx_rbtree_key_t                  now;
    ngx_http_remote_help_sh_t        *sh;
    ngx_http_remote_help_node_t      *o;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_record_t     rec;
    ngx_http_remote_help_encoded_t    enc;
    ngx_http_remote_help_state_sh_t  *ssh;

    sh = zone->sh;
    ssh = ngx_http_rh_state_sh(sh);
    st = zone->state;

    rc = NGX_OK;
    used = 0;
    *done = 0;

    if (ngx_http_remote_help_store_rlock(zone) != NGX_OK) {
        return NGX_ERROR;
    }

    now = (ngx_rbtree_key_t) ngx_http_rh_now();

    o = ngx_http_remote_help_state_next(sh, st, NULL);

    while (o) {

        if (o->death <= now) {
            /* gone by its lifetime: it leaves the file here */
            st->cursor = o->node.key;
            o = ngx_http_remote_help_state_next(sh, st, o);
            continue;
        }

        size = ngx_http_rh_record_size(o->nprops, o->key_len, o->json_len);

        if (used + size > st->buf_size) {

            if (used) {
                break;
            }

            /* one object larger than a batch: a batch of its own */

            p = ngx_alloc(size, ngx_cycle->log);
            if (p == NULL) {
                rc = NGX_ERROR;
                break;
            }

            ngx_free(st->buf);
            st->buf = p;
            st->buf_size = size;
        }

        /* the object's record, as an append writes it: one encoder */

        ngx_http_remote_help_store_record(o, &rec);
        ngx_http_remote_help_record_encode(&enc, &rec);
        ngx_http_remote_help_record_seal(&enc, o->seq);

        p = st->buf + used;

        for (i = 0; i < (ngx_uint_t) enc.niov; i++) {
            p = ngx_cpymem(p, enc.iov[i].iov_base, enc.iov[i].iov_len);
        }

        used += size;

        st->cursor = o->node.key;

        o = ngx_http_remote_help_state_next(sh, st, o);
    }

    if (o == NULL) {
        *done = 1;
    }

    ngx_http_remote_help_store_runlock(zone);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_remote_help_state_lock(zone);

    if (ssh->abort || sh->retired || ssh->compactor != ngx_pid) {
        ngx_http_remote_help_state_unlock(zone);
        return NGX_ERROR;
    }

    if (used) {
        iov.iov_base = st->buf;
        iov.iov_len = used;
        rc = ngx_http_remote_help_state_write(st->tmp_fd, &iov, 1, used);

        if (rc == NGX_OK) {
            ssh->tmp_size += used;

        } else {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "cannot write \"%s\", compaction abandoned",
                          st->tmp.data);
        }
    }

    ngx_http_remote_help_state_unlock(zone);

    return rc;
}


/*
 * The walk is written: PATH.tmp on disk, renamed over PATH, and the
 * directory on disk, all in a thread of nginx's pool; on the event loop
 * only when nginx has no threads
 */

static void
ngx_http_remote_help_state_finish(ngx_http_remote_help_zone_t *zone)
{
    ngx_err_t                      err;
    ngx_http_remote_help_state_t  *st;

    st = zone->state;

#if (NGX_THREADS)

    switch (ngx_http_remote_help_state_post(zone)) {

    case NGX_OK:
        return;

    case NGX_BUSY:
        /* the last compaction's task still runs: again in a moment */
        ngx_add_timer(&st->event, 10);
        return;

    case NGX_ABORT:
        ngx_http_remote_help_state_abort(zone);
        return;

    default:
        break;
    }

#endif

    err = (fsync(st->tmp_fd) == -1) ? ngx_errno : 0;

    if (err) {
        /* abandoned before it is said: the alert's reader finds no .tmp */
        ngx_http_remote_help_state_abort(zone);
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, err,
                      "fsync(\"%s\") failed, compaction abandoned",
                      st->tmp.data);
        return;
    }

    ngx_http_remote_help_state_lock(zone);

    err = ngx_http_remote_help_state_rename_locked(zone);

    ngx_http_remote_help_state_unlock(zone);

    ngx_http_remote_help_state_renamed(zone, err);

    if (err == 0) {
        (void) ngx_http_remote_help_state_sync_dir(st);
    }
}


/*
 * Under the file lock: PATH.tmp takes PATH's name, and every process
 * writes to it from now on (each reopens PATH when it sees the new
 * generation).  NGX_EAGAIN: the compaction was abandoned meanwhile.
 */

static ngx_err_t
ngx_http_remote_help_state_rename_locked(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_sh_t        *sh;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    sh = zone->sh;
    ssh = ngx_http_rh_state_sh(sh);
    st = zone->state;

    if (ssh->abort || sh->retired || ssh->compactor != ngx_pid) {
        return NGX_EAGAIN;
    }

    if (rename((char *) st->tmp.data, (char *) st->path.data) == -1) {
        return ngx_errno;
    }

    ssh->gen++;
    ssh->size = ssh->tmp_size;
    ssh->compactor = 0;
    ssh->compactions++;

    return 0;
}


/* on the event loop, after the rename (err: or not) */

static void
ngx_http_remote_help_state_renamed(ngx_http_remote_help_zone_t *zone,
    ngx_err_t err)
{
    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    if (err) {
        ngx_http_remote_help_state_abort(zone);

        if (err != NGX_EAGAIN) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, err,
                          ngx_rename_file_n " \"%s\" to \"%s\" failed, "
                          "compaction abandoned", st->tmp.data,
                          st->path.data);
        }

        return;
    }

    /* the next append opens PATH again, as the other processes do */

    if (st->tmp_fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(st->tmp_fd);
        st->tmp_fd = NGX_INVALID_FILE;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "remote_help_zone \"%V\": state file \"%s\" compacted "
                  "to %O bytes", &zone->name, st->path.data,
                  (off_t) ngx_http_rh_state_sh(zone->sh)->size);
}


/* the rename itself on disk: the directory's fsync() */

static ngx_err_t
ngx_http_remote_help_state_sync_dir(ngx_http_remote_help_state_t *st)
{
    ngx_fd_t   dir;
    ngx_err_t  err;

    dir = ngx_open_file(st->dir.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (dir == NGX_INVALID_FILE) {
        return ngx_errno;
    }

    err = (fsync(dir) == -1) ? ngx_errno : 0;

    (void) ngx_close_file(dir);

    return err;
}


#if (NGX_THREADS)

/*
 * The compaction's end posted to nginx's "default" thread pool, with a
 * dup() of PATH.tmp (the task's own).  NGX_BUSY: the last one still
 * runs; NGX_ABORT: the worker is exiting; NGX_DECLINED: no pool.
 */

static ngx_int_t
ngx_http_remote_help_state_post(ngx_http_remote_help_zone_t *zone)
{
    ngx_thread_pool_t             *tp;
    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    if (ngx_exiting || ngx_terminate) {
        /* its completion would not be run: another worker compacts */
        return NGX_ABORT;
    }

    tp = ngx_thread_pool_get((ngx_cycle_t *) ngx_cycle,
                             &ngx_http_remote_help_state_pool);
    if (tp == NULL) {
        return NGX_DECLINED;
    }

    if (st->task == NULL) {
        st->task = ngx_calloc(sizeof(ngx_thread_task_t), ngx_cycle->log);
        if (st->task == NULL) {
            return NGX_ABORT;
        }

        st->task->ctx = zone;
        st->task->handler = ngx_http_remote_help_state_end_thread;
        st->task->event.handler = ngx_http_remote_help_state_ended;
        st->task->event.data = zone;
        st->task->event.log = ngx_cycle->log;
        st->task_fd = NGX_INVALID_FILE;

    } else if (st->task_fd != NGX_INVALID_FILE) {
        return NGX_BUSY;
    }

    st->task_fd = dup(st->tmp_fd);
    if (st->task_fd == NGX_INVALID_FILE) {
        return NGX_ABORT;
    }

    st->task_step = 0;
    st->task_err = 0;
    st->task_dir_err = 0;

    if (ngx_thread_task_post(tp, st->task) != NGX_OK) {
        (void) close(st->task_fd);
        st->task_fd = NGX_INVALID_FILE;
        return NGX_ABORT;
    }

    return NGX_OK;
}


/*
 * In a thread of the pool: PATH.tmp's fsync(), the rename under the file
 * lock (the lock of a process that died holding it is left to an event
 * loop, which abandons the compaction then), the directory's fsync()
 */

static void
ngx_http_remote_help_state_end_thread(void *data, ngx_log_t *log)
{
    ngx_http_remote_help_zone_t *zone = data;

    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    st = zone->state;
    ssh = ngx_http_rh_state_sh(zone->sh);

    if (fsync(st->task_fd) == -1) {
        st->task_err = ngx_errno;
        st->task_step = NGX_HTTP_RH_TASK_FSYNC;
        return;
    }

    if (ngx_http_remote_help_mutex_lock_live(&ssh->lock) != NGX_OK) {
        st->task_step = NGX_HTTP_RH_TASK_LOCK;
        return;
    }

    st->task_err = ngx_http_remote_help_state_rename_locked(zone);

    ngx_http_remote_help_state_unlock(zone);

    st->task_step = NGX_HTTP_RH_TASK_RENAME;

    if (st->task_err == 0) {
        st->task_dir_err = ngx_http_remote_help_state_sync_dir(st);
    }
}


static void
ngx_http_remote_help_state_ended(ngx_event_t *ev)
{
    ngx_http_remote_help_zone_t *zone = ev->data;

    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    (void) close(st->task_fd);
    st->task_fd = NGX_INVALID_FILE;

    switch (st->task_step) {

    case NGX_HTTP_RH_TASK_FSYNC:
        ngx_http_remote_help_state_abort(zone);
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, st->task_err,
                      "fsync(\"%s\") failed, compaction abandoned",
                      st->tmp.data);
        return;

    case NGX_HTTP_RH_TASK_LOCK:
        /* a dead process's lock: the walk's next step takes it over */
        ngx_add_timer(&st->event, 1);
        return;

    default:
        ngx_http_remote_help_state_renamed(zone, st->task_err);

        if (st->task_err == 0 && st->task_dir_err) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, st->task_dir_err,
                          "fsync(\"%s\") failed", st->dir.data);
        }
    }
}

#endif


static void
ngx_http_remote_help_state_abort(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = ngx_http_rh_state_sh(zone->sh);
    st = zone->state;

    ngx_http_remote_help_state_lock(zone);

    if (ssh->compactor == ngx_pid) {
        ssh->compactor = 0;
        ssh->next = (off_t) ssh->size + (off_t) ssh->size / 2;
        (void) ngx_delete_file(st->tmp.data);
    }

    ngx_http_remote_help_state_unlock(zone);

    if (st->tmp_fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(st->tmp_fd);
        st->tmp_fd = NGX_INVALID_FILE;
    }
}


ngx_int_t
ngx_http_remote_help_state_init_process(ngx_cycle_t *cycle,
    ngx_array_t *zones)
{
    return ngx_http_remote_help_store_each(zones,
                                            ngx_http_remote_help_state_open,
                                            cycle);
}


static ngx_int_t
ngx_http_remote_help_state_open(ngx_http_remote_help_zone_t *zone,
    void *data)
{
    ngx_cycle_t  *cycle = data;

    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    if (st == NULL || zone->sh == NULL) {
        return NGX_OK;
    }

    st->event.handler = ngx_http_remote_help_state_step;
    st->event.data = st;
    st->event.log = cycle->log;
    st->event.cancelable = 0;

    /* opened under the file lock: the file and its generation agree */

    ngx_http_remote_help_state_lock(zone);

    if (st->fd == NGX_INVALID_FILE) {
        st->fd = ngx_open_file(st->path.data, NGX_FILE_WRONLY|O_APPEND,
                               NGX_FILE_OPEN, 0);
        st->gen = ngx_http_rh_state_sh(zone->sh)->gen;
    }

    ngx_http_remote_help_state_unlock(zone);

    if (st->fd == NGX_INVALID_FILE) {
        /* writes answer 500 until it can be opened */
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      ngx_open_file_n " state file \"%s\" failed",
                      st->path.data);
    }

    return NGX_OK;
}


void
ngx_http_remote_help_state_exit_process(ngx_array_t *zones)
{
    (void) ngx_http_remote_help_store_each(zones,
                                            ngx_http_remote_help_state_close,
                                            NULL);
}


static ngx_int_t
ngx_http_remote_help_state_close(ngx_http_remote_help_zone_t *zone,
    void *data)
{
    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    if (st == NULL || zone->sh == NULL) {
        return NGX_OK;
    }

    if (ngx_http_rh_state_sh(zone->sh)->compactor == ngx_pid) {
        ngx_http_remote_help_state_abort(zone);
    }

    if (st->fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(st->fd);
        st->fd = NGX_INVALID_FILE;
    }

    if (st->tmp_fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(st->tmp_fd);
        st->tmp_fd = NGX_INVALID_FILE;
    }

    if (st->buf) {
        ngx_free(st->buf);
        st->buf = NULL;
        st->buf_size = 0;
    }

#if (NGX_THREADS)
    if (st->task) {
        /* the pool's threads are gone by now (its module exits first) */
        ngx_free(st->task);
        st->task = NULL;
    }
#endif

    return NGX_OK;
}


void
ngx_http_remote_help_state_break(ngx_http_remote_help_zone_t *zone)
{
    ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                  "remote_help_zone \"%V\" holds a write its state file "
                  "does not: it takes no writes until nginx is restarted",
                  &zone->name);

    ngx_http_rh_state_sh(zone->sh)->broken = 1;
}


ngx_uint_t
ngx_http_remote_help_state_broken(ngx_http_remote_help_zone_t *zone)
{
    return ngx_http_rh_state_sh(zone->sh)->broken;
}


void
ngx_http_remote_help_state_figures(ngx_http_remote_help_zone_t *zone,
    off_t *size, ngx_uint_t *compactions)
{
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = ngx_http_rh_state_sh(zone->sh);

    *size = (off_t) ssh->size;
    *compactions = ssh->compactions;
}
