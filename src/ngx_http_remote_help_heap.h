
/*
 * ngx_http_remote_help_module: the zone's heap of objects.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_HEAP_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_HEAP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Objects are carved from blocks of an arena that the zone's slab gives
 * once, at the zone's start (64 KB blocks in zones of 8 MB and more), in
 * size classes 1/16 of a power of two apart, up to 32 KB; a larger
 * object takes a run of whole blocks.  A block goes back to the arena
 * when its last object is freed.  Nothing here is changed outside the
 * zone's write lock, and all of it can be rebuilt from the objects that
 * the zone's index reaches (ngx_http_remote_help_heap_rebuild_locked).
 */

#define NGX_HTTP_RH_CLASSES       128           /* up to 32 KB */
#define NGX_HTTP_RH_NOCLASS       0xff          /* a run of blocks */


typedef struct {
    u_char                       *start;        /* the arena */
    size_t                        block;        /* bytes per block */
    ngx_uint_t                    shift;        /* log2(block) */
    ngx_uint_t                    nblocks;
    ngx_uint_t                    free;         /* blocks free */
    ngx_uint_t                    hint;         /* a search starts here */
    uint32_t                     *desc;         /* what each block is */
    u_char                       *spare;        /* a block of its own */
    ngx_queue_t                   room[NGX_HTTP_RH_CLASSES];
                                                /* blocks with room */
} ngx_http_remote_help_heap_t;


/*
 * What a process keeps of a heap: the blocks it has mapped (a bit per
 * page where a block starts) and the block it took last, to map after
 * the lock is left.
 */

typedef struct {
    u_char                       *mapped;
    void                         *fresh;
} ngx_http_remote_help_heap_local_t;


/* the header every object starts with, as far as the heap knows it */

typedef struct {
    uint32_t                      block;        /* offset in its block */
    u_char                        cls;          /* size class */
} ngx_http_remote_help_chunk_t;


/*
 * the heap takes all of the slab's free pages; NGX_ERROR: not even
 * one block
 */
ngx_int_t ngx_http_remote_help_heap_init(ngx_http_remote_help_heap_t *heap,
    ngx_slab_pool_t *shpool, size_t zone_size);

/*
 * the spare block, outside the arena: an object's old version while a
 * write in a full zone goes over it
 */
#define ngx_http_remote_help_heap_spare(heap)  ((heap)->spare)

/* NULL: no room */
void *ngx_http_remote_help_heap_alloc_locked(
    ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_heap_local_t *local, size_t size,
    ngx_http_remote_help_chunk_t *chunk);
void ngx_http_remote_help_heap_free_locked(ngx_http_remote_help_heap_t *heap,
    void *p, ngx_http_remote_help_chunk_t *chunk);

/* the bytes a chunk holds */
size_t ngx_http_remote_help_heap_capacity(ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_chunk_t *chunk, size_t size);

/* is p where a chunk of that description can start? */
ngx_uint_t ngx_http_remote_help_heap_valid(ngx_http_remote_help_heap_t *heap,
    void *p, ngx_http_remote_help_chunk_t *chunk, size_t size);

/* a chunk in use, for a rebuild */

typedef struct {
    u_char                       *p;
    size_t                        size;
    ngx_http_remote_help_chunk_t  chunk;
} ngx_http_remote_help_used_t;


/*
 * the chunks in use, sorted by address (ngx_http_remote_help_used_cmp),
 * each valid; everything else becomes free
 */
void ngx_http_remote_help_heap_rebuild_locked(
    ngx_http_remote_help_heap_t *heap, ngx_http_remote_help_used_t *used,
    ngx_uint_t n);
int ngx_libc_cdecl ngx_http_remote_help_used_cmp(const void *one,
    const void *two);

/* bytes in blocks not in use */
size_t ngx_http_remote_help_heap_free_size(ngx_http_remote_help_heap_t *heap);

/* after the lock is left: maps the block taken last, if any */
void ngx_http_remote_help_heap_prefault(ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_heap_local_t *local);

ngx_int_t ngx_http_remote_help_heap_local_init(
    ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_heap_local_t *local, ngx_pool_t *pool);


#endif /* _NGX_HTTP_REMOTE_HELP_HEAP_H_INCLUDED_ */
