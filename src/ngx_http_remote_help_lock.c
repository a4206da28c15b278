
/*
 * ngx_http_remote_help_module: locks in shared memory that a process
 * killed while it holds them does not wedge.
 *
 * ngx_rwlock records no owner, and the master unlocks only the slab
 * mutex of a dead worker's zones.  Here the write lock holds its owner's
 * pid, and each reader marks a slot of its own that holds its pid: a
 * process that waits longer than a few hundred spins looks whether the
 * holder is still there.  A dead reader's mark is cleared (a reader
 * changes nothing); a dead writer's lock is taken over, and the taker
 * is told so (NGX_HTTP_RH_ORPHANED): what the lock guards may be half
 * changed, and the caller puts it right before it goes on.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_lock.h"


static void ngx_http_remote_help_readers_wait(
    ngx_http_remote_help_rwlock_t *rw);
static void ngx_http_remote_help_pause(ngx_uint_t spins);
static ngx_int_t ngx_http_remote_help_mutex_take(
    ngx_http_remote_help_mutex_t *m, ngx_uint_t over);


/* how often a waiter looks whether the holder is still there */
#define ngx_http_rh_look(spins)   ((spins) >= 128 && ((spins) & 255) == 0)


static void
ngx_http_remote_help_pause(ngx_uint_t spins)
{
    ngx_uint_t  i;

    if (spins < 128 && ngx_ncpu > 1) {
        for (i = 0; i < 32; i++) {
            ngx_cpu_pause();
        }

        return;
    }

    ngx_sched_yield();
}


ngx_uint_t
ngx_http_remote_help_gone(ngx_pid_t pid)
{
#if (NGX_LINUX)
    u_char     *p, *last;
    u_char      name[NGX_INT64_LEN + sizeof("/proc//stat")];
    u_char      buf[128];
    ssize_t     n;
    ngx_fd_t    fd;
#endif

    if (pid == ngx_pid || pid <= 0) {
        return 0;
    }

    if (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
        return 1;
    }

#if (NGX_LINUX)

    /*
     * A worker that died is a zombie until the master reaps it, and the
     * master does not while it reads a new configuration (a resize copy
     * waits for the zone's lock then): "pid (comm) Z ..."
     */

    ngx_sprintf(name, "/proc/%P/stat%Z", pid);

    fd = ngx_open_file(name, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return ngx_errno == NGX_ENOENT;
    }

    n = read(fd, buf, sizeof(buf));

    (void) ngx_close_file(fd);

    if (n <= 0) {
        return 0;
    }

    last = buf + n;

    for (p = last - 1; p > buf && *p != ')'; p--) { /* void */ }

    return (p + 2 < last && p[0] == ')' && p[2] == 'Z');

#else

    return 0;

#endif
}


/* over: take over the lock of a process that died holding it */

static ngx_int_t
ngx_http_remote_help_mutex_take(ngx_http_remote_help_mutex_t *m,
    ngx_uint_t over)
{
    ngx_pid_t   owner;
    ngx_uint_t  spins;

    for (spins = 0; /* void */ ; spins++) {

        owner = (ngx_pid_t) m->pid;

        if (owner == 0) {
            if (ngx_atomic_cmp_set(&m->pid, 0, ngx_pid)) {
                return NGX_OK;
            }

        } else if (ngx_http_rh_look(spins)
                   && ngx_http_remote_help_gone(owner))
        {
            if (!over) {
                return NGX_DECLINED;
            }

            if (ngx_atomic_cmp_set(&m->pid, owner, ngx_pid)) {
                m->orphaned = owner;
                return NGX_HTTP_RH_ORPHANED;
            }
        }

        ngx_http_remote_help_pause(spins);
    }
}


ngx_int_t
ngx_http_remote_help_mutex_lock(ngx_http_remote_help_mutex_t *m)
{
    return ngx_http_remote_help_mutex_take(m, 1);
}


ngx_int_t
ngx_http_remote_help_mutex_lock_live(ngx_http_remote_help_mutex_t *m)
{
    return ngx_http_remote_help_mutex_take(m, 0);
}


void
ngx_http_remote_help_mutex_unlock(ngx_http_remote_help_mutex_t *m)
{
    (void) ngx_atomic_cmp_set(&m->pid, ngx_pid, 0);
}


ngx_http_remote_help_reader_t *
ngx_http_remote_help_rwlock_slot(ngx_http_remote_help_rwlock_t *rw)
{
    ngx_uint_t          i;
    ngx_atomic_uint_t   w, n;

    for (i = 0; i < NGX_HTTP_RH_READERS; i++) {

        w = rw->slot[i].word;

        if (w != 0 && !ngx_http_remote_help_gone((ngx_pid_t) (w >> 1))) {
            continue;
        }

        if (!ngx_atomic_cmp_set(&rw->slot[i].word, w,
                                (ngx_atomic_uint_t) ngx_pid << 1))
        {
            continue;
        }

        /* writers look at the slots below nslots */

        for ( ;; ) {
            n = rw->nslots;

            if (n > i || ngx_atomic_cmp_set(&rw->nslots, n, i + 1)) {
                break;
            }
        }

        return &rw->slot[i];
    }

    return NULL;
}


void
ngx_http_remote_help_rwlock_release(ngx_http_remote_help_rwlock_t *rw,
    ngx_http_remote_help_reader_t *slot)
{
    if (slot) {
        (void) ngx_atomic_cmp_set(&slot->word,
                                  (ngx_atomic_uint_t) ngx_pid << 1, 0);
    }
}


/* the write lock held: the readers inside leave, dead ones are cleared */

static void
ngx_http_remote_help_readers_wait(ngx_http_remote_help_rwlock_t *rw)
{
    ngx_uint_t                      i, n, spins;
    ngx_atomic_uint_t               w;
    ngx_http_remote_help_reader_t  *slot;

    n = rw->nslots;

    for (i = 0; i < n; i++) {

        slot = &rw->slot[i];

        for (spins = 0; (w = slot->word) & 1; spins++) {

            if (ngx_http_rh_look(spins)
                && ngx_http_remote_help_gone((ngx_pid_t) (w >> 1)))
            {
                (void) ngx_atomic_cmp_set(&slot->word, w, 0);
                continue;
            }

            ngx_http_remote_help_pause(spins);
        }
    }
}


ngx_int_t
ngx_http_remote_help_wlock(ngx_http_remote_help_rwlock_t *rw)
{
    ngx_int_t  rc;

    rc = ngx_http_remote_help_mutex_lock(&rw->writer);

    ngx_http_remote_help_readers_wait(rw);

    return rc;
}


void
ngx_http_remote_help_wunlock(ngx_http_remote_help_rwlock_t *rw)
{
    ngx_http_remote_help_mutex_unlock(&rw->writer);
}


ngx_int_t
ngx_http_remote_help_rlock(ngx_http_remote_help_rwlock_t *rw,
    ngx_http_remote_help_reader_t *slot)
{
    ngx_pid_t   owner;
    ngx_uint_t  spins;

    if (slot == NULL) {
        return ngx_http_remote_help_wlock(rw);
    }

    for (spins = 0; /* void */ ; spins++) {

        /* a locked add: the mark is seen before the writer is read */

        (void) ngx_atomic_fetch_add(&slot->word, 1);

        if (rw->writer.pid == 0) {
            return NGX_OK;
        }

        (void) ngx_atomic_fetch_add(&slot->word, -1);

        while ((owner = (ngx_pid_t) rw->writer.pid) != 0) {

            if (ngx_http_rh_look(spins)
                && ngx_http_remote_help_gone(owner)
                && ngx_atomic_cmp_set(&rw->writer.pid, owner, ngx_pid))
            {
                rw->writer.orphaned = owner;
                ngx_http_remote_help_readers_wait(rw);
                return NGX_HTTP_RH_ORPHANED;
            }

            ngx_http_remote_help_pause(spins++);
        }
    }
}


void
ngx_http_remote_help_runlock(ngx_http_remote_help_rwlock_t *rw,
    ngx_http_remote_help_reader_t *slot)
{
    if (slot == NULL) {
        ngx_http_remote_help_wunlock(rw);
        return;
    }

    /* what was read is read before the mark goes */

    ngx_memory_barrier();

    slot->word = (ngx_atomic_uint_t) ngx_pid << 1;
}
