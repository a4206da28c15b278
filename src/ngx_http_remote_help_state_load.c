
/*
 * ngx_http_remote_help_module: the state file read back into the zone.
 *
 * At start (and at nginx -t) the master replays the file into the zone:
 * of all records of a key, the one with the highest sequence number
 * wins, so the order of the records does not matter (deleted keys are
 * remembered while the file is read).  A torn last record is dropped
 * with a warning; a bad record anywhere else stops nginx with the file
 * and the offset.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_store.h"
#include "ngx_http_remote_help_state.h"


static ngx_int_t ngx_http_remote_help_state_check_dir(
    ngx_http_remote_help_zone_t *zone);
static ngx_int_t ngx_http_remote_help_state_replay(
    ngx_http_remote_help_zone_t *zone, u_char *start, off_t size,
    off_t *valid);
static ngx_int_t ngx_http_remote_help_state_upgrade(
    ngx_http_remote_help_zone_t *zone, ngx_fd_t fd, u_char *start);
static ngx_int_t ngx_http_remote_help_state_apply(
    ngx_http_remote_help_zone_t *zone, ngx_pool_t *pool,
    ngx_rbtree_t *deleted, u_char *p, uint32_t len);


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
    ngx_http_remote_help_state_sh_t  *ssh, *ossh;

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
            if (ozone->sh != sh) {
                /*
                 * a resize: the file goes on as it is; a compaction of
                 * the old zone is abandoned (its compactor sees the old
                 * zone retired), the new zone's may start at once
                 */

                ssh = ngx_http_rh_state_sh(sh);
                ossh = ngx_http_rh_state_sh(ozone->sh);

                ssh->size = ossh->size;
                ssh->gen = ossh->gen;
                ssh->broken = ossh->broken;
                ssh->compactions = ossh->compactions;
            }

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

    rc = ngx_http_remote_help_state_replay(zone, start, size, &valid);

    if (rc == NGX_OK && valid < size && !ngx_test_config) {
        if (ftruncate(fd, valid) == -1) {
            ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                          "ftruncate(\"%s\", %O) failed",
                          st->path.data, valid);
            rc = NGX_ERROR;
        }
    }

    if (rc == NGX_OK && !ngx_test_config) {
        rc = ngx_http_remote_help_state_upgrade(zone, fd, start);
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

    ngx_http_rh_state_sh(sh)->size = valid;
    ngx_http_rh_state_sh(sh)->gen = 1;

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


/*
 * A file of an earlier version, read: its header says version 4 from now
 * on, so that the records of CRC-32C that this build appends are not
 * read as damage by an earlier build, which refuses the file instead
 * (its records stay as they are: this build reads both kinds)
 */

static ngx_int_t
ngx_http_remote_help_state_upgrade(ngx_http_remote_help_zone_t *zone,
    ngx_fd_t fd, u_char *start)
{
    uint32_t  version;

    ngx_memcpy(&version, start + 8, 4);

    if (version >= NGX_HTTP_RH_STATE_VERSION) {
        return NGX_OK;
    }

    version = NGX_HTTP_RH_STATE_VERSION;

    if (pwrite(fd, &version, 4, 8) != 4 || fsync(fd) == -1) {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, ngx_errno,
                      "cannot write the header of state file \"%s\"",
                      zone->state->path.data);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, zone->cycle->log, 0,
                  "state file \"%s\" is of version %uD now",
                  zone->state->path.data, version);

    return NGX_OK;
}


static ngx_int_t
ngx_http_remote_help_state_replay(ngx_http_remote_help_zone_t *zone,
    u_char *start, off_t size, off_t *valid)
{
    off_t                          off, left, i;
    u_char                        *p;
    uint32_t                       len, bom, version;
    ngx_int_t                      rc;
    ngx_uint_t                     old;
    ngx_pool_t                    *pool;
    const char                    *what;
    ngx_rbtree_t                   deleted;
    ngx_rbtree_node_t              sentinel;
    ngx_http_remote_help_state_t  *st;

    st = zone->state;

    ngx_memcpy(&version, start + 8, 4);
    ngx_memcpy(&bom, start + 12, 4);

    if (ngx_memcmp(start, NGX_HTTP_RH_STATE_MAGIC, 8) != 0
        || version < NGX_HTTP_RH_STATE_OLDEST
        || version > NGX_HTTP_RH_STATE_VERSION
        || bom != NGX_HTTP_RH_STATE_BOM)
    {
        ngx_log_error(NGX_LOG_EMERG, zone->cycle->log, 0,
                      "\"%s\" is not a remote_help state file of versions "
                      "%d to %d and this byte order", st->path.data,
                      NGX_HTTP_RH_STATE_OLDEST, NGX_HTTP_RH_STATE_VERSION);
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

        rc = ngx_http_remote_help_record_head(p, left, &len, &old);

        if (rc == NGX_AGAIN) {
            what = "a record header cut short";
            goto torn;
        }

        if (rc != NGX_OK) {

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

        if (ngx_http_remote_help_record_check(p + NGX_HTTP_RH_REC_HEAD, len,
                                              old)
            != NGX_OK)
        {

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
    u_char                         *k;
    uint32_t                        hash, spans[2 * NGX_RH_MAX_PROPS];
    uint64_t                        seq, later, written;
    ngx_int_t                       rc;
    ngx_str_t                       key, name;
    ngx_str_node_t                 *sn;
    ngx_http_remote_help_record_t   rec;

    if (ngx_http_remote_help_record_decode(&rec, p, len, spans) != NGX_OK
        || (rec.seq & NGX_HTTP_RH_REPLAY))
    {
        return NGX_DECLINED;
    }

    seq = rec.seq;
    key = rec.key;

    if (rec.op == NGX_HTTP_RH_OP_PUT) {

        if (rec.written == 0) {
            /* version 2: the write's moment is not known, now stands in */
            rec.written = ngx_http_rh_now();
        }

        if (ngx_http_remote_help_store_death(zone, rec.written, rec.until)
            <= (ngx_rbtree_key_t) ngx_http_rh_now())
        {
            /*
             * gone by its lifetime while nginx was down: as a deletion of
             * the key at this version, so that none before comes back
             */
            rec.op = NGX_HTTP_RH_OP_DELETE;
        }
    }

    /* the deleted keys are known by "set byte, key" */

    name.len = key.len + 1;
    name.data = ngx_alloc(name.len, zone->cycle->log);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    name.data[0] = (u_char) rec.set;
    ngx_memcpy(name.data + 1, key.data, key.len);
    hash = ngx_crc32_long(name.data, name.len);

    sn = ngx_str_rbtree_lookup(deleted, &name, hash);

    if (sn) {
        ngx_memcpy(&later, sn + 1, sizeof(uint64_t));

    } else {
        later = 0;
    }

    if (rec.op == NGX_HTTP_RH_OP_DELETE) {

        rc = ngx_http_remote_help_store_delete(zone, rec.set, &key, seq, 0,
                                               0, &written, NULL);

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

    rec.seq = NGX_HTTP_RH_REPLAY | seq;

    rc = ngx_http_remote_help_store_put(zone, &rec, 0);

    return (rc == NGX_OK) ? NGX_OK : NGX_ERROR;
}
