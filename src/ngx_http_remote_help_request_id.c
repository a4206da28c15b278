
/*
 * ngx_http_remote_help_module: the request-id of every response, and client-
 * request-id.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_request_id.h"


static uint64_t ngx_http_remote_help_random(void);

static uint64_t  ngx_http_remote_help_seed;


/* in each process: nginx has seeded random() with the pid and the time */

void
ngx_http_remote_help_request_id_init(void)
{
    ngx_http_remote_help_seed = ((uint64_t) ngx_random() << 32)
                                ^ (uint64_t) ngx_random()
                                ^ ((uint64_t) ngx_pid << 48)
                                ^ (uint64_t) ngx_current_msec;
}


ngx_http_remote_help_ctx_t *
ngx_http_remote_help_ctx(ngx_http_request_t *r)
{
    u_char                      *p, *u;
    uint64_t                     rnd[2];
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_remote_help_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_remote_help_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_remote_help_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    /* request-id: a random (version 4) UUID, RFC 4122 */

    rnd[0] = ngx_http_remote_help_random();
    rnd[1] = ngx_http_remote_help_random();

    u = (u_char *) rnd;
    u[6] = (u_char) ((u[6] & 0x0f) | 0x40);
    u[8] = (u_char) ((u[8] & 0x3f) | 0x80);

    p = ngx_hex_dump(ctx->request_id, u, 4);
    *p++ = '-';
    p = ngx_hex_dump(p, u + 4, 2);
    *p++ = '-';
    p = ngx_hex_dump(p, u + 6, 2);
    *p++ = '-';
    p = ngx_hex_dump(p, u + 8, 2);
    *p++ = '-';
    (void) ngx_hex_dump(p, u + 10, 6);

    ctx->client_request_id.data = ctx->request_id;
    ctx->client_request_id.len = NGX_HTTP_RH_UUID_LEN;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("client-request-id") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "client-request-id",
                               sizeof("client-request-id") - 1)
               == 0
            && h[i].value.len)
        {
            ctx->client_request_id = h[i].value;
            break;
        }
    }

    ngx_http_set_ctx(r, ctx, ngx_http_remote_help_module);

    return ctx;
}


static uint64_t
ngx_http_remote_help_random(void)
{
    uint64_t  z;

    ngx_http_remote_help_seed += 0x9e3779b97f4a7c15ULL;

    z = ngx_http_remote_help_seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}
