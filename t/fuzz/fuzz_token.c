
/*
 * libFuzzer target for the bearer token reader (token.c): any bytes as a
 * token.  A token read must hold together: its signing input is the
 * token up to the second dot, its signature decodes from what follows,
 * its audiences are at most NGX_RH_JWT_AUD_MAX NUL-terminated strings;
 * the permission bits of any bytes are of the four known ones only.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_remote_help_token.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc;
    long           n;
    size_t         i;
    unsigned char *out;
    ngx_rh_jwt_t   t;

    rc = ngx_rh_jwt_parse(&t, data, size);

    if (rc == NGX_RH_JWT_OK) {
        if (t.input != data || t.input_len >= size || data[t.input_len] != '.'
            || t.naud > NGX_RH_JWT_AUD_MAX)
        {
            abort();
        }

        for (i = 0; i < t.naud; i++) {
            if (strlen(t.aud[i].data) != t.aud[i].len) {
                abort();
            }
        }

        if ((t.kid.len && strlen(t.kid.data) != t.kid.len)
            || (t.iss.len && strlen(t.iss.data) != t.iss.len))
        {
            abort();
        }

        out = malloc(size + 1);
        if (out) {
            n = ngx_rh_base64url_decode(out, data + t.input_len + 1,
                                        size - t.input_len - 1);
            if (n < 0 || (size_t) n != t.sig_len
                || memcmp(out, t.sig, t.sig_len) != 0)
            {
                abort();
            }

            free(out);
        }
    }

    ngx_rh_jwt_free(&t);

    if ((ngx_rh_perm_bits(data, size) & ~0x0fu) != 0) {
        abort();
    }

    return 0;
}
