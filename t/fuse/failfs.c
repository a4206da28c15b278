
/*
 * failfs: a FUSE file system that mirrors a directory and answers
 * fsync() and fdatasync() with EIO while a file named "fail-sync" is in
 * the mounted directory's control directory (the second argument), so
 * that a test sees what nginx does when the disk does not confirm a
 * write.  Everything else is passed through to the mirrored directory.
 *
 *     failfs BACKING CONTROL MOUNTPOINT [fuse options]
 *
 * Used by t/35-sync-fails.t (as root); built by "make test".
 */


#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>


static char  backing[PATH_MAX];
static char  control[PATH_MAX];
static char  fail[PATH_MAX + sizeof("/fail-sync")];


static int
real(char *buf, const char *path)
{
    int  n;

    n = snprintf(buf, PATH_MAX, "%s%s", backing, path);

    return (n < 0 || n >= PATH_MAX) ? -ENAMETOOLONG : 0;
}


static int
failing(void)
{
    struct stat  sb;

    return stat(fail, &sb) == 0;
}


#define REAL(var, path)                                                      \
    char var[PATH_MAX];                                                      \
    if (real(var, path) != 0) {                                              \
        return -ENAMETOOLONG;                                                \
    }


static int
ff_getattr(const char *path, struct stat *sb, struct fuse_file_info *fi)
{
    if (fi) {
        return fstat(fi->fh, sb) == 0 ? 0 : -errno;
    }

    REAL(p, path);

    return lstat(p, sb) == 0 ? 0 : -errno;
}


static int
ff_access(const char *path, int mask)
{
    REAL(p, path);

    return access(p, mask) == 0 ? 0 : -errno;
}


static int
ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    DIR            *d;
    struct dirent  *e;

    REAL(p, path);

    d = opendir(p);
    if (d == NULL) {
        return -errno;
    }

    while ((e = readdir(d)) != NULL) {
        if (fill(buf, e->d_name, NULL, 0, 0)) {
            break;
        }
    }

    closedir(d);

    return 0;
}


/* what a caller makes is its own, as on a local file system */

static void
owned(const char *p)
{
    struct fuse_context  *ctx;

    ctx = fuse_get_context();

    if (lchown(p, ctx->uid, ctx->gid) == -1) {
        /* the mirrored directory keeps the daemon's owner */
    }
}


static int
ff_mkdir(const char *path, mode_t mode)
{
    REAL(p, path);

    if (mkdir(p, mode) == -1) {
        return -errno;
    }

    owned(p);

    return 0;
}


static int
ff_unlink(const char *path)
{
    REAL(p, path);

    return unlink(p) == 0 ? 0 : -errno;
}


static int
ff_rmdir(const char *path)
{
    REAL(p, path);

    return rmdir(p) == 0 ? 0 : -errno;
}


static int
ff_rename(const char *from, const char *to, unsigned int flags)
{
    REAL(f, from);
    REAL(t, to);

    if (flags) {
        return -EINVAL;
    }

    return rename(f, t) == 0 ? 0 : -errno;
}


static int
ff_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (fi) {
        return fchmod(fi->fh, mode) == 0 ? 0 : -errno;
    }

    REAL(p, path);

    return chmod(p, mode) == 0 ? 0 : -errno;
}


static int
ff_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    if (fi) {
        return fchown(fi->fh, uid, gid) == 0 ? 0 : -errno;
    }

    REAL(p, path);

    return lchown(p, uid, gid) == 0 ? 0 : -errno;
}


static int
ff_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (fi) {
        return ftruncate(fi->fh, size) == 0 ? 0 : -errno;
    }

    REAL(p, path);

    return truncate(p, size) == 0 ? 0 : -errno;
}


static int
ff_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
    if (fi) {
        return futimens(fi->fh, tv) == 0 ? 0 : -errno;
    }

    REAL(p, path);

    return utimensat(AT_FDCWD, p, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}


static int
ff_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    int  fd;

    REAL(p, path);

    fd = open(p, fi->flags, mode);
    if (fd == -1) {
        return -errno;
    }

    owned(p);

    fi->fh = fd;

    return 0;
}


static int
ff_open(const char *path, struct fuse_file_info *fi)
{
    int  fd;

    REAL(p, path);

    fd = open(p, fi->flags);
    if (fd == -1) {
        return -errno;
    }

    fi->fh = fd;

    return 0;
}


static int
ff_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
    ssize_t  n;

    n = pread(fi->fh, buf, size, off);

    return n == -1 ? -errno : (int) n;
}


static int
ff_write(const char *path, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
    ssize_t  n;

    /* the kernel gives O_APPEND writes the file's end as their offset */
    n = pwrite(fi->fh, buf, size, off);

    return n == -1 ? -errno : (int) n;
}


static int
ff_statfs(const char *path, struct statvfs *sv)
{
    REAL(p, path);

    return statvfs(p, sv) == 0 ? 0 : -errno;
}


static int
ff_release(const char *path, struct fuse_file_info *fi)
{
    close(fi->fh);

    return 0;
}


static int
ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    if (failing()) {
        return -EIO;
    }

    if (fi == NULL) {
        return 0;
    }

    return (datasync ? fdatasync(fi->fh) : fsync(fi->fh)) == 0 ? 0 : -errno;
}


static int
ff_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    return failing() ? -EIO : 0;
}


static const struct fuse_operations  ff_ops = {
    .getattr = ff_getattr,
    .access = ff_access,
    .readdir = ff_readdir,
    .mkdir = ff_mkdir,
    .unlink = ff_unlink,
    .rmdir = ff_rmdir,
    .rename = ff_rename,
    .chmod = ff_chmod,
    .chown = ff_chown,
    .truncate = ff_truncate,
    .utimens = ff_utimens,
    .create = ff_create,
    .open = ff_open,
    .read = ff_read,
    .write = ff_write,
    .statfs = ff_statfs,
    .release = ff_release,
    .fsync = ff_fsync,
    .fsyncdir = ff_fsyncdir,
};


int
main(int argc, char *argv[])
{
    if (argc < 4 || realpath(argv[1], backing) == NULL
        || realpath(argv[2], control) == NULL)
    {
        fprintf(stderr, "usage: failfs BACKING CONTROL MOUNTPOINT "
                "[fuse options]\n");
        return 2;
    }

    snprintf(fail, sizeof(fail), "%s/fail-sync", control);

    /* fuse_main() takes the mount point and the options after it */
    argv[2] = argv[0];

    return fuse_main(argc - 2, argv + 2, &ff_ops, NULL);
}
