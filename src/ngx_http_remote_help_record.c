
/*
 * ngx_http_remote_help_module: a journal record, encoded and decoded in
 * this one place (the layout: ngx_http_remote_help_record.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_remote_help_record.h"


void
ngx_http_remote_help_record_encode(ngx_http_remote_help_encoded_t *e,
    ngx_http_remote_help_record_t *rec)
{
    u_char    *h, *f;
    uint32_t   n, crc;

    h = e->head;
    f = h + NGX_HTTP_RH_REC_HEAD;

    f[NGX_HTTP_RH_REC_OP] = (u_char) rec->op;
    f[NGX_HTTP_RH_REC_SET] = (u_char) rec->set;
    f[NGX_HTTP_RH_REC_NPROPS] = (u_char) rec->nprops;
    f[NGX_HTTP_RH_REC_FLAGS] = NGX_HTTP_RH_REC_TIMES;
    n = (uint32_t) rec->key.len;
    ngx_memcpy(f + NGX_HTTP_RH_REC_KEY_LEN, &n, 4);
    n = (uint32_t) rec->json.len;
    ngx_memcpy(f + NGX_HTTP_RH_REC_JSON_LEN, &n, 4);
    ngx_memcpy(f + NGX_HTTP_RH_REC_WRITTEN, &rec->written, 8);
    ngx_memcpy(f + NGX_HTTP_RH_REC_UNTIL, &rec->until, 8);

    e->iov[0].iov_base = h;
    e->iov[0].iov_len = sizeof(e->head);
    e->niov = 1;

    /* the checksum of all but the sequence number, which comes later */

    crc = ngx_http_rh_crc(f, NGX_HTTP_RH_REC_FIXED);

    if (rec->nprops) {
        e->iov[e->niov].iov_base = rec->spans;
        e->iov[e->niov++].iov_len = 8 * rec->nprops;
        crc = ngx_rh_crc32c(crc, (u_char *) rec->spans, 8 * rec->nprops);
    }

    e->iov[e->niov].iov_base = rec->key.data;
    e->iov[e->niov++].iov_len = rec->key.len;
    crc = ngx_rh_crc32c(crc, rec->key.data, rec->key.len);

    if (rec->json.len) {
        e->iov[e->niov].iov_base = rec->json.data;
        e->iov[e->niov++].iov_len = rec->json.len;
        crc = ngx_rh_crc32c(crc, rec->json.data, rec->json.len);
    }

    e->iov[e->niov].iov_base = &e->seq;
    e->iov[e->niov++].iov_len = NGX_HTTP_RH_REC_SEQ;

    e->crc = crc;
    e->size = ngx_http_rh_record_size(rec->nprops, rec->key.len,
                                      rec->json.len);
}


void
ngx_http_remote_help_record_seal(ngx_http_remote_help_encoded_t *e,
    uint64_t seq)
{
    u_char    *h;
    uint32_t   n, crc;

    h = e->head;
    e->seq = seq;

    crc = ngx_rh_crc32c(e->crc, (u_char *) &e->seq, NGX_HTTP_RH_REC_SEQ);

    n = (uint32_t) (e->size - NGX_HTTP_RH_REC_HEAD);
    ngx_memcpy(h + NGX_HTTP_RH_REC_LEN, &n, 4);
    ngx_memcpy(h + NGX_HTTP_RH_REC_CRC, &crc, 4);
    crc = ngx_http_rh_crc(h, NGX_HTTP_RH_REC_HCRC);
    ngx_memcpy(h + NGX_HTTP_RH_REC_HCRC, &crc, 4);
}


ngx_int_t
ngx_http_remote_help_record_head(u_char *p, off_t left, uint32_t *len,
    ngx_uint_t *old)
{
    uint32_t  hcrc;

    if (left < NGX_HTTP_RH_REC_HEAD) {
        return NGX_AGAIN;
    }

    ngx_memcpy(&hcrc, p + NGX_HTTP_RH_REC_HCRC, 4);

    if (ngx_http_rh_crc(p, NGX_HTTP_RH_REC_HCRC) == hcrc) {
        *old = 0;

    } else if (ngx_http_rh_crc_old(p, NGX_HTTP_RH_REC_HCRC) == hcrc) {
        *old = 1;

    } else {
        return NGX_DECLINED;
    }

    ngx_memcpy(len, p + NGX_HTTP_RH_REC_LEN, 4);

    return NGX_OK;
}


ngx_int_t
ngx_http_remote_help_record_check(u_char *p, uint32_t len, ngx_uint_t old)
{
    uint32_t  crc, want;

    ngx_memcpy(&want, p - NGX_HTTP_RH_REC_HEAD + NGX_HTTP_RH_REC_CRC, 4);

    crc = old ? ngx_http_rh_crc_old(p, len) : ngx_http_rh_crc(p, len);

    return (crc == want) ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_remote_help_record_decode(ngx_http_remote_help_record_t *rec,
    u_char *p, uint32_t len, uint32_t *spans)
{
    size_t      fixed;
    uint32_t    key_len, json_len;
    ngx_uint_t  i;

    if (len < NGX_HTTP_RH_REC_FIXED_V2 + NGX_HTTP_RH_REC_SEQ) {
        return NGX_DECLINED;
    }

    rec->op = p[NGX_HTTP_RH_REC_OP];
    rec->set = p[NGX_HTTP_RH_REC_SET];
    rec->nprops = p[NGX_HTTP_RH_REC_NPROPS];

    ngx_memcpy(&key_len, p + NGX_HTTP_RH_REC_KEY_LEN, 4);
    ngx_memcpy(&json_len, p + NGX_HTTP_RH_REC_JSON_LEN, 4);

    switch (p[NGX_HTTP_RH_REC_FLAGS]) {

    case 0:
        /* version 2: no times */
        fixed = NGX_HTTP_RH_REC_FIXED_V2;
        rec->written = 0;
        rec->until = 0;
        break;

    case NGX_HTTP_RH_REC_TIMES:
        fixed = NGX_HTTP_RH_REC_FIXED;

        if (len < fixed + NGX_HTTP_RH_REC_SEQ) {
            return NGX_DECLINED;
        }

        ngx_memcpy(&rec->written, p + NGX_HTTP_RH_REC_WRITTEN, 8);
        ngx_memcpy(&rec->until, p + NGX_HTTP_RH_REC_UNTIL, 8);
        break;

    default:
        return NGX_DECLINED;
    }

    ngx_memcpy(&rec->seq, p + len - NGX_HTTP_RH_REC_SEQ, 8);

    p += fixed;
    len -= fixed + NGX_HTTP_RH_REC_SEQ;

    if (rec->set >= NGX_RH_NSETS || key_len == 0 || rec->seq == 0) {
        return NGX_DECLINED;
    }

    if (rec->op == NGX_HTTP_RH_OP_DELETE) {
        if (rec->nprops || json_len || len != key_len) {
            return NGX_DECLINED;
        }

    } else if (rec->op != NGX_HTTP_RH_OP_PUT
               || rec->nprops != ngx_rh_sets[rec->set].nprops
               || (uint64_t) len
                  != 8 * rec->nprops + (uint64_t) key_len + json_len)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(spans, p, 8 * rec->nprops);

    for (i = 0; i < rec->nprops; i++) {
        if ((uint64_t) spans[2 * i] + spans[2 * i + 1] > json_len) {
            return NGX_DECLINED;
        }
    }

    rec->spans = spans;
    rec->key.data = p + 8 * rec->nprops;
    rec->key.len = key_len;
    rec->json.data = rec->key.data + key_len;
    rec->json.len = json_len;

    return NGX_OK;
}
