
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
 * When the file grows past twice the live data, one worker compacts it:
 * it writes every object to PATH.tmp in batches, while every append also
 * goes to PATH.tmp; then PATH.tmp is fsynced and renamed over PATH, and
 * each worker reopens PATH.
 *
 * At start the master replays the file into the zone: of all records of
 * a key, the one with the highest sequence number wins, so the order of
 * the records does not matter (deleted keys are remembered while the
 * file is read).  A torn last record is dropped with a warning; a bad
 * record anywhere else stops nginx with the file and the offset.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <zlib.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_state.h"


#define NGX_HTTP_RH_STATE_MAGIC   "RHSTATE\n"
#define NGX_HTTP_RH_STATE_VERSION 2
#define NGX_HTTP_RH_STATE_BOM     0x01020304
#define NGX_HTTP_RH_STATE_HEADER  16

/* CRC-32 as ngx_crc32_long() computes it, by zlib's faster code */
#define ngx_http_rh_crc(p, n)     ((uint32_t) crc32(0, (p), (uInt) (n)))

/* compact when the file is over 2 x live + this, in batches of this */
#define NGX_HTTP_RH_COMPACT_MIN   (64 * 1024)
#define NGX_HTTP_RH_COMPACT_BATCH (256 * 1024)


static ngx_int_t ngx_http_remote_help_state_check_dir(
    ngx_http_remote_help_zone_t *zone);
static ngx_int_t ngx_http_remote_help_state_replay(
    ngx_http_remote_help_zone_t *zone, u_char *start, off_t size,
    off_t *valid);
static ngx_int_t ngx_http_remote_help_state_apply(
    ngx_http_remote_help_zone_t *zone, ngx_pool_t *pool,
    ngx_rbtree_t *deleted, u_char *p, uint32_t len);
static ngx_int_t ngx_http_remote_help_state_header(ngx_fd_t fd);
static void ngx_http_remote_help_state_lock(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_state_unlock(
    ngx_http_remote_help_zone_t *zone);
static ngx_int_t ngx_http_remote_help_state_fd(
    ngx_http_remote_help_zone_t *zone);
static void ngx_http_remote_help_state_seal(
    ngx_http_remote_help_record_t *rec, uint64_t seq);
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


/*
 * Called by the zone's init: ozone is the zone of the previous cycle,
 * whose objects this one adopted or copied; without it, the objects
 * come from the file.
 */

ngx_int_t
ngx_http_remote_help_state_load(ngx_http_remote_help_zone_t *zone,
    ngx_http_remote_help_zone_t *ozone)
{
    off_t                          size, valid;
    u_char                        *start;
    ngx_fd_t                       fd;
    ngx_err_t                      err;
    ngx_int_t                      rc;
    ngx_file_info_t                fi;
    ngx_core_conf_t               *ccf;
    ngx_http_remote_help_sh_t     *sh;
    ngx_http_remote_help_state_t  *st, *ost;

    st = zone->state;
    sh = zone->sh;

    if (ozone) {
        ost = ozone->state;

        if (st == NULL && ost == NULL) {
            return NGX_OK;
        }

        if (st && ost && st->path.len == ost->path.len
            && ngx_strcmp(st->path.data, ost->path.data) == 0)
        {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, 0,
                      "the state= of remote_help_zone \"%V\" cannot change "
                      "on reload, nginx must be restarted for it",
                      &zone->name);
        return NGX_ERROR;
    }

    if (st == NULL) {
        return NGX_OK;
    }

    if (ngx_http_remote_help_state_check_dir(zone) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_test_config) {
        fd = ngx_open_file(st->path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    } else {
        fd = ngx_open_file(st->path.data, NGX_FILE_RDWR,
                           NGX_FILE_CREATE_OR_OPEN, NGX_FILE_DEFAULT_ACCESS);
    }

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (ngx_test_config && err == NGX_ENOENT) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, err,
                      ngx_open_file_n " state file \"%s\" failed",
                      st->path.data);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    start = NULL;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                      ngx_fd_info_n " \"%s\" failed", st->path.data);
        goto done;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(zone->cycle->conf_ctx,
                                           ngx_core_module);

    if (!ngx_test_config && geteuid() == 0
        && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT
        && fchown(fd, ccf->user, ccf->group) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                      "fchown(\"%s\", %s) failed",
                      st->path.data, ccf->username);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size < NGX_HTTP_RH_STATE_HEADER) {

        /* a new file, or one whose creation was cut short */

        if (size) {
            ngx_log_error(NGX_LOG_WARN, zone->cycle->log, 0,
                          "state file \"%s\" has a torn header of %O bytes, "
                          "starting it afresh", st->path.data, size);
        }

        if (!ngx_test_config) {
            if (ftruncate(fd, 0) == -1
                || ngx_http_remote_help_state_header(fd) != NGX_OK
                || fsync(fd) == -1)
            {
                ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                              "cannot write state file \"%s\"",
                              st->path.data);
                goto done;
            }
        }

        valid = NGX_HTTP_RH_STATE_HEADER;
        size = 0;
        rc = NGX_OK;
        goto done;
    }

    start = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);

    if (start == MAP_FAILED) {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                      "mmap(\"%s\") failed", st->path.data);
        start = NULL;
        goto done;
    }

    st->loading = 1;
    rc = ngx_http_remote_help_state_replay(zone, start, size, &valid);
    st->loading = 0;

    if (rc == NGX_OK && valid < size && !ngx_test_config) {
        if (ftruncate(fd, valid) == -1) {
            ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                          "ftruncate(\"%s\", %O) failed",
                          st->path.data, valid);
            rc = NGX_ERROR;
        }
    }

done:

    if (start) {
        munmap(start, size);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, zone->cycle->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", st->path.data);
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    sh->state.size = valid;
    sh->state.gen = 1;

    ngx_log_error(NGX_LOG_NOTICE, zone->cycle->log, 0,
                  "remote_help_zone \"%V\": %ui objects restored from "
                  "state file \"%s\" (%O bytes)", &zone->name,
                  sh->objects[0] + sh->objects[1] + sh->objects[2],
                  st->path.data, valid);

    return NGX_OK;
}


/* PATH.tmp is made and renamed by the workers: their user must write */

static ngx_int_t
ngx_http_remote_help_state_check_dir(ngx_http_remote_help_zone_t *zone)
{
    ngx_uint_t                     ok;
    ngx_file_info_t                fi;
    ngx_core_conf_t               *ccf;
    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    ccf = (ngx_core_conf_t *) ngx_get_conf(zone->cycle->conf_ctx,
                                           ngx_core_module);

    if (ngx_file_info(st->dir.data, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                      "state directory \"%s\" is not usable", st->dir.data);
        return NGX_ERROR;
    }

    if (geteuid() == 0 && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT
        && ccf->user != 0)
    {
        ok = (fi.st_uid == ccf->user
              && (fi.st_mode & (S_IWUSR|S_IXUSR)) == (S_IWUSR|S_IXUSR))
             || (fi.st_gid == ccf->group
                 && (fi.st_mode & (S_IWGRP|S_IXGRP)) == (S_IWGRP|S_IXGRP))
             || (fi.st_mode & (S_IWOTH|S_IXOTH)) == (S_IWOTH|S_IXOTH);

    } else {
        ok = (access((char *) st->dir.data, W_OK|X_OK) == 0);
    }

    if (!ok) {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, 0,
                      "state directory \"%s\" of remote_help_zone \"%V\" "
                      "is not writable by user \"%s\"", st->dir.data,
                      &zone->name,
                      ccf->username ? ccf->username : "(this user)");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_state_replay(ngx_http_remote_help_zone_t *zone,
    u_char *start, off_t size, off_t *valid)
{
    off_t                          off, left, i;
    u_char                        *p;
    uint32_t                       len, crc, hcrc, bom, version;
    ngx_int_t                      rc;
    ngx_pool_t                    *pool;
    const char                    *what;
    ngx_rbtree_t                   deleted;
    ngx_rbtree_node_t              sentinel;
    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    ngx_memcpy(&version, start + 8, 4);
    ngx_memcpy(&bom, start + 12, 4);

    if (ngx_memcmp(start, NGX_HTTP_RH_STATE_MAGIC, 8) != 0
        || version != NGX_HTTP_RH_STATE_VERSION
        || bom != NGX_HTTP_RH_STATE_BOM)
    {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, 0,
                      "\"%s\" is not a remote_help state file of version %d "
                      "and this byte order", st->path.data,
                      NGX_HTTP_RH_STATE_VERSION);
        return NGX_ERROR;
    }

    /* the keys deleted, with their sequence numbers, while reading */

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, zone->cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&deleted, &sentinel, ngx_str_rbtree_insert_value);

    off = NGX_HTTP_RH_STATE_HEADER;

    while (off < size) {

        p = start + off;
        left = size - off;

        if (left < NGX_HTTP_RH_REC_HEAD) {
            what = "a record header cut short";
            goto torn;
        }

        ngx_memcpy(&len, p, 4);
        ngx_memcpy(&crc, p + 4, 4);
        ngx_memcpy(&hcrc, p + 8, 4);

        if (ngx_http_rh_crc(p, 8) != hcrc) {

            /* zeroes to the end: the size grew, the data never came */

            for (i = 0; i < left; i++) {
                if (p[i]) {
                    what = "a bad record header";
                    goto damaged;
                }
            }

            what = "zeroes";
            goto torn;
        }

        if ((off_t) len > left - NGX_HTTP_RH_REC_HEAD) {
            what = "a record cut short";
            goto torn;
        }

        if (ngx_http_rh_crc(p + NGX_HTTP_RH_REC_HEAD, len) != crc) {

            if ((off_t) len == left - NGX_HTTP_RH_REC_HEAD) {
                what = "a last record with a bad checksum";
                goto torn;
            }

            what = "a record with a bad checksum";
            goto damaged;
        }

        rc = ngx_http_remote_help_state_apply(zone, pool, &deleted,
                                              p + NGX_HTTP_RH_REC_HEAD, len);

        if (rc == NGX_DECLINED) {
            what = "a record that is not an object";
            goto damaged;
        }

        if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, 0,
                          "remote_help_zone \"%V\" is too small for the "
                          "objects in state file \"%s\" (full at offset %O)",
                          &zone->name, st->path.data, off);
            ngx_destroy_pool(pool);
            return NGX_ERROR;
        }

        off += NGX_HTTP_RH_REC_HEAD + len;
    }

    ngx_destroy_pool(pool);

    *valid = off;

    return NGX_OK;

torn:

    ngx_destroy_pool(pool);

    ngx_log_error(NGX_LOG_WARN, zone->cycle->log, 0,
                  "state file \"%s\" ends with %s at offset %O: "
                  "the last %O bytes, a write that was cut short, "
                  "are dropped", st->path.data, what, off, left);

    *valid = off;

    return NGX_OK;

damaged:

    ngx_destroy_pool(pool);

    ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, 0,
                  "state file \"%s\" is damaged at offset %O: %s",
                  st->path.data, off, what);

    return NGX_ERROR;
}


/*
 * NGX_DECLINED: not a valid record; NGX_ERROR: the zone is full.  Of all
 * records of a key the highest sequence number wins, deletions included.
 */

static ngx_int_t
ngx_http_remote_help_state_apply(ngx_http_remote_help_zone_t *zone,
    ngx_pool_t *pool, ngx_rbtree_t *deleted, u_char *p, uint32_t len)
{
    u_char          *k;
    uint32_t         key_len, json_len, hash, spans[2 * NGX_RH_MAX_PROPS];
    uint64_t         seq, later;
    ngx_int_t        rc;
    ngx_str_t        key, json, name;
    ngx_uint_t       op, set, nprops, i;
    ngx_str_node_t  *sn;

    if (len < NGX_HTTP_RH_REC_FIXED + NGX_HTTP_RH_REC_SEQ) {
        return NGX_DECLINED;
    }

    op = p[0];
    set = p[1];
    nprops = p[2];

    ngx_memcpy(&key_len, p + 4, 4);
    ngx_memcpy(&json_len, p + 8, 4);
    ngx_memcpy(&seq, p + len - NGX_HTTP_RH_REC_SEQ, 8);

    p += NGX_HTTP_RH_REC_FIXED;
    len -= NGX_HTTP_RH_REC_FIXED + NGX_HTTP_RH_REC_SEQ;

    if (set >= NGX_RH_NSETS || key_len == 0 || seq == 0
        || (seq & NGX_HTTP_RH_REPLAY))
    {
        return NGX_DECLINED;
    }

    if (op == NGX_HTTP_RH_OP_DELETE) {
        if (nprops || json_len || len != key_len) {
            return NGX_DECLINED;
        }

    } else if (op != NGX_HTTP_RH_OP_PUT
               || nprops != ngx_rh_sets[set].nprops
               || (uint64_t) len
                  != 8 * nprops + (uint64_t) key_len + json_len)
    {
        return NGX_DECLINED;
    }

    key.data = p + 8 * nprops;
    key.len = key_len;

    /* the deleted keys are known by "set byte, key" */

    name.len = key_len + 1;
    name.data = ngx_alloc(name.len, zone->cycle->log);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    name.data[0] = (u_char) set;
    ngx_memcpy(name.data + 1, key.data, key_len);
    hash = ngx_crc32_long(name.data, name.len);

    sn = ngx_str_rbtree_lookup(deleted, &name, hash);

    if (sn) {
        ngx_memcpy(&later, sn + 1, sizeof(uint64_t));

    } else {
        later = 0;
    }

    if (op == NGX_HTTP_RH_OP_DELETE) {

        rc = ngx_http_remote_help_store_delete(zone, set, &key, seq);

        if (rc != NGX_OK && rc != NGX_HTTP_RH_MISSING) {
            ngx_free(name.data);
            return NGX_ERROR;
        }

        if (sn == NULL) {
            sn = ngx_palloc(pool, sizeof(ngx_str_node_t) + sizeof(uint64_t)
                                  + name.len);
            if (sn == NULL) {
                ngx_free(name.data);
                return NGX_ERROR;
            }

            k = (u_char *) (sn + 1) + sizeof(uint64_t);
            ngx_memcpy(k, name.data, name.len);

            sn->node.key = hash;
            sn->str.data = k;
            sn->str.len = name.len;
            ngx_rbtree_insert(deleted, &sn->node);
        }

        if (later < seq) {
            ngx_memcpy(sn + 1, &seq, sizeof(uint64_t));
        }

        ngx_free(name.data);

        return NGX_OK;
    }

    ngx_free(name.data);

    if (later > seq) {
        /* deleted later */
        return NGX_OK;
    }

    ngx_memcpy(spans, p, 8 * nprops);

    for (i = 0; i < nprops; i++) {
        if ((uint64_t) spans[2 * i] + spans[2 * i + 1] > json_len) {
            return NGX_DECLINED;
        }
    }

    json.data = key.data + key_len;
    json.len = json_len;

    rc = ngx_http_remote_help_store_put(zone, set, &key, &json, spans,
                                        NGX_HTTP_RH_REPLAY | seq);

    return (rc == NGX_OK) ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
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


void
ngx_http_remote_help_state_record(ngx_http_remote_help_record_t *rec,
    ngx_uint_t op, ngx_uint_t set, ngx_uint_t nprops, uint32_t *spans,
    ngx_str_t *key, ngx_str_t *json)
{
    u_char    *h;
    uint32_t   n, crc;

    h = rec->head;

    h[12] = (u_char) op;
    h[13] = (u_char) set;
    h[14] = (u_char) nprops;
    h[15] = 0;
    n = (uint32_t) key->len;
    ngx_memcpy(h + 16, &n, 4);
    n = json ? (uint32_t) json->len : 0;
    ngx_memcpy(h + 20, &n, 4);

    rec->iov[0].iov_base = h;
    rec->iov[0].iov_len = sizeof(rec->head);
    rec->niov = 1;

    /* the checksum of all but the sequence number, which comes later */

    crc = ngx_http_rh_crc(h + NGX_HTTP_RH_REC_HEAD, NGX_HTTP_RH_REC_FIXED);

    if (nprops) {
        rec->iov[rec->niov].iov_base = spans;
        rec->iov[rec->niov++].iov_len = 8 * nprops;
        crc = (uint32_t) crc32(crc, (u_char *) spans, 8 * nprops);
    }

    rec->iov[rec->niov].iov_base = key->data;
    rec->iov[rec->niov++].iov_len = key->len;
    crc = (uint32_t) crc32(crc, key->data, key->len);

    if (json && json->len) {
        rec->iov[rec->niov].iov_base = json->data;
        rec->iov[rec->niov++].iov_len = json->len;
        crc = (uint32_t) crc32(crc, json->data, json->len);
    }

    rec->iov[rec->niov].iov_base = &rec->seq;
    rec->iov[rec->niov++].iov_len = NGX_HTTP_RH_REC_SEQ;

    rec->crc = crc;
    rec->size = ngx_http_rh_record_size(nprops, key->len,
                                        json ? json->len : 0);
}


static void
ngx_http_remote_help_state_seal(ngx_http_remote_help_record_t *rec,
    uint64_t seq)
{
    u_char    *h;
    uint32_t   n, crc;

    h = rec->head;
    rec->seq = seq;

    crc = rec->crc;
    crc = (uint32_t) crc32(crc, (u_char *) &rec->seq, NGX_HTTP_RH_REC_SEQ);

    n = (uint32_t) (rec->size - NGX_HTTP_RH_REC_HEAD);
    ngx_memcpy(h, &n, 4);
    ngx_memcpy(h + 4, &crc, 4);
    crc = ngx_http_rh_crc(h, 8);
    ngx_memcpy(h + 8, &crc, 4);
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
    ngx_file_info_t                   fi;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = &zone->sh->state;
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

    if (ngx_http_remote_help_state_fd(zone) != NGX_OK
        || ngx_fd_info(st->fd, &fi) == NGX_FILE_ERROR)
    {
        return;
    }

    if (ngx_file_size(&fi) > (off_t) ssh->size) {

        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "state file \"%s\": %O bytes of a record not "
                      "acknowledged cut off at offset %O", st->path.data,
                      ngx_file_size(&fi) - (off_t) ssh->size,
                      (off_t) ssh->size);

        if (ftruncate(st->fd, (off_t) ssh->size) == -1) {
            ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, ngx_errno,
                          "ftruncate(\"%s\", %O) failed, remote_help_zone "
                          "\"%V\" takes no writes until nginx is restarted",
                          st->path.data, (off_t) ssh->size, &zone->name);
            ssh->broken = 1;
        }
    }
}


static void
ngx_http_remote_help_state_unlock(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_mutex_unlock(&zone->sh->state.lock);
}


/* under the file lock: this process's descriptor of the current PATH */

static ngx_int_t
ngx_http_remote_help_state_fd(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = &zone->sh->state;
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
    ngx_http_remote_help_record_t *rec, uint64_t seq)
{
    off_t                             end;
    ngx_err_t                         err;
    ngx_int_t                         rc;
    ngx_uint_t                        wrote, failed, compact;
    ngx_file_info_t                   fi;
    ngx_http_remote_help_sh_t        *sh;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    sh = zone->sh;
    ssh = &sh->state;
    st = zone->state;

    ngx_http_remote_help_state_seal(rec, seq);

    rc = NGX_ERROR;
    wrote = 0;
    failed = 0;
    compact = 0;

    ngx_http_remote_help_state_lock(zone);

    if (ssh->broken || ngx_http_remote_help_state_fd(zone) != NGX_OK) {
        goto done;
    }

    if (ngx_http_remote_help_state_write(st->fd, rec->iov, rec->niov,
                                         rec->size)
        != NGX_OK)
    {
        /* the zone holds a change the file does not: no more writes */

        err = ngx_errno;
        ssh->broken = 1;
        failed = 1;

        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, err,
                      "writev() to state file \"%s\" failed, "
                      "remote_help_zone \"%V\" takes no writes until "
                      "nginx is restarted", st->path.data, &zone->name);
        goto done;
    }

    ssh->size += rec->size;
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
            || ngx_http_remote_help_state_write(st->tmp_fd, rec->iov,
                                                rec->niov, rec->size)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "cannot write \"%s\", compaction abandoned",
                          st->tmp.data);
            ssh->abort = 1;

        } else {
            ssh->tmp_size += rec->size;
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
                  > 2 * sh->live + NGX_HTTP_RH_COMPACT_MIN
               && (off_t) ssh->size >= ssh->next)
    {
        compact = 1;
    }

done:

    if (failed && st->fd != NGX_INVALID_FILE
        && ngx_fd_info(st->fd, &fi) != NGX_FILE_ERROR)
    {
        /*
         * Nothing may follow a part of a record: it would read as
         * damage.  All whole records are counted now; when only a
         * part of one record is beyond them, it is cut off.
         */

        end = (off_t) ssh->size;

        if (ngx_file_size(&fi) > end
            && ngx_file_size(&fi) - end < (off_t) rec->size
            && ftruncate(st->fd, end) == -1)
        {
            ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, ngx_errno,
                          "ftruncate(\"%s\", %O) failed",
                          st->path.data, end);
        }
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

    (void) ngx_atomic_fetch_add(&ssh->pending, -1);

    if (st->sync) {
        if ((wrote & 1) && fdatasync(st->fd) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "fdatasync(\"%s\") failed", st->path.data);
        }

        if ((wrote & 2) && fdatasync(st->tmp_fd) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "fdatasync(\"%s\") failed", st->tmp.data);
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
    ssh = &zone->sh->state;

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
    uint32_t                          n, crc;
    ngx_int_t                         rc;
    struct iovec                      iov;
    ngx_http_remote_help_sh_t        *sh;
    ngx_http_remote_help_node_t      *o;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    sh = zone->sh;
    ssh = &sh->state;
    st = zone->state;

    rc = NGX_OK;
    used = 0;
    *done = 0;

    if (ngx_http_remote_help_store_rlock(zone) != NGX_OK) {
        return NGX_ERROR;
    }

    o = ngx_http_remote_help_state_next(sh, st, NULL);

    while (o) {

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

        p = st->buf + used;

        p[12] = NGX_HTTP_RH_OP_PUT;
        p[13] = o->set;
        p[14] = o->nprops;
        p[15] = 0;
        ngx_memcpy(p + 16, &o->key_len, 4);
        ngx_memcpy(p + 20, &o->json_len, 4);
        ngx_memcpy(p + 24, o->data, size - 24 - NGX_HTTP_RH_REC_SEQ);
        ngx_memcpy(p + size - NGX_HTTP_RH_REC_SEQ, &o->seq,
                   NGX_HTTP_RH_REC_SEQ);

        n = (uint32_t) (size - NGX_HTTP_RH_REC_HEAD);
        crc = ngx_http_rh_crc(p + NGX_HTTP_RH_REC_HEAD, n);
        ngx_memcpy(p, &n, 4);
        ngx_memcpy(p + 4, &crc, 4);
        crc = ngx_http_rh_crc(p, 8);
        ngx_memcpy(p + 8, &crc, 4);

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


static void
ngx_http_remote_help_state_finish(ngx_http_remote_help_zone_t *zone)
{
    off_t                             size;
    ngx_fd_t                          dir;
    ngx_http_remote_help_sh_t        *sh;
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    sh = zone->sh;
    ssh = &sh->state;
    st = zone->state;

    if (fsync(st->tmp_fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "fsync(\"%s\") failed, compaction abandoned",
                      st->tmp.data);
        ngx_http_remote_help_state_abort(zone);
        return;
    }

    ngx_http_remote_help_state_lock(zone);

    if (ssh->abort || sh->retired || ssh->compactor != ngx_pid) {
        ngx_http_remote_help_state_unlock(zone);
        ngx_http_remote_help_state_abort(zone);
        return;
    }

    if (ngx_rename_file(st->tmp.data, st->path.data) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      ngx_rename_file_n " \"%s\" to \"%s\" failed, "
                      "compaction abandoned", st->tmp.data, st->path.data);
        ngx_http_remote_help_state_unlock(zone);
        ngx_http_remote_help_state_abort(zone);
        return;
    }

    ssh->gen++;
    ssh->size = ssh->tmp_size;
    ssh->compactor = 0;
    ssh->compactions++;
    size = ssh->size;

    if (st->fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(st->fd);
    }

    st->fd = st->tmp_fd;
    st->gen = ssh->gen;
    st->tmp_fd = NGX_INVALID_FILE;

    ngx_http_remote_help_state_unlock(zone);

    /* the rename itself on disk */

    dir = ngx_open_file(st->dir.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (dir != NGX_INVALID_FILE) {
        (void) fsync(dir);
        (void) ngx_close_file(dir);
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "remote_help_zone \"%V\": state file \"%s\" compacted "
                  "to %O bytes", &zone->name, st->path.data, size);
}


static void
ngx_http_remote_help_state_abort(ngx_http_remote_help_zone_t *zone)
{
    ngx_http_remote_help_state_t     *st;
    ngx_http_remote_help_state_sh_t  *ssh;

    ssh = &zone->sh->state;
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
        st->gen = zone->sh->state.gen;
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

    if (zone->sh->state.compactor == ngx_pid) {
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

    return NGX_OK;
}
