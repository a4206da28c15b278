
/*
 * ngx_http_remote_help_module: the schema table.
 *
 * One table describes the three entity sets, their types and properties;
 * no code anywhere is written per type.  Pure C, no nginx types.
 */


#ifndef _NGX_HTTP_REMOTE_HELP_SCHEMA_H_INCLUDED_
#define _NGX_HTTP_REMOTE_HELP_SCHEMA_H_INCLUDED_


#include <stddef.h>


#define NGX_RH_MAX_PROPS     10
#define NGX_RH_NSETS         3

/* the property every set is keyed by is always the first one */
#define NGX_RH_KEY_PROP      0


typedef enum {
    NGX_RH_STRING = 0,          /* Edm.String */
    NGX_RH_DATETIME,            /* Edm.DateTimeOffset */
    NGX_RH_ACTIONS              /* allowedRemoteAssistanceActions flags */
} ngx_rh_kind_e;


typedef struct {
    const char           *name;
    size_t                len;
    ngx_rh_kind_e         kind;
} ngx_rh_prop_t;


typedef struct {
    const char           *set;          /* entity set: URL segment */
    size_t                set_len;
    const char           *type;         /* "extendRemoteHelpSessionResponse" */
    size_t                type_len;
    const char           *odata_type;   /* "#microsoft.graph.<type>" */
    size_t                odata_type_len;
    const ngx_rh_prop_t  *props;
    unsigned              nprops;
} ngx_rh_set_t;


typedef struct {
    const char           *name;
    size_t                len;
    unsigned              value;
} ngx_rh_enum_member_t;


extern const ngx_rh_set_t          ngx_rh_sets[NGX_RH_NSETS];
extern const ngx_rh_enum_member_t  ngx_rh_actions[];
extern const unsigned              ngx_rh_nactions;
extern const char                  ngx_rh_actions_type[];
#define NGX_RH_NAMESPACE     "microsoft.graph."


const ngx_rh_set_t *ngx_rh_set_by_name(const char *name, size_t len);
const ngx_rh_set_t *ngx_rh_set_by_type(const char *type, size_t len);
const char *ngx_rh_kind_edm(ngx_rh_kind_e kind);


#endif /* _NGX_HTTP_REMOTE_HELP_SCHEMA_H_INCLUDED_ */
