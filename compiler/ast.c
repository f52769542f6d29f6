/*
 * ast.c: AST constructors, the names of enums, and the deterministic printer
 * behind `lac dump --ast` (golden-tested). After sema the printer also shows
 * each expression's type, so the dump documents what sema inferred.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lac_internal.h"

Expr *expr_new(Arena *a, ExprKind kind, SrcLoc loc)
{
    Expr *e = arena_alloc(a, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    e->depth = 1;
    return e;
}

Expr *expr_new_bin(Arena *a, BinOp op, Expr *lhs, Expr *rhs)
{
    Expr *e = expr_new(a, EX_BIN, srcloc_merge(lhs->loc, rhs->loc));
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    return e;
}

const char *binop_spelling(BinOp op)
{
    static const char *const s[] = {"+", "-", "*", "/", "@"};
    return s[op];
}

const char *variation_name(Variation v)
{
    static const char *const s[] = {"const", "uniform", "token"};
    return s[v];
}

const char *builtin_name(Builtin b)
{
    static const char *const s[BI_COUNT_] = {
        [BI_NONE] = "?",          [BI_EXP] = "exp",         [BI_LOG] = "log",
        [BI_SQRT] = "sqrt",       [BI_RELU] = "relu",       [BI_ELU] = "elu",
        [BI_SIGMOID] = "sigmoid", [BI_LOGSIGMOID] = "logsigmoid", [BI_SILU] = "silu",
        [BI_COS] = "cos",         [BI_SIN] = "sin",         [BI_SOFTPLUS] = "softplus",
        [BI_TANH] = "tanh",       [BI_ABS] = "abs",         [BI_POW] = "pow",
        [BI_MINIMUM] = "minimum", [BI_MAXIMUM] = "maximum", [BI_SUM] = "sum",
        [BI_MAX] = "max",         [BI_MIN] = "min",         [BI_MEAN] = "mean",
        [BI_SOFTMAX] = "softmax", [BI_CONCAT] = "concat",   [BI_OUTER] = "outer",
        [BI_ONES] = "ones",       [BI_POS] = "pos",         [BI_HEAD] = "head",
        [BI_NUM_HEADS] = "num_heads", [BI_SEQ_LEN] = "seq_len", [BI_PI] = "pi",
    };
    return (b >= 0 && b < BI_COUNT_ && s[b]) ? s[b] : "?";
}

const char *stmt_kind_name(StmtKind k)
{
    static const char *const s[] = {"param", "input", "let",   "query",     "key",  "value",
                                    "scale", "decay", "normalize", "mask", "tile", "tune"};
    return s[k];
}

const char *dtype_name(DType t)
{
    static const char *const s[] = {"bf16", "f16", "f32"};
    return s[t];
}

int dtype_size(DType t) { return t == DT_F32 ? 4 : 2; }

const char *layout_name(Layout l)
{
    static const char *const s[] = {"[B, T, H]", "[B, T, H, C]", "[H]",   "[H, C]",
                                    "[H, R, C]", "[C]",          "[R, C]"};
    return s[l];
}

const char *decay_kind_name(DecayKind k)
{
    static const char *const s[] = {"none", "per_head", "per_token", "per_key"};
    return s[k];
}

const char *knob_name(TuneKnob k)
{
    static const char *const s[] = {"chunk", "subchunk", "block_k", "block_v", "warps", "stages"};
    return s[k];
}

/* %g is not enough for a golden file across libcs; print integers exactly
 * and other values with 17 significant digits trimmed. */
static void num_format(double v, StrBuf *out)
{
    if (isinf(v)) {
        strbuf_puts(out, v > 0 ? "inf" : "-inf");
    } else if (v == 0) {
        strbuf_puts(out, "0"); /* also -0 */
    } else if (v == floor(v) && fabs(v) < 1e15) {
        strbuf_printf(out, "%.0f", v);
    } else {
        char buf[64];
        snprintf(buf, sizeof buf, "%.17g", v);
        /* shortest representation that round-trips */
        for (int p = 1; p <= 17; p++) {
            char t[64];
            snprintf(t, sizeof t, "%.*g", p, v);
            if (strtod(t, NULL) == v) {
                strbuf_puts(out, t);
                return;
            }
        }
        strbuf_puts(out, buf);
    }
}

void type_format(const Type *t, StrBuf *out)
{
    if (t->err) {
        strbuf_puts(out, "<error>");
        return;
    }
    strbuf_puts(out, variation_name(t->var));
    if (t->rows > 0)
        strbuf_printf(out, "[%d x %d]", t->rows, t->cols);
    else
        strbuf_printf(out, "[%d]", t->cols);
    if (t->known) {
        strbuf_puts(out, " = ");
        num_format(t->value, out);
    } else if (!isinf(t->range.lo) || !isinf(t->range.hi)) {
        strbuf_puts(out, " in [");
        num_format(t->range.lo, out);
        strbuf_puts(out, ", ");
        num_format(t->range.hi, out);
        strbuf_puts(out, "]");
    }
}

static bool type_present(const Type *t) { return t->err || t->cols > 0; }

void expr_dump(const Expr *e, StrBuf *out)
{
    switch (e->kind) {
    case EX_NUM: num_format(e->num, out); break;
    case EX_NAME: strbuf_puts(out, e->name); break;
    case EX_ERROR: strbuf_puts(out, "<error>"); break;
    case EX_NEG:
        strbuf_puts(out, "(neg ");
        expr_dump(e->lhs, out);
        strbuf_puts(out, ")");
        break;
    case EX_BIN:
        strbuf_printf(out, "(%s ", binop_spelling(e->op));
        expr_dump(e->lhs, out);
        strbuf_puts(out, " ");
        expr_dump(e->rhs, out);
        strbuf_puts(out, ")");
        break;
    case EX_CALL:
        strbuf_printf(out, "(%s", e->name);
        for (int i = 0; i < e->nargs; i++) {
            strbuf_puts(out, " ");
            expr_dump(e->args[i], out);
        }
        strbuf_puts(out, ")");
        break;
    }
}

/* Multi-line form with types: one node per line, indented. */
static void expr_dump_tree(const Expr *e, int indent, StrBuf *out)
{
    strbuf_printf(out, "%*s", indent, "");
    switch (e->kind) {
    case EX_NUM: strbuf_puts(out, "num "); num_format(e->num, out); break;
    case EX_NAME: strbuf_printf(out, "name %s", e->name); break;
    case EX_ERROR: strbuf_puts(out, "error"); break;
    case EX_NEG: strbuf_puts(out, "neg"); break;
    case EX_BIN: strbuf_printf(out, "binary %s", binop_spelling(e->op)); break;
    case EX_CALL: strbuf_printf(out, "call %s", e->name); break;
    }
    strbuf_printf(out, " @%d:%d", e->loc.line, e->loc.col);
    if (type_present(&e->type)) {
        strbuf_puts(out, " : ");
        type_format(&e->type, out);
    }
    strbuf_putc(out, '\n');
    if (e->lhs) expr_dump_tree(e->lhs, indent + 2, out);
    if (e->rhs) expr_dump_tree(e->rhs, indent + 2, out);
    for (int i = 0; i < e->nargs; i++) expr_dump_tree(e->args[i], indent + 2, out);
}

void ast_dump(const AstFile *f, StrBuf *out)
{
    strbuf_printf(out, "file %s\n", f->src->name);
    for (int i = 0; i < f->ndecls; i++) {
        const AttnDecl *d = f->decls[i];
        strbuf_printf(out, "attention %s @%d:%d\n", d->name, d->loc.line, d->loc.col);
        for (int j = 0; j < d->nstmts; j++) {
            const Stmt *s = d->stmts[j];
            strbuf_printf(out, "  %s", stmt_kind_name(s->kind));
            if (s->name && strcmp(s->name, stmt_kind_name(s->kind)) != 0)
                strbuf_printf(out, " %s", s->name);
            if (s->kind == ST_INPUT) {
                strbuf_printf(out, " : %s", s->dtype ? s->dtype : "?");
                if (s->ndims) {
                    strbuf_puts(out, "[");
                    for (int k = 0; k < s->ndims; k++) {
                        if (k) strbuf_puts(out, ", ");
                        if (s->dims[k].name)
                            strbuf_puts(out, s->dims[k].name);
                        else
                            num_format(s->dims[k].num, out);
                    }
                    strbuf_puts(out, "]");
                }
            }
            strbuf_printf(out, " @%d:%d\n", s->loc.line, s->loc.col);
            if (s->expr) expr_dump_tree(s->expr, 4, out);
            for (int k = 0; k < s->nvalues; k++) expr_dump_tree(s->values[k], 4, out);
        }
    }
}

/* Scalar semantics of the elementwise built-ins, shared by constant folding
 * (sema.c) and the float64 reference (ref.c), so both mean the same thing.
 * docs/language.md section 5.3 defines them. */
double builtin_apply1(Builtin b, double x)
{
    switch (b) {
    case BI_EXP: return exp(x);
    case BI_LOG: return log(x);
    case BI_SQRT: return sqrt(x);
    case BI_RELU: return x > 0 ? x : 0;
    case BI_ELU: return x > 0 ? x : expm1(x);
    case BI_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    case BI_LOGSIGMOID: return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
    case BI_SILU: return x * builtin_apply1(BI_SIGMOID, x);
    case BI_COS: return cos(x);
    case BI_SIN: return sin(x);
    case BI_SOFTPLUS: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    case BI_TANH: return tanh(x);
    case BI_ABS: return fabs(x);
    default: break;
    }
    lac_internal_error(__FILE__, __LINE__, "builtin_apply1: not a unary function");
}

double builtin_apply2(Builtin b, double x, double y)
{
    switch (b) {
    case BI_POW: return pow(x, y);
    case BI_MINIMUM: return x < y ? x : y;
    case BI_MAXIMUM: return x > y ? x : y;
    default: break;
    }
    lac_internal_error(__FILE__, __LINE__, "builtin_apply2: not a binary function");
}

double binop_apply(BinOp op, double x, double y)
{
    switch (op) {
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    case OP_DIV: return x / y;
    case OP_MATMUL: break;
    }
    lac_internal_error(__FILE__, __LINE__, "binop_apply: '@' is not elementwise");
}
