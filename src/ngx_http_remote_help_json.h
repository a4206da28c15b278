
/*
 * ngx_http_remote_help_module: JSON rendering (objects written directly,
 * as yajl_gen would; listings and errors with yajl_gen).
 *
 * Pure C, no nginx types.  Everything the module sends is written here:
 * objects (rendered once, at write time), listings and Graph errors.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_JSON_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_remote_help_schema.h"


typedef struct {
    unsigned char            *data;
    size_t                    len;
    size_t                    cap;
    const yajl_alloc_funcs   *afs;      /* NULL: malloc() */
    int                       failed;
} ngx_rh_buf_t;


/*
 * A property value to render: a string (data, len), null (data NULL,
 * raw 0), or a JSON literal kept verbatim from an earlier rendering
 * (raw 1), which is how an update keeps the properties it does not touch.
 */

typedef struct {
    const unsigned char      *data;
    size_t                    len;
    unsigned                  raw:1;
} ngx_rh_field_t;


typedef struct {
    const unsigned char      *data;
    size_t                    len;
} ngx_rh_str_t;


/*
 * A string's JSON escaping, as yajl_gen writes it (without the quotes):
 * its length, and the escaping itself into at least that many bytes.
 */
size_t ngx_rh_json_escaped_len(const unsigned char *s, size_t len);
unsigned char *ngx_rh_json_escape(unsigned char *p, const unsigned char *s,
    size_t len);

extern const char  ngx_rh_hex[];


void ngx_rh_buf_init(ngx_rh_buf_t *b, const yajl_alloc_funcs *afs,
    size_t hint);
void ngx_rh_buf_free(ngx_rh_buf_t *b);

/*
 * spans[2 * i] and spans[2 * i + 1]: offset and length of the JSON
 * literal of property i in the output
 */
int ngx_rh_render_object(ngx_rh_buf_t *b, const ngx_rh_set_t *set,
    const ngx_rh_field_t *fields, uint32_t *spans);

/*
 * an object rendered (its JSON and spans) with @odata.type and only the
 * properties of mask (bit i: property i), in the set's order
 */
int ngx_rh_render_select(ngx_rh_buf_t *b, const ngx_rh_set_t *set,
    const unsigned char *json, const uint32_t *spans, unsigned mask);

/* items are rendered objects; count (@odata.count) and next may be NULL */
int ngx_rh_render_list(ngx_rh_buf_t *b, const ngx_rh_str_t *context,
    const long long *count, const ngx_rh_str_t *next,
    const ngx_rh_str_t *items, size_t n);

int ngx_rh_render_error(ngx_rh_buf_t *b, const char *code,
    const ngx_rh_str_t *message, const ngx_rh_str_t *date,
    const ngx_rh_str_t *request_id, const ngx_rh_str_t *client_request_id);


#endif /* _NGX_HTTP_REMOTE_HELP_JSON_H_INCLUDED_ */
