
/*
 * ngx_http_remote_help_module: what the module's files share.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_MODULE_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_storage.h"


#define NGX_HTTP_RH_AUTH_OFF      0
#define NGX_HTTP_RH_AUTH_BEARER   1
#define NGX_HTTP_RH_AUTH_JWT      2
#define NGX_HTTP_RH_AUTH_CLAIMS   3

#define NGX_HTTP_RH_TOP_MAX       1000
/* a filtered page examines at most this many objects; $count at most */
#define NGX_HTTP_RH_FILTER_SCAN   1000
#define NGX_HTTP_RH_COUNT_MAX     100000
#define NGX_HTTP_RH_PATCH_TRIES   64
#define NGX_HTTP_RH_FILE_CHUNK    8192
#define NGX_HTTP_RH_ERROR_MAX     1024

#define NGX_HTTP_RH_UUID_LEN      36
#define NGX_HTTP_RH_DATE_LEN      19


/* the zones remote_help_zone declared, as lua_shared_dict's are kept */

typedef struct {
    ngx_array_t                   zones;        /* of zone pointers */
    ngx_array_t                   redis;        /* remote_help_redis: of
                                                   ngx_http_remote_help
                                                   _redis_t pointers */
} ngx_http_remote_help_main_conf_t;


typedef struct ngx_http_remote_help_jwt_cache_s
    ngx_http_remote_help_jwt_cache_t;


typedef struct {
    ngx_shm_zone_t               *shm_zone;
    ngx_uint_t                    auth;

    /* remote_help_auth jwt: the keys (of ngx_http_remote_help_jwk_t) */
    ngx_array_t                  *jwt_keys;
    ngx_str_t                     jwt_keys_file;
    ngx_array_t                  *jwt_issuers;  /* of ngx_str_t */
    ngx_array_t                  *jwt_audiences;
    time_t                        jwt_leeway;
    ngx_http_remote_help_jwt_cache_t  *jwt_cache;  /* a process's own */

    /* remote_help_claims */
    ngx_http_complex_value_t     *claims_scp;
    ngx_http_complex_value_t     *claims_roles;
    ngx_http_complex_value_t     *claims_tid;
    ngx_uint_t                    claims_set;

    ngx_uint_t                    page_size;
    ngx_shm_zone_t               *status_zone;  /* remote_help_status */
    u_char                       *file;
    ngx_uint_t                    line;
} ngx_http_remote_help_loc_conf_t;


typedef struct ngx_http_remote_help_ctx_s  ngx_http_remote_help_ctx_t;
typedef struct ngx_http_remote_help_write_s  ngx_http_remote_help_write_t;

/* what follows an operation's answer (rc): the response's status */
typedef ngx_int_t (*ngx_http_remote_help_next_pt)(ngx_http_request_t *r,
    ngx_http_remote_help_ctx_t *ctx, ngx_int_t rc);


struct ngx_http_remote_help_ctx_s {
    const ngx_rh_set_t           *set;
    ngx_uint_t                    set_index;
    ngx_str_t                     key;
    ngx_str_t                     prefix;       /* raw path before set */
    ngx_str_t                     segment;      /* unknown segment */

    u_char                        request_id[NGX_HTTP_RH_UUID_LEN];
    ngx_str_t                     client_request_id;

    ngx_buf_t                    *replace;      /* body filter */
    ngx_str_t                     content_type; /* not JSON: status */

    /* the storage operation: a GET, DELETE, listing or a PATCH's read */
    ngx_http_remote_help_op_t     op;
    ngx_http_remote_help_write_t *write;        /* POST, PATCH */
    ngx_http_remote_help_op_t    *waiting;      /* answers later */
    ngx_http_remote_help_next_pt  next;         /* then */

    /* the query options (args.c) */
    ngx_uint_t                    top;          /* a listing's $top */
    uint64_t                      after;        /* $skiptoken */
    unsigned                      select;       /* $select: bits, 0: all */
    ngx_rh_filter_t              *filter;       /* $filter, NULL: none */
    ngx_str_t                     select_arg;   /* both as sent, for the */
    ngx_str_t                     filter_arg;   /* nextLink */
    ngx_uint_t                    matched;      /* $count with $filter: */
    ngx_uint_t                    rounds;       /* the matches so far */

    uint64_t                      version;      /* the ETag's */
    ngx_uint_t                    tries;        /* a DELETE's If-Match */

    unsigned                      count:1;      /* $count=true */
    unsigned                      etag:1;       /* of version */
    unsigned                      item:1;
    unsigned                      own:1;
    unsigned                      replaced:1;
    unsigned                      top_given:1;
    unsigned                      cleanup:1;    /* cancel registered */
    unsigned                      exact:1;      /* If-Match: no copy */
};


extern ngx_module_t  ngx_http_remote_help_module;

#endif /* _NGX_HTTP_REMOTE_HELP_MODULE_H_INCLUDED_ */
