/*
 * test_sema.c: what sema infers (types, layouts, decay proofs, tuning
 * spaces) and a sample of what it rejects. The golden corpus
 * (tests/golden/errors) pins every message with its caret; these tests pin
 * the Variant that later stages consume.
 */
#include <math.h>

#include "unit.h"

#define BASE                                                                                     \
    "attention t {\n"                                                                            \
    "  param K = 16, V = 8;\n"                                                                   \
    "  input q, k : bf16[B, T, H, K];\n"                                                         \
    "  input v : bf16[B, T, H, V];\n"

static Unit *ok(const char *src)
{
    Unit *u = unit_compile(src, NULL, 0);
    ck_assert_msg(u->variant != NULL, "expected no errors, got:\n%s", u->rendered);
    return u;
}

static void err(const char *src, const char *needle)
{
    Unit *u = unit_compile(src, NULL, 0);
    ck_assert_msg(u->variant == NULL, "expected an error containing '%s'", needle);
    ck_assert_msg(unit_has(u, needle), "expected '%s' in:\n%s", needle, u->rendered);
    /* every error carries a location inside the file */
    for (Diag *g = u->diags.first; g; g = g->next) {
        if (g->level != DIAG_ERROR) continue;
        ck_assert(g->has_loc);
        ck_assert_int_ge(g->loc.line, 1);
        ck_assert_int_le(g->loc.off, (int)u->src.len);
    }
    unit_free(u);
}

START_TEST(defaults)
{
    Unit *u = ok(BASE "}");
    Variant *v = u->variant;
    ck_assert_int_eq(v->dk, 16);
    ck_assert_int_eq(v->dv, 8);
    ck_assert_int_eq(v->decay, DECAY_NONE);
    ck_assert(v->causal);
    ck_assert(!v->normalize);
    ck_assert_double_eq(sema_const_value(v->scale), 1);
    ck_assert_int_eq(v->tune.tile[KNOB_CHUNK], 64);
    ck_assert_int_eq(v->tune.tile[KNOB_BLOCK_K], 16); /* clamped to K */
    ck_assert_int_eq(v->tune.tile[KNOB_BLOCK_V], 16); /* V = 8 rounds up to 16 */
    ck_assert_int_eq(v->tune.nconfigs, 1);
    ck_assert_int_eq(v->ninputs, 3);
    ck_assert_int_eq(v->inputs[2]->layout, LAYOUT_TOKEN_VEC);
    ck_assert_int_eq(v->inputs[2]->cols, 8);
    unit_free(u);
}
END_TEST

START_TEST(layouts)
{
    Unit *u = ok(BASE "  input a : f32[B, T, H]; input b : f32[H]; input c : f16[H, K];\n"
                      "  input d : f32[H, K, 4]; input e : f32[K]; input f : f32[K, 4];\n"
                      "  query = q * a + b + c + e;\n"
                      "  key = concat(k @ d, k @ f, outer(ones(2), ones(4)));\n"
                      "  value = v * sum(k) + a;\n"
                      "}");
    Variant *v = u->variant;
    const Layout want[] = {LAYOUT_TOKEN_VEC, LAYOUT_TOKEN_VEC, LAYOUT_TOKEN_VEC, LAYOUT_TOKEN,
                           LAYOUT_HEAD, LAYOUT_HEAD_VEC, LAYOUT_HEAD_MAT, LAYOUT_SHARED_VEC,
                           LAYOUT_SHARED_MAT};
    ck_assert_int_eq(v->ninputs, 9);
    for (int i = 0; i < 9; i++) ck_assert_int_eq(v->inputs[i]->layout, want[i]);
    ck_assert_int_eq(v->inputs[6]->rows, 16);
    ck_assert_int_eq(v->inputs[6]->cols, 4);
    ck_assert_int_eq(v->inputs[5]->dtype, DT_F16);
    ck_assert_int_eq(v->dk, 16);
    ck_assert_int_eq(v->key->type.cols, 16);
    ck_assert_int_eq(v->value->type.var, VAR_TOKEN);
    unit_free(u);
}
END_TEST

START_TEST(types_and_folding)
{
    Unit *u = ok(BASE "  param L = 2 * K + 1;\n"
                      "  let s = pow(2, -3) + pi;\n"
                      "  let h = head / num_heads;\n"
                      "  query = q * s * h;\n"
                      "  scale = 1 / sqrt(K);\n"
                      "}");
    Variant *v = u->variant;
    ck_assert_double_eq(v->params[2]->value, 33);
    ck_assert(v->lets[0]->type.known);
    ck_assert_double_eq_tol(v->lets[0]->type.value, 0.125 + M_PI, 1e-15);
    ck_assert_int_eq(v->lets[1]->type.var, VAR_UNIFORM);
    ck_assert(!v->lets[1]->type.known);
    ck_assert_double_eq_tol(sema_const_value(v->scale), 0.25, 1e-15);
    unit_free(u);
}
END_TEST

START_TEST(decay_proofs_and_gate_roles)
{
    /* retnet's constant decay is proven <= 0 by interval analysis: no roles */
    Unit *u = unit_compile_file("dsl_examples/retnet.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    ck_assert_int_eq(u->variant->decay, DECAY_PER_HEAD);
    ck_assert_double_le(u->variant->decay_expr->type.range.hi, 0);
    ck_assert_int_eq(u->diags.nwarnings, 0);
    unit_free(u);
    /* gla's raw gate is assumed log-space: it becomes a log gate */
    u = unit_compile_file("dsl_examples/gla.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    ck_assert_int_eq(u->variant->decay, DECAY_PER_KEY);
    ck_assert(u->variant->inputs[3]->roles & ROLE_LOG_GATE);
    ck_assert(!(u->variant->inputs[0]->roles & ROLE_LOG_GATE));
    unit_free(u);
    /* mamba2: -exp(A_log) * softplus(...) is proven, so dt and A_log stay plain */
    u = unit_compile_file("dsl_examples/mamba2.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    for (int i = 0; i < u->variant->ninputs; i++) ck_assert_int_eq(u->variant->inputs[i]->roles, 0);
    unit_free(u);
    /* lightning's slope expression is proven too */
    u = unit_compile_file("dsl_examples/lightning.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    ck_assert_double_le(u->variant->decay_expr->type.range.hi, 0);
    unit_free(u);
    /* a gate scaled by 2 is still provable once g <= 0 is assumed */
    u = ok(BASE "  input g : f32[B, T, H];\n  decay per_token(2 * g - 0.5);\n}");
    ck_assert(u->variant->inputs[3]->roles & ROLE_LOG_GATE);
    unit_free(u);
    /* -g is not: a warning, and no role */
    u = ok(BASE "  input g : f32[B, T, H];\n  decay per_token(-g);\n}");
    ck_assert_int_eq(u->diags.nwarnings, 1);
    ck_assert(unit_has(u, "cannot show that this decay is <= 0"));
    ck_assert_int_eq(u->variant->inputs[3]->roles, 0);
    unit_free(u);
}
END_TEST

START_TEST(decay_errors)
{
    err(BASE "  input g : f32[B, T, H, K];\n  decay per_key(exp(g));\n}", "never negative");
    err(BASE "  input g : f32[B, T, H, K];\n  decay per_token(g);\n}", "one value per token");
    err(BASE "  input g : f32[B, T, H];\n  decay per_key(g);\n}", "one value per key feature (16)");
    err(BASE "  input g : f32[B, T, H];\n  decay per_head(g);\n}", "must not depend on the token");
    err(BASE "  decay per_chan(1);\n}", "unknown decay form 'per_chan'");
    err(BASE "  decay per_head;\n}", "needs its log-space decay");
    err(BASE "  decay none(0);\n}", "takes no argument");
    err(BASE "  decay per_head(-1);\n  mask none;\n}", "contradicts the decay");
}
END_TEST

START_TEST(shape_and_name_errors)
{
    err(BASE "  query = q + v;\n}", "shape mismatch in '+'");
    err(BASE "  key = v;\n}", "the key has 8 features but the query has 16");
    err(BASE "  input W : f32[K, 4];\n  query = W;\n}", "can only be the right operand of '@'");
    err(BASE "  input W : f32[8, 4];\n  query = q @ W;\n}", "shape mismatch in '@'");
    err(BASE "  query = q @ k;\n}", "must be a weight matrix");
    err(BASE "  query = qq;\n}", "unknown name 'qq'");
    err(BASE "  query = expp(q);\n}", "did you mean 'exp'");
    err(BASE "  query = max(q, k);\n}", "elementwise form is maximum(a, b)");
    err(BASE "  let a = b; let b = q;\n}", "used before its definition");
    err(BASE "  param P = head;\n}", "compile-time constant");
    err(BASE "  input x : bf16[B, H, T, K];\n}", "unsupported input layout");
    err(BASE "  input x : bf17[B, T, H, K];\n}", "unknown dtype 'bf17'");
    err(BASE "  input x : bf16[B, T, H, KK];\n}", "'KK' is not a parameter");
    err(BASE "  input x[K] : bf16;\n}", "written after its dtype");
    err(BASE "  input K : bf16[B, T, H, V];\n}", "redefinition of 'K'");
    err(BASE "  param exp = 1;\n}", "built-in name");
    err(BASE "  param H = 1;\n}", "reserved for the head axis");
    err(BASE "  query = q / 0;\n}", "division by zero");
    err(BASE "  query = log(-exp(q));\n}", "never positive");
    err("attention t { param K = 16; input q, k : bf16[B, T, H, K]; input v : f16[B, T, H, K]; }",
        "dtype mismatch");
    err("attention t { param K = 16; input k, v : bf16[B, T, H, K]; }", "no input named 'q'");
    err("# empty\n", "no attention block");
}
END_TEST

START_TEST(tuning)
{
    Unit *u = ok(BASE "  tile chunk = 64;\n"
                      "  tune chunk in {32, 64}, subchunk in {16, 32, 64}, block_v in {16, 32, 64},"
                      " warps in {4, 8};\n}");
    /* (chunk, subchunk) pairs with subchunk | chunk: (32,16) (32,32) (64,16) (64,32) (64,64) = 5;
     * block_v clamps 32 and 64 to 16 (V = 8) and merges: 1 value; warps 2 */
    ck_assert_int_eq(u->variant->tune.nvalues[KNOB_BLOCK_V], 1);
    ck_assert_int_eq(u->variant->tune.nconfigs, 5 * 1 * 2);
    ck_assert_int_eq(u->variant->tune.tile[KNOB_CHUNK], 64);
    ck_assert_int_eq(u->variant->tune.tile[KNOB_SUBCHUNK], 16);
    unit_free(u);
    err(BASE "  tile chunk = 48 + 1;\n}", "multiple of 16");
    err(BASE "  tile chunk = 64, subchunk = 48;\n}", "does not divide chunk");
    err(BASE "  tune warps in {};\n}", "is empty");
    err(BASE "  tune warps in {4, 4};\n}", "appears twice");
    err(BASE "  tune warps in {3};\n}", "must be 1, 2, 4, 8 or 16");
    err(BASE "  tile chunk = 32;\n  tune chunk in {64, 128};\n}", "which its tuning set excludes");
    err(BASE "  tune chunk in {16, 32}, subchunk in {64};\n}", "no configuration of the tuning space");
    err(BASE "  tile chunkk = 64;\n}", "did you mean 'chunk'");
    err(BASE "  tile chunk = 64, chunk = 32;\n}", "set twice");
}
END_TEST

START_TEST(overrides)
{
    ParamOverride o[2] = {{"K", 32, true, false}, {"V", 64, true, false}};
    Unit *u = unit_compile(BASE "}", o, 2);
    ck_assert_ptr_nonnull(u->variant);
    ck_assert_int_eq(u->variant->dk, 32);
    ck_assert_int_eq(u->variant->dv, 64);
    ck_assert(u->variant->params[0]->overridden);
    unit_free(u);
    ParamOverride bad = {"Q", 1, true, false};
    u = unit_compile(BASE "}", &bad, 1);
    ck_assert_ptr_null(u->variant);
    ck_assert(unit_has(u, "no parameter named 'Q'"));
    unit_free(u);
    /* every example checks clean with dims overridden small */
    const char *ex[] = {"linear", "linear_elu", "retnet", "lightning", "simple_gla", "gla",
                        "based", "cosformer", "hedgehog"};
    ParamOverride small[2] = {{"K", 16, true, false}, {"V", 16, true, false}};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "dsl_examples/%s.la", ex[i]);
        u = unit_compile_file(path, small, 2);
        ck_assert_msg(u->variant != NULL, "%s: %s", path, u->rendered);
        ck_assert_int_eq(u->diags.nwarnings, 0);
        unit_free(u);
    }
}
END_TEST

START_TEST(warnings)
{
    Unit *u = ok(BASE "  input unused : f32[B, T, H];\n  let z = q;\n}");
    ck_assert_int_eq(u->diags.nwarnings, 2);
    ck_assert(unit_has(u, "input 'unused' is never used"));
    ck_assert(unit_has(u, "let 'z' is never used"));
    unit_free(u);
    u = ok(BASE "  decay per_token(-1);\n}");
    ck_assert(unit_has(u, "does not depend on the token"));
    unit_free(u);
}
END_TEST

START_TEST(too_many_errors_stop)
{
    char src[8192];
    int n = snprintf(src, sizeof src, BASE);
    for (int i = 0; i < 40; i++) n += snprintf(src + n, sizeof src - (size_t)n, "  let a%d = nope;\n", i);
    snprintf(src + n, sizeof src - (size_t)n, "}");
    Unit *u = unit_compile(src, NULL, 0);
    ck_assert_ptr_null(u->variant);
    ck_assert_int_eq(u->diags.nerrors, LAC_MAX_ERRORS);
    ck_assert(u->diags.truncated);
    ck_assert(unit_has(u, "too many errors"));
    unit_free(u);
}
END_TEST

Suite *sema_suite(void)
{
    Suite *s = suite_create("sema");
    TCase *tc = tcase_create("sema");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, layouts);
    tcase_add_test(tc, types_and_folding);
    tcase_add_test(tc, decay_proofs_and_gate_roles);
    tcase_add_test(tc, decay_errors);
    tcase_add_test(tc, shape_and_name_errors);
    tcase_add_test(tc, tuning);
    tcase_add_test(tc, overrides);
    tcase_add_test(tc, warnings);
    tcase_add_test(tc, too_many_errors_stop);
    suite_add_tcase(s, tc);
    return s;
}
