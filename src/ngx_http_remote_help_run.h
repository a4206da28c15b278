
/*
 * ngx_http_remote_help_module: runs of JSON string bytes that need no
 * attention, found eight bytes at a time.  Pure C, no nginx types: the
 * body scanner and the renderer share it.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_RUN_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_RUN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>


/*
 * The length of the run at s, at most n bytes, before a '"', a '\\', a
 * byte below "lo", or, with "high", a byte of 0x80 or more.  Callers pass
 * constants, and the compiler keeps the terms they need: the scanner
 * (0, 1) stops at non-ASCII bytes, the renderer (0x20, 0) at control
 * characters.
 *
 * A byte b is flagged by (b - k) & ~b & 0x80 when it is below k (never
 * for k = 0); the borrow can flag bytes above a flagged byte, never
 * below one, so the lowest flagged byte is the first that ends the run.
 */

static inline size_t
ngx_rh_run(const unsigned char *s, size_t n, unsigned lo, int high)
{
    size_t    i;

#if (defined __BYTE_ORDER__ && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ \
     && defined __GNUC__)

    uint64_t  v, q, b, stop;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&v, s + i, 8);

        q = v ^ 0x2222222222222222ULL;                         /* '"' */
        b = v ^ 0x5c5c5c5c5c5c5c5cULL;                         /* '\\' */

        stop = (((v - lo * 0x0101010101010101ULL) & ~v)
                | (high ? v : 0)
                | ((q - 0x0101010101010101ULL) & ~q)
                | ((b - 0x0101010101010101ULL) & ~b))
               & 0x8080808080808080ULL;

        if (stop) {
            return i + (__builtin_ctzll(stop) >> 3);
        }
    }

#else
    i = 0;
#endif

    while (i < n && s[i] >= lo && !(high && s[i] >= 0x80)
           && s[i] != '"' && s[i] != '\\')
    {
        i++;
    }

    return i;
}


#endif /* _NGX_HTTP_REMOTE_HELP_RUN_H_INCLUDED_ */
