
/*
 * ngx_http_remote_help_module: OData query options over stored objects:
 * $select's list of properties, and $filter's expression, parsed into a
 * tree and evaluated over an object as the renderer wrote it (its JSON
 * and the spans of its property literals), never parsed again.
 *
 * Pure C, no nginx types.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_QUERY_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_QUERY_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_common.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_parse.h"


/* a filter has at most this many nodes, nested at most this deep */
#define NGX_RH_FILTER_NODES   128
#define NGX_RH_FILTER_DEPTH   32


typedef struct {
    unsigned char             type;     /* NGX_RH_F_AND, ... */
    unsigned char             op;       /* a comparison's NGX_RH_F_EQ, ... */
    unsigned char             value;    /* NGX_RH_FV_NULL, ... */
    unsigned char             prop;
    unsigned short            left;     /* operands: node indexes */
    unsigned short            right;

    /*
     * a string: its JSON literal as the renderer writes it, with its
     * quotes (startswith: without the closing one)
     */
    const unsigned char      *str;
    size_t                    len;

    /* an instant: ms since the epoch, then picoseconds within the ms */
    long long                 ms;
    unsigned long long        ps;

    unsigned                  bits;     /* sessionType's members */
} ngx_rh_fnode_t;


typedef struct {
    const ngx_rh_set_t       *set;
    const yajl_alloc_funcs   *afs;      /* NULL: malloc() */
    unsigned char            *strings;  /* the literals, escaped */
    size_t                    used;
    size_t                    size;

    unsigned                  n;
    unsigned                  root;
    ngx_rh_fnode_t            nodes[NGX_RH_FILTER_NODES];

    /* the parser's place */
    const unsigned char      *text;
    size_t                    text_len;
    size_t                    pos;

    char                      message[NGX_RH_MESSAGE_MAX];
} ngx_rh_filter_t;


/*
 * $select=p1,p2: *mask gets bit i for property i of the set; NGX_RH_OK,
 * NGX_RH_INVALID with the message in Graph's words
 */
int ngx_rh_select_parse(const ngx_rh_set_t *set, const unsigned char *s,
    size_t len, unsigned *mask, char *message, size_t size);

/* NGX_RH_OK, NGX_RH_INVALID (f->message says why), NGX_RH_NOMEM */
int ngx_rh_filter_parse(ngx_rh_filter_t *f, const ngx_rh_set_t *set,
    const unsigned char *s, size_t len, const yajl_alloc_funcs *afs);

/* 1: the object (its JSON and spans, as stored) matches */
int ngx_rh_filter_match(const ngx_rh_filter_t *f, const unsigned char *json,
    const uint32_t *spans);

void ngx_rh_filter_free(ngx_rh_filter_t *f);


/*
 * the instant a DateTimeOffset names, to the picosecond: ms since the
 * epoch (as ngx_rh_datetime_ms) and the picoseconds within that ms
 */
int ngx_rh_instant(const unsigned char *s, size_t len, long long *ms,
    unsigned long long *ps);


#endif /* _NGX_HTTP_REMOTE_HELP_QUERY_H_INCLUDED_ */
