/*
 * sema.c: checks a parsed .la file and builds the Variant that later stages
 * (the CPU reference now, the code generator next) consume.
 *
 * Every check cites the section of docs/language.md that it enforces. Sema
 * reports every error it can find in one run and never stops at the first;
 * an expression whose operand already failed carries Type.err so that one
 * mistake produces one message.
 *
 * Order of work (section 2.2): collect declarations and singleton statements
 * (duplicates), apply --set overrides, evaluate params in order, resolve
 * input layouts, type lets in order, then query/key/value, scale, decay,
 * mask, normalization and the tuning space, then unused-name warnings.
 */
#include <math.h>
#include <string.h>

#include "lac_internal.h"

typedef struct Sema {
    Arena *a;
    Diags *d;
    const AttnDecl *decl;
    Variant *v;
    PtrVec syms;          /* params, inputs, lets: in source order */
    Stmt *single[ST_TUNE + 1]; /* the one query/key/value/scale/decay/normalize/mask */
    Stmt *tile_items[KNOB_COUNT_];
    Stmt *tune_items[KNOB_COUNT_];
    Symbol *current;      /* the param or let being defined (for self-reference) */
    bool in_param;        /* typing a param value: only constants allowed */
} Sema;

static const Interval FULL = {-INFINITY, INFINITY};

/* ------------------------------------------------------------------------
 * Intervals (section 7.2: the log-space rule is proven by interval analysis)
 * ------------------------------------------------------------------------ */

static Interval iv(double lo, double hi)
{
    Interval r = {isnan(lo) ? -INFINITY : lo, isnan(hi) ? INFINITY : hi};
    return r;
}

static Interval iv_point(double x) { return iv(x, x); }

/* Endpoint product with the convention 0 * inf = 0 (limits of bounded values). */
static double mulx(double a, double b) { return (a == 0 || b == 0) ? 0 : a * b; }

static Interval iv_add(Interval a, Interval b) { return iv(a.lo + b.lo, a.hi + b.hi); }
static Interval iv_neg(Interval a) { return iv(-a.hi, -a.lo); }
static Interval iv_sub(Interval a, Interval b) { return iv_add(a, iv_neg(b)); }

static Interval iv_mul(Interval a, Interval b)
{
    double p[4] = {mulx(a.lo, b.lo), mulx(a.lo, b.hi), mulx(a.hi, b.lo), mulx(a.hi, b.hi)};
    double lo = p[0], hi = p[0];
    for (int i = 1; i < 4; i++) {
        if (p[i] < lo) lo = p[i];
        if (p[i] > hi) hi = p[i];
    }
    return iv(lo, hi);
}

static Interval iv_div(Interval a, Interval b)
{
    if (b.lo <= 0 && b.hi >= 0) return FULL;
    return iv_mul(a, iv(1 / b.hi, 1 / b.lo));
}

static Interval iv_union(Interval a, Interval b)
{
    return iv(a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi);
}

static Interval iv_monotone(Builtin f, Interval a)
{
    return iv(builtin_apply1(f, a.lo), builtin_apply1(f, a.hi));
}

static Interval iv_unary(Builtin f, Interval a)
{
    switch (f) {
    case BI_EXP: case BI_SIGMOID: case BI_LOGSIGMOID: case BI_SOFTPLUS: case BI_TANH:
    case BI_ELU: case BI_RELU:
        return iv_monotone(f, a);
    case BI_LOG:
        if (a.hi <= 0) return FULL;
        return iv(a.lo <= 0 ? -INFINITY : log(a.lo), log(a.hi));
    case BI_SQRT:
        if (a.hi < 0) return FULL;
        return iv(a.lo <= 0 ? 0 : sqrt(a.lo), sqrt(a.hi));
    case BI_SILU: {
        /* silu has its minimum -0.27846... at x = -1.27846... */
        const double xm = -1.2784645427610738, ym = -0.2784645427610738;
        double slo = isinf(a.lo) ? (a.lo < 0 ? 0 : INFINITY) : builtin_apply1(BI_SILU, a.lo);
        double shi = isinf(a.hi) ? (a.hi < 0 ? 0 : INFINITY) : builtin_apply1(BI_SILU, a.hi);
        double lo = (a.lo < xm && a.hi > xm) ? ym : (slo < shi ? slo : shi);
        return iv(lo, slo > shi ? slo : shi);
    }
    case BI_COS: case BI_SIN:
        return iv(-1, 1);
    case BI_ABS:
        if (a.lo >= 0) return a;
        if (a.hi <= 0) return iv_neg(a);
        return iv(0, -a.lo > a.hi ? -a.lo : a.hi);
    default:
        return FULL;
    }
}

static Interval iv_pow(Interval x, Interval y)
{
    if (x.lo > 0) return iv_unary(BI_EXP, iv_mul(y, iv_unary(BI_LOG, x)));
    if (x.lo >= 0 && y.lo > 0) return iv(0, INFINITY);
    return FULL;
}

/* ------------------------------------------------------------------------
 * Names (section 5.4 built-ins, 5.3 functions)
 * ------------------------------------------------------------------------ */

typedef enum FnKind { FN_UNARY, FN_BINARY, FN_REDUCE, FN_ROWMAP, FN_CONCAT, FN_OUTER, FN_ONES } FnKind;

static const struct FnInfo {
    const char *name;
    Builtin fn;
    FnKind kind;
} functions[] = {
    {"exp", BI_EXP, FN_UNARY},         {"log", BI_LOG, FN_UNARY},
    {"sqrt", BI_SQRT, FN_UNARY},       {"relu", BI_RELU, FN_UNARY},
    {"elu", BI_ELU, FN_UNARY},         {"sigmoid", BI_SIGMOID, FN_UNARY},
    {"logsigmoid", BI_LOGSIGMOID, FN_UNARY}, {"silu", BI_SILU, FN_UNARY},
    {"cos", BI_COS, FN_UNARY},         {"sin", BI_SIN, FN_UNARY},
    {"softplus", BI_SOFTPLUS, FN_UNARY}, {"tanh", BI_TANH, FN_UNARY},
    {"abs", BI_ABS, FN_UNARY},         {"pow", BI_POW, FN_BINARY},
    {"minimum", BI_MINIMUM, FN_BINARY}, {"maximum", BI_MAXIMUM, FN_BINARY},
    {"sum", BI_SUM, FN_REDUCE},        {"max", BI_MAX, FN_REDUCE},
    {"min", BI_MIN, FN_REDUCE},        {"mean", BI_MEAN, FN_REDUCE},
    {"softmax", BI_SOFTMAX, FN_ROWMAP}, {"concat", BI_CONCAT, FN_CONCAT},
    {"outer", BI_OUTER, FN_OUTER},     {"ones", BI_ONES, FN_ONES},
};
enum { NFUNCTIONS = sizeof functions / sizeof functions[0] };

static const struct {
    const char *name;
    Builtin b;
} builtin_names[] = {
    {"pos", BI_POS}, {"head", BI_HEAD}, {"num_heads", BI_NUM_HEADS},
    {"seq_len", BI_SEQ_LEN}, {"pi", BI_PI},
};
enum { NBUILTIN_NAMES = sizeof builtin_names / sizeof builtin_names[0] };

static const struct FnInfo *function_find(const char *name)
{
    for (int i = 0; i < NFUNCTIONS; i++)
        if (strcmp(functions[i].name, name) == 0) return &functions[i];
    return NULL;
}

static Builtin builtin_name_find(const char *name)
{
    for (int i = 0; i < NBUILTIN_NAMES; i++)
        if (strcmp(builtin_names[i].name, name) == 0) return builtin_names[i].b;
    return BI_NONE;
}

static bool is_axis_name(const char *n)
{
    return strcmp(n, "B") == 0 || strcmp(n, "T") == 0 || strcmp(n, "H") == 0;
}

static Symbol *sym_find(Sema *s, const char *name)
{
    for (int i = 0; i < s->syms.len; i++) {
        Symbol *y = s->syms.items[i];
        if (strcmp(y->name, name) == 0) return y;
    }
    return NULL;
}

/* Candidates for "did you mean": symbols plus built-in names (+ functions). */
static const char *suggest_name(Sema *s, const char *name, bool functions_too)
{
    const char *cands[512];
    int n = 0;
    for (int i = 0; i < s->syms.len && n < 400; i++) cands[n++] = ((Symbol *)s->syms.items[i])->name;
    for (int i = 0; i < NBUILTIN_NAMES; i++) cands[n++] = builtin_names[i].name;
    if (functions_too)
        for (int i = 0; i < NFUNCTIONS; i++) cands[n++] = functions[i].name;
    cands[n] = NULL;
    return str_suggest(name, cands);
}

/* The closest parameter name, for "did you mean" after --set and in layouts. */
static const char *suggest_param(Sema *s, const char *name)
{
    const char *cands[256];
    int n = 0;
    for (int i = 0; i < s->syms.len && n < 255; i++) {
        Symbol *y = s->syms.items[i];
        if (y->kind == SYM_PARAM) cands[n++] = y->name;
    }
    cands[n] = NULL;
    return str_suggest(name, cands);
}

static const char *sym_kind_name(SymKind k)
{
    return k == SYM_PARAM ? "parameter" : k == SYM_INPUT ? "input" : "let";
}

static const char *sym_kind_article(SymKind k)
{
    return k == SYM_PARAM ? "a parameter" : k == SYM_INPUT ? "an input" : "a let";
}

/* ------------------------------------------------------------------------
 * Expression typing (section 5)
 * ------------------------------------------------------------------------ */

static Type type_err(void)
{
    Type t = {0};
    t.err = true;
    t.cols = 1;
    t.range = FULL;
    return t;
}

static Type type_known(double v)
{
    Type t = {0};
    t.var = VAR_CONST;
    t.cols = 1;
    t.known = true;
    t.value = v;
    t.range = iv_point(v);
    return t;
}

static Type type_row(Variation var, int cols, Interval r)
{
    Type t = {0};
    t.var = var;
    t.cols = cols;
    t.range = r;
    return t;
}

static Variation var_join(Variation a, Variation b) { return a > b ? a : b; }

static Type expr_type(Sema *s, Expr *e);

/* A matrix may only be the right operand of '@' (section 5.2). */
static bool require_row(Sema *s, Expr *e, const char *what)
{
    if (e->type.err) return false;
    if (e->type.rows > 0) {
        diag_error(s->d, e->loc,
                   "a weight matrix [%d x %d] cannot be %s; it can only be the right operand "
                   "of '@'",
                   e->type.rows, e->type.cols, what);
        return false;
    }
    return true;
}

static void note_shape(Sema *s, Diag *g, const Expr *e)
{
    diag_note(s->d, g, e->loc, "this has %d channel%s", e->type.cols, e->type.cols == 1 ? "" : "s");
}

/* Elementwise broadcasting: equal channels, or one side has one channel. */
static bool broadcast(Sema *s, Expr *e, Expr *l, Expr *r, const char *opname, Type *out)
{
    int lc = l->type.cols, rc = r->type.cols;
    if (lc != rc && lc != 1 && rc != 1) {
        Diag *g = diag_error(s->d, e->loc,
                             "shape mismatch in '%s': the left operand has %d channels, the "
                             "right one %d (section 5.2)",
                             opname, lc, rc);
        note_shape(s, g, l);
        note_shape(s, g, r);
        return false;
    }
    *out = type_row(var_join(l->type.var, r->type.var), lc > rc ? lc : rc, FULL);
    return true;
}

static void check_channels(Sema *s, Expr *e, long cols, Type *t)
{
    if (cols > LAC_MAX_CHANNELS) {
        diag_error(s->d, e->loc, "this has %ld channels, more than the limit of %d", cols,
                   LAC_MAX_CHANNELS);
        *t = type_err();
    }
}

/* The interval of e from its children's current intervals (section 7.2).
 * Typing uses it once; range_recompute uses it again after the assumed
 * ranges of inputs change, so both follow the same rules. */
static Interval node_range(const Expr *e)
{
    Interval l = e->lhs ? e->lhs->type.range : FULL, r = e->rhs ? e->rhs->type.range : FULL;
    Interval a0 = e->nargs > 0 ? e->args[0]->type.range : FULL;
    Interval a1 = e->nargs > 1 ? e->args[1]->type.range : FULL;
    switch (e->kind) {
    case EX_NAME:
        if (e->sym) return e->sym->type.range;
        switch (e->fn) {
        case BI_POS: case BI_HEAD: return iv(0, INFINITY);
        case BI_NUM_HEADS: case BI_SEQ_LEN: return iv(1, INFINITY);
        default: return FULL;
        }
    case EX_NEG: return iv_neg(l);
    case EX_BIN:
        switch (e->op) {
        case OP_ADD: return iv_add(l, r);
        case OP_SUB: return iv_sub(l, r);
        case OP_MUL: return iv_mul(l, r);
        case OP_DIV: return iv_div(l, r);
        case OP_MATMUL: return FULL;
        }
        return FULL;
    case EX_CALL:
        switch (e->fn) {
        case BI_POW: return iv_pow(a0, a1);
        case BI_MINIMUM: return iv(fmin(a0.lo, a1.lo), fmin(a0.hi, a1.hi));
        case BI_MAXIMUM: return iv(fmax(a0.lo, a1.lo), fmax(a0.hi, a1.hi));
        case BI_SUM: return iv_mul(a0, iv_point(e->args[0]->type.cols));
        case BI_MAX: case BI_MIN: case BI_MEAN: return a0;
        case BI_SOFTMAX: return iv(0, 1);
        case BI_CONCAT: {
            Interval u = a0;
            for (int i = 1; i < e->nargs; i++) u = iv_union(u, e->args[i]->type.range);
            return u;
        }
        case BI_OUTER: return iv_mul(a0, a1);
        case BI_ONES: return iv_point(1);
        default: return iv_unary(e->fn, a0);
        }
    default: return FULL;
    }
}

static Type type_name(Sema *s, Expr *e)
{
    Symbol *y = sym_find(s, e->name);
    if (y) {
        e->sym = y;
        y->used = true;
        if (s->in_param && y->kind != SYM_PARAM) {
            Diag *g = diag_error(s->d, e->loc,
                                 "a parameter must be a compile-time constant, but '%s' is %s "
                                 "(section 3)",
                                 e->name, sym_kind_article(y->kind));
            diag_note(s->d, g, y->loc, "'%s' is declared here", y->name);
            return type_err();
        }
        if (y == s->current) {
            diag_error(s->d, e->loc, "'%s' refers to itself", e->name);
            return type_err();
        }
        if ((y->kind == SYM_PARAM || y->kind == SYM_LET) && y->type.cols == 0 && !y->type.err) {
            Diag *g = diag_error(s->d, e->loc, "'%s' is used before its definition (section 2.2)",
                                 e->name);
            diag_note(s->d, g, y->loc, "'%s' is defined here", y->name);
            return type_err();
        }
        if (y->type.err) return type_err();
        if (y->kind == SYM_PARAM) return type_known(y->value);
        return y->type;
    }
    Builtin b = builtin_name_find(e->name);
    if (b != BI_NONE) {
        e->fn = b;
        if (b == BI_PI) return type_known(M_PI);
        if (s->in_param) {
            diag_error(s->d, e->loc,
                       "a parameter must be a compile-time constant, but '%s' is only known at "
                       "run time (section 3)",
                       e->name);
            return type_err();
        }
        return type_row(b == BI_POS ? VAR_TOKEN : VAR_UNIFORM, 1, node_range(e));
    }
    if (function_find(e->name)) {
        diag_error(s->d, e->loc, "'%s' is a function; call it as %s(...)", e->name, e->name);
        return type_err();
    }
    if (is_axis_name(e->name)) {
        Diag *g = diag_error(s->d, e->loc, "'%s' is an axis of the input layouts, not a value",
                             e->name);
        diag_note_noloc(s->d, g, "the head index is 'head', the head count 'num_heads', the "
                                 "token position 'pos' and the sequence length 'seq_len'");
        return type_err();
    }
    Diag *g = diag_error(s->d, e->loc, "unknown name '%s'", e->name);
    const char *sug = suggest_name(s, e->name, false);
    if (sug) diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
    return type_err();
}

static bool known_positive_int(Sema *s, Expr *e, const char *what, int max, int *out)
{
    if (e->type.err) return false;
    if (!e->type.known) {
        diag_error(s->d, e->loc, "%s must be a constant number", what);
        return false;
    }
    double v = e->type.value;
    if (v != floor(v) || v < 1 || v > max) {
        diag_error(s->d, e->loc, "%s must be an integer from 1 to %d, got %g", what, max, v);
        return false;
    }
    *out = (int)v;
    return true;
}

static Type type_call(Sema *s, Expr *e)
{
    const struct FnInfo *fi = function_find(e->name);
    for (int i = 0; i < e->nargs; i++) expr_type(s, e->args[i]);
    if (!fi) {
        Symbol *y = sym_find(s, e->name);
        if (y) {
            y->used = true;
            diag_error(s->d, e->name_loc, "'%s' is %s, not a function", e->name,
                       sym_kind_article(y->kind));
        } else if (builtin_name_find(e->name) != BI_NONE) {
            diag_error(s->d, e->name_loc, "'%s' is a built-in value, not a function", e->name);
        } else {
            const char *cands[NFUNCTIONS + 1];
            for (int i = 0; i < NFUNCTIONS; i++) cands[i] = functions[i].name;
            cands[NFUNCTIONS] = NULL;
            Diag *g = diag_error(s->d, e->name_loc, "unknown function '%s' (section 5.3)", e->name);
            const char *sug = str_suggest(e->name, cands);
            if (sug) diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
        }
        return type_err();
    }
    e->fn = fi->fn;
    int want_min = 1, want_max = 1;
    switch (fi->kind) {
    case FN_BINARY: case FN_OUTER: want_min = want_max = 2; break;
    case FN_CONCAT: want_min = 2; want_max = 1 << 20; break;
    default: break;
    }
    if (e->nargs < want_min || e->nargs > want_max) {
        Diag *g;
        if (want_min == want_max)
            g = diag_error(s->d, e->loc, "%s takes %d argument%s, got %d", fi->name, want_min,
                           want_min == 1 ? "" : "s", e->nargs);
        else
            g = diag_error(s->d, e->loc, "%s takes at least %d arguments, got %d", fi->name,
                           want_min, e->nargs);
        if ((fi->fn == BI_MAX || fi->fn == BI_MIN) && e->nargs == 2)
            diag_note_noloc(s->d, g, "%s(x) reduces a row; the elementwise form is %s(a, b)",
                            fi->name, fi->fn == BI_MAX ? "maximum" : "minimum");
        return type_err();
    }
    for (int i = 0; i < e->nargs; i++) {
        if (e->args[i]->type.err) return type_err();
        if (fi->kind != FN_ONES && !require_row(s, e->args[i], "an argument of a function"))
            return type_err();
    }
    Expr *x = e->args[0];
    Type t;
    switch (fi->kind) {
    case FN_UNARY:
        if (x->type.known) return type_known(builtin_apply1(fi->fn, x->type.value));
        if (fi->fn == BI_LOG && x->type.range.hi <= 0) {
            diag_error(s->d, e->loc, "log of a value that is never positive");
            return type_err();
        }
        if (fi->fn == BI_SQRT && x->type.range.hi < 0) {
            diag_error(s->d, e->loc, "sqrt of a value that is always negative");
            return type_err();
        }
        return type_row(x->type.var, x->type.cols, node_range(e));
    case FN_BINARY: {
        Expr *y = e->args[1];
        if (x->type.known && y->type.known)
            return type_known(builtin_apply2(fi->fn, x->type.value, y->type.value));
        if (!broadcast(s, e, x, y, fi->name, &t)) return type_err();
        t.range = node_range(e);
        return t;
    }
    case FN_REDUCE:
        if (x->type.known) return type_known(x->type.value); /* a reduction of one value */
        return type_row(x->type.var, 1, node_range(e));
    case FN_ROWMAP:
        return type_row(x->type.var, x->type.cols, node_range(e));
    case FN_CONCAT: {
        long cols = 0;
        t = type_row(VAR_CONST, 1, node_range(e));
        for (int i = 0; i < e->nargs; i++) {
            cols += e->args[i]->type.cols;
            t.var = var_join(t.var, e->args[i]->type.var);
        }
        t.cols = (int)(cols > LAC_MAX_CHANNELS ? LAC_MAX_CHANNELS : cols);
        check_channels(s, e, cols, &t);
        return t;
    }
    case FN_OUTER: {
        Expr *y = e->args[1];
        long cols = (long)x->type.cols * y->type.cols;
        t = type_row(var_join(x->type.var, y->type.var), 1, node_range(e));
        t.cols = (int)(cols > LAC_MAX_CHANNELS ? LAC_MAX_CHANNELS : cols);
        check_channels(s, e, cols, &t);
        return t;
    }
    case FN_ONES: {
        int n = 0;
        if (!known_positive_int(s, x, "the channel count of ones()", LAC_MAX_CHANNELS, &n))
            return type_err();
        if (n == 1) return type_known(1);
        return type_row(VAR_CONST, n, node_range(e));
    }
    }
    return type_err();
}

static Type type_bin(Sema *s, Expr *e)
{
    Expr *l = e->lhs, *r = e->rhs;
    expr_type(s, l);
    expr_type(s, r);
    if (l->type.err || r->type.err) return type_err();
    if (e->op == OP_MATMUL) {
        if (l->type.rows > 0) {
            diag_error(s->d, l->loc,
                       "the left operand of '@' must be a row of channels, not a weight matrix");
            return type_err();
        }
        if (r->type.rows == 0) {
            Diag *g = diag_error(s->d, r->loc,
                                 "the right operand of '@' must be a weight matrix, but this is a "
                                 "row of %d channel%s (section 5.2)",
                                 r->type.cols, r->type.cols == 1 ? "" : "s");
            diag_note_noloc(s->d, g, "weights are inputs with a layout [R, C] or [H, R, C]");
            return type_err();
        }
        if (l->type.cols != r->type.rows) {
            Diag *g = diag_error(s->d, e->loc,
                                 "shape mismatch in '@': the row has %d channels but the matrix "
                                 "has %d rows",
                                 l->type.cols, r->type.rows);
            note_shape(s, g, l);
            if (r->kind == EX_NAME && r->sym)
                diag_note(s->d, g, r->sym->loc, "'%s' is declared here as [%d x %d]", r->sym->name,
                          r->type.rows, r->type.cols);
            return type_err();
        }
        return type_row(var_join(l->type.var, r->type.var), r->type.cols, FULL);
    }
    if (!require_row(s, l, "an operand of an elementwise operator") ||
        !require_row(s, r, "an operand of an elementwise operator"))
        return type_err();
    if (e->op == OP_DIV && r->type.known && r->type.value == 0) {
        diag_error(s->d, r->loc, "division by zero");
        return type_err();
    }
    if (l->type.known && r->type.known)
        return type_known(binop_apply(e->op, l->type.value, r->type.value));
    Type t;
    if (!broadcast(s, e, l, r, binop_spelling(e->op), &t)) return type_err();
    t.range = node_range(e);
    return t;
}

static Type expr_type(Sema *s, Expr *e)
{
    Type t;
    switch (e->kind) {
    case EX_NUM: t = type_known(e->num); break;
    case EX_NAME: t = type_name(s, e); break;
    case EX_NEG:
        expr_type(s, e->lhs);
        if (e->lhs->type.err || !require_row(s, e->lhs, "negated")) {
            t = type_err();
        } else if (e->lhs->type.known) {
            t = type_known(-e->lhs->type.value);
        } else {
            t = e->lhs->type;
            t.range = node_range(e);
        }
        break;
    case EX_BIN: t = type_bin(s, e); break;
    case EX_CALL: t = type_call(s, e); break;
    case EX_ERROR:
    default: t = type_err(); break;
    }
    if (t.known && !isfinite(t.value) && !t.err) {
        if (isnan(t.value))
            diag_error(s->d, e->loc, "this constant is not a number (NaN)");
        else
            diag_error(s->d, e->loc, "this constant overflows to %sinfinity", t.value < 0 ? "-" : "");
        t = type_err();
    }
    e->type = t;
    return t;
}

/* Recompute ranges in place (after changing the assumed range of inputs). */
static void range_recompute(Expr *e)
{
    if (e->type.err || e->type.known) return;
    if (e->lhs) range_recompute(e->lhs);
    if (e->rhs) range_recompute(e->rhs);
    for (int i = 0; i < e->nargs; i++) range_recompute(e->args[i]);
    e->type.range = node_range(e);
}

/* Inputs (through lets) that an expression reads. Each let is walked once
 * (`seen`), so chains of lets that reuse each other stay linear. */
static void collect_inputs(Expr *e, PtrVec *out, PtrVec *seen, Arena *a)
{
    if (!e) return;
    if (e->kind == EX_NAME && e->sym) {
        Symbol *y = e->sym;
        if (y->kind == SYM_INPUT || y->kind == SYM_LET) {
            for (int i = 0; i < seen->len; i++)
                if (seen->items[i] == y) return;
            ptrvec_push(a, seen, y);
            if (y->kind == SYM_INPUT)
                ptrvec_push(a, out, y);
            else
                collect_inputs(y->expr, out, seen, a);
        }
    }
    collect_inputs(e->lhs, out, seen, a);
    collect_inputs(e->rhs, out, seen, a);
    for (int i = 0; i < e->nargs; i++) collect_inputs(e->args[i], out, seen, a);
}

/* ------------------------------------------------------------------------
 * Declarations (sections 2-4)
 * ------------------------------------------------------------------------ */

static void declare(Sema *s, Stmt *st, SymKind kind)
{
    const char *n = st->name;
    if (function_find(n) || builtin_name_find(n) != BI_NONE) {
        diag_error(s->d, st->name_loc, "'%s' is a built-in name and cannot be redefined", n);
        return;
    }
    if (is_axis_name(n)) {
        diag_error(s->d, st->name_loc,
                   "'%s' is reserved for the %s axis of input layouts and cannot be redefined", n,
                   n[0] == 'B' ? "batch" : n[0] == 'T' ? "token" : "head");
        return;
    }
    Symbol *old = sym_find(s, n);
    if (old) {
        Diag *g = diag_error(s->d, st->name_loc, "redefinition of '%s'", n);
        diag_note(s->d, g, old->loc, "'%s' was first defined here as %s", n,
                  sym_kind_article(old->kind));
        return;
    }
    Symbol *y = arena_alloc(s->a, sizeof *y);
    y->kind = kind;
    y->name = n;
    y->loc = st->name_loc;
    y->stmt = st;
    y->expr = st->expr;
    ptrvec_push(s->a, &s->syms, y);
}

static int knob_find(const char *name)
{
    for (int k = 0; k < KNOB_COUNT_; k++)
        if (strcmp(knob_name(k), name) == 0) return k;
    return -1;
}

static void collect(Sema *s)
{
    const AttnDecl *dc = s->decl;
    for (int i = 0; i < dc->nstmts; i++) {
        Stmt *st = dc->stmts[i];
        switch (st->kind) {
        case ST_PARAM: declare(s, st, SYM_PARAM); break;
        case ST_INPUT: declare(s, st, SYM_INPUT); break;
        case ST_LET: declare(s, st, SYM_LET); break;
        case ST_TILE: case ST_TUNE: {
            Stmt **slot = st->kind == ST_TILE ? s->tile_items : s->tune_items;
            int k = knob_find(st->name);
            if (k < 0) {
                const char *cands[KNOB_COUNT_ + 1];
                for (int j = 0; j < KNOB_COUNT_; j++) cands[j] = knob_name(j);
                cands[KNOB_COUNT_] = NULL;
                Diag *g = diag_error(s->d, st->name_loc, "unknown %s setting '%s' (section 11)",
                                     stmt_kind_name(st->kind), st->name);
                const char *sug = str_suggest(st->name, cands);
                if (sug)
                    diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
                else
                    diag_note_noloc(s->d, g, "the settings are chunk, subchunk, block_k, block_v, "
                                             "warps and stages");
                break;
            }
            if (slot[k]) {
                Diag *g = diag_error(s->d, st->name_loc, "'%s' is set twice in %s statements",
                                     st->name, stmt_kind_name(st->kind));
                diag_note(s->d, g, slot[k]->name_loc, "first set here");
                break;
            }
            slot[k] = st;
            break;
        }
        default:
            if (s->single[st->kind]) {
                Diag *g = diag_error(s->d, st->loc, "duplicate '%s' statement",
                                     stmt_kind_name(st->kind));
                diag_note(s->d, g, s->single[st->kind]->loc, "the first one is here");
                break;
            }
            s->single[st->kind] = st;
            break;
        }
    }
}

static void apply_overrides(Sema *s, const ParamOverride *ovr, int novr)
{
    for (int i = 0; i < novr; i++) {
        Symbol *y = sym_find(s, ovr[i].name);
        if (!y || y->kind != SYM_PARAM) {
            Diag *g = diag_error_noloc(s->d, "<command line>",
                                       "--set %s: attention '%s' has no parameter named '%s'",
                                       ovr[i].name, s->v->name, ovr[i].name);
            const char *sug = suggest_param(s, ovr[i].name);
            if (sug) diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
            continue;
        }
        y->overridden = true;
        y->value = ovr[i].value;
        y->is_int = ovr[i].is_int;
    }
}

static void check_params(Sema *s)
{
    for (int i = 0; i < s->syms.len; i++) {
        Symbol *y = s->syms.items[i];
        if (y->kind != SYM_PARAM) continue;
        s->in_param = true;
        s->current = y;
        expr_type(s, y->expr);
        s->in_param = false;
        s->current = NULL;
        if (y->expr->type.err) {
            y->type = type_err();
            continue;
        }
        if (!y->expr->type.known) {
            diag_error(s->d, y->expr->loc, "the value of parameter '%s' must be a constant number",
                       y->name);
            y->type = type_err();
            continue;
        }
        if (!y->overridden) y->value = y->expr->type.value;
        y->type = type_known(y->value);
    }
}

/* Section 4.2: the layouts an input may have. */
static void check_input(Sema *s, Symbol *y)
{
    Stmt *st = y->stmt;
    y->type = type_err(); /* until proven fine */
    /* "input q, k : bf16[...]" is one declaration: check it once, so one
     * mistake in it is one error. */
    for (int i = 0; i < s->syms.len && s->syms.items[i] != y; i++) {
        Symbol *x = s->syms.items[i];
        if (x->kind == SYM_INPUT && x->stmt->dtype_loc.off == st->dtype_loc.off &&
            !x->stmt->dims_on_name && !st->dims_on_name) {
            y->dtype = x->dtype;
            y->layout = x->layout;
            y->rows = x->rows;
            y->cols = x->cols;
            y->type = x->type;
            return;
        }
    }
    if (st->dims_on_name) {
        Diag *g = diag_error(s->d, st->name_dims_loc,
                             "the layout of an input is written after its dtype (section 4)");
        diag_note_noloc(s->d, g, "for example: input %s : bf16[B, T, H, K];", y->name);
        return;
    }
    static const struct {
        const char *name;
        DType t;
    } dtypes[] = {{"bf16", DT_BF16}, {"f16", DT_F16}, {"fp16", DT_F16},
                  {"f32", DT_F32},   {"fp32", DT_F32}};
    bool found = false;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(st->dtype, dtypes[i].name) == 0) {
            y->dtype = dtypes[i].t;
            found = true;
        }
    if (!found) {
        const char *cands[] = {"bf16", "f16", "f32", NULL};
        Diag *g = diag_error(s->d, st->dtype_loc,
                             "unknown dtype '%s'; the dtypes are bf16, f16 and f32 (section 4.1)",
                             st->dtype);
        const char *sug = str_suggest(st->dtype, cands);
        if (sug) diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
    }
    if (st->ndims == 0) {
        Diag *g = diag_error(s->d, st->dtype_loc, "input '%s' needs a layout after its dtype",
                             y->name);
        diag_note_noloc(s->d, g, "for example: input %s : %s[B, T, H, K];", y->name, st->dtype);
        return;
    }
    /* Leading axes, then channel dims. */
    int axes[3] = {0}, naxes = 0, nchan = 0;
    int chan[4];
    bool ok = found;
    for (int i = 0; i < st->ndims; i++) {
        Dim *dm = &st->dims[i];
        if (dm->name && is_axis_name(dm->name)) {
            if (nchan > 0) {
                diag_error(s->d, dm->loc,
                           "the axis '%s' must come before the channel dimensions (section 4.2)",
                           dm->name);
                ok = false;
                continue;
            }
            if (naxes < 3) axes[naxes] = dm->name[0];
            naxes++;
            continue;
        }
        int v = 0;
        if (dm->name) {
            Symbol *p = sym_find(s, dm->name);
            if (!p || p->kind != SYM_PARAM) {
                if (p) {
                    diag_error(s->d, dm->loc,
                               "'%s' is %s, not a parameter; channel dimensions are parameters or "
                               "integers (section 4.2)",
                               dm->name, sym_kind_article(p->kind));
                    ok = false;
                    continue;
                }
                Diag *g = diag_error(s->d, dm->loc, "'%s' is not a parameter; channel dimensions "
                                                    "are parameters or integers (section 4.2)",
                                     dm->name);
                const char *sug = suggest_param(s, dm->name);
                if (sug) diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
                ok = false;
                continue;
            }
            p->used = true;
            if (p->type.err) {
                ok = false;
                continue;
            }
            double pv = p->value;
            if (pv != floor(pv) || pv < 1 || pv > LAC_MAX_DIM) {
                Diag *g = diag_error(s->d, dm->loc,
                                     "dimension '%s' = %g must be an integer from 1 to %d",
                                     dm->name, pv, LAC_MAX_DIM);
                if (p->overridden)
                    diag_note_noloc(s->d, g, "the value comes from --set %s=%g", p->name, pv);
                else
                    diag_note(s->d, g, p->loc, "'%s' is defined here", p->name);
                ok = false;
                continue;
            }
            v = (int)pv;
        } else {
            if (dm->num != floor(dm->num) || dm->num < 1 || dm->num > LAC_MAX_DIM) {
                diag_error(s->d, dm->loc, "dimension %g must be an integer from 1 to %d", dm->num,
                           LAC_MAX_DIM);
                ok = false;
                continue;
            }
            v = (int)dm->num;
        }
        if (nchan < 4) chan[nchan] = v;
        nchan++;
    }
    if (!ok) return;
    char ax[4] = {0};
    for (int i = 0; i < naxes && i < 3; i++) ax[i] = (char)axes[i];
    Layout lay;
    bool valid = true;
    if (naxes > 3 || nchan > 2)
        valid = false;
    else if (strcmp(ax, "BTH") == 0 && nchan <= 1)
        lay = nchan == 0 ? LAYOUT_TOKEN : LAYOUT_TOKEN_VEC;
    else if (strcmp(ax, "H") == 0)
        lay = nchan == 0 ? LAYOUT_HEAD : nchan == 1 ? LAYOUT_HEAD_VEC : LAYOUT_HEAD_MAT;
    else if (naxes == 0 && nchan >= 1)
        lay = nchan == 1 ? LAYOUT_SHARED_VEC : LAYOUT_SHARED_MAT;
    else
        valid = false;
    if (!valid) {
        Diag *g = diag_error(s->d, st->dims_loc, "unsupported input layout (section 4.2)");
        diag_note_noloc(s->d, g,
                        "per-token inputs use fla's layout [B, T, H] or [B, T, H, C]; per-head "
                        "inputs [H], [H, C] or [H, R, C]; shared weights [C] or [R, C]");
        return;
    }
    y->layout = lay;
    Type t = type_row(VAR_UNIFORM, 1, FULL);
    switch (lay) {
    case LAYOUT_TOKEN: t.var = VAR_TOKEN; break;
    case LAYOUT_TOKEN_VEC: t.var = VAR_TOKEN; t.cols = chan[0]; break;
    case LAYOUT_HEAD: break;
    case LAYOUT_HEAD_VEC: case LAYOUT_SHARED_VEC: t.cols = chan[0]; break;
    case LAYOUT_HEAD_MAT: case LAYOUT_SHARED_MAT: t.rows = chan[0]; t.cols = chan[1]; break;
    }
    y->rows = t.rows;
    y->cols = t.cols;
    y->type = t;
}

static void check_lets(Sema *s)
{
    for (int i = 0; i < s->syms.len; i++) {
        Symbol *y = s->syms.items[i];
        if (y->kind != SYM_LET) continue;
        s->current = y;
        Type t = expr_type(s, y->expr);
        s->current = NULL;
        y->type = t;
        if (t.err) continue;
        if (t.rows > 0) {
            diag_error(s->d, y->expr->loc, "a let cannot hold a weight matrix; use the input "
                                           "directly on the right of '@'");
            y->type = type_err();
        }
    }
}

/* ------------------------------------------------------------------------
 * The attention core: sections 6-10
 * ------------------------------------------------------------------------ */

/* query/key/value default to the inputs q, k and v (section 6). */
static Expr *feature(Sema *s, StmtKind kind, const char *input)
{
    Stmt *st = s->single[kind];
    Expr *e;
    if (st) {
        e = st->expr;
    } else {
        Symbol *y = sym_find(s, input);
        if (!y || y->kind != SYM_INPUT) {
            Diag *g = diag_error(s->d, s->decl->name_loc,
                                 "attention '%s' has no '%s' statement and no input named '%s' "
                                 "(section 6)",
                                 s->decl->name, stmt_kind_name(kind), input);
            diag_note_noloc(s->d, g, "write '%s = <expression>;' or declare 'input %s : ...'",
                            stmt_kind_name(kind), input);
            return NULL;
        }
        e = expr_new(s->a, EX_NAME, y->loc);
        e->name = y->name;
    }
    expr_type(s, e);
    if (e->type.err) return NULL;
    if (!require_row(s, e, arena_printf(s->a, "the %s", stmt_kind_name(kind)))) return NULL;
    return e;
}

static void check_core(Sema *s)
{
    Variant *v = s->v;
    v->query = feature(s, ST_QUERY, "q");
    v->key = feature(s, ST_KEY, "k");
    v->value = feature(s, ST_VALUE, "v");
    if (v->query && v->key && v->query->type.cols != v->key->type.cols) {
        Diag *g = diag_error(s->d, v->key->loc,
                             "the key has %d features but the query has %d; they must match "
                             "(section 6)",
                             v->key->type.cols, v->query->type.cols);
        diag_note(s->d, g, v->query->loc, "the query is defined here");
        v->key = NULL;
    }
    if (v->query) v->dk = v->query->type.cols;
    if (v->value) v->dv = v->value->type.cols;

    /* Tensor-core operands: the q, k and v inputs share one dtype (4.1). */
    const char *names[3] = {"q", "k", "v"};
    Symbol *first = NULL;
    for (int i = 0; i < 3; i++) {
        Symbol *y = sym_find(s, names[i]);
        if (!y || y->kind != SYM_INPUT || y->type.err) continue;
        if (!first) {
            first = y;
        } else if (y->dtype != first->dtype) {
            Diag *g = diag_error(s->d, y->stmt->dtype_loc,
                                 "dtype mismatch: '%s' is %s but '%s' is %s; q, k and v share "
                                 "one dtype (section 4.1)",
                                 y->name, dtype_name(y->dtype), first->name,
                                 dtype_name(first->dtype));
            diag_note(s->d, g, first->stmt->dtype_loc, "'%s' is declared here", first->name);
        }
    }

    /* scale (section 10) */
    Stmt *sc = s->single[ST_SCALE];
    if (sc) {
        expr_type(s, sc->expr);
        if (!sc->expr->type.err && require_row(s, sc->expr, "the scale")) {
            if (sc->expr->type.cols != 1)
                diag_error(s->d, sc->expr->loc, "the scale must be one number, not %d channels",
                           sc->expr->type.cols);
            else if (sc->expr->type.var == VAR_TOKEN)
                diag_error(s->d, sc->expr->loc, "the scale must not depend on the token "
                                                "(section 10)");
            else
                v->scale = sc->expr;
        }
    } else {
        v->scale = expr_new(s->a, EX_NUM, s->decl->name_loc);
        v->scale->num = 1;
        v->scale->is_int = true;
        expr_type(s, v->scale);
    }
}

/* Recompute the ranges of every let, in order, then of e. */
static void ranges_refresh(Sema *s, Expr *e)
{
    for (int i = 0; i < s->syms.len; i++) {
        Symbol *y = s->syms.items[i];
        if (y->kind == SYM_LET && !y->type.err) {
            range_recompute(y->expr);
            y->type.range = y->expr->type.range;
        }
    }
    range_recompute(e);
}

/* Is e provably <= 0 when the inputs in `assume` (those with want[i]) are
 * taken to be <= 0? Leaves every range as it found it. */
static bool decay_provable(Sema *s, Expr *e, PtrVec *assume, const bool *want)
{
    for (int i = 0; i < assume->len; i++)
        if (want[i]) ((Symbol *)assume->items[i])->type.range = iv(-INFINITY, 0);
    ranges_refresh(s, e);
    bool proven = e->type.range.hi <= 0;
    for (int i = 0; i < assume->len; i++) ((Symbol *)assume->items[i])->type.range = FULL;
    ranges_refresh(s, e);
    return proven;
}

static bool decay_sign_ok(Sema *s, Expr *e)
{
    Interval r = e->type.range;
    if (r.hi <= 0) return true;
    if (r.lo >= 0) {
        Diag *g = diag_error(s->d, e->loc,
                             "the decay must be in log space (<= 0), but this is never negative "
                             "(section 7.2)");
        if (e->kind == EX_CALL && e->fn == BI_EXP)
            diag_note_noloc(s->d, g, "the decay takes log(alpha): write the argument of exp, "
                                     "not exp(...)");
        else if (e->kind == EX_CALL && e->fn == BI_SIGMOID)
            diag_note_noloc(s->d, g, "log(sigmoid(x)) is logsigmoid(x), which is <= 0");
        else if (e->kind == EX_CALL && e->fn == BI_SOFTPLUS)
            diag_note_noloc(s->d, g, "-softplus(x) is <= 0 (Mamba-style decays are -exp(a) * "
                                     "softplus(dt))");
        else
            diag_note_noloc(s->d, g, "S_t = diag(exp(g_t)) S_{t-1} + ...: exp(g) above 1 would "
                                     "grow the state");
        return false;
    }
    /* Not provable as written. Raw inputs that feed the decay but not the
     * query, key or value may be log-space gates (section 7.2): assume them
     * <= 0, then keep only the assumptions the proof needs. */
    PtrVec ins = {0}, seen = {0}, qkv = {0}, qkv_seen = {0};
    collect_inputs(e, &ins, &seen, s->a);
    Expr *core[3] = {s->v->query, s->v->key, s->v->value};
    for (int i = 0; i < 3; i++) collect_inputs(core[i], &qkv, &qkv_seen, s->a);
    PtrVec assume = {0};
    for (int i = 0; i < ins.len; i++) {
        Symbol *y = ins.items[i];
        bool feeds_core = false;
        for (int j = 0; j < qkv.len; j++)
            if (qkv.items[j] == y) feeds_core = true;
        if (!feeds_core && isinf(y->type.range.lo) && isinf(y->type.range.hi))
            ptrvec_push(s->a, &assume, y);
    }
    bool *want = arena_alloc(s->a, sizeof(bool) * (size_t)(assume.len + 1));
    for (int i = 0; i < assume.len; i++) want[i] = true;
    if (assume.len == 0 || !decay_provable(s, e, &assume, want)) {
        diag_warning(s->d, e->loc,
                     "cannot show that this decay is <= 0, even taking its inputs that are not "
                     "q, k or v to be log-space gates; the reference checks it at run time "
                     "(section 7.2)");
        return true;
    }
    for (int i = 0; i < assume.len; i++) {
        want[i] = false;
        if (!decay_provable(s, e, &assume, want)) want[i] = true;
    }
    for (int i = 0; i < assume.len; i++)
        if (want[i]) ((Symbol *)assume.items[i])->roles |= ROLE_LOG_GATE;
    return true;
}

static void check_decay(Sema *s)
{
    Variant *v = s->v;
    Stmt *st = s->single[ST_DECAY];
    v->decay = DECAY_NONE;
    if (!st) return;
    static const char *const forms[] = {"none", "per_head", "per_token", "per_key", NULL};
    int form = -1;
    for (int i = 0; forms[i]; i++)
        if (strcmp(forms[i], st->name) == 0) form = i;
    if (form < 0) {
        Diag *g = diag_error(s->d, st->name_loc,
                             "unknown decay form '%s'; the forms are none, per_head, per_token "
                             "and per_key (section 7.1)",
                             st->name);
        const char *sug = str_suggest(st->name, forms);
        if (sug) diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
        if (st->expr) expr_type(s, st->expr);
        return;
    }
    if (form == DECAY_NONE) {
        if (st->expr) {
            expr_type(s, st->expr);
            diag_error(s->d, st->expr->loc, "'decay none' takes no argument");
        }
        return;
    }
    if (!st->expr) {
        diag_error(s->d, st->loc, "'decay %s' needs its log-space decay, e.g. decay %s(g);",
                   st->name, st->name);
        return;
    }
    Expr *e = st->expr;
    expr_type(s, e);
    if (e->type.err || !require_row(s, e, "a decay")) return;
    switch (form) {
    case DECAY_PER_HEAD:
        if (e->type.cols != 1) {
            diag_error(s->d, e->loc, "a per_head decay is one value per head, but this has %d "
                                     "channels (section 7.1)",
                       e->type.cols);
            return;
        }
        if (e->type.var == VAR_TOKEN) {
            Diag *g = diag_error(s->d, e->loc, "a per_head decay must not depend on the token "
                                               "(section 7.1)");
            diag_note_noloc(s->d, g, "use decay per_token(...) for a data-dependent decay");
            return;
        }
        break;
    case DECAY_PER_TOKEN:
        if (e->type.cols != 1) {
            Diag *g = diag_error(s->d, e->loc, "a per_token decay is one value per token, but "
                                               "this has %d channels (section 7.1)",
                                 e->type.cols);
            if (v->dk && e->type.cols == v->dk)
                diag_note_noloc(s->d, g, "a gate per key channel is decay per_key(...)");
            return;
        }
        if (e->type.var != VAR_TOKEN)
            diag_warning(s->d, e->loc, "this per_token decay does not depend on the token; "
                                       "per_head says so and is cheaper (section 7.1)");
        break;
    case DECAY_PER_KEY:
        if (v->dk && e->type.cols != v->dk) {
            Diag *g = diag_error(s->d, e->loc,
                                 "a per_key decay has one value per key feature (%d), but this "
                                 "has %d (section 7.1)",
                                 v->dk, e->type.cols);
            if (e->type.cols == 1)
                diag_note_noloc(s->d, g, "a scalar gate per token is decay per_token(...)");
            if (v->key) diag_note(s->d, g, v->key->loc, "the key features are defined here");
            return;
        }
        break;
    }
    if (!decay_sign_ok(s, e)) return;
    v->decay = (DecayKind)form;
    v->decay_expr = e;
}

static void check_mask_norm(Sema *s)
{
    Variant *v = s->v;
    v->causal = true;
    Stmt *m = s->single[ST_MASK];
    if (m) {
        if (strcmp(m->name, "causal") == 0) {
            v->causal = true;
        } else if (strcmp(m->name, "none") == 0) {
            v->causal = false;
            Stmt *dc = s->single[ST_DECAY];
            if (dc && s->v->decay != DECAY_NONE) {
                Diag *g = diag_error(s->d, m->name_loc,
                                     "'mask none' contradicts the decay: a decay orders the "
                                     "tokens, so it needs 'mask causal' (section 8)");
                diag_note(s->d, g, dc->loc, "the decay is declared here");
            }
        } else {
            const char *cands[] = {"causal", "none", NULL};
            Diag *g = diag_error(s->d, m->name_loc,
                                 "unknown mask '%s'; the masks are causal and none (section 8)",
                                 m->name);
            const char *sug = str_suggest(m->name, cands);
            if (sug) diag_note_noloc(s->d, g, "did you mean '%s'?", sug);
        }
    }
    Stmt *n = s->single[ST_NORMALIZE];
    v->normalize = n != NULL;
    v->eps = 1e-6;
    /* q . z of signed q and k crosses 0, where o = q S / (q . z + eps) has
     * no digits left to check: a query or key used as it is gets
     * nonnegative random inputs (fla's tests of chunk_linear_attn with
     * normalize=True give it positive q and k). */
    Expr *qk[2] = {v->query, v->key};
    for (int i = 0; i < 2 && v->normalize; i++)
        if (qk[i] && qk[i]->kind == EX_NAME && qk[i]->sym && qk[i]->sym->kind == SYM_INPUT)
            qk[i]->sym->roles |= ROLE_POSITIVE;
    if (n && n->name) {
        if (strcmp(n->name, "eps") != 0) {
            diag_error(s->d, n->name_loc,
                       "unknown normalize option '%s'; the option is eps (section 9)", n->name);
            expr_type(s, n->expr);
            return;
        }
        expr_type(s, n->expr);
        if (n->expr->type.err) return;
        if (!n->expr->type.known || n->expr->type.value <= 0)
            diag_error(s->d, n->expr->loc, "eps must be a positive constant (section 9)");
        else
            v->eps = n->expr->type.value;
    }
}

/* ------------------------------------------------------------------------
 * Tiles and the tuning space (section 11)
 * ------------------------------------------------------------------------ */

static int round16(int x) { return (x + 15) / 16 * 16; }

/* Checks one value of a knob on its own; reports at `loc`. */
static bool knob_value_ok(Sema *s, TuneKnob k, int val, SrcLoc loc, bool report);

bool sema_knob_ok(TuneKnob k, int val)
{
    return knob_value_ok(NULL, k, val, (SrcLoc){0}, false);
}

static bool knob_value_ok(Sema *s, TuneKnob k, int val, SrcLoc loc, bool report)
{
    const char *n = knob_name(k);
    switch (k) {
    case KNOB_CHUNK: case KNOB_SUBCHUNK: case KNOB_BLOCK_K: case KNOB_BLOCK_V:
        if (val % 16 != 0 || val < 16 || val > 256) {
            if (report)
                diag_error(s->d, loc, "%s = %d must be a multiple of 16 from 16 to 256 (the "
                                      "tensor-core tile is 16 wide)",
                           n, val);
            return false;
        }
        return true;
    case KNOB_WARPS:
        if (val != 1 && val != 2 && val != 4 && val != 8 && val != 16) {
            if (report) diag_error(s->d, loc, "warps = %d must be 1, 2, 4, 8 or 16", val);
            return false;
        }
        return true;
    case KNOB_STAGES:
        if (val < 1 || val > 4) {
            if (report) diag_error(s->d, loc, "stages = %d must be from 1 to 4", val);
            return false;
        }
        return true;
    default:
        return false;
    }
}

/* Block sizes above the (16-rounded) dimension they tile are clamped to it,
 * so a tuning space written for K = 128 still holds under --set K=16
 * (section 11). */
int sema_knob_clamp(const Variant *v, TuneKnob k, int val)
{
    int dim = k == KNOB_BLOCK_K ? v->dk : k == KNOB_BLOCK_V ? v->dv : 0;
    if (dim > 0 && val > round16(dim)) return round16(dim);
    return val;
}

static bool knob_const(Sema *s, Expr *e, const char *n, int *out)
{
    expr_type(s, e);
    if (e->type.err) return false;
    if (!e->type.known) {
        diag_error(s->d, e->loc, "%s must be a constant integer", n);
        return false;
    }
    double x = e->type.value;
    if (x != floor(x) || fabs(x) > 1 << 20) {
        diag_error(s->d, e->loc, "%s must be an integer, got %g", n, x);
        return false;
    }
    *out = (int)x;
    return true;
}

static void check_tuning(Sema *s)
{
    Variant *v = s->v;
    TuneSpace *ts = &v->tune;
    int dk16 = v->dk ? round16(v->dk) : 64, dv16 = v->dv ? round16(v->dv) : 64;
    /* block_k: all key features (the forward keeps the whole state on chip). */
    const int defaults[KNOB_COUNT_] = {64, 16, dk16, dv16 < 64 ? dv16 : 64, 4, 2};
    bool bad = false;
    for (int k = 0; k < KNOB_COUNT_; k++) {
        ts->tile[k] = defaults[k];
        Stmt *tl = s->tile_items[k], *tu = s->tune_items[k];
        if (tl) {
            int val;
            if (knob_const(s, tl->expr, knob_name(k), &val) && knob_value_ok(s, k, val, tl->expr->loc, true)) {
                ts->tile[k] = sema_knob_clamp(v, k, val);
                ts->tile_set[k] = true;
            } else {
                bad = true;
            }
        }
        ts->values[k][0] = ts->tile[k];
        ts->nvalues[k] = 1;
        if (!tu) continue;
        if (tu->nvalues == 0) {
            diag_error(s->d, tu->values_loc, "the tuning set of '%s' is empty", knob_name(k));
            bad = true;
            continue;
        }
        if (tu->nvalues > LAC_MAX_TUNE_VALUES) {
            diag_error(s->d, tu->values_loc, "the tuning set of '%s' has %d values; at most %d",
                       knob_name(k), tu->nvalues, LAC_MAX_TUNE_VALUES);
            bad = true;
            continue;
        }
        int n = 0;
        int written[LAC_MAX_TUNE_VALUES];
        for (int i = 0; i < tu->nvalues; i++) {
            Expr *e = tu->values[i];
            int val;
            written[i] = -1; /* no valid value is negative */
            if (!knob_const(s, e, knob_name(k), &val) || !knob_value_ok(s, k, val, e->loc, true)) {
                bad = true;
                continue;
            }
            bool dup = false;
            for (int j = 0; j < i; j++)
                if (written[j] == val) dup = true;
            written[i] = val;
            if (dup) {
                diag_error(s->d, e->loc, "%d appears twice in the tuning set of '%s'", val,
                           knob_name(k));
                bad = true;
                continue;
            }
            val = sema_knob_clamp(v, k, val);
            bool merged = false;
            for (int j = 0; j < n; j++)
                if (ts->values[k][j] == val) merged = true;
            if (!merged) ts->values[k][n++] = val;
        }
        if (n == 0) continue;
        ts->nvalues[k] = n;
        if (tl && ts->tile_set[k]) {
            bool in = false;
            for (int j = 0; j < n; j++)
                if (ts->values[k][j] == ts->tile[k]) in = true;
            if (!in) {
                Diag *g = diag_error(s->d, tl->expr->loc,
                                     "the tile sets %s = %d, which its tuning set excludes "
                                     "(section 11)",
                                     knob_name(k), ts->tile[k]);
                diag_note(s->d, g, tu->values_loc, "the tuning set of '%s' is here", knob_name(k));
                bad = true;
            }
        } else {
            ts->tile[k] = ts->values[k][0];
        }
    }
    if (bad) return;
    /* The one pairwise rule: subchunk divides chunk (the per-key gate's
     * secondary chunking, section 11). */
    Stmt *ch = s->tile_items[KNOB_CHUNK], *sub = s->tile_items[KNOB_SUBCHUNK];
    if (ts->tile[KNOB_CHUNK] % ts->tile[KNOB_SUBCHUNK] != 0 &&
        (ts->nvalues[KNOB_CHUNK] == 1 && ts->nvalues[KNOB_SUBCHUNK] == 1)) {
        Stmt *at = sub ? sub : ch;
        Diag *g = diag_error(s->d, at ? at->expr->loc : s->decl->name_loc,
                             "subchunk = %d does not divide chunk = %d (section 11)",
                             ts->tile[KNOB_SUBCHUNK], ts->tile[KNOB_CHUNK]);
        if (ch && at != ch) diag_note(s->d, g, ch->expr->loc, "chunk is set here");
        return;
    }
    long pairs = 0;
    for (int i = 0; i < ts->nvalues[KNOB_CHUNK]; i++)
        for (int j = 0; j < ts->nvalues[KNOB_SUBCHUNK]; j++)
            if (ts->values[KNOB_CHUNK][i] % ts->values[KNOB_SUBCHUNK][j] == 0) pairs++;
    if (pairs == 0) {
        Stmt *at = s->tune_items[KNOB_SUBCHUNK] ? s->tune_items[KNOB_SUBCHUNK] : s->tune_items[KNOB_CHUNK];
        diag_error(s->d, at ? at->loc : s->decl->name_loc,
                   "no configuration of the tuning space is valid: no subchunk divides any "
                   "chunk (section 11)");
        return;
    }
    if (ts->tile[KNOB_CHUNK] % ts->tile[KNOB_SUBCHUNK] != 0) {
        /* The default configuration (first values) must be valid too. */
        Stmt *at = s->tune_items[KNOB_SUBCHUNK] ? s->tune_items[KNOB_SUBCHUNK]
                   : s->tune_items[KNOB_CHUNK] ? s->tune_items[KNOB_CHUNK] : NULL;
        Diag *g = diag_error(s->d, at ? at->values_loc : s->decl->name_loc,
                             "the default configuration has subchunk = %d, which does not divide "
                             "chunk = %d (section 11)",
                             ts->tile[KNOB_SUBCHUNK], ts->tile[KNOB_CHUNK]);
        Stmt *other = at == s->tune_items[KNOB_SUBCHUNK] ? s->tune_items[KNOB_CHUNK] : NULL;
        if (!other) other = s->tile_items[KNOB_CHUNK];
        if (other && other != at)
            diag_note(s->d, g, other->kind == ST_TUNE ? other->values_loc : other->expr->loc,
                      "chunk is set here");
        diag_note_noloc(s->d, g, "the default takes each tile value, else the first value of "
                                 "each tuning set");
        return;
    }
    ts->nconfigs = pairs * ts->nvalues[KNOB_BLOCK_K] * ts->nvalues[KNOB_BLOCK_V] *
                   ts->nvalues[KNOB_WARPS] * ts->nvalues[KNOB_STAGES];
}

/* ------------------------------------------------------------------------
 * Driver
 * ------------------------------------------------------------------------ */

/* Only for a file without errors: an error often leaves names unused. */
static void warn_unused(Sema *s)
{
    if (s->d->nerrors > 0) return;
    for (int i = 0; i < s->syms.len; i++) {
        Symbol *y = s->syms.items[i];
        if (y->used || y->kind == SYM_PARAM) continue;
        diag_warning(s->d, y->loc, "%s '%s' is never used", sym_kind_name(y->kind), y->name);
    }
}

static void fill_variant(Sema *s)
{
    Variant *v = s->v;
    int np = 0, ni = 0, nl = 0;
    for (int i = 0; i < s->syms.len; i++) {
        Symbol *y = s->syms.items[i];
        if (y->kind == SYM_PARAM) np++;
        if (y->kind == SYM_INPUT) ni++;
        if (y->kind == SYM_LET) nl++;
    }
    v->params = arena_alloc(s->a, sizeof(Symbol *) * (size_t)(np + 1));
    v->inputs = arena_alloc(s->a, sizeof(Symbol *) * (size_t)(ni + 1));
    v->lets = arena_alloc(s->a, sizeof(Symbol *) * (size_t)(nl + 1));
    for (int i = 0; i < s->syms.len; i++) {
        Symbol *y = s->syms.items[i];
        if (y->kind == SYM_PARAM) { y->index = v->nparams; v->params[v->nparams++] = y; }
        if (y->kind == SYM_INPUT) { y->index = v->ninputs; v->inputs[v->ninputs++] = y; }
        if (y->kind == SYM_LET) { y->index = v->nlets; v->lets[v->nlets++] = y; }
    }
}

Variant *sema_check(const AstFile *f, const ParamOverride *ovr, int novr, Arena *a, Diags *d)
{
    int errors_before = d->nerrors;
    if (f->ndecls == 0) {
        SrcLoc at = {f->src, 1, 1, 0, 0};
        Diag *g = diag_error(d, at, "this file has no attention block (section 2)");
        diag_note_noloc(d, g, "a .la file is 'attention NAME { ... }'");
        return NULL;
    }
    if (f->ndecls > 1) {
        Diag *g = diag_error(d, f->decls[1]->name_loc,
                             "a file holds one attention block, but this is a second one "
                             "(section 2)");
        diag_note(d, g, f->decls[0]->name_loc, "the first one is here");
    }
    Sema s = {0};
    s.a = a;
    s.d = d;
    s.decl = f->decls[0];
    s.v = arena_alloc(a, sizeof(Variant));
    s.v->name = s.decl->name;
    s.v->loc = s.decl->loc;
    s.v->src = f->src;

    collect(&s);
    apply_overrides(&s, ovr, novr);
    check_params(&s);
    for (int i = 0; i < s.syms.len; i++) {
        Symbol *y = s.syms.items[i];
        if (y->kind == SYM_INPUT) check_input(&s, y);
    }
    check_lets(&s);
    check_core(&s);
    check_decay(&s);
    check_mask_norm(&s);
    check_tuning(&s);
    if (d->nerrors == errors_before) warn_unused(&s);
    fill_variant(&s);
    if (d->nerrors > errors_before || d->truncated) return NULL;
    return s.v;
}

double sema_const_value(const Expr *e)
{
    LAC_ASSERT(e->type.known);
    return e->type.value;
}

void variant_summary(const Variant *v, StrBuf *out)
{
    strbuf_printf(out, "attention %s: %d key feature%s, %d value channel%s, decay %s, %s%s",
                  v->name, v->dk, v->dk == 1 ? "" : "s", v->dv, v->dv == 1 ? "" : "s",
                  decay_kind_name(v->decay), v->causal ? "causal" : "non-causal",
                  v->normalize ? ", normalized" : "");
    strbuf_printf(out, ", %ld tuning configuration%s", v->tune.nconfigs,
                  v->tune.nconfigs == 1 ? "" : "s");
}
