
/*
 * ngx_http_remote_help_module: CRC-32C (Castagnoli, reflected polynomial
 * 0x82f63b78), as iSCSI, ext4 and Btrfs use it.
 *
 * The journal computes one over each record it writes: about 760 bytes a
 * write.  zlib's crc32() took 0.9 us of worker CPU per PATCH with state=
 * (docs/performance.md); the SSE 4.2 instruction takes eight bytes at a
 * time.  The choice between it and the table is made at the first call
 * (in the master, which replays the file before it forks the workers),
 * and the same every time after it.
 */


#include <string.h>

#include "ngx_http_remote_help_crc.h"


#define NGX_RH_CRC32C_POLY  0x82f63b78u


typedef uint32_t (*ngx_rh_crc32c_pt)(uint32_t crc, const unsigned char *p,
    size_t n);


static uint32_t ngx_rh_crc32c_first(uint32_t crc, const unsigned char *p,
    size_t n);
static uint32_t ngx_rh_crc32c_table(uint32_t crc, const unsigned char *p,
    size_t n);


static uint32_t          ngx_rh_crc32c_bytes[256];
static ngx_rh_crc32c_pt  ngx_rh_crc32c_impl = ngx_rh_crc32c_first;
static int               ngx_rh_crc32c_hw;


#if (defined __x86_64__ && defined __GNUC__)

__attribute__((target("sse4.2")))
static uint32_t
ngx_rh_crc32c_sse42(uint32_t crc, const unsigned char *p, size_t n)
{
    uint64_t  x, w;

    x = (uint32_t) ~crc;

    while (n >= 8) {
        memcpy(&w, p, 8);
        x = __builtin_ia32_crc32di(x, w);
        p += 8;
        n -= 8;
    }

    while (n) {
        x = __builtin_ia32_crc32qi((uint32_t) x, *p);
        p++;
        n--;
    }

    return ~(uint32_t) x;
}

#endif


static uint32_t
ngx_rh_crc32c_table(uint32_t crc, const unsigned char *p, size_t n)
{
    uint32_t  x;

    x = ~crc;

    while (n) {
        x = ngx_rh_crc32c_bytes[(x ^ *p) & 0xff] ^ (x >> 8);
        p++;
        n--;
    }

    return ~x;
}


/* the table, then which of the two computes from now on */

static uint32_t
ngx_rh_crc32c_first(uint32_t crc, const unsigned char *p, size_t n)
{
    int       k;
    uint32_t  c, i;

    for (i = 0; i < 256; i++) {
        c = i;

        for (k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ NGX_RH_CRC32C_POLY : c >> 1;
        }

        ngx_rh_crc32c_bytes[i] = c;
    }

    ngx_rh_crc32c_impl = ngx_rh_crc32c_table;

#if (defined __x86_64__ && defined __GNUC__)
    __builtin_cpu_init();

    if (__builtin_cpu_supports("sse4.2")) {
        ngx_rh_crc32c_impl = ngx_rh_crc32c_sse42;
        ngx_rh_crc32c_hw = 1;
    }
#endif

    return ngx_rh_crc32c_impl(crc, p, n);
}


uint32_t
ngx_rh_crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
    return ngx_rh_crc32c_impl(crc, p, n);
}


uint32_t
ngx_rh_crc32c_by_table(uint32_t crc, const unsigned char *p, size_t n)
{
    (void) ngx_rh_crc32c(0, NULL, 0);

    return ngx_rh_crc32c_table(crc, p, n);
}


int
ngx_rh_crc32c_hardware(void)
{
    (void) ngx_rh_crc32c(0, NULL, 0);

    return ngx_rh_crc32c_hw;
}
