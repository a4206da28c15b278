
/*
 * ngx_http_remote_help_module: request body parsing and validation.
 *
 * Pure C over yajl's streaming parser, no nginx types: the body is fed
 * buffer by buffer, checked against the schema table as it streams, and
 * the accepted values are copied out through the caller's allocator.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_PARSE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_PARSE_H_INCLUDED_


#include <stddef.h>
#include <yajl/yajl_parse.h>

#include "ngx_http_remote_help_schema.h"


#define NGX_RH_OK             0
#define NGX_RH_INVALID       -1     /* 400: message says why */
#define NGX_RH_NOMEM         -2     /* the allocator failed */

#define NGX_RH_MESSAGE_MAX    512

/* a sessionKey fits in a URL nginx accepts */
#define NGX_RH_KEY_MAX        1024


typedef struct {
    const unsigned char      *data;      /* NULL: JSON null */
    size_t                    len;
    unsigned                  present:1;
} ngx_rh_value_t;


typedef struct ngx_rh_name_s  ngx_rh_name_t;


typedef struct {
    const ngx_rh_set_t       *set;
    const yajl_alloc_funcs   *afs;      /* NULL or &alloc */
    yajl_alloc_funcs          alloc;
    yajl_handle               yajl;

    int                       depth;
    int                       skip_depth;
    int                       current;
    unsigned                  seen;
    ngx_rh_name_t            *annotations;

    /* the buffer yajl is parsing: an array or object quoted in a message */
    const unsigned char      *feed;
    size_t                    feed_len;

    /* the scanner in front of yajl: strict UTF-8 and \u pairing */
    size_t                    offset;
    unsigned char             utf8_need;
    unsigned char             utf8_lo;
    unsigned char             utf8_hi;
    unsigned char             u_digits;
    unsigned                  u_value;
    unsigned                  in_string:1;
    unsigned                  nonspace:1;
    unsigned                  escape:1;
    unsigned                  high_surrogate:1;
    unsigned                  want_low:1;

    unsigned                  got_object:1;
    unsigned                  done:1;
    unsigned                  seen_type:1;
    int                       rc;

    ngx_rh_value_t            values[NGX_RH_MAX_PROPS];
    char                      message[NGX_RH_MESSAGE_MAX];
} ngx_rh_parser_t;


/*
 * afs == NULL uses malloc(); with an allocator that does not free
 * (a pool), ngx_rh_parse_free() still must be called for yajl.
 */
int ngx_rh_parse_init(ngx_rh_parser_t *p, const ngx_rh_set_t *set,
    const yajl_alloc_funcs *afs);
int ngx_rh_parse_feed(ngx_rh_parser_t *p, const unsigned char *data,
    size_t len);

/* key == NULL: a create (POST); otherwise an update of that key (PATCH) */
int ngx_rh_parse_finish(ngx_rh_parser_t *p, const unsigned char *key,
    size_t key_len);
void ngx_rh_parse_free(ngx_rh_parser_t *p);

/* helpers shared with the module */
int ngx_rh_utf8_valid(const unsigned char *s, size_t len);
/*
 * a DateTimeOffset as the schema accepts it; with ms, the moment it
 * names, in milliseconds since 1970-01-01T00:00:00Z (its offset
 * honoured; fractions of a millisecond dropped)
 */
int ngx_rh_datetime_ms(const unsigned char *s, size_t len, long long *ms);
#define ngx_rh_datetime_valid(s, len)  ngx_rh_datetime_ms(s, len, NULL)

/*
 * the moment a sessionExpirationDateTime names, in ms since the epoch,
 * from its value (quoted 0: len bytes, NULL for JSON null) or its JSON
 * literal (quoted 1); 0: none (null, or not a moment); the epoch itself,
 * a moment past like any other, is -1
 */
long long ngx_rh_moment(const unsigned char *s, size_t len, int quoted);
int ngx_rh_actions_parse(const unsigned char *s, size_t len,
    unsigned *bits);
size_t ngx_rh_actions_format(unsigned bits, char *buf, size_t size);


#endif /* _NGX_HTTP_REMOTE_HELP_PARSE_H_INCLUDED_ */
