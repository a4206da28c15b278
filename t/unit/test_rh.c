
/*
 * Unit tests of the pure C parts: the validator (parse), the renderer
 * (json) and the schema table.  Prints TAP; t/00-unit.t runs it.
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
#include "ngx_http_remote_help_token.h"


#define EXTEND     (&ngx_rh_sets[0])
#define ACCESS     (&ngx_rh_sets[1])
#define RETRIEVE   (&ngx_rh_sets[2])


/* parses a body fed in pieces of "step" bytes (0: all at once) */

static int
parse(const ngx_rh_set_t *set, const char *body, size_t step,
    const char *key, ngx_rh_parser_t *p)
{
    int     rc;
    size_t  len, off, n;

    if (ngx_rh_parse_init(p, set, NULL) != NGX_RH_OK) {
        return NGX_RH_NOMEM;
    }

    len = strlen(body);
    rc = NGX_RH_OK;

    for (off = 0; off < len && rc == NGX_RH_OK; off += n) {
        n = (step && step < len - off) ? step : len - off;
        rc = ngx_rh_parse_feed(p, (const unsigned char *) body + off, n);
    }

    if (rc == NGX_RH_OK) {
        rc = ngx_rh_parse_finish(p, (const unsigned char *) key,
                                 key ? strlen(key) : 0);
    }

    return rc;
}


static void
valid(const ngx_rh_set_t *set, const char *body, const char *what)
{
    size_t           step;
    ngx_rh_parser_t  p;

    for (step = 0; step <= 3; step += 3) {
        int rc = parse(set, body, step, NULL, &p);
        ok(rc == NGX_RH_OK, "valid (step %zu): %s%s%s", step, what,
           rc ? " -- " : "", rc ? p.message : "");
        ngx_rh_parse_free(&p);
    }
}


/* invalid, with a message containing "expect" */

static void
invalid(const ngx_rh_set_t *set, const char *body, const char *key,
    const char *expect, const char *what)
{
    int              rc;
    size_t           step;
    ngx_rh_parser_t  p;

    for (step = 0; step <= 1; step++) {
        rc = parse(set, body, step, key, &p);
        ok(rc == NGX_RH_INVALID && strstr(p.message, expect) != NULL,
           "invalid (step %zu): %s -- %s", step, what,
           rc == NGX_RH_OK ? "accepted" : p.message);
        ngx_rh_parse_free(&p);
    }
}


/* a body fed whole: the message is exactly "expect" */

static void
compound(const char *body, const char *expect)
{
    int              rc;
    ngx_rh_parser_t  p;

    rc = parse(EXTEND, body, 0, NULL, &p);
    ok(rc == NGX_RH_INVALID && strcmp(p.message, expect) == 0,
       "compound value quoted: %s", rc == NGX_RH_OK ? "accepted" : p.message);
    ngx_rh_parse_free(&p);
}


/* every key can be put in a URL: at most 1,024 bytes, no control char */

static void
keys(void)
{
    int              rc;
    char             body[8192], *b;
    size_t           i;
    ngx_rh_parser_t  p;
    static const char  *bad[] = { "\\u0000", "\\u0001", "\\u001f",
                                  "\\u007f", "\x7f", "\\n", "\\t" };

    for (i = 1023; i <= 1025; i++) {
        b = body + sprintf(body, "{\"sessionKey\":\"");
        memset(b, 'k', i);
        strcpy(b + i, "\"}");
        rc = parse(EXTEND, body, 0, NULL, &p);
        ok((i <= 1024) == (rc == NGX_RH_OK)
           && (rc == NGX_RH_OK || strstr(p.message, "cannot be longer than "
                                         "1024 bytes (UTF-8); the value has "
                                         "1025.") != NULL),
           "key of %zu ASCII bytes: %s", i,
           rc == NGX_RH_OK ? "accepted" : p.message);
        ngx_rh_parse_free(&p);
    }

    /* four-byte characters: 256 of them are 1,024 bytes */

    for (i = 256; i <= 257; i++) {
        size_t  j;

        b = body + sprintf(body, "{\"sessionKey\":\"");

        for (j = 0; j < i; j++) {
            b += sprintf(b, "\xf0\x9f\x98\x80");
        }

        strcpy(b, "\"}");
        rc = parse(RETRIEVE, body, 0, NULL, &p);
        ok((i == 256) == (rc == NGX_RH_OK),
           "key of %zu four-byte characters: %s", i,
           rc == NGX_RH_OK ? "accepted" : p.message);
        ngx_rh_parse_free(&p);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sprintf(body, "{\"sessionKey\":\"a%sb\"}", bad[i]);
        rc = parse(ACCESS, body, 0, NULL, &p);
        ok(rc == NGX_RH_INVALID
           && strstr(p.message, "cannot contain a control character "
                     "(U+0000 to U+001F, U+007F): U+00") != NULL
           && strstr(p.message, " at byte 1.") != NULL,
           "key with control character %zu: %s", i,
           rc == NGX_RH_OK ? "accepted" : p.message);
        ngx_rh_parse_free(&p);
    }

    /* U+0080 and U+00A0 are no control characters of the rule */

    rc = parse(ACCESS, "{\"sessionKey\":\"a\\u0080\\u00a0b\"}", 0, NULL,
               &p);
    ok(rc == NGX_RH_OK, "key with U+0080 and U+00A0 accepted");
    ngx_rh_parse_free(&p);

    /* a body's other strings may hold control characters */

    rc = parse(EXTEND, "{\"sessionKey\":\"k\",\"acsHelperUserToken\":"
               "\"a\\u0000\\nb\"}", 0, NULL, &p);
    ok(rc == NGX_RH_OK, "control characters in other properties accepted");
    ngx_rh_parse_free(&p);
}


/*
 * A string's plain runs are skipped eight bytes at a time: a quote, an
 * escape, a non-ASCII byte or a bad one at every place of a 40-byte
 * string, fed whole and in pieces, is seen where it is.
 */

static void
test_runs(void)
{
    int              rc, good;
    char             body[128], want[64], msg[64];
    size_t           k, step, off;
    ngx_rh_parser_t  p;
    ngx_rh_value_t  *v;

    for (k = 0; k < 40; k++) {
        for (step = 0; step <= 5; step += 5) {

            /* an escaped quote at k */

            memset(want, 'a', 40);
            want[k] = '"';
            want[40] = '\0';

            snprintf(body, sizeof(body), "{\"sessionKey\":\"%.*s\\\"%s\"}",
                     (int) k, want, want + k + 1);

            rc = parse(EXTEND, body, step, NULL, &p);
            v = &p.values[NGX_RH_KEY_PROP];
            good = (rc == NGX_RH_OK && v->len == 40
                    && memcmp(v->data, want, 40) == 0);
            ngx_rh_parse_free(&p);

            /* a raw "\xc3\xa9" at k: {"sessionKey":"bb..\xc3\xa9..bb"} */

            memcpy(body, "{\"sessionKey\":\"", 15);
            memset(body + 15, 'b', 41);
            memcpy(body + 15 + k, "\xc3\xa9", 2);
            memcpy(body + 56, "\"}", 3);

            rc = parse(EXTEND, body, step, NULL, &p);
            v = &p.values[NGX_RH_KEY_PROP];
            good = good && rc == NGX_RH_OK && v->len == 41
                   && memcmp(v->data + k, "\xc3\xa9", 2) == 0;
            ngx_rh_parse_free(&p);

            /* a bad byte at k: the message names its offset */

            body[15 + k] = (char) 0xff;
            body[16 + k] = 'b';

            rc = parse(EXTEND, body, step, NULL, &p);
            off = 15 + k;
            snprintf(msg, sizeof(msg), "Invalid UTF-8 at offset %zu.", off);
            good = good && rc == NGX_RH_INVALID
                   && strstr(p.message, msg) != NULL;
            ngx_rh_parse_free(&p);

            ok(good, "string runs: quote, UTF-8, bad byte at %zu (step %zu)",
               k, step);
        }
    }
}


static void
test_parse(void)
{
    int              rc;
    ngx_rh_parser_t  p;

    valid(EXTEND,
          "{\"@odata.type\": \"#microsoft.graph.extendRemoteHelpSessionResponse\","
          "\"sessionKey\": \"Session Key value\","
          "\"acsHelperUserToken\": \"Acs Helper User Token value\","
          "\"pubSubHelperAccessUri\": \"Pub Sub Helper Access Uri value\","
          "\"sessionExpirationDateTime\": \"2016-12-31T23:59:57.5564522-08:00\"}",
          "the reference example");

    valid(EXTEND, "{\"sessionKey\":\"k\"}", "the key alone");
    valid(EXTEND, " \r\n\t{ \"sessionKey\" : \"k\" } \n", "whitespace around");
    valid(EXTEND, "{\"sessionKey\":\"k\",\"acsHelperUserToken\":null}",
          "null value");
    valid(EXTEND, "{\"@odata.type\":\"microsoft.graph."
          "extendRemoteHelpSessionResponse\",\"sessionKey\":\"k\"}",
          "@odata.type without #");
    valid(EXTEND, "{\"@odata.context\":\"x\",\"@odata.etag\":{\"a\":[1,{}]},"
          "\"sessionKey\":\"k\"}", "other @odata annotations ignored");
    valid(EXTEND, "{\"sessionKey\":\"\\u00e9\\ud83d\\ude00 \xc3\xa9\"}",
          "escapes, a surrogate pair, raw UTF-8");

    /* values come out unescaped, sessionType canonical */

    rc = parse(ACCESS, "{\"sessionKey\":\"a\\\"b\\\\c\\u0041\","
               "\"sessionType\":\"unattended,viewScreen\"}", 0, NULL, &p);
    ok(rc == NGX_RH_OK && p.values[0].len == 6
       && memcmp(p.values[0].data, "a\"b\\cA", 6) == 0,
       "strings are unescaped");
    ok(rc == NGX_RH_OK && p.values[1].present
       && strcmp((char *) p.values[1].data, "viewScreen,unattended") == 0,
       "sessionType is stored in canonical order");
    ok(!p.values[2].present, "absent property is not present");
    ngx_rh_parse_free(&p);

    /* JSON */

    invalid(EXTEND, "", NULL, "Unable to read JSON request payload. "
            "Please ensure Content-Type header is set and payload is of "
            "valid JSON format. The request body is empty.", "empty body");
    invalid(EXTEND, "  \n ", NULL, "The request body is empty.",
            "only whitespace");
    invalid(EXTEND, "{\"sessionKey\":\"k\"", NULL, "Unable to read JSON",
            "truncated");
    invalid(EXTEND, "{\"sessionKey\":\"k", NULL, "Unable to read JSON",
            "truncated in a string");
    invalid(EXTEND, "{\"sessionKey\":\"k\"} x", NULL, "Unable to read JSON",
            "trailing garbage");
    invalid(EXTEND, "{\"sessionKey\":\"k\"}{}", NULL, "Unable to read JSON",
            "two documents");
    invalid(EXTEND, "[]", NULL, "must be a JSON object", "an array");
    invalid(EXTEND, "\"s\"", NULL, "must be a JSON object", "a string");
    invalid(EXTEND, "42", NULL, "must be a JSON object", "a number");
    invalid(EXTEND, "null", NULL, "must be a JSON object", "null");
    invalid(EXTEND, "true", NULL, "must be a JSON object", "true");
    invalid(EXTEND, "{\"sessionKey\":'k'}", NULL, "Unable to read JSON",
            "single quotes");
    invalid(EXTEND, "{\"sessionKey\":\"k\",}", NULL, "Unable to read JSON",
            "trailing comma");
    invalid(EXTEND, "{\"sessionKey\":\"a\x01\"}", NULL,
            "Unable to read JSON", "control character in a string");
    invalid(EXTEND, "{\"sessionKey\":\"\xc0\xaf\"}", NULL, "Invalid UTF-8",
            "overlong UTF-8");
    invalid(EXTEND, "{\"sessionKey\":\"\xe0\x80\xaf\"}", NULL,
            "Invalid UTF-8", "overlong 3-byte UTF-8");
    invalid(EXTEND, "{\"sessionKey\":\"\xed\xa0\x80\"}", NULL,
            "Invalid UTF-8", "surrogate encoded in UTF-8");
    invalid(EXTEND, "{\"sessionKey\":\"\xf4\x90\x80\x80\"}", NULL,
            "Invalid UTF-8", "past U+10FFFF");
    invalid(EXTEND, "{\"sessionKey\":\"a\x80\"}", NULL, "Invalid UTF-8",
            "lone continuation byte");
    invalid(EXTEND, "{\"sessionKey\":\"\xc3\"}", NULL, "Invalid UTF-8",
            "cut multi-byte character");
    invalid(EXTEND, "{\"sessionKey\":\"\\ud800\"}", NULL, "surrogate",
            "lone high surrogate escape");
    invalid(EXTEND, "{\"sessionKey\":\"\\udc00\"}", NULL, "surrogate",
            "lone low surrogate escape");
    invalid(EXTEND, "{\"sessionKey\":\"\\ud800\\u0041\"}", NULL, "surrogate",
            "high surrogate and a non-surrogate");
    invalid(EXTEND, "{\"sessionKey\":\"\\ud800x\"}", NULL, "surrogate",
            "high surrogate and a character");
    invalid(EXTEND, "{\"sessionKey\":\"\\ud800\\n\"}", NULL, "surrogate",
            "high surrogate and another escape");
    invalid(EXTEND, "{\"s\\ud800\":\"k\"}", NULL, "surrogate",
            "lone surrogate in a name");

    /* members */

    invalid(EXTEND, "{\"sessionKey\":\"k\",\"foo\":\"x\"}", NULL,
            "The property 'foo' does not exist on type "
            "'microsoft.graph.extendRemoteHelpSessionResponse'",
            "unknown property");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"deviceName\":\"x\"}", NULL,
            "'deviceName' does not exist", "property of another type");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"sessionkey\":\"x\"}", NULL,
            "does not exist", "names are case-sensitive");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"sessionKey\":\"k\"}", NULL,
            "Multiple properties with the name 'sessionKey'", "duplicate");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"session\\u004bey\":\"k\"}",
            NULL, "Multiple properties with the name 'sessionKey'",
            "duplicate written with an escape");
    invalid(EXTEND, "{\"@odata.type\":\"#microsoft.graph."
            "extendRemoteHelpSessionResponse\",\"@odata.type\":\"#microsoft."
            "graph.extendRemoteHelpSessionResponse\",\"sessionKey\":\"k\"}",
            NULL, "Multiple properties", "duplicate @odata.type");
    invalid(EXTEND, "{\"@odata.etag\":\"1\",\"@odata.etag\":\"2\","
            "\"sessionKey\":\"k\"}", NULL, "Multiple properties",
            "duplicate ignored annotation");
    invalid(EXTEND, "{\"@odata.type\":\"#microsoft.graph."
            "retrieveRemoteHelpSessionResponse\",\"sessionKey\":\"k\"}", NULL,
            "is not compatible", "@odata.type of another set");
    invalid(EXTEND, "{\"@odata.type\":\"#microsoft.graph.user\","
            "\"sessionKey\":\"k\"}", NULL, "could not be resolved",
            "@odata.type of an unknown type");
    invalid(EXTEND, "{\"@odata.type\":5,\"sessionKey\":\"k\"}", NULL,
            "'@odata.type' annotation must be a string", "@odata.type number");
    invalid(EXTEND, "{\"@odata.type\":null,\"sessionKey\":\"k\"}", NULL,
            "'@odata.type' annotation must be a string", "@odata.type null");
    invalid(EXTEND, "{\"@odata.type\":{},\"sessionKey\":\"k\"}", NULL,
            "'@odata.type' annotation", "@odata.type object");
    invalid(EXTEND, "{\"sessionKey@odata.type\":\"#String\","
            "\"sessionKey\":\"k\"}", NULL, "does not exist",
            "property annotation");

    /* values */

    invalid(EXTEND, "{\"sessionKey\":5}", NULL,
            "Cannot convert the literal '5' to the expected type "
            "'Edm.String' of the property 'sessionKey'", "number");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"acsHelperUserToken\":1.5e3}",
            NULL, "literal '1.5e3'", "number with exponent");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"acsHelperUserToken\":true}",
            NULL, "literal 'true'", "boolean");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"acsHelperUserToken\":{}}",
            NULL, "Cannot convert the literal '{", "object as a value");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"acsHelperUserToken\":[\"a\"]}",
            NULL, "' to the expected type 'Edm.String' of the property "
            "'acsHelperUserToken'.", "array as a value");
    invalid(EXTEND, "{\"sessionKey\":\"k\",\"deviceName\":[\"a\"]}",
            NULL, "does not exist", "a property of another type");
    invalid(RETRIEVE, "{\"sessionKey\":\"k\",\"deviceName\":[\"a\"]}",
            NULL, "Cannot convert the literal '[", "array, retrieve set");

    /* fed whole, the array or object is quoted as the body has it */

    compound("{\"sessionKey\":\"k\",\"acsHelperUserToken\":[\"a\", {\"b\":\"]\"}]}",
             "Cannot convert the literal '[\"a\", {\"b\":\"]\"}]' to the "
             "expected type 'Edm.String' of the property "
             "'acsHelperUserToken'.");
    compound("{\"sessionKey\":{\"x\":1}}",
             "Cannot convert the literal '{\"x\":1}' to the expected type "
             "'Edm.String' of the property 'sessionKey'.");
    compound("{\"@odata.type\":[],\"sessionKey\":\"k\"}",
             "The value of the '@odata.type' annotation must be a string "
             "naming the type, not '[]'.");
    compound("{\"sessionKey\":\"k\",\"acsHelperUserToken\":[\"01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"]}",
             "Cannot convert the literal '[\"012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345...' to the expected type "
             "'Edm.String' of the property 'acsHelperUserToken'.");
    invalid(EXTEND, "{\"sessionKey\":null}", NULL, "cannot be null",
            "null key");
    invalid(EXTEND, "{\"sessionKey\":\"\"}", NULL, "cannot be empty",
            "empty key");
    keys();
    invalid(EXTEND, "{\"acsHelperUserToken\":\"t\"}", NULL,
            "'sessionKey' is required", "key missing on create");
    invalid(EXTEND, "{}", NULL, "'sessionKey' is required",
            "empty object on create");
    invalid(EXTEND, "{\"sessionKey\":\"other\"}", "k",
            "cannot be changed", "key change on update");

    rc = parse(EXTEND, "{\"acsHelperUserToken\":\"t\"}", 0, "k", &p);
    ok(rc == NGX_RH_OK, "update without the key");
    ngx_rh_parse_free(&p);

    rc = parse(EXTEND, "{}", 0, "k", &p);
    ok(rc == NGX_RH_OK, "empty object on update");
    ngx_rh_parse_free(&p);

    rc = parse(EXTEND, "{\"sessionKey\":\"k\"}", 0, "k", &p);
    ok(rc == NGX_RH_OK, "update with the same key");
    ngx_rh_parse_free(&p);

    /* sessionType */

    invalid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":\"foo\"}", NULL,
            "Cannot convert the literal 'foo' to the expected type "
            "'microsoft.graph.allowedRemoteAssistanceActions'",
            "unknown member");
    invalid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":\"\"}", NULL,
            "literal ''", "empty");
    invalid(ACCESS, "{\"sessionKey\":\"k\","
            "\"sessionType\":\"viewScreen,viewScreen\"}", NULL,
            "Cannot convert", "repeated member");
    invalid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":\"viewScreen,\"}",
            NULL, "Cannot convert", "empty part");
    invalid(ACCESS, "{\"sessionKey\":\"k\","
            "\"sessionType\":\"viewScreen, elevation\"}", NULL,
            "Cannot convert", "space after the comma");
    invalid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":\"ViewScreen\"}",
            NULL, "Cannot convert", "wrong case");
    invalid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":\"1\"}", NULL,
            "Cannot convert", "a number as a string");
    invalid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":1}", NULL,
            "Cannot convert", "a number");
    valid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":"
          "\"unknownFutureValue,unattended,elevation,takeFullControl,"
          "viewScreen\"}", "all members");
    valid(ACCESS, "{\"sessionKey\":\"k\",\"sessionType\":null}",
          "sessionType null");
}


static void
test_datetime(void)
{
    size_t     i;
    long long  ms;

    static const struct {
        const char  *s;
        long long    ms;
    } moments[] = {
        { "1970-01-01T00:00:00Z", 0 },
        { "1970-01-01T00:00Z", 0 },
        { "2016-12-31T23:59:57.5564522-08:00", 1483257597556LL },
        { "2017-01-01T07:59:57.556Z", 1483257597556LL },
        { "2016-04-30T10:00:00+05:30", 1461990600000LL },
        { "2016-04-30T04:30:00Z", 1461990600000LL },
        { "2024-02-29T12:00:00.1Z", 1709208000100LL },
        { "2000-03-01T00:00:00+14:00", 951818400000LL },
        { "1969-12-31T23:59:59Z", -1000 },
        { "0001-01-01T00:00:00Z", -62135596800000LL },
        { "9999-12-31T23:59:59.999Z", 253402300799999LL },
        { "2026-12-01T12:00:00-00:00", 1796126400000LL },
    };

    static const char  *good[] = {
        "2016-12-31T23:59:57.5564522-08:00",
        "2016-12-31T23:59:57Z",
        "2016-12-31T23:59Z",
        "2016-12-31T23:59:59.1+14:00",
        "2016-12-31T00:00:00.123456789012-14:00",
        "2024-02-29T12:00:00Z",
        "2000-02-29T12:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2016-04-30T10:00:00+05:30",
    };

    static const char  *bad[] = {
        "",
        "2016-12-31",
        "2016-12-31T23:59:57",
        "2016-12-31 23:59:57Z",
        "2016-12-31t23:59:57Z",
        "2016-12-31T23:59:57z",
        "2016-13-01T00:00:00Z",
        "2016-00-01T00:00:00Z",
        "2016-12-32T00:00:00Z",
        "2016-04-31T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2016-12-31T24:00:00Z",
        "2016-12-31T23:60:00Z",
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:57.Z",
        "2016-12-31T23:59:57.1234567890123Z",
        "2016-12-31T23:59:57+15:00",
        "2016-12-31T23:59:57+14:01",
        "2016-12-31T23:59:57+05:60",
        "2016-12-31T23:59:57+0500",
        "2016-12-31T23:59:57+05",
        "2016-12-31T23:59:57Z ",
        " 2016-12-31T23:59:57Z",
        "0000-01-01T00:00:00Z",
        "16-12-31T23:59:57Z",
        "2016-1-31T23:59:57Z",
        "2016-12-31T23:59:5Z",
        "2016-12-31T23:59.5Z",
        "+2016-12-31T23:59:57Z",
        "2016-12-31T23:59:57.5564522-08:00x",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(ngx_rh_datetime_valid((const unsigned char *) good[i],
                                 strlen(good[i])),
           "date '%s' accepted", good[i]);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!ngx_rh_datetime_valid((const unsigned char *) bad[i],
                                  strlen(bad[i])),
           "date '%s' rejected", bad[i]);
    }

    /* the moments named, in ms since the epoch (date -d ... +%s%3N) */

    for (i = 0; i < sizeof(moments) / sizeof(moments[0]); i++) {
        ms = 0;
        ok(ngx_rh_datetime_ms((const unsigned char *) moments[i].s,
                              strlen(moments[i].s), &ms)
           && ms == moments[i].ms,
           "date '%s' is %lld ms (got %lld)", moments[i].s, moments[i].ms,
           ms);
    }

    /* a sessionExpirationDateTime's moment, from its value or literal */

    ok(ngx_rh_moment((const unsigned char *) "2016-04-30T04:30:00Z", 20, 0)
       == 1461990600000LL, "moment of a value");
    ok(ngx_rh_moment((const unsigned char *) "\"2016-04-30T04:30:00Z\"", 22,
                     1)
       == 1461990600000LL, "moment of a literal, its quotes aside");
    ok(ngx_rh_moment(NULL, 0, 0) == 0
       && ngx_rh_moment((const unsigned char *) "null", 4, 1) == 0
       && ngx_rh_moment((const unsigned char *) "\"x\"", 3, 1) == 0,
       "null and a non-moment are none");
    ok(ngx_rh_moment((const unsigned char *) "1970-01-01T00:00:00Z", 20, 0)
       == -1, "the epoch is a moment past, not none");

    invalid(EXTEND, "{\"sessionKey\":\"k\","
            "\"sessionExpirationDateTime\":\"2016-02-30T00:00:00Z\"}", NULL,
            "Cannot convert the literal '2016-02-30T00:00:00Z' to the "
            "expected type 'Edm.DateTimeOffset'.", "bad date in a body");
}


/*
 * The object renderer writes what yajl_gen writes: the same fields are
 * rendered by it and by yajl_gen here, strings of random bytes (every
 * byte value), nulls and raw literals, in every set.
 */

static int
render_yajl(const ngx_rh_set_t *set, const ngx_rh_field_t *fields,
    const unsigned char **out, size_t *len, yajl_gen *gp)
{
    unsigned         i;
    yajl_gen         g;
    yajl_gen_status  st;

    g = yajl_gen_alloc(NULL);
    *gp = g;

    st = yajl_gen_map_open(g);
    st |= yajl_gen_string(g, (const unsigned char *) "@odata.type", 11);
    st |= yajl_gen_string(g, (const unsigned char *) set->odata_type,
                          set->odata_type_len);

    for (i = 0; i < set->nprops; i++) {
        st |= yajl_gen_string(g, (const unsigned char *) set->props[i].name,
                              set->props[i].len);

        if (fields[i].raw) {
            st |= yajl_gen_number(g, (const char *) fields[i].data,
                                  fields[i].len);

        } else if (fields[i].data) {
            st |= yajl_gen_string(g, fields[i].data, fields[i].len);

        } else {
            st |= yajl_gen_null(g);
        }
    }

    st |= yajl_gen_map_close(g);
    st |= yajl_gen_get_buf(g, out, len);

    return st == yajl_gen_status_ok ? 0 : -1;
}


static void
test_render_yajl(void)
{
    int                   good, bad;
    size_t                len, k, n;
    unsigned              i, iter, set;
    uint32_t              rnd, spans[2 * NGX_RH_MAX_PROPS];
    yajl_gen              g;
    ngx_rh_buf_t          b;
    unsigned char         strs[NGX_RH_MAX_PROPS][48];
    ngx_rh_field_t        f[NGX_RH_MAX_PROPS];
    const unsigned char  *out;

    rnd = 12345;
    g = NULL;
    bad = 0;

#define NEXT()  (rnd = rnd * 1103515245 + 12345, (rnd >> 16) & 0x7fff)

    for (iter = 0; iter < 3000; iter++) {
        set = iter % 3;

        for (i = 0; i < ngx_rh_sets[set].nprops; i++) {
            n = NEXT() % 48;

            for (k = 0; k < n; k++) {
                /* every byte value, printable ones more often */
                strs[i][k] = (unsigned char) (NEXT() % 3 ? 0x20 + NEXT() % 95
                                                         : NEXT() % 256);
            }

            f[i].data = strs[i];
            f[i].len = n;
            f[i].raw = 0;

            switch (NEXT() % 4) {
            case 0:
                f[i].data = NULL;
                f[i].len = 0;
                break;
            case 1:
                f[i].data = (const unsigned char *) "[\"a\",1]";
                f[i].len = 7;
                f[i].raw = 1;
                break;
            }
        }

        ngx_rh_buf_init(&b, NULL, iter % 2 ? 0 : 64);
        good = (ngx_rh_render_object(&b, &ngx_rh_sets[set], f, spans) == 0
                && render_yajl(&ngx_rh_sets[set], f, &out, &len, &g) == 0
                && b.len == len && memcmp(b.data, out, len) == 0);

        for (i = 0; good && i < ngx_rh_sets[set].nprops; i++) {
            /* a span is the value's literal, as an update copies it */
            if (f[i].raw) {
                good = (spans[2 * i + 1] == f[i].len
                        && memcmp(b.data + spans[2 * i], f[i].data,
                                  f[i].len) == 0);
            } else if (f[i].data == NULL) {
                good = (spans[2 * i + 1] == 4
                        && memcmp(b.data + spans[2 * i], "null", 4) == 0);
            } else {
                good = (b.data[spans[2 * i]] == '"'
                        && b.data[spans[2 * i] + spans[2 * i + 1] - 1] == '"'
                        && (i + 1 == ngx_rh_sets[set].nprops
                            ? b.data[spans[2 * i] + spans[2 * i + 1]] == '}'
                            : b.data[spans[2 * i] + spans[2 * i + 1]]
                              == ','));
            }
        }

        bad += !good;

        if (g) {
            yajl_gen_free(g);
            g = NULL;
        }

        ngx_rh_buf_free(&b);
    }

#undef NEXT

    ok(bad == 0, "3000 objects of random fields: as yajl_gen renders them "
       "(%d differ)", bad);
}


static void
test_render(void)
{
    int              rc;
    char             expect[512];
    uint32_t         spans[2 * NGX_RH_MAX_PROPS], spans2[2 * NGX_RH_MAX_PROPS];
    unsigned         i;
    ngx_rh_buf_t     b, b2;
    ngx_rh_str_t     msg, date, rid, crid, items[2], ctx, next;
    ngx_rh_field_t   f[NGX_RH_MAX_PROPS];

    memset(f, 0, sizeof(f));
    f[0].data = (const unsigned char *) "k\"\\\n\x01/\xc3\xa9";
    f[0].len = 8;
    f[3].data = (const unsigned char *) "2016-12-31T23:59:57Z";
    f[3].len = 20;

    ngx_rh_buf_init(&b, NULL, 0);
    rc = ngx_rh_render_object(&b, EXTEND, f, spans);

    snprintf(expect, sizeof(expect), "%s",
             "{\"@odata.type\":\"#microsoft.graph."
             "extendRemoteHelpSessionResponse\",\"sessionKey\":"
             "\"k\\\"\\\\\\n\\u0001/\xc3\xa9\",\"acsHelperUserToken\":null,"
             "\"pubSubHelperAccessUri\":null,\"sessionExpirationDateTime\":"
             "\"2016-12-31T23:59:57Z\"}");

    ok(rc == 0 && b.len == strlen(expect)
       && memcmp(b.data, expect, b.len) == 0,
       "object: type first, table order, nulls, escaping");

    ok(spans[2] == (uint32_t) (strstr(expect, "null,") - expect)
       && spans[3] == 4, "spans point at the literals");

    /* an update keeps untouched literals verbatim */

    for (i = 0; i < EXTEND->nprops; i++) {
        f[i].data = b.data + spans[2 * i];
        f[i].len = spans[2 * i + 1];
        f[i].raw = 1;
    }

    f[1].data = (const unsigned char *) "tok";
    f[1].len = 3;
    f[1].raw = 0;

    ngx_rh_buf_init(&b2, NULL, 16);
    rc = ngx_rh_render_object(&b2, EXTEND, f, spans2);

    ok(rc == 0 && memmem(b2.data, b2.len, "\"acsHelperUserToken\":\"tok\"",
                         26)
       && b2.len == b.len + 1
       && memcmp(b2.data + spans2[0], b.data + spans[0], spans[1]) == 0,
       "update: raw literals kept, new value rendered");

    ngx_rh_buf_free(&b);
    ngx_rh_buf_free(&b2);

    /* listing */

    items[0].data = (const unsigned char *) "{\"a\":1}";
    items[0].len = 7;
    items[1].data = (const unsigned char *) "{\"b\":2}";
    items[1].len = 7;
    ctx.data = (const unsigned char *) "http://h/beta/$metadata#S";
    ctx.len = strlen((char *) ctx.data);
    next.data = (const unsigned char *) "http://h/beta/S?$skiptoken=x";
    next.len = strlen((char *) next.data);

    ngx_rh_buf_init(&b, NULL, 0);
    rc = ngx_rh_render_list(&b, &ctx, NULL, &next, items, 2);
    snprintf(expect, sizeof(expect), "%s",
             "{\"@odata.context\":\"http://h/beta/$metadata#S\","
             "\"@odata.nextLink\":\"http://h/beta/S?$skiptoken=x\","
             "\"value\":[{\"a\":1},{\"b\":2}]}");
    ok(rc == 0 && b.len == strlen(expect)
       && memcmp(b.data, expect, b.len) == 0, "listing with a nextLink");
    ngx_rh_buf_free(&b);

    ngx_rh_buf_init(&b, NULL, 0);
    rc = ngx_rh_render_list(&b, &ctx, NULL, NULL, items, 0);
    ok(rc == 0 && b.len == strlen("{\"@odata.context\":"
                                  "\"http://h/beta/$metadata#S\","
                                  "\"value\":[]}"),
       "empty listing without a nextLink");
    ngx_rh_buf_free(&b);

    /* error */

    msg.data = (const unsigned char *) "The property 'a\"b' does not exist.";
    msg.len = strlen((char *) msg.data);
    date.data = (const unsigned char *) "2026-11-23T10:00:00";
    date.len = 19;
    rid.data = (const unsigned char *) "r-id";
    rid.len = 4;
    crid.data = (const unsigned char *) "c-id";
    crid.len = 4;

    ngx_rh_buf_init(&b, NULL, 0);
    rc = ngx_rh_render_error(&b, "BadRequest", &msg, &date, &rid, &crid);
    snprintf(expect, sizeof(expect), "%s",
             "{\"error\":{\"code\":\"BadRequest\",\"message\":"
             "\"The property 'a\\\"b' does not exist.\",\"innerError\":"
             "{\"date\":\"2026-11-23T10:00:00\",\"request-id\":\"r-id\","
             "\"client-request-id\":\"c-id\"}}}");
    ok(rc == 0 && b.len == strlen(expect)
       && memcmp(b.data, expect, b.len) == 0, "Graph error shape");
    ngx_rh_buf_free(&b);
}


static void
test_schema(void)
{
    unsigned  i, j;
    char      buf[128];
    unsigned  bits;

    ok(ngx_rh_set_by_name("ExtendRemoteHelpSessionResponse", 31) == EXTEND,
       "set by name");
    ok(ngx_rh_set_by_name("extendRemoteHelpSessionResponse", 31) == NULL,
       "set names are case-sensitive");
    ok(ngx_rh_set_by_type("retrieveRemoteHelpSessionResponse", 33)
       == RETRIEVE, "set by type");

    for (i = 0; i < NGX_RH_NSETS; i++) {
        ok(strcmp(ngx_rh_sets[i].props[NGX_RH_KEY_PROP].name, "sessionKey")
           == 0, "%s: sessionKey is the first property", ngx_rh_sets[i].set);
        ok(ngx_rh_sets[i].nprops <= NGX_RH_MAX_PROPS,
           "%s: fits NGX_RH_MAX_PROPS", ngx_rh_sets[i].set);

        for (j = 0; j < ngx_rh_sets[i].nprops; j++) {
            if (strlen(ngx_rh_sets[i].props[j].name)
                != ngx_rh_sets[i].props[j].len)
            {
                break;
            }
        }

        ok(j == ngx_rh_sets[i].nprops, "%s: name lengths",
           ngx_rh_sets[i].set);
    }

    ok(ngx_rh_actions_parse((const unsigned char *) "elevation,viewScreen",
                            20, &bits) && bits == 5, "actions parse");
    ok(ngx_rh_actions_format(5, buf, sizeof(buf)) == 20
       && strcmp(buf, "viewScreen,elevation") == 0, "actions format");
}


/* base64url of len bytes into out (no padding), NUL-terminated */

static void
b64url(char *out, const char *in, size_t len)
{
    size_t               i;
    unsigned             acc, bits;
    static const char    abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        acc = (acc << 8) | (unsigned char) in[i];
        bits += 8;

        while (bits >= 6) {
            bits -= 6;
            *out++ = abc[(acc >> bits) & 63];
        }
    }

    if (bits) {
        *out++ = abc[(acc << (6 - bits)) & 63];
    }

    *out = '\0';
}


/* a token of header and claims JSON and signature bytes */

static size_t
jws(char *out, const char *header, const char *claims, const char *sig,
    size_t sig_len)
{
    char  *p;

    b64url(out, header, strlen(header));
    p = out + strlen(out);
    *p++ = '.';
    b64url(p, claims, strlen(claims));
    p += strlen(p);
    *p++ = '.';
    b64url(p, sig, sig_len);

    return strlen(out);
}


static void
test_token(void)
{
    int            rc;
    long           n;
    size_t         len, i;
    char           tok[4096];
    unsigned char  out[64];
    ngx_rh_jwt_t   t;

    static const struct {
        const char  *header;
        const char  *claims;
        int          rc;
    } bad[] = {
        { "[1]", "{}", NGX_RH_JWT_MALFORMED },
        { "{\"alg\":\"RS256\"", "{}", NGX_RH_JWT_MALFORMED },
        { "{\"alg\":\"RS256\"}", "\"x\"", NGX_RH_JWT_MALFORMED },
        { "{\"alg\":\"RS256\"}", "not json", NGX_RH_JWT_MALFORMED },
        { "{}", "{}", NGX_RH_JWT_INVALID },
        { "{\"alg\":1}", "{}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\",\"kid\":7}", "{}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\",\"crit\":[\"b64\"]}", "{}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"exp\":\"1\"}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"nbf\":true}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"aud\":5}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"aud\":[\"a\",1]}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"iss\":[]}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"tid\":{}}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"scp\":[\"x\"]}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"roles\":\"x\"}", NGX_RH_JWT_INVALID },
        { "{\"alg\":\"RS256\"}", "{\"roles\":[1]}", NGX_RH_JWT_INVALID },
    };

    static const char  *malformed[] = {
        "", "abc", "a.b", "a..c", ".b.c", "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9.e30.!!!", "eyJhbGciOiJSUzI1NiJ9.e3=.AAAA",
    };

    /* base64url */

    ok(ngx_rh_base64url_decode(out, (const unsigned char *) "", 0) == 0,
       "base64url: empty");
    n = ngx_rh_base64url_decode(out, (const unsigned char *) "Zm9vYg", 6);
    ok(n == 4 && memcmp(out, "foob", 4) == 0, "base64url: foob");
    n = ngx_rh_base64url_decode(out, (const unsigned char *) "-_8", 3);
    ok(n == 2 && out[0] == 0xfb && out[1] == 0xff, "base64url: - and _");
    ok(ngx_rh_base64url_decode(out, (const unsigned char *) "Zm9v=", 5)
       == -1, "base64url: no padding");
    ok(ngx_rh_base64url_decode(out, (const unsigned char *) "Zm+v", 4)
       == -1, "base64url: not base64's + and /");
    ok(ngx_rh_base64url_decode(out, (const unsigned char *) "Z", 1) == -1,
       "base64url: a length no encoding has");
    ok(ngx_rh_base64url_decode(out, (const unsigned char *) "Zh", 2) == -1,
       "base64url: bits left over are not zero");

    /* a token read whole */

    len = jws(tok, "{\"alg\":\"ES256\",\"kid\":\"key-1\",\"typ\":\"JWT\"}",
              "{\"exp\":2000000000,\"nbf\":1500000000.75,"
              "\"aud\":[\"api://a\",\"b\"],\"iss\":\"https://i/t/v2.0\","
              "\"tid\":\"t1\",\"scp\":\"User.Read "
              "DeviceManagementConfiguration.Read.All\","
              "\"roles\":[\"DeviceManagementServiceConfig.ReadWrite.All\"],"
              "\"x\":{\"y\":[1,2,{}]}}",
              "\x01\x02\x03\x04\x05", 5);

    rc = ngx_rh_jwt_parse(&t, (unsigned char *) tok, len);
    ok(rc == NGX_RH_JWT_OK, "token: parsed (%d)", rc);
    ok(t.alg == NGX_RH_JWT_ES256, "token: alg ES256");
    ok(t.kid.len == 5 && memcmp(t.kid.data, "key-1", 5) == 0, "token: kid");
    ok(t.has_exp && t.exp == 2000000000LL, "token: exp");
    ok(t.has_nbf && t.nbf == 1500000000LL, "token: nbf, fraction dropped");
    ok(t.naud == 2 && strcmp(t.aud[0].data, "api://a") == 0
       && strcmp(t.aud[1].data, "b") == 0, "token: aud array");
    ok(t.iss.len == 16, "token: iss");
    ok(t.tid.len == 2, "token: tid");
    ok(t.delegated && t.scp == NGX_RH_PERM_CONF_READ, "token: scp bits");
    ok(t.roles == NGX_RH_PERM_SC_RW, "token: roles bits");
    ok(t.sig_len == 5 && memcmp(t.sig, "\x01\x02\x03\x04\x05", 5) == 0,
       "token: signature decoded");
    ok(t.input_len == (size_t) (strrchr(tok, '.') - tok)
       && t.input == (unsigned char *) tok, "token: the signing input");
    ngx_rh_jwt_free(&t);

    len = jws(tok, "{\"alg\":\"RS256\"}",
              "{\"exp\":9223372036854775807,\"nbf\":-1e300}", "", 0);
    rc = ngx_rh_jwt_parse(&t, (unsigned char *) tok, len);
    ok(rc == NGX_RH_JWT_OK && t.exp == 253402300799LL
       && t.nbf == -62135596800LL, "token: times held within years 1-9999");
    ngx_rh_jwt_free(&t);

    len = jws(tok, "{\"alg\":\"RS256\"}", "{\"aud\":\"one\"}", "", 0);
    rc = ngx_rh_jwt_parse(&t, (unsigned char *) tok, len);
    ok(rc == NGX_RH_JWT_OK && t.alg == NGX_RH_JWT_RS256 && t.naud == 1
       && !t.has_exp && !t.delegated && t.kid.len == 0 && t.sig_len == 0,
       "token: aud string, no exp, no scp, no kid, empty signature");
    ngx_rh_jwt_free(&t);

    for (i = 0; i < 3; i++) {
        static const char  *algs[] = { "none", "HS256", "RS512" };

        snprintf((char *) out, sizeof(out), "{\"alg\":\"%s\"}", algs[i]);
        len = jws(tok, (char *) out, "{}", "s", 1);
        rc = ngx_rh_jwt_parse(&t, (unsigned char *) tok, len);
        ok(rc == NGX_RH_JWT_OK && t.alg == NGX_RH_JWT_OTHER,
           "token: alg %s is another algorithm", algs[i]);
        ngx_rh_jwt_free(&t);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = jws(tok, bad[i].header, bad[i].claims, "s", 1);
        rc = ngx_rh_jwt_parse(&t, (unsigned char *) tok, len);
        ok(rc == bad[i].rc, "token: %s . %s refused (%d)", bad[i].header,
           bad[i].claims, rc);
        ngx_rh_jwt_free(&t);
    }

    for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        rc = ngx_rh_jwt_parse(&t, (const unsigned char *) malformed[i],
                              strlen(malformed[i]));
        ok(rc == NGX_RH_JWT_MALFORMED, "token: '%s' is malformed",
           malformed[i]);
        ngx_rh_jwt_free(&t);
    }

    /* a NUL in the decoded header */

    b64url(tok, "{\"alg\":\"RS256\"\0}", 16);
    strcat(tok, ".e30.cw");
    rc = ngx_rh_jwt_parse(&t, (unsigned char *) tok, strlen(tok));
    ok(rc == NGX_RH_JWT_MALFORMED, "token: a NUL in the header");
    ngx_rh_jwt_free(&t);

    /* the permission names */

    ok(ngx_rh_perm_bits((const unsigned char *)
           "DeviceManagementServiceConfig.Read.All,"
           "DeviceManagementConfiguration.ReadWrite.All", 82)
       == (NGX_RH_PERM_SC_READ | NGX_RH_PERM_CONF_RW),
       "permissions: comma-separated");
    ok(ngx_rh_perm_bits((const unsigned char *)
           "devicemanagementserviceconfig.read.all "
           "DeviceManagementServiceConfig.Read.AllX", 78) == 0,
       "permissions: exact names only");
    ok(ngx_rh_perm_bits((const unsigned char *) "", 0) == 0,
       "permissions: none");
    ok(strstr(ngx_rh_perm_names(NGX_RH_PERM_WRITE), "Read.All") == NULL,
       "permissions: the write row has no read permission");
}


int
main(void)
{
    test_schema();
    test_parse();
    test_runs();
    test_datetime();
    test_token();
    test_render();
    test_render_yajl();

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
