/*
 * test_parser.c: the AST the grammar builds, precedence, and recovery (parser.y).
 */
#include "unit.h"

static AstFile *parse(const char *text, Arena *a, Diags *d, SrcFile *f)
{
    arena_init(a);
    diags_init(d, a);
    f->name = "t.la";
    f->text = text;
    f->len = strlen(text);
    return parser_parse(f, a, d);
}

static char *dump_expr(const Expr *e)
{
    static char out[512];
    StrBuf b;
    strbuf_init(&b);
    expr_dump(e, &b);
    snprintf(out, sizeof out, "%s", b.data ? b.data : "");
    strbuf_free(&b);
    return out;
}

START_TEST(statements)
{
    Arena a;
    Diags d;
    SrcFile f;
    AstFile *ast = parse("attention x {\n"
                         "  param K = 16, V = 8;\n"
                         "  input q, k : bf16[B, T, H, K];\n"
                         "  let z = q;\n"
                         "  query = z; key = k; value = v; scale = 2;\n"
                         "  decay none; decay per_key(g);\n"
                         "  normalize; normalize eps = 1e-3;\n"
                         "  mask causal;\n"
                         "  tile chunk = 64, block_v = 32;\n"
                         "  tune warps in {4, 8}, stages in {};\n"
                         "}\n",
                         &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 0);
    ck_assert_int_eq(ast->ndecls, 1);
    AttnDecl *x = ast->decls[0];
    ck_assert_str_eq(x->name, "x");
    const StmtKind kinds[] = {ST_PARAM, ST_PARAM, ST_INPUT, ST_INPUT, ST_LET, ST_QUERY, ST_KEY,
                              ST_VALUE, ST_SCALE, ST_DECAY, ST_DECAY, ST_NORMALIZE, ST_NORMALIZE,
                              ST_MASK, ST_TILE, ST_TILE, ST_TUNE, ST_TUNE};
    ck_assert_int_eq(x->nstmts, (int)(sizeof kinds / sizeof kinds[0]));
    for (int i = 0; i < x->nstmts; i++) ck_assert_int_eq(x->stmts[i]->kind, kinds[i]);
    /* "param K = 16, V = 8": one statement per item, each with its own location */
    ck_assert_str_eq(x->stmts[1]->name, "V");
    ck_assert_int_eq(x->stmts[1]->loc.col, 17);
    /* "input q, k : ...": the names share dtype and dims */
    ck_assert_str_eq(x->stmts[3]->name, "k");
    ck_assert_str_eq(x->stmts[3]->dtype, "bf16");
    ck_assert_int_eq(x->stmts[3]->ndims, 4);
    ck_assert_str_eq(x->stmts[3]->dims[3].name, "K");
    ck_assert_ptr_null(x->stmts[9]->expr);
    ck_assert_str_eq(x->stmts[10]->name, "per_key");
    ck_assert_ptr_null(x->stmts[11]->name);
    ck_assert_str_eq(x->stmts[12]->name, "eps");
    ck_assert_str_eq(x->stmts[13]->name, "causal");
    ck_assert_int_eq(x->stmts[16]->nvalues, 2);
    ck_assert_int_eq(x->stmts[17]->nvalues, 0);
    arena_free(&a);
}
END_TEST

START_TEST(precedence)
{
    Arena a;
    Diags d;
    SrcFile f;
    AstFile *ast = parse("attention x { let a = 1 + 2 * 3 - -4 / f(5, 6 @ w) @ w;"
                         " let b = (1 + 2) * -x; let c = a - b - c; }",
                         &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 0);
    AttnDecl *x = ast->decls[0];
    ck_assert_str_eq(dump_expr(x->stmts[0]->expr), "(- (+ 1 (* 2 3)) (@ (/ (neg 4) (f 5 (@ 6 w))) w))");
    ck_assert_str_eq(dump_expr(x->stmts[1]->expr), "(* (+ 1 2) (neg x))");
    ck_assert_str_eq(dump_expr(x->stmts[2]->expr), "(- (- a b) c)");
    /* a binary expression spans its operands */
    Expr *e = x->stmts[2]->expr;
    ck_assert_int_eq(e->loc.len, (int)strlen("a - b - c"));
    arena_free(&a);
}
END_TEST

START_TEST(recovery_reports_several_errors)
{
    Arena a;
    Diags d;
    SrcFile f;
    AstFile *ast = parse("attention x {\n"
                         "  param K = ;\n"
                         "  input q : bf16[B, T, H, K];\n"
                         "  let z = q +;\n"
                         "  let w = q;\n"
                         "}\n",
                         &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 2);
    ck_assert_int_eq(d.first->loc.line, 2);
    ck_assert_int_eq(d.last->loc.line, 4);
    ck_assert(strstr(d.first->msg, "unexpected ';'") != NULL);
    /* statements after the errors are still in the AST */
    ck_assert_int_eq(ast->ndecls, 1);
    AttnDecl *x = ast->decls[0];
    ck_assert_str_eq(x->stmts[x->nstmts - 1]->name, "w");
    arena_free(&a);
}
END_TEST

START_TEST(missing_semicolon_points_at_line_end)
{
    Arena a;
    Diags d;
    SrcFile f;
    parse("attention x {\n  param K = 16\n  input q : bf16[B, T, H, K];\n}\n", &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 1);
    ck_assert_str_eq(d.first->msg, "expected ';' after this statement");
    ck_assert_int_eq(d.first->loc.line, 2);
    ck_assert_int_eq(d.first->loc.col, 15);
    arena_free(&a);
}
END_TEST

START_TEST(unexpected_token_lists_expected)
{
    Arena a;
    Diags d;
    SrcFile f;
    parse("attention x { mask causal } ", &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 1);
    ck_assert_str_eq(d.first->msg, "unexpected '}', expected ';'");
    arena_free(&a);
    parse("param K = 1;", &a, &d, &f);
    ck_assert_str_eq(d.first->msg, "'param' must be inside an attention block");
    arena_free(&a);
    parse("attention x {", &a, &d, &f);
    ck_assert(strstr(d.first->msg, "unexpected end of file") != NULL);
    arena_free(&a);
}
END_TEST

START_TEST(depth_limit)
{
    Arena a;
    Diags d;
    SrcFile f;
    static char src[20000];
    int n = snprintf(src, sizeof src, "attention x { let a = ");
    for (int i = 0; i < 400; i++) n += snprintf(src + n, sizeof src - (size_t)n, "q + ");
    snprintf(src + n, sizeof src - (size_t)n, "q; }");
    AstFile *ast = parse(src, &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 1);
    ck_assert(strstr(d.first->msg, "too deep") != NULL);
    ck_assert_int_le(ast->decls[0]->stmts[0]->expr->depth, LAC_MAX_EXPR_DEPTH + 1);
    arena_free(&a);
}
END_TEST

START_TEST(empty_and_layout_on_name)
{
    Arena a;
    Diags d;
    SrcFile f;
    AstFile *ast = parse("# nothing\n", &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 0);
    ck_assert_int_eq(ast->ndecls, 0);
    arena_free(&a);
    ast = parse("attention x { input q[K], k : bf16; }", &a, &d, &f);
    ck_assert_int_eq(d.nerrors, 0);
    ck_assert(ast->decls[0]->stmts[0]->dims_on_name);
    ck_assert(!ast->decls[0]->stmts[1]->dims_on_name);
    arena_free(&a);
}
END_TEST

Suite *parser_suite(void)
{
    Suite *s = suite_create("parser");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, statements);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, recovery_reports_several_errors);
    tcase_add_test(tc, missing_semicolon_points_at_line_end);
    tcase_add_test(tc, unexpected_token_lists_expected);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, empty_and_layout_on_name);
    suite_add_tcase(s, tc);
    return s;
}
