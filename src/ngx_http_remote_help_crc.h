
/*
 * ngx_http_remote_help_module: CRC-32C (Castagnoli), the checksum of the
 * journal's records since version 4 of its file.  Pure C, no nginx
 * types: unit-tested on its own.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_CRC_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_CRC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The CRC of n bytes at p, going on from crc (0 to begin), as zlib's
 * crc32() goes on from a CRC: by the CPU's crc32 instruction where it
 * has one (x86 with SSE 4.2), else a byte at a time by a table
 */
uint32_t ngx_rh_crc32c(uint32_t crc, const unsigned char *p, size_t n);

/* for the tests: 1 if the CPU's instruction computes it; the table's */
int ngx_rh_crc32c_hardware(void);
uint32_t ngx_rh_crc32c_by_table(uint32_t crc, const unsigned char *p,
    size_t n);


#endif /* _NGX_HTTP_REMOTE_HELP_CRC_H_INCLUDED_ */
