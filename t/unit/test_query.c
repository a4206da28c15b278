
/*
 * Unit tests of $select and $filter (src/ngx_http_remote_help_query.c)
 * over objects the renderer writes.  Prints TAP; t/00-query.t runs it.
 */


#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "ngx_http_remote_help_schema.h"
#include "ngx_http_remote_help_parse.h"
#include "ngx_http_remote_help_json.h"
#include "ngx_http_remote_help_query.h"


#define ACCESS     (&ngx_rh_sets[1])
#define RETRIEVE   (&ngx_rh_sets[2])


typedef struct {
    ngx_rh_buf_t   buf;
    uint32_t       spans[2 * NGX_RH_MAX_PROPS];
} object_t;


/* a RETRIEVE object: key, sessionType, deviceName, expiry (NULL: null) */

static void
object(object_t *o, const char *key, const char *type, const char *device,
    const char *expiry)
{
    unsigned        i;
    ngx_rh_field_t  fields[NGX_RH_MAX_PROPS];

    memset(fields, 0, sizeof(fields));

    for (i = 0; i < RETRIEVE->nprops; i++) {
        const char  *v = NULL;

        if (strcmp(RETRIEVE->props[i].name, "sessionKey") == 0) {
            v = key;
        } else if (strcmp(RETRIEVE->props[i].name, "sessionType") == 0) {
            v = type;
        } else if (strcmp(RETRIEVE->props[i].name, "deviceName") == 0) {
            v = device;
        } else if (strcmp(RETRIEVE->props[i].name,
                          "sessionExpirationDateTime") == 0)
        {
            v = expiry;
        }

        fields[i].data = (const unsigned char *) v;
        fields[i].len = v ? strlen(v) : 0;
    }

    ngx_rh_buf_init(&o->buf, NULL, 0);

    if (ngx_rh_render_object(&o->buf, RETRIEVE, fields, o->spans) != 0) {
        printf("Bail out! render\n");
        exit(1);
    }
}


/* 1 match, 0 no match, -1 refused */

static int
match(const char *filter, object_t *o, char *message)
{
    int               rc, m;
    ngx_rh_filter_t  *f;

    f = malloc(sizeof(ngx_rh_filter_t));

    rc = ngx_rh_filter_parse(f, RETRIEVE, (const unsigned char *) filter,
                             strlen(filter), NULL);

    if (rc != NGX_RH_OK) {
        if (message) {
            snprintf(message, NGX_RH_MESSAGE_MAX, "%s", f->message);
        }

        ngx_rh_filter_free(f);
        free(f);
        return -1;
    }

    m = ngx_rh_filter_match(f, o->buf.data, o->spans);

    ngx_rh_filter_free(f);
    free(f);

    return m;
}


/* a filter as a test's name shows it: on one line */

static const char *
shown(const char *filter)
{
    static char  buf[4096];
    size_t       i;

    for (i = 0; filter[i] && i < sizeof(buf) - 1; i++) {
        buf[i] = (filter[i] == '\n') ? ' ' : filter[i];
    }

    buf[i] = '\0';

    return buf;
}


static void
yes(const char *filter, object_t *o, const char *name)
{
    char  message[NGX_RH_MESSAGE_MAX] = "";
    int   m;

    m = match(filter, o, message);
    ok(m == 1, "%s: %s matches%s%s", name, shown(filter), m < 0 ? ": " : "",
       m < 0 ? message : "");
}


static void
no(const char *filter, object_t *o, const char *name)
{
    char  message[NGX_RH_MESSAGE_MAX] = "";
    int   m;

    m = match(filter, o, message);
    ok(m == 0, "%s: %s does not match%s%s", name, shown(filter),
       m < 0 ? ": " : "", m < 0 ? message : "");
}


static void
refused(const char *filter, const char *expect, const char *name)
{
    char      message[NGX_RH_MESSAGE_MAX] = "";
    object_t  o;
    int       m;

    object(&o, "k", NULL, NULL, NULL);
    m = match(filter, &o, message);

    ok(m == -1 && strstr(message, expect) != NULL,
       "%s: \"%s\" refused with \"%s\" (got %d: \"%s\")", name,
       shown(filter),
       expect, m, message);

    ngx_rh_buf_free(&o.buf);
}


static void
test_select(void)
{
    unsigned  mask;
    char      message[NGX_RH_MESSAGE_MAX];

#define SEL(s)  (const unsigned char *) (s), strlen(s)

    ok(ngx_rh_select_parse(ACCESS, SEL("sessionKey,pubSubEncryption"),
                           &mask, message, sizeof(message)) == NGX_RH_OK
       && mask == (1u | 8u), "$select: two names, as bits");
    ok(ngx_rh_select_parse(ACCESS, SEL("pubSubEncryption, sessionKey"),
                           &mask, message, sizeof(message)) == NGX_RH_OK
       && mask == (1u | 8u), "$select: any order, spaces after commas");
    ok(ngx_rh_select_parse(ACCESS, SEL("*"), &mask, message,
                           sizeof(message)) == NGX_RH_OK && mask == 15,
       "$select=*: every property");
    ok(ngx_rh_select_parse(ACCESS, SEL("sessionKey,sessionKey"), &mask,
                           message, sizeof(message)) == NGX_RH_OK
       && mask == 1, "$select: a name twice is once");
    ok(ngx_rh_select_parse(ACCESS, SEL("deviceName"), &mask, message,
                           sizeof(message)) == NGX_RH_INVALID
       && strcmp(message, "Could not find a property named 'deviceName' "
                 "on type 'microsoft.graph."
                 "requestRemoteHelpSessionAccessResponse'.") == 0,
       "$select: another type's property, Graph's words (%s)", message);
    ok(ngx_rh_select_parse(ACCESS, SEL("sessionkey"), &mask, message,
                           sizeof(message)) == NGX_RH_INVALID,
       "$select: names are case-sensitive");
    ok(ngx_rh_select_parse(ACCESS, SEL("sessionKey,"), &mask, message,
                           sizeof(message)) == NGX_RH_INVALID
       && strstr(message, "named ''") != NULL, "$select: an empty name");
    ok(ngx_rh_select_parse(ACCESS, SEL("\xff"), &mask, message,
                           sizeof(message)) == NGX_RH_INVALID
       && strstr(message, "\xff") == NULL,
       "$select: a name that is not UTF-8 is not quoted");
}


static void
test_filter(void)
{
    object_t  a, b, n, q;
    char      big[2048];
    size_t    i, len;

    object(&a, "alpha-1", "viewScreen,elevation", "laptop",
           "2026-12-01T10:00:00.1234567+01:00");
    object(&b, "beta", "takeFullControl", "it's \"mine\"/\\x",
           "2026-12-01T09:00:00.1234568Z");
    object(&n, "nulls", NULL, NULL, NULL);
    object(&q, "caf\xc3\xa9\n", "unattended", "d", "2026-12-01T09:00:00Z");

    /* strings */

    yes("sessionKey eq 'alpha-1'", &a, "eq");
    no("sessionKey eq 'alpha'", &a, "eq is whole");
    no("sessionKey eq 'Alpha-1'", &a, "eq is case-sensitive");
    yes("sessionKey ne 'alpha'", &a, "ne");
    no("sessionKey ne 'alpha-1'", &a, "ne");
    yes("deviceName eq 'it''s \"mine\"/\\x'", &b,
        "'' is one quote; JSON escapes compared as stored");
    yes("sessionKey eq 'caf\xc3\xa9\n'", &q, "UTF-8 and a control char");
    yes("startswith(sessionKey,'alpha')", &a, "startswith");
    yes("startswith(sessionKey, 'alpha-1')", &a, "startswith: whole");
    yes("startswith(sessionKey,'')", &a, "startswith: empty prefix");
    no("startswith(sessionKey,'alpha-12')", &a, "startswith: longer");
    no("startswith(sessionKey,'lpha')", &a, "startswith: not inside");
    yes("startswith(deviceName,'it''s \"')", &b, "startswith: escapes");
    no("startswith(deviceName,'it''s \\')", &b,
       "startswith: an escape's prefix is no prefix");
    no("startswith(deviceName,'x')", &n, "startswith: null");
    yes("startswith(sessionKey,'caf\xc3\xa9')", &q, "startswith: UTF-8");

    /* null */

    yes("deviceName eq null", &n, "eq null");
    no("deviceName eq null", &a, "eq null on a value");
    yes("deviceName ne null", &a, "ne null");
    no("deviceName eq 'laptop'", &n, "null eq a string: false");
    yes("deviceName ne 'laptop'", &n, "null ne a string: true");
    no("sessionExpirationDateTime lt 2030-01-01T00:00:00Z", &n,
       "null has no order");
    no("sessionType has 'viewScreen'", &n, "null has no member");
    yes("sessionType eq null", &n, "enum eq null");

    /* flags */

    yes("sessionType has 'viewScreen'", &a, "has");
    yes("sessionType has 'elevation'", &a, "has: another member");
    no("sessionType has 'takeFullControl'", &a, "has: absent member");
    yes("sessionType has 'elevation,viewScreen'", &a, "has: several");
    yes("sessionType has microsoft.graph.allowedRemoteAssistanceActions"
        "'viewScreen'", &a, "has: a typed literal");
    yes("sessionType eq 'elevation,viewScreen'", &a,
        "eq: flags, whatever the order");
    no("sessionType eq 'viewScreen'", &a, "eq: flags are all of them");
    yes("sessionType ne 'viewScreen'", &a, "ne: flags");

    /* instants */

    yes("sessionExpirationDateTime eq 2026-12-01T09:00:00.1234567Z", &a,
        "eq: the same instant in another offset");
    yes("sessionExpirationDateTime lt 2026-12-01T09:00:00.1234568Z", &a,
        "lt: by a tenth of a microsecond");
    no("sessionExpirationDateTime lt 2026-12-01T09:00:00.1234567Z", &a,
       "lt: not itself");
    yes("sessionExpirationDateTime le 2026-12-01T09:00:00.1234567Z", &a,
        "le: itself");
    yes("sessionExpirationDateTime gt 2026-12-01T08:00:00-01:00", &b,
        "gt: offsets honoured");
    no("sessionExpirationDateTime gt 2026-12-01T10:00:00.1234568+01:00", &b,
       "gt: equal instants");
    yes("sessionExpirationDateTime ge 2026-12-01T10:00:00.1234568+01:00", &b,
        "ge: equal instants");
    yes("sessionExpirationDateTime ge '2026-12-01T09:00:00Z'", &q,
        "a quoted DateTimeOffset");
    yes("sessionExpirationDateTime gt 2026-12-01T08:59:59.999999999999Z", &q,
        "twelve digits");
    yes("sessionExpirationDateTime lt 2026-12-01T09:00:00.000000000001Z", &q,
        "a picosecond");
    yes("sessionExpirationDateTime ne null", &a, "date ne null");

    /* logic */

    yes("sessionKey eq 'alpha-1' and deviceName eq 'laptop'", &a, "and");
    no("sessionKey eq 'alpha-1' and deviceName eq 'x'", &a, "and");
    yes("sessionKey eq 'x' or deviceName eq 'laptop'", &a, "or");
    no("sessionKey eq 'x' or deviceName eq 'y'", &a, "or");
    yes("not sessionKey eq 'x'", &a, "not");
    yes("not (sessionKey eq 'x')", &a, "not with parentheses");
    yes("not(sessionKey eq 'x')", &a, "not( without a space");
    no("not not (sessionKey eq 'x')", &a, "not not");
    yes("sessionKey eq 'x' and deviceName eq 'y' or sessionKey eq 'alpha-1'",
        &a, "and before or");
    no("sessionKey eq 'x' and (deviceName eq 'y' or sessionKey eq 'alpha-1')",
       &a, "parentheses");
    yes("((sessionKey eq 'alpha-1'))", &a, "nested parentheses");
    yes("  sessionKey   eq   'alpha-1'  ", &a, "spaces");

    /* refused */

    refused("", "Syntax error at position 0", "empty");
    refused("sessionKey", "Syntax error at position 10", "no operator");
    refused("sessionKey eq", "Syntax error at position 13", "no literal");
    refused("sessionKey eq 'x", "Syntax error", "unclosed string");
    refused("sessionKey eq 'x' and", "Syntax error", "dangling and");
    refused("(sessionKey eq 'x'", "Syntax error", "unclosed parenthesis");
    refused("sessionKey eq 'x')", "Syntax error at position 17",
            "a parenthesis too many");
    refused("sessionKey eq 'x' sessionKey", "Syntax error", "junk after");
    refused("foo eq 'x'", "Could not find a property named 'foo' on type "
            "'microsoft.graph.retrieveRemoteHelpSessionResponse'.",
            "unknown property");
    refused("sessionKey eq 'x' or pubSubEncryption eq 'y'",
            "named 'pubSubEncryption'", "another type's property");
    refused("contains(sessionKey,'x')",
            "An unknown function with name 'contains'", "contains()");
    refused("endswith(sessionKey,'x')", "endswith", "endswith()");
    refused("sessionKey in ('x')", "The operator 'in'", "in");
    refused("sessionKey lt 'x'", "The operator 'lt' is not supported on "
            "the property 'sessionKey'", "lt on a string");
    refused("sessionKey has 'x'", "'has' is not supported", "has on a string");
    refused("sessionKey eq 5", "Cannot convert the literal '5'",
            "a number for a string");
    refused("sessionKey eq true", "Cannot convert the literal 'true'",
            "a boolean");
    refused("sessionExpirationDateTime lt 2026-13-01T00:00:00Z",
            "Cannot convert the literal '2026-13-01T00:00:00Z' to the "
            "expected type 'Edm.DateTimeOffset'", "a bad date");
    refused("sessionExpirationDateTime lt null", "'lt' is not supported",
            "lt null");
    refused("sessionExpirationDateTime has 'x'", "'has' is not supported",
            "has on a date");
    refused("sessionType has 'nothing'", "Cannot convert the literal "
            "'nothing' to the expected type 'microsoft.graph."
            "allowedRemoteAssistanceActions'", "a bad member");
    refused("sessionType has other.type'viewScreen'",
            "Cannot convert the literal 'other.type'", "another enum type");
    refused("sessionType gt 'viewScreen'", "'gt' is not supported",
            "gt on flags");
    refused("startswith(sessionType,'v')", "takes a property of type "
            "'Edm.String'", "startswith on flags");
    refused("startswith(sessionKey)", "Syntax error", "startswith: one");
    refused("startswith(sessionKey,'a','b')", "Syntax error",
            "startswith: three");
    refused("sessionKey eq 'x' && deviceName eq 'y'", "Syntax error",
            "C's &&");
    refused("SessionKey eq 'x'", "named 'SessionKey'",
            "names are case-sensitive");
    refused("sessionKey EQ 'x'", "The operator 'EQ'",
            "operators are lower case");
    refused("sessionKey eq '\xff'", "not valid UTF-8", "not UTF-8");

    len = 0;

    for (i = 0; i < NGX_RH_FILTER_DEPTH + 1; i++) {
        big[len++] = '(';
    }

    strcpy(big + len, "sessionKey eq 'x'");
    len += strlen("sessionKey eq 'x'");

    for (i = 0; i < NGX_RH_FILTER_DEPTH + 1; i++) {
        big[len++] = ')';
    }

    big[len] = '\0';
    refused(big, "nested more than", "too deep");

    len = 0;

    for (i = 0; i < NGX_RH_FILTER_NODES; i++) {
        len += sprintf(big + len, "%ssessionKey eq 'x'", i ? " or " : "");
        if (len > sizeof(big) - 64) {
            break;
        }
    }

    refused(big, "more than", "too many operations");

    memset(big, 'a', 600);
    strcpy(big + 600, " eq 'x'");
    refused(big, "Could not find a property named 'aaaa", "a long name");
    {
        char  message[NGX_RH_MESSAGE_MAX];
        int   m;

        m = match(big, &a, message);
        ok(m == -1 && strlen(message) < NGX_RH_MESSAGE_MAX - 1,
           "a long name is quoted in part (%zu bytes)", strlen(message));
    }

    ngx_rh_buf_free(&a.buf);
    ngx_rh_buf_free(&b.buf);
    ngx_rh_buf_free(&n.buf);
    ngx_rh_buf_free(&q.buf);
}


static void
test_render(void)
{
    object_t       o;
    ngx_rh_buf_t   b;
    long long      count;
    ngx_rh_str_t   ctx, items[1];

    object(&o, "k\"1", "viewScreen", NULL, NULL);

    ngx_rh_buf_init(&b, NULL, 0);
    ok(ngx_rh_render_select(&b, RETRIEVE, o.buf.data, o.spans,
                            (1u << 6) | (1u << 0) | (1u << 5)) == 0
       && b.len == strlen("{\"@odata.type\":\"#microsoft.graph."
                          "retrieveRemoteHelpSessionResponse\","
                          "\"sessionKey\":\"k\\\"1\","
                          "\"sessionType\":\"viewScreen\","
                          "\"deviceName\":null}")
       && memcmp(b.data, "{\"@odata.type\":\"#microsoft.graph."
                 "retrieveRemoteHelpSessionResponse\","
                 "\"sessionKey\":\"k\\\"1\","
                 "\"sessionType\":\"viewScreen\","
                 "\"deviceName\":null}", b.len) == 0,
       "render_select: the type, then the properties in the table's order "
       "(%.*s)", (int) b.len, b.data);

    items[0].data = b.data;
    items[0].len = b.len;
    ctx.data = (const unsigned char *) "c";
    ctx.len = 1;
    count = 12;

    {
        ngx_rh_buf_t  l;

        ngx_rh_buf_init(&l, NULL, 0);
        ok(ngx_rh_render_list(&l, &ctx, &count, NULL, items, 1) == 0
           && l.len > 40
           && memcmp(l.data, "{\"@odata.context\":\"c\","
                     "\"@odata.count\":12,\"value\":[{", 40) == 0,
           "render_list: @odata.count after the context, before value");
        ngx_rh_buf_free(&l);
    }

    ngx_rh_buf_free(&b);
    ngx_rh_buf_free(&o.buf);
}


int
main(void)
{
    test_render();
    test_select();
    test_filter();

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
