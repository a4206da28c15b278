
/*
 * ngx_http_remote_help_module: who may call: the bearer token.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_remote_help_module.h"
#include "ngx_http_remote_help_auth.h"


ngx_int_t
ngx_http_remote_help_bearer(ngx_http_request_t *r)
{
    u_char           *p, *end;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    p = h->value.data + sizeof("Bearer ") - 1;
    end = h->value.data + h->value.len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return (p < end) ? NGX_OK : NGX_DECLINED;
}
