
/*
 * ngx_http_remote_help_module: the schema table.
 */


#include <string.h>

#include "ngx_http_remote_help_schema.h"


#define ngx_rh_s(s)       s, sizeof(s) - 1
#define ngx_rh_graph(t)   "#" NGX_RH_NAMESPACE t


static const ngx_rh_prop_t  ngx_rh_extend_props[] = {
    { ngx_rh_s("sessionKey"), NGX_RH_STRING },
    { ngx_rh_s("acsHelperUserToken"), NGX_RH_STRING },
    { ngx_rh_s("pubSubHelperAccessUri"), NGX_RH_STRING },
    { ngx_rh_s("sessionExpirationDateTime"), NGX_RH_DATETIME },
};


static const ngx_rh_prop_t  ngx_rh_access_props[] = {
    { ngx_rh_s("sessionKey"), NGX_RH_STRING },
    { ngx_rh_s("sessionType"), NGX_RH_ACTIONS },
    { ngx_rh_s("pubSubEncryptionKey"), NGX_RH_STRING },
    { ngx_rh_s("pubSubEncryption"), NGX_RH_STRING },
};


static const ngx_rh_prop_t  ngx_rh_retrieve_props[] = {
    { ngx_rh_s("sessionKey"), NGX_RH_STRING },
    { ngx_rh_s("acsHelperUserToken"), NGX_RH_STRING },
    { ngx_rh_s("acsHelperUserId"), NGX_RH_STRING },
    { ngx_rh_s("acsSharerUserId"), NGX_RH_STRING },
    { ngx_rh_s("acsGroupId"), NGX_RH_STRING },
    { ngx_rh_s("sessionType"), NGX_RH_ACTIONS },
    { ngx_rh_s("deviceName"), NGX_RH_STRING },
    { ngx_rh_s("pubSubGroupId"), NGX_RH_STRING },
    { ngx_rh_s("pubSubHelperAccessUri"), NGX_RH_STRING },
    { ngx_rh_s("sessionExpirationDateTime"), NGX_RH_DATETIME },
};


#define ngx_rh_nelts(a)   (sizeof(a) / sizeof(a[0]))

const ngx_rh_set_t  ngx_rh_sets[NGX_RH_NSETS] = {

    { ngx_rh_s("ExtendRemoteHelpSessionResponse"),
      ngx_rh_s("extendRemoteHelpSessionResponse"),
      ngx_rh_s(ngx_rh_graph("extendRemoteHelpSessionResponse")),
      ngx_rh_extend_props, ngx_rh_nelts(ngx_rh_extend_props) },

    { ngx_rh_s("RequestRemoteHelpSessionAccessResponse"),
      ngx_rh_s("requestRemoteHelpSessionAccessResponse"),
      ngx_rh_s(ngx_rh_graph("requestRemoteHelpSessionAccessResponse")),
      ngx_rh_access_props, ngx_rh_nelts(ngx_rh_access_props) },

    { ngx_rh_s("RemoteHelpSessionRetrieveResponse"),
      ngx_rh_s("retrieveRemoteHelpSessionResponse"),
      ngx_rh_s(ngx_rh_graph("retrieveRemoteHelpSessionResponse")),
      ngx_rh_retrieve_props, ngx_rh_nelts(ngx_rh_retrieve_props) },
};


/* members of the flags enum, in value order */

const ngx_rh_enum_member_t  ngx_rh_actions[] = {
    { ngx_rh_s("viewScreen"), 1 },
    { ngx_rh_s("takeFullControl"), 2 },
    { ngx_rh_s("elevation"), 4 },
    { ngx_rh_s("unattended"), 8 },
    { ngx_rh_s("unknownFutureValue"), 16 },
};

const unsigned  ngx_rh_nactions = ngx_rh_nelts(ngx_rh_actions);

const char  ngx_rh_actions_type[] =
    NGX_RH_NAMESPACE "allowedRemoteAssistanceActions";


const ngx_rh_set_t *
ngx_rh_set_by_name(const char *name, size_t len)
{
    unsigned  i;

    for (i = 0; i < NGX_RH_NSETS; i++) {
        if (ngx_rh_sets[i].set_len == len
            && memcmp(ngx_rh_sets[i].set, name, len) == 0)
        {
            return &ngx_rh_sets[i];
        }
    }

    return NULL;
}


const ngx_rh_set_t *
ngx_rh_set_by_type(const char *type, size_t len)
{
    unsigned  i;

    for (i = 0; i < NGX_RH_NSETS; i++) {
        if (ngx_rh_sets[i].type_len == len
            && memcmp(ngx_rh_sets[i].type, type, len) == 0)
        {
            return &ngx_rh_sets[i];
        }
    }

    return NULL;
}


const char *
ngx_rh_kind_edm(ngx_rh_kind_e kind)
{
    switch (kind) {

    case NGX_RH_DATETIME:
        return "Edm.DateTimeOffset";

    case NGX_RH_ACTIONS:
        return ngx_rh_actions_type;

    default:
        return "Edm.String";
    }
}
