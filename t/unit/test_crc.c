
/*
 * Unit tests of CRC-32C (src/ngx_http_remote_help_crc.c): the check
 * values of RFC 3720 (iSCSI) and of the CRC catalogue, a CRC taken in
 * pieces, and the CPU's instruction against the table over random
 * lengths and alignments.  Prints TAP; t/00-crc.t runs it.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "ngx_http_remote_help_crc.h"


int
main(void)
{
    size_t          i, n, off, cut;
    uint32_t        crc, hw, sw;
    unsigned char   buf[4096 + 16];
    int             same;

    printf("# the CPU's instruction: %s\n",
           ngx_rh_crc32c_hardware() ? "yes" : "no (the table)");

    ok(ngx_rh_crc32c(0, (const unsigned char *) "123456789", 9)
       == 0xe3069283, "\"123456789\": 0xe3069283");

    ok(ngx_rh_crc32c(0, (const unsigned char *) "", 0) == 0,
       "nothing: 0");

    memset(buf, 0, 32);
    ok(ngx_rh_crc32c(0, buf, 32) == 0x8a9136aa, "32 zeroes: 0x8a9136aa");

    memset(buf, 0xff, 32);
    ok(ngx_rh_crc32c(0, buf, 32) == 0x62a8ab43, "32 x 0xff: 0x62a8ab43");

    for (i = 0; i < 32; i++) {
        buf[i] = (unsigned char) i;
    }

    ok(ngx_rh_crc32c(0, buf, 32) == 0x46dd794e, "0 .. 31: 0x46dd794e");

    for (i = 0; i < 32; i++) {
        buf[i] = (unsigned char) (31 - i);
    }

    ok(ngx_rh_crc32c(0, buf, 32) == 0x113fdb5c, "31 .. 0: 0x113fdb5c");

    srandom(20261201);

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char) random();
    }

    same = 1;

    for (i = 0; i < 2000 && same; i++) {
        n = (size_t) random() % 4096;
        off = (size_t) random() % 16;

        hw = ngx_rh_crc32c(0, buf + off, n);
        sw = ngx_rh_crc32c_by_table(0, buf + off, n);

        if (hw != sw) {
            printf("# %zu bytes at %zu: %08x, the table %08x\n", n, off,
                   (unsigned) hw, (unsigned) sw);
            same = 0;
        }

        /* in two pieces, as a record's parts are */

        cut = n ? (size_t) random() % n : 0;
        crc = ngx_rh_crc32c(0, buf + off, cut);
        crc = ngx_rh_crc32c(crc, buf + off + cut, n - cut);

        if (crc != hw) {
            printf("# %zu bytes at %zu cut at %zu: %08x, whole %08x\n", n,
                   off, cut, (unsigned) crc, (unsigned) hw);
            same = 0;
        }
    }

    ok(same, "2,000 random lengths and alignments: the same CRC whole, "
       "in two pieces, and by the table");

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
