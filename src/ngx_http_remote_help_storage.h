
/*
 * ngx_http_remote_help_module: the storage interface.  Request handling
 * reads and writes objects through a table of these operations over an
 * opaque backend (the zone store with its journal, ngx_http_remote_help
 * _zone.c; a network backend later); it never touches a slab, a tree or
 * a hash chain.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_STORAGE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_STORAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_query.h"


/*
 * Results besides NGX_OK, NGX_ERROR and NGX_AGAIN.  NGX_AGAIN: the
 * backend answers later, from the event loop and never from within the
 * call: it sets op->rc to one of the others and calls op->done(op).
 * Until then the op and what it points to stay where they are; cancel
 * (when the backend has one) is called instead if the request goes
 * first, and done is not called after it.
 */
#define NGX_HTTP_RH_MISSING       NGX_DECLINED   /* 404 */
#define NGX_HTTP_RH_EXISTS        NGX_DONE       /* 409 */
#define NGX_HTTP_RH_CHANGED       (-101)         /* retry the update */
#define NGX_HTTP_RH_NOSPACE       NGX_ABORT      /* 507 */
#define NGX_HTTP_RH_RETIRED       NGX_BUSY       /* 503, zone resized */
#define NGX_HTTP_RH_NOSTATE       (-100)         /* 500, state file */
#define NGX_HTTP_RH_UNAVAILABLE   (-102)         /* 503, backend down */
#define NGX_HTTP_RH_UNWRITTEN     (-103)         /* 500, state file, the
                                                    write undone */

/* put's op->seq: create */
#define NGX_HTTP_RH_CREATE        0


typedef struct ngx_http_remote_help_op_s  ngx_http_remote_help_op_t;

typedef void (*ngx_http_remote_help_done_pt)(ngx_http_remote_help_op_t *op);


/* an object of a listing: its JSON and its spans (2 * nprops) */

typedef struct {
    ngx_str_t                     json;
    uint32_t                     *spans;
} ngx_http_remote_help_item_t;

struct ngx_http_remote_help_op_s {
    ngx_uint_t                    set;
    ngx_str_t                     key;
    ngx_pool_t                   *pool;         /* for what is copied out */

    /*
     * get: out.  put: in (json, spans; seq: NGX_HTTP_RH_CREATE, or the
     * version an update was made from, which must still be there), and
     * out (seq: the new version's).  remove: in (seq: the version that
     * must be there, NGX_HTTP_RH_CHANGED if another is; 0: any)
     */
    uint64_t                      seq;
    ngx_str_t                     json;
    uint32_t                      spans[2 * NGX_RH_MAX_PROPS];

    /*
     * put: in: the object's sessionExpirationDateTime, ms since the epoch
     * (0: none), which the backend's lifetimes go by
     */
    int64_t                       until;

    /*
     * list: in: after, the place to start after (0: the first); top;
     * filter, what the objects listed match (NULL: all); scan, the most
     * objects examined (0: no bound); count, the set's objects wanted in
     * total; tally, the objects examined that match counted in total,
     * and none listed.  Out: items; last, the place of the last object
     * examined that the next page starts after; more, objects remain.
     */
    uint64_t                      after;
    ngx_uint_t                    top;
    const ngx_rh_filter_t        *filter;
    ngx_uint_t                    scan;
    ngx_array_t                  *items;        /* of ngx_http_remote_help
                                                   _item_t */
    uint64_t                      last;
    ngx_uint_t                    more;
    ngx_uint_t                    total;

    /* count: out, the objects of each set and those expired so far */
    ngx_uint_t                    objects[NGX_RH_NSETS];
    ngx_uint_t                    expired;

    /* get: the object is read to be updated (a cache need not keep it) */
    unsigned                      update:1;

    /*
     * get: in, exact: what is read decides a precondition (If-Match), so
     * it comes from where the objects are kept, never from a copy; out,
     * copy: it came from a copy, which may be behind the truth by the
     * cache's lag (a precondition it fails is read again, exact)
     */
    unsigned                      exact:1;
    unsigned                      copy:1;

    /*
     * put: out, with NGX_HTTP_RH_CHANGED: seq, json and spans are the
     * version there now, as a get would read it (0: read it again)
     */
    unsigned                      current:1;
    unsigned                      count:1;
    unsigned                      tally:1;

    ngx_int_t                     rc;
    ngx_http_remote_help_done_pt  done;
    void                         *data;
    void                         *backend_data; /* while it waits */
};


typedef struct {
    const char                   *name;

    /* a hint: the key is about to be used */
    void                        (*prefetch)(void *backend, ngx_str_t *key);

    ngx_int_t                   (*get)(void *backend,
                                       ngx_http_remote_help_op_t *op);
    ngx_int_t                   (*put)(void *backend,
                                       ngx_http_remote_help_op_t *op);
    ngx_int_t                   (*remove)(void *backend,
                                          ngx_http_remote_help_op_t *op);
    ngx_int_t                   (*list)(void *backend,
                                        ngx_http_remote_help_op_t *op);

    /* NULL: every operation answers at once */
    void                        (*cancel)(void *backend,
                                          ngx_http_remote_help_op_t *op);

    /* NULL: the figures are the zone's own; else its "objects" counted */
    ngx_int_t                   (*count)(void *backend,
                                         ngx_http_remote_help_op_t *op);
} ngx_http_remote_help_storage_t;


/*
 * What every backend's data starts with: the table of the operations
 * over it, so that request handling finds both from a location's zone.
 */

typedef struct {
    ngx_http_remote_help_storage_t  *storage;
} ngx_http_remote_help_backend_t;

#define ngx_http_rh_storage(b)                                               \
    (((ngx_http_remote_help_backend_t *) (b))->storage)


#endif /* _NGX_HTTP_REMOTE_HELP_STORAGE_H_INCLUDED_ */
