
/*
 * ngx_http_remote_help_module: yajl's allocator over an nginx pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_pool.h"


static void *
ngx_http_remote_help_malloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, size + sizeof(size_t));
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void
ngx_http_remote_help_free(void *ctx, void *ptr)
{
    if (ptr) {
        /* returns large blocks at once, leaves the rest to the pool */
        (void) ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}


static void *
ngx_http_remote_help_realloc(void *ctx, void *ptr, size_t size)
{
    size_t  old;
    void   *p;

    if (ptr == NULL) {
        return ngx_http_remote_help_malloc(ctx, size);
    }

    old = ((size_t *) ptr)[-1];

    if (size <= old) {
        return ptr;
    }

    p = ngx_http_remote_help_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, ptr, old);
    ngx_http_remote_help_free(ctx, ptr);

    return p;
}


void
ngx_http_remote_help_allocator(ngx_pool_t *pool, yajl_alloc_funcs *afs)
{
    afs->malloc = ngx_http_remote_help_malloc;
    afs->realloc = ngx_http_remote_help_realloc;
    afs->free = ngx_http_remote_help_free;
    afs->ctx = pool;
}
