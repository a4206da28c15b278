
/*
 * ngx_http_remote_help_module: the zone's heap of objects.
 *
 * The slab's own classes are powers of two (a 780-byte object would
 * take 1,024 bytes), and its page lists cannot be put right when a
 * process dies while it changes them.  So the zone takes all of the
 * slab's free pages once, as an arena of equal blocks, and keeps what
 * each block is in an array of its own: free, a block of one size class
 * (its chunks after a header: the ones never used yet from "top" on,
 * the freed ones linked through their first word), or a run of blocks
 * that holds one large object.  All of it follows from the chunks in
 * use, which is how it is rebuilt.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_heap.h"


typedef struct {
    ngx_queue_t                   queue;        /* in heap->room[cls] */
    void                         *free;
    uint32_t                      used;         /* chunks handed out */
    uint32_t                      top;
    uint32_t                      cls;
} ngx_http_remote_help_block_t;


#define NGX_HTTP_RH_BLOCK_HEADER                                             \
    ngx_align(sizeof(ngx_http_remote_help_block_t), 16)

/* a class is used when a block holds at least this many of its chunks */
#define NGX_HTTP_RH_BLOCK_MIN     2

/* heap->desc[i]: 0 free, cls + 1, or a run of n blocks and its tail */
#define NGX_HTTP_RH_DESC_FREE     0
#define NGX_HTTP_RH_DESC_RUN      0x80000000
#define NGX_HTTP_RH_DESC_TAIL     0x40000000

/* no chunk left: none freed, no room for another after "top" */
#define ngx_http_rh_block_full(b, chunk, heap)                               \
    ((b)->free == NULL && (b)->top + (chunk) > (heap)->block)

#define ngx_http_rh_block(heap, i)                                           \
    ((ngx_http_remote_help_block_t *) ((heap)->start + ((i) << (heap)->shift)))

#define ngx_http_rh_block_index(heap, p)                                     \
    ((ngx_uint_t) (((u_char *) (p) - (heap)->start) >> (heap)->shift))


static ngx_uint_t ngx_http_remote_help_class(size_t size);
static size_t ngx_http_remote_help_class_size(ngx_uint_t cls);
static ngx_uint_t ngx_http_remote_help_class_fits(
    ngx_http_remote_help_heap_t *heap, ngx_uint_t cls);
static ngx_int_t ngx_http_remote_help_blocks_alloc(
    ngx_http_remote_help_heap_t *heap, ngx_uint_t n);
static void ngx_http_remote_help_blocks_free(
    ngx_http_remote_help_heap_t *heap, ngx_uint_t i, ngx_uint_t n);


/* classes of 16 to 256 bytes 16 apart, then 16 per power of two */

static ngx_uint_t
ngx_http_remote_help_class(size_t size)
{
    ngx_uint_t  bits;

    if (size <= 256) {
        return (size + 15) / 16 - (size != 0);
    }

    /* 2^bits < size <= 2^(bits + 1) */

    for (bits = 8; ((size_t) 2 << bits) < size; bits++) { /* void */ }

    return 16 + (bits - 8) * 16
           + (size - ((size_t) 1 << bits) - 1) / ((size_t) 1 << (bits - 4));
}


static size_t
ngx_http_remote_help_class_size(ngx_uint_t cls)
{
    ngx_uint_t  bits;

    if (cls < 16) {
        return (cls + 1) * 16;
    }

    bits = 8 + (cls - 16) / 16;

    return ((size_t) 1 << bits) + ((cls % 16) + 1) * ((size_t) 1 << (bits - 4));
}


static ngx_uint_t
ngx_http_remote_help_class_fits(ngx_http_remote_help_heap_t *heap,
    ngx_uint_t cls)
{
    return cls < NGX_HTTP_RH_CLASSES
           && NGX_HTTP_RH_BLOCK_HEADER
              + NGX_HTTP_RH_BLOCK_MIN * ngx_http_remote_help_class_size(cls)
              <= heap->block;
}


ngx_int_t
ngx_http_remote_help_heap_init(ngx_http_remote_help_heap_t *heap,
    ngx_slab_pool_t *shpool, size_t zone_size)
{
    size_t      total, desc;
    ngx_uint_t  i, n;

    /* 64 KB, or less in zones under 8 MB, so that they hold 128 blocks */

    for (heap->block = 65536;
         heap->block > ngx_pagesize && heap->block * 128 > zone_size;
         heap->block /= 2)
    { /* void */ }

    for (heap->shift = 0; ((size_t) 1 << heap->shift) < heap->block;
         heap->shift++)
    { /* void */ }

    for (i = 0; i < NGX_HTTP_RH_CLASSES; i++) {
        ngx_queue_init(&heap->room[i]);
    }

    /* the free pages: the array of what each block is, then the blocks */

    total = shpool->pfree * ngx_pagesize;

    n = total / (heap->block + sizeof(uint32_t));

    /* one block more is the spare */

    for ( ;; ) {
        if (n < 2) {
            return NGX_ERROR;
        }

        desc = ngx_align(n * sizeof(uint32_t), ngx_pagesize);

        if (desc + n * heap->block <= total) {
            break;
        }

        n--;
    }

    heap->desc = ngx_slab_calloc(shpool, desc);
    if (heap->desc == NULL) {
        return NGX_ERROR;
    }

    heap->start = ngx_slab_alloc(shpool, n * heap->block);
    if (heap->start == NULL) {
        return NGX_ERROR;
    }

    heap->nblocks = n - 1;
    heap->free = n - 1;
    heap->spare = heap->start + ((n - 1) << heap->shift);
    heap->hint = 0;

    return NGX_OK;
}


/* n free blocks in a row; -1: none */

static ngx_int_t
ngx_http_remote_help_blocks_alloc(ngx_http_remote_help_heap_t *heap,
    ngx_uint_t n)
{
    ngx_uint_t  i, j, found, tried;

    if (heap->free < n) {
        return -1;
    }

    i = heap->hint;
    found = 0;

    for (tried = 0; tried < heap->nblocks + n; tried++, i++) {

        if (i == heap->nblocks) {
            /* a run does not wrap around */
            i = 0;
            found = 0;
        }

        if (heap->desc[i] != NGX_HTTP_RH_DESC_FREE) {
            found = 0;
            continue;
        }

        if (++found < n) {
            continue;
        }

        i = i + 1 - n;

        if (n > 1) {
            heap->desc[i] = NGX_HTTP_RH_DESC_RUN | (uint32_t) n;

            for (j = 1; j < n; j++) {
                heap->desc[i + j] = NGX_HTTP_RH_DESC_TAIL;
            }
        }

        heap->free -= n;
        heap->hint = i + n;

        if (heap->hint == heap->nblocks) {
            heap->hint = 0;
        }

        return i;
    }

    return -1;
}


static void
ngx_http_remote_help_blocks_free(ngx_http_remote_help_heap_t *heap,
    ngx_uint_t i, ngx_uint_t n)
{
    ngx_uint_t  j;

    for (j = 0; j < n; j++) {
        heap->desc[i + j] = NGX_HTTP_RH_DESC_FREE;
    }

    heap->free += n;
}


void *
ngx_http_remote_help_heap_alloc_locked(ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_heap_local_t *local, size_t size,
    ngx_http_remote_help_chunk_t *chunk)
{
    u_char                        *p;
    size_t                         csize;
    ngx_int_t                      i;
    ngx_uint_t                     cls, n;
    ngx_queue_t                   *room;
    ngx_http_remote_help_block_t  *b;

    cls = ngx_http_remote_help_class(size);

    if (!ngx_http_remote_help_class_fits(heap, cls)) {

        /* a run of blocks of its own */

        n = (size + heap->block - 1) >> heap->shift;

        i = ngx_http_remote_help_blocks_alloc(heap, n);
        if (i < 0) {
            return NULL;
        }

        if (n == 1) {
            heap->desc[i] = NGX_HTTP_RH_DESC_RUN | 1;
        }

        chunk->cls = NGX_HTTP_RH_NOCLASS;
        chunk->block = 0;

        return ngx_http_rh_block(heap, (ngx_uint_t) i);
    }

    csize = ngx_http_remote_help_class_size(cls);
    room = &heap->room[cls];

    if (ngx_queue_empty(room)) {
        i = ngx_http_remote_help_blocks_alloc(heap, 1);
        if (i < 0) {
            return NULL;
        }

        heap->desc[i] = (uint32_t) cls + 1;

        b = ngx_http_rh_block(heap, (ngx_uint_t) i);
        b->free = NULL;
        b->used = 0;
        b->top = NGX_HTTP_RH_BLOCK_HEADER;
        b->cls = (uint32_t) cls;

        ngx_queue_insert_head(room, &b->queue);

        if (local->mapped == NULL) {
            local->fresh = b;
        }

    } else {
        b = ngx_queue_data(ngx_queue_head(room), ngx_http_remote_help_block_t,
                           queue);
    }

    if (local->mapped) {
        /* a block new to this process: mapped after the lock is left */

        n = ngx_http_rh_block_index(heap, b);

        if (!(local->mapped[n >> 3] & (1 << (n & 7)))) {
            local->mapped[n >> 3] |= (u_char) (1 << (n & 7));
            local->fresh = b;
        }
    }

    if (b->free) {
        p = b->free;
        b->free = *(void **) p;

    } else {
        p = (u_char *) b + b->top;
        b->top += (uint32_t) csize;
    }

    b->used++;

    if (ngx_http_rh_block_full(b, csize, heap)) {
        ngx_queue_remove(&b->queue);
    }

    chunk->cls = (u_char) cls;
    chunk->block = (uint32_t) (p - (u_char *) b);

    return p;
}


void
ngx_http_remote_help_heap_free_locked(ngx_http_remote_help_heap_t *heap,
    void *p, ngx_http_remote_help_chunk_t *chunk)
{
    size_t                         csize;
    uint32_t                       d;
    ngx_uint_t                     i, full;
    ngx_http_remote_help_block_t  *b;

    if (chunk->cls == NGX_HTTP_RH_NOCLASS) {
        i = ngx_http_rh_block_index(heap, p);
        d = heap->desc[i];
        ngx_http_remote_help_blocks_free(heap, i,
                                         d & ~NGX_HTTP_RH_DESC_RUN);
        return;
    }

    b = (ngx_http_remote_help_block_t *) ((u_char *) p - chunk->block);
    csize = ngx_http_remote_help_class_size(b->cls);

    full = ngx_http_rh_block_full(b, csize, heap);

    *(void **) p = b->free;
    b->free = p;

    if (--b->used == 0) {
        if (!full) {
            ngx_queue_remove(&b->queue);
        }

        ngx_http_remote_help_blocks_free(heap,
                                         ngx_http_rh_block_index(heap, b), 1);
        return;
    }

    if (full) {
        ngx_queue_insert_head(&heap->room[b->cls], &b->queue);
    }
}


size_t
ngx_http_remote_help_heap_capacity(ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_chunk_t *chunk, size_t size)
{
    if (chunk->cls != NGX_HTTP_RH_NOCLASS) {
        return ngx_http_remote_help_class_size(chunk->cls);
    }

    return ngx_align(size, heap->block);
}


ngx_uint_t
ngx_http_remote_help_heap_valid(ngx_http_remote_help_heap_t *heap, void *p,
    ngx_http_remote_help_chunk_t *chunk, size_t size)
{
    u_char      *b, *end;
    size_t       csize;
    ngx_uint_t   i;

    end = heap->start + (heap->nblocks << heap->shift);

    if ((u_char *) p < heap->start || (u_char *) p >= end
        || ((uintptr_t) p & 7) || size > (size_t) (end - (u_char *) p))
    {
        return 0;
    }

    if (chunk->cls == NGX_HTTP_RH_NOCLASS) {
        i = ngx_http_rh_block_index(heap, p);

        return chunk->block == 0
               && (u_char *) p == (u_char *) ngx_http_rh_block(heap, i);
    }

    if (!ngx_http_remote_help_class_fits(heap, chunk->cls)
        || chunk->block < NGX_HTTP_RH_BLOCK_HEADER
        || chunk->block >= heap->block)
    {
        return 0;
    }

    b = (u_char *) p - chunk->block;
    csize = ngx_http_remote_help_class_size(chunk->cls);

    return b == (u_char *) ngx_http_rh_block(heap,
                                             ngx_http_rh_block_index(heap, b))
           && (chunk->block - NGX_HTTP_RH_BLOCK_HEADER) % csize == 0
           && chunk->block + csize <= heap->block
           && size <= csize;
}


int ngx_libc_cdecl
ngx_http_remote_help_used_cmp(const void *one, const void *two)
{
    const ngx_http_remote_help_used_t  *a = one;
    const ngx_http_remote_help_used_t  *b = two;

    return (a->p > b->p) - (a->p < b->p);
}


void
ngx_http_remote_help_heap_rebuild_locked(ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_used_t *used, ngx_uint_t n)
{
    u_char                        *p;
    size_t                         csize;
    uint32_t                       next;
    ngx_uint_t                     i, j, k, bi;
    ngx_http_remote_help_block_t  *b;

    ngx_memzero(heap->desc, heap->nblocks * sizeof(uint32_t));

    heap->free = heap->nblocks;
    heap->hint = 0;

    for (i = 0; i < NGX_HTTP_RH_CLASSES; i++) {
        ngx_queue_init(&heap->room[i]);
    }

    i = 0;

    while (i < n) {

        bi = ngx_http_rh_block_index(heap, used[i].p);

        if (heap->desc[bi] != NGX_HTTP_RH_DESC_FREE) {
            /* overlaps what is already placed: cannot be, skipped */
            i++;
            continue;
        }

        if (used[i].chunk.cls == NGX_HTTP_RH_NOCLASS) {
            k = (used[i].size + heap->block - 1) >> heap->shift;

            heap->desc[bi] = NGX_HTTP_RH_DESC_RUN | (uint32_t) k;

            for (j = 1; j < k; j++) {
                heap->desc[bi + j] = NGX_HTTP_RH_DESC_TAIL;
            }

            heap->free -= k;
            i++;
            continue;
        }

        /* a block of one class: its chunks in use, the gaps freed */

        b = ngx_http_rh_block(heap, bi);
        b->cls = used[i].chunk.cls;
        b->used = 0;
        b->free = NULL;

        csize = ngx_http_remote_help_class_size(b->cls);
        next = NGX_HTTP_RH_BLOCK_HEADER;

        heap->desc[bi] = b->cls + 1;
        heap->free--;

        for ( /* void */ ;
             i < n && ngx_http_rh_block_index(heap, used[i].p) == bi;
             i++)
        {
            if (used[i].chunk.cls != b->cls
                || used[i].chunk.block < next)
            {
                continue;
            }

            for ( /* void */ ; next < used[i].chunk.block; next += csize) {
                p = (u_char *) b + next;
                *(void **) p = b->free;
                b->free = p;
            }

            next += csize;
            b->used++;
        }

        b->top = next;

        if (!ngx_http_rh_block_full(b, csize, heap)) {
            ngx_queue_insert_head(&heap->room[b->cls], &b->queue);
        }
    }
}


size_t
ngx_http_remote_help_heap_free_size(ngx_http_remote_help_heap_t *heap)
{
    return heap->free << heap->shift;
}


/*
 * The pages of a block this process writes to for the first time are
 * faulted in after the zone's lock is left, rather than one by one by
 * the writes under it, while the other workers wait for the lock: a
 * first touch of shared memory costs a page clear in the kernel, and a
 * page another worker cleared still costs this process a fault to map
 * it.  A worker remembers the blocks it has mapped (a bit per block); a
 * block freed and taken again stays mapped.  MADV_POPULATE_WRITE
 * changes no byte: the block may meanwhile be in use by another worker,
 * or freed.
 */

void
ngx_http_remote_help_heap_prefault(ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_heap_local_t *local)
{
    u_char  *p, *end;

    p = local->fresh;

    if (p == NULL) {
        return;
    }

    end = p + heap->block;

    local->fresh = NULL;

#if (NGX_LINUX && defined MADV_POPULATE_WRITE)

    if (madvise(p, end - p, MADV_POPULATE_WRITE) == 0) {
        return;
    }

#endif

    /* older kernels: a read fault of shared memory maps a page too */

    for ( /* void */ ; p < end; p += ngx_pagesize) {
        (void) *(volatile u_char *) p;
    }
}


/* each worker starts with none of the blocks mapped: a bitmap of its own */

ngx_int_t
ngx_http_remote_help_heap_local_init(ngx_http_remote_help_heap_t *heap,
    ngx_http_remote_help_heap_local_t *local, ngx_pool_t *pool)
{
    local->mapped = ngx_pcalloc(pool, heap->nblocks / 8 + 1);
    if (local->mapped == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
