
/*
 * ngx_http_remote_help_module: $select and $filter (see the header).
 *
 * A string in a filter is compared with a stored one in its JSON form:
 * the literal is escaped once, as the renderer escapes every stored
 * string, so that eq is one memcmp() and startswith() a prefix of the
 * stored literal.  Escaping maps each character on its own, so a string
 * is a prefix of another exactly when its escaping is a prefix of the
 * other's.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_remote_help_query.h"
#include "ngx_http_remote_help_json.h"


#define NGX_RH_F_CMP          0
#define NGX_RH_F_AND          1
#define NGX_RH_F_OR           2
#define NGX_RH_F_NOT          3

#define NGX_RH_F_EQ           0
#define NGX_RH_F_NE           1
#define NGX_RH_F_LT           2
#define NGX_RH_F_LE           3
#define NGX_RH_F_GT           4
#define NGX_RH_F_GE           5
#define NGX_RH_F_HAS          6
#define NGX_RH_F_STARTSWITH   7

#define NGX_RH_FV_NULL        0
#define NGX_RH_FV_STRING      1
#define NGX_RH_FV_INSTANT     2
#define NGX_RH_FV_BITS        3

/* tokens */
#define NGX_RH_T_END          0
#define NGX_RH_T_LPAREN       1
#define NGX_RH_T_RPAREN       2
#define NGX_RH_T_COMMA        3
#define NGX_RH_T_STRING       4     /* 'text' */
#define NGX_RH_T_WORD         5     /* a name, an operator, null */
#define NGX_RH_T_DATE         6     /* an unquoted literal: 2026-... */
#define NGX_RH_T_TYPED        7     /* type'text' */
#define NGX_RH_T_BAD          8

/* a quoted part of a message */
#define NGX_RH_QUOTE_MAX      200


typedef struct {
    int                       type;
    size_t                    start;    /* where it starts in the text */
    const unsigned char      *data;     /* a word; a string's inside */
    size_t                    len;
    const unsigned char      *str;      /* a typed literal's string */
    size_t                    str_len;
} ngx_rh_token_t;


static const struct {
    const char               *name;
    unsigned char             op;
    const char               *kind;     /* OData's operator kind */
} ngx_rh_operators[] = {
    { "eq",  NGX_RH_F_EQ,  "Equal" },
    { "ne",  NGX_RH_F_NE,  "NotEqual" },
    { "lt",  NGX_RH_F_LT,  "LessThan" },
    { "le",  NGX_RH_F_LE,  "LessThanOrEqual" },
    { "gt",  NGX_RH_F_GT,  "GreaterThan" },
    { "ge",  NGX_RH_F_GE,  "GreaterThanOrEqual" },
    { "has", NGX_RH_F_HAS, "Has" },
};

#define NGX_RH_NOPERATORS                                                    \
    (sizeof(ngx_rh_operators) / sizeof(ngx_rh_operators[0]))


static int ngx_rh_filter_fail(ngx_rh_filter_t *f, const char *fmt, ...);
static int ngx_rh_filter_syntax(ngx_rh_filter_t *f, size_t pos);
static void ngx_rh_filter_next(ngx_rh_filter_t *f, ngx_rh_token_t *t);
static int ngx_rh_filter_peek(ngx_rh_filter_t *f, ngx_rh_token_t *t);
static int ngx_rh_filter_node(ngx_rh_filter_t *f, unsigned type);
static int ngx_rh_filter_binary(ngx_rh_filter_t *f, unsigned depth,
    int and_level);
static int ngx_rh_filter_unary(ngx_rh_filter_t *f, unsigned depth);
static int ngx_rh_filter_startswith(ngx_rh_filter_t *f);
static int ngx_rh_filter_compare(ngx_rh_filter_t *f, ngx_rh_token_t *name);
static int ngx_rh_filter_prop(ngx_rh_filter_t *f, ngx_rh_token_t *name);
static int ngx_rh_filter_string(ngx_rh_filter_t *f, ngx_rh_fnode_t *node,
    const unsigned char *s, size_t len, int closed);
static int ngx_rh_filter_eval(const ngx_rh_filter_t *f, unsigned i,
    const unsigned char *json, const uint32_t *spans);
static int ngx_rh_filter_cmp(const ngx_rh_fnode_t *node,
    const unsigned char *lit, size_t len);
static int ngx_rh_word_is(ngx_rh_token_t *t, const char *word);
static int ngx_rh_quoted(const unsigned char *s, size_t len);


int
ngx_rh_select_parse(const ngx_rh_set_t *set, const unsigned char *s,
    size_t len, unsigned *mask, char *message, size_t size)
{
    size_t     i, start, end;
    unsigned   p;

    *mask = 0;
    start = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != ',') {
            continue;
        }

        /* spaces around a name are allowed, as OData's parser does */

        end = i;

        while (start < end && s[start] == ' ') {
            start++;
        }

        while (end > start && s[end - 1] == ' ') {
            end--;
        }

        for (p = 0; p < set->nprops; p++) {
            if (set->props[p].len == end - start
                && memcmp(set->props[p].name, s + start, end - start) == 0)
            {
                break;
            }
        }

        if (p == set->nprops) {
            if (end - start == 1 && s[start] == '*') {
                *mask |= (1u << set->nprops) - 1;
                start = i + 1;
                continue;
            }

            if (end - start > NGX_RH_QUOTE_MAX
                || !ngx_rh_utf8_valid(s + start, end - start))
            {
                snprintf(message, size, "Could not find a property named "
                         "in $select on type '" NGX_RH_NAMESPACE "%s'.",
                         set->type);

            } else {
                snprintf(message, size, "Could not find a property named "
                         "'%.*s' on type '" NGX_RH_NAMESPACE "%s'.",
                         (int) (end - start), s + start, set->type);
            }

            return NGX_RH_INVALID;
        }

        *mask |= 1u << p;
        start = i + 1;
    }

    return NGX_RH_OK;
}


int
ngx_rh_filter_parse(ngx_rh_filter_t *f, const ngx_rh_set_t *set,
    const unsigned char *s, size_t len, const yajl_alloc_funcs *afs)
{
    int             root;
    ngx_rh_token_t  t;

    f->set = set;
    f->afs = afs;
    f->strings = NULL;
    f->used = 0;
    f->n = 0;
    f->root = 0;
    f->text = s;
    f->text_len = len;
    f->pos = 0;
    f->message[0] = '\0';

    if (!ngx_rh_utf8_valid(s, len)) {
        return ngx_rh_filter_fail(f, "The $filter query option is not "
                                  "valid UTF-8.");
    }

    /* every literal escaped fits: 6 bytes for one, and quotes */

    f->size = 6 * len + 2;
    f->strings = afs ? afs->malloc(afs->ctx, f->size) : malloc(f->size);

    if (f->strings == NULL) {
        return NGX_RH_NOMEM;
    }

    root = ngx_rh_filter_binary(f, 0, 0);

    if (root < 0) {
        return NGX_RH_INVALID;
    }

    ngx_rh_filter_next(f, &t);

    if (t.type != NGX_RH_T_END) {
        return ngx_rh_filter_syntax(f, t.start);
    }

    f->root = (unsigned) root;

    return NGX_RH_OK;
}


void
ngx_rh_filter_free(ngx_rh_filter_t *f)
{
    if (f->strings == NULL) {
        return;
    }

    if (f->afs) {
        f->afs->free(f->afs->ctx, f->strings);

    } else {
        free(f->strings);
    }

    f->strings = NULL;
}


int
ngx_rh_filter_match(const ngx_rh_filter_t *f, const unsigned char *json,
    const uint32_t *spans)
{
    return ngx_rh_filter_eval(f, f->root, json, spans);
}


static int
ngx_rh_filter_eval(const ngx_rh_filter_t *f, unsigned i,
    const unsigned char *json, const uint32_t *spans)
{
    const ngx_rh_fnode_t  *node;

    node = &f->nodes[i];

    switch (node->type) {

    case NGX_RH_F_AND:
        return ngx_rh_filter_eval(f, node->left, json, spans)
               && ngx_rh_filter_eval(f, node->right, json, spans);

    case NGX_RH_F_OR:
        return ngx_rh_filter_eval(f, node->left, json, spans)
               || ngx_rh_filter_eval(f, node->right, json, spans);

    case NGX_RH_F_NOT:
        return !ngx_rh_filter_eval(f, node->left, json, spans);

    default:
        return ngx_rh_filter_cmp(node, json + spans[2 * node->prop],
                                 spans[2 * node->prop + 1]);
    }
}


/* one comparison over a property's JSON literal as stored */

static int
ngx_rh_filter_cmp(const ngx_rh_fnode_t *node, const unsigned char *lit,
    size_t len)
{
    int                 null, c;
    unsigned            bits;
    long long           ms;
    unsigned long long  ps;

    null = (len == 0 || lit[0] == 'n');

    if (node->value == NGX_RH_FV_NULL) {
        return (node->op == NGX_RH_F_EQ) ? null : !null;
    }

    if (null) {
        /* null equals no value, and has no order */
        return node->op == NGX_RH_F_NE;
    }

    switch (node->value) {

    case NGX_RH_FV_STRING:

        if (node->op == NGX_RH_F_STARTSWITH) {
            return len >= node->len && memcmp(lit, node->str, node->len) == 0;
        }

        c = (len == node->len && memcmp(lit, node->str, len) == 0);

        return (node->op == NGX_RH_F_EQ) ? c : !c;

    case NGX_RH_FV_BITS:

        if (len < 2 || !ngx_rh_actions_parse(lit + 1, len - 2, &bits)) {
            return 0;
        }

        switch (node->op) {
        case NGX_RH_F_EQ:
            return bits == node->bits;
        case NGX_RH_F_NE:
            return bits != node->bits;
        default: /* has */
            return (bits & node->bits) == node->bits;
        }

    default: /* NGX_RH_FV_INSTANT */

        if (len < 2 || !ngx_rh_instant(lit + 1, len - 2, &ms, &ps)) {
            return 0;
        }

        c = (ms < node->ms) ? -1 : (ms > node->ms) ? 1
            : (ps < node->ps) ? -1 : (ps > node->ps) ? 1 : 0;

        switch (node->op) {
        case NGX_RH_F_EQ:
            return c == 0;
        case NGX_RH_F_NE:
            return c != 0;
        case NGX_RH_F_LT:
            return c < 0;
        case NGX_RH_F_LE:
            return c <= 0;
        case NGX_RH_F_GT:
            return c > 0;
        default:
            return c >= 0;
        }
    }
}


int
ngx_rh_instant(const unsigned char *s, size_t len, long long *ms,
    unsigned long long *ps)
{
    size_t  i, n;

    if (!ngx_rh_datetime_ms(s, len, ms)) {
        return 0;
    }

    /* the digits after the third of a fraction: "hh:mm:ss." ends at 20 */

    *ps = 0;

    if (len > 20 && s[16] == ':' && s[19] == '.') {
        for (i = 20, n = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
            if (n >= 3) {
                *ps = *ps * 10 + (s[i] - '0');
            }
        }

        for ( /* void */ ; n < 12; n++) {
            if (n >= 3) {
                *ps *= 10;
            }
        }
    }

    return 1;
}


/*
 * expressions: or of ands of unaries, as OData's precedence has it;
 * and_level 0 reads operands joined by "or", 1 by "and"
 */

static int
ngx_rh_filter_binary(ngx_rh_filter_t *f, unsigned depth, int and_level)
{
    int             left, right, n;
    ngx_rh_token_t  t;

    left = and_level ? ngx_rh_filter_unary(f, depth)
                     : ngx_rh_filter_binary(f, depth, 1);

    while (left >= 0) {
        if (!ngx_rh_filter_peek(f, &t)
            || !ngx_rh_word_is(&t, and_level ? "and" : "or"))
        {
            break;
        }

        ngx_rh_filter_next(f, &t);

        right = and_level ? ngx_rh_filter_unary(f, depth)
                          : ngx_rh_filter_binary(f, depth, 1);
        if (right < 0) {
            return -1;
        }

        n = ngx_rh_filter_node(f, and_level ? NGX_RH_F_AND : NGX_RH_F_OR);
        if (n < 0) {
            return -1;
        }

        f->nodes[n].left = (unsigned short) left;
        f->nodes[n].right = (unsigned short) right;
        left = n;
    }

    return left;
}


static int
ngx_rh_filter_unary(ngx_rh_filter_t *f, unsigned depth)
{
    int             e, n;
    size_t          pos;
    ngx_rh_token_t  t, u;

    if (depth == NGX_RH_FILTER_DEPTH) {
        return ngx_rh_filter_fail(f, "The $filter query option is nested "
                                  "more than %d levels deep.",
                                  NGX_RH_FILTER_DEPTH);
    }

    ngx_rh_filter_next(f, &t);

    switch (t.type) {

    case NGX_RH_T_LPAREN:
        e = ngx_rh_filter_binary(f, depth + 1, 0);
        if (e < 0) {
            return -1;
        }

        ngx_rh_filter_next(f, &t);
        if (t.type != NGX_RH_T_RPAREN) {
            return ngx_rh_filter_syntax(f, t.start);
        }

        return e;

    case NGX_RH_T_WORD:

        if (ngx_rh_word_is(&t, "not")) {
            e = ngx_rh_filter_unary(f, depth + 1);
            if (e < 0) {
                return -1;
            }

            n = ngx_rh_filter_node(f, NGX_RH_F_NOT);
            if (n < 0) {
                return -1;
            }

            f->nodes[n].left = (unsigned short) e;
            return n;
        }

        pos = f->pos;

        if (ngx_rh_filter_peek(f, &u) && u.type == NGX_RH_T_LPAREN
            && u.start == pos)
        {
            /* a function: its name and "(" with nothing between */

            if (ngx_rh_word_is(&t, "startswith")) {
                ngx_rh_filter_next(f, &u);
                return ngx_rh_filter_startswith(f);
            }

            return ngx_rh_filter_fail(f, "An unknown function with name "
                                      "'%.*s' was found; $filter supports "
                                      "startswith().",
                                      ngx_rh_quoted(t.data, t.len), t.data);
        }

        return ngx_rh_filter_compare(f, &t);

    default:
        return ngx_rh_filter_syntax(f, t.start);
    }
}


/* startswith(PROPERTY,'text'), after its "(" */

static int
ngx_rh_filter_startswith(ngx_rh_filter_t *f)
{
    int             n, p;
    ngx_rh_token_t  t, lit;

    ngx_rh_filter_next(f, &t);

    if (t.type != NGX_RH_T_WORD) {
        return ngx_rh_filter_syntax(f, t.start);
    }

    p = ngx_rh_filter_prop(f, &t);
    if (p < 0) {
        return -1;
    }

    if (f->set->props[p].kind != NGX_RH_STRING) {
        return ngx_rh_filter_fail(f, "The function 'startswith' takes a "
                                  "property of type 'Edm.String'; '%s' is "
                                  "of type '%s'.", f->set->props[p].name,
                                  ngx_rh_kind_edm(f->set->props[p].kind));
    }

    ngx_rh_filter_next(f, &t);
    if (t.type != NGX_RH_T_COMMA) {
        return ngx_rh_filter_syntax(f, t.start);
    }

    ngx_rh_filter_next(f, &lit);
    if (lit.type != NGX_RH_T_STRING) {
        return ngx_rh_filter_syntax(f, lit.start);
    }

    ngx_rh_filter_next(f, &t);
    if (t.type != NGX_RH_T_RPAREN) {
        return ngx_rh_filter_syntax(f, t.start);
    }

    n = ngx_rh_filter_node(f, NGX_RH_F_CMP);
    if (n < 0) {
        return -1;
    }

    f->nodes[n].op = NGX_RH_F_STARTSWITH;
    f->nodes[n].prop = (unsigned char) p;
    f->nodes[n].value = NGX_RH_FV_STRING;

    return ngx_rh_filter_string(f, &f->nodes[n], lit.data, lit.len, 0)
           ? n : -1;
}


/* PROPERTY op literal */

static int
ngx_rh_filter_compare(ngx_rh_filter_t *f, ngx_rh_token_t *name)
{
    int                   n, p;
    size_t                len;
    unsigned              i;
    ngx_rh_token_t        t, lit;
    ngx_rh_fnode_t       *node;
    const char           *edm;
    const unsigned char  *s;
    const ngx_rh_prop_t  *prop;

    p = ngx_rh_filter_prop(f, name);
    if (p < 0) {
        return -1;
    }

    prop = &f->set->props[p];

    ngx_rh_filter_next(f, &t);

    if (t.type != NGX_RH_T_WORD) {
        return ngx_rh_filter_syntax(f, t.start);
    }

    for (i = 0; i < NGX_RH_NOPERATORS; i++) {
        if (ngx_rh_word_is(&t, ngx_rh_operators[i].name)) {
            break;
        }
    }

    if (i == NGX_RH_NOPERATORS) {
        return ngx_rh_filter_fail(f, "The operator '%.*s' at position %zu "
                                  "is not supported in $filter: eq, ne, "
                                  "lt, le, gt, ge and has are.",
                                  ngx_rh_quoted(t.data, t.len), t.data,
                                  t.start);
    }

    n = ngx_rh_filter_node(f, NGX_RH_F_CMP);
    if (n < 0) {
        return -1;
    }

    node = &f->nodes[n];
    node->op = ngx_rh_operators[i].op;
    node->prop = (unsigned char) p;

    ngx_rh_filter_next(f, &lit);

    if (lit.type == NGX_RH_T_WORD && ngx_rh_word_is(&lit, "null")) {
        if (node->op != NGX_RH_F_EQ && node->op != NGX_RH_F_NE) {
            goto unsupported;
        }

        node->value = NGX_RH_FV_NULL;
        return n;
    }

    if (lit.type == NGX_RH_T_STRING || lit.type == NGX_RH_T_DATE) {
        s = lit.data;
        len = lit.len;

    } else if (lit.type == NGX_RH_T_TYPED && prop->kind == NGX_RH_ACTIONS
               && lit.len == strlen(ngx_rh_actions_type)
               && memcmp(lit.data, ngx_rh_actions_type, lit.len) == 0)
    {
        /* microsoft.graph.allowedRemoteAssistanceActions'viewScreen' */
        s = lit.str;
        len = lit.str_len;

    } else if (lit.type == NGX_RH_T_WORD || lit.type == NGX_RH_T_TYPED) {
        s = lit.data;
        len = lit.len;
        goto convert;

    } else {
        return ngx_rh_filter_syntax(f, lit.start);
    }

    switch (prop->kind) {

    case NGX_RH_STRING:

        if (lit.type != NGX_RH_T_STRING) {
            goto convert;
        }

        if (node->op != NGX_RH_F_EQ && node->op != NGX_RH_F_NE) {
            goto unsupported;
        }

        node->value = NGX_RH_FV_STRING;

        return ngx_rh_filter_string(f, node, s, len, 1) ? n : -1;

    case NGX_RH_DATETIME:

        if (node->op == NGX_RH_F_HAS) {
            goto unsupported;
        }

        /* '' in a quoted date would make it no date: quoted as it is */

        if (!ngx_rh_instant(s, len, &node->ms, &node->ps)) {
            goto convert;
        }

        node->value = NGX_RH_FV_INSTANT;
        return n;

    default: /* NGX_RH_ACTIONS */

        if (node->op != NGX_RH_F_EQ && node->op != NGX_RH_F_NE
            && node->op != NGX_RH_F_HAS)
        {
            goto unsupported;
        }

        if (lit.type == NGX_RH_T_DATE
            || !ngx_rh_actions_parse(s, len, &node->bits))
        {
            goto convert;
        }

        node->value = NGX_RH_FV_BITS;
        return n;
    }

convert:

    edm = (prop->kind == NGX_RH_ACTIONS) ? ngx_rh_actions_type
                                         : ngx_rh_kind_edm(prop->kind);

    return ngx_rh_filter_fail(f, "Cannot convert the literal '%.*s' to the "
                              "expected type '%s' of the property '%s'.",
                              ngx_rh_quoted(s, len), s, edm, prop->name);

unsupported:

    return ngx_rh_filter_fail(f, "The operator '%s' is not supported on "
                              "the property '%s' of type '%s'%s.",
                              ngx_rh_operators[i].name, prop->name,
                              (prop->kind == NGX_RH_ACTIONS)
                              ? ngx_rh_actions_type
                              : ngx_rh_kind_edm(prop->kind),
                              (lit.type == NGX_RH_T_WORD)
                              ? " with null" : "");
}


static int
ngx_rh_filter_prop(ngx_rh_filter_t *f, ngx_rh_token_t *name)
{
    unsigned  p;

    for (p = 0; p < f->set->nprops; p++) {
        if (f->set->props[p].len == name->len
            && memcmp(f->set->props[p].name, name->data, name->len) == 0)
        {
            return (int) p;
        }
    }

    return ngx_rh_filter_fail(f, "Could not find a property named '%.*s' "
                              "on type '" NGX_RH_NAMESPACE "%s'.",
                              ngx_rh_quoted(name->data, name->len),
                              name->data, f->set->type);
}


/* a literal's inside ('' for one ') to its JSON form in f->strings */

static int
ngx_rh_filter_string(ngx_rh_filter_t *f, ngx_rh_fnode_t *node,
    const unsigned char *s, size_t len, int closed)
{
    size_t          i, start;
    unsigned char  *p, *begin;

    begin = f->strings + f->used;
    p = begin;
    *p++ = '"';
    start = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '\'') {
            /* the first of two: the segment before it and one quote */
            p = ngx_rh_json_escape(p, s + start, i + 1 - start);
            i++;
            start = i + 1;
        }
    }

    p = ngx_rh_json_escape(p, s + start, len - start);

    if (closed) {
        *p++ = '"';
    }

    node->str = begin;
    node->len = p - begin;
    f->used += node->len;

    return 1;
}


static int
ngx_rh_filter_node(ngx_rh_filter_t *f, unsigned type)
{
    ngx_rh_fnode_t  *node;

    if (f->n == NGX_RH_FILTER_NODES) {
        return ngx_rh_filter_fail(f, "The $filter query option has more "
                                  "than %d operations.",
                                  NGX_RH_FILTER_NODES);
    }

    node = &f->nodes[f->n];
    memset(node, 0, sizeof(ngx_rh_fnode_t));
    node->type = (unsigned char) type;

    return (int) f->n++;
}


/* the tokenizer */

static int
ngx_rh_filter_peek(ngx_rh_filter_t *f, ngx_rh_token_t *t)
{
    size_t  pos;

    pos = f->pos;
    ngx_rh_filter_next(f, t);
    f->pos = pos;

    return t->type != NGX_RH_T_END;
}


static void
ngx_rh_filter_next(ngx_rh_filter_t *f, ngx_rh_token_t *t)
{
    size_t                i, len;
    unsigned char         c;
    const unsigned char  *s;

    s = f->text;
    len = f->text_len;
    i = f->pos;

    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }

    t->start = i;
    t->data = s + i;
    t->len = 0;

    if (i == len) {
        t->type = NGX_RH_T_END;
        f->pos = i;
        return;
    }

    c = s[i];

    switch (c) {

    case '(':
        t->type = NGX_RH_T_LPAREN;
        f->pos = i + 1;
        return;

    case ')':
        t->type = NGX_RH_T_RPAREN;
        f->pos = i + 1;
        return;

    case ',':
        t->type = NGX_RH_T_COMMA;
        f->pos = i + 1;
        return;

    case '\'':
        t->type = NGX_RH_T_STRING;
        goto string;
    }

    if (c >= '0' && c <= '9') {
        /* an unquoted literal runs to a space, a parenthesis or a comma */

        while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '('
               && s[i] != ')' && s[i] != ',' && s[i] != '\'')
        {
            i++;
        }

        t->type = NGX_RH_T_DATE;
        t->len = s + i - t->data;
        f->pos = i;
        return;
    }

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        while (i < len
               && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
                   || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'
                   || s[i] == '.'))
        {
            i++;
        }

        t->type = NGX_RH_T_WORD;
        t->len = s + i - t->data;
        f->pos = i;

        if (i < len && s[i] == '\'') {
            /* type'text' */
            goto string;
        }

        return;
    }

    t->type = NGX_RH_T_BAD;
    f->pos = i;
    return;

string:

    /* 'text', '' standing for one ' */

    for (i++; i < len; i++) {
        if (s[i] != '\'') {
            continue;
        }

        if (i + 1 < len && s[i + 1] == '\'') {
            i++;
            continue;
        }

        break;
    }

    if (i == len) {
        /* not closed */
        t->type = NGX_RH_T_BAD;
        f->pos = len;
        return;
    }

    if (t->type == NGX_RH_T_WORD) {
        t->type = NGX_RH_T_TYPED;
        t->str = t->data + t->len + 1;
        t->str_len = s + i - t->str;

    } else {
        t->type = NGX_RH_T_STRING;
        t->data = s + t->start + 1;
        t->len = i - t->start - 1;
    }

    f->pos = i + 1;
}


static int
ngx_rh_word_is(ngx_rh_token_t *t, const char *word)
{
    size_t  len;

    len = strlen(word);

    return t->type == NGX_RH_T_WORD && t->len == len
           && memcmp(t->data, word, len) == 0;
}


static int
ngx_rh_filter_syntax(ngx_rh_filter_t *f, size_t pos)
{
    if (f->text_len > NGX_RH_QUOTE_MAX) {
        return ngx_rh_filter_fail(f, "Syntax error at position %zu in the "
                                  "$filter query option ('%.*s...').", pos,
                                  ngx_rh_quoted(f->text, f->text_len),
                                  f->text);
    }

    return ngx_rh_filter_fail(f, "Syntax error at position %zu in '%.*s'.",
                              pos, (int) f->text_len, f->text);
}


/* how much of a text a message quotes: at most 200 bytes, whole characters */

static int
ngx_rh_quoted(const unsigned char *s, size_t len)
{
    if (len <= NGX_RH_QUOTE_MAX) {
        return (int) len;
    }

    len = NGX_RH_QUOTE_MAX;

    while (len > 0 && (s[len] & 0xc0) == 0x80) {
        len--;
    }

    return (int) len;
}


static int
ngx_rh_filter_fail(ngx_rh_filter_t *f, const char *fmt, ...)
{
    va_list  args;

    if (f->message[0] == '\0') {
        va_start(args, fmt);
        vsnprintf(f->message, sizeof(f->message), fmt, args);
        va_end(args);
    }

    return -1;
}
