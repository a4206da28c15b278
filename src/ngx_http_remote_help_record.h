
/*
 * ngx_http_remote_help_module: a journal record: one change (an object
 * put, or a key deleted) as a struct, and its one encoder and decoder.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_RECORD_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_RECORD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <zlib.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_crc.h"


/*
 * The records' checksum: CRC-32C since version 4 of the file; CRC-32
 * (zlib's, as ngx_crc32_long() computes it) in the records of earlier
 * builds, which a file upgraded to version 4 may still hold
 */
#define ngx_http_rh_crc(p, n)     ngx_rh_crc32c(0, (p), (n))
#define ngx_http_rh_crc_old(p, n) ((uint32_t) crc32(0, (p), (uInt) (n)))

#define NGX_HTTP_RH_OP_PUT        1
#define NGX_HTTP_RH_OP_DELETE     2

/*
 * The layout.  A header: the length of what follows it, the CRC-32C of
 * that, the CRC-32C of these eight bytes (both CRC-32 in a record of an
 * earlier build: which one its header's checksum tells).  A fixed part:
 * op, set, the number of spans, flags, key length, JSON length, and with
 * NGX_HTTP_RH_REC_TIMES the moment of the write and the object's
 * sessionExpirationDateTime (milliseconds since the epoch, 0: none; a
 * record of version 2 has no flags and no times).  Then the spans, the
 * key, the JSON, and the change's sequence number.
 */
#define NGX_HTTP_RH_REC_HEAD      12
#define NGX_HTTP_RH_REC_FIXED     28
#define NGX_HTTP_RH_REC_FIXED_V2  12
#define NGX_HTTP_RH_REC_SEQ       8

#define NGX_HTTP_RH_REC_LEN       0
#define NGX_HTTP_RH_REC_CRC       4
#define NGX_HTTP_RH_REC_HCRC      8
#define NGX_HTTP_RH_REC_OP        0
#define NGX_HTTP_RH_REC_SET       1
#define NGX_HTTP_RH_REC_NPROPS    2
#define NGX_HTTP_RH_REC_FLAGS     3
#define NGX_HTTP_RH_REC_KEY_LEN   4
#define NGX_HTTP_RH_REC_JSON_LEN  8
#define NGX_HTTP_RH_REC_WRITTEN   12
#define NGX_HTTP_RH_REC_UNTIL     20

#define NGX_HTTP_RH_REC_TIMES     0x01

/* a record's bytes besides its spans, key and JSON */
#define NGX_HTTP_RH_REC_OVERHEAD                                             \
    (NGX_HTTP_RH_REC_HEAD + NGX_HTTP_RH_REC_FIXED + NGX_HTTP_RH_REC_SEQ)

#define ngx_http_rh_record_size(nprops, key_len, json_len)                   \
    (NGX_HTTP_RH_REC_OVERHEAD + 8 * (nprops) + (key_len) + (json_len))


/* one change */

typedef struct {
    ngx_uint_t                    op;
    ngx_uint_t                    set;
    ngx_uint_t                    nprops;       /* 0 for a deletion */
    uint32_t                     *spans;
    ngx_str_t                     key;
    ngx_str_t                     json;         /* empty for a deletion */
    uint64_t                      seq;
    int64_t                       written;      /* ms; 0: not known */
    int64_t                       until;        /* ms; 0: none */
} ngx_http_remote_help_record_t;


/*
 * A record encoded: the bytes to write, as iovecs over the change's own
 * buffers; prepared before the change has its sequence number (outside
 * the zone's lock) and sealed with it after.
 */

typedef struct {
    u_char                        head[NGX_HTTP_RH_REC_HEAD
                                       + NGX_HTTP_RH_REC_FIXED];
    uint64_t                      seq;
    uint32_t                      crc;          /* running, without seq */
    struct iovec                  iov[5];
    int                           niov;
    size_t                        size;
} ngx_http_remote_help_encoded_t;


void ngx_http_remote_help_record_encode(ngx_http_remote_help_encoded_t *e,
    ngx_http_remote_help_record_t *rec);
void ngx_http_remote_help_record_seal(ngx_http_remote_help_encoded_t *e,
    uint64_t seq);

/*
 * A record's header at p, with left bytes from p to the end of the file:
 * NGX_OK and *len, the payload's length, when the header is whole and
 * its checksum right (*old: by CRC-32, an earlier build's record);
 * NGX_AGAIN: fewer bytes than a header; NGX_DECLINED: a bad header
 */
ngx_int_t ngx_http_remote_help_record_head(u_char *p, off_t left,
    uint32_t *len, ngx_uint_t *old);

/* NGX_OK: the payload's checksum is right (old: by CRC-32) */
ngx_int_t ngx_http_remote_help_record_check(u_char *p, uint32_t len,
    ngx_uint_t old);

/*
 * A payload of len bytes (checked) into rec, whose key, JSON and spans
 * point into it (spans copied to the caller's array of 2 *
 * NGX_RH_MAX_PROPS); NGX_DECLINED: not a valid change
 */
ngx_int_t ngx_http_remote_help_record_decode(
    ngx_http_remote_help_record_t *rec, u_char *p, uint32_t len,
    uint32_t *spans);


#endif /* _NGX_HTTP_REMOTE_HELP_RECORD_H_INCLUDED_ */
