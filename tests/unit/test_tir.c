/*
 * test_tir.c: the tile IR (compiler/tir.c) and what the forward template
 * (templates/fwd_state.c) makes of two variants: the verifier's rules for
 * cat, cols and dtab, a swizzled tile of a normalizer's 72 columns, the
 * warpgroup normalizer of linear_norm, the decay table of retnet, ld.token,
 * simple_gla's decay scanned a chunk ahead, and GLA's fast form (gla.prep,
 * lda, barrier.any).
 */
#include "unit.h"

/* A program to build ops into, for the variant of dsl_examples/NAME.la. */
typedef struct Prog {
    Unit *u;
    TirProgram *p;
    Diags d;
} Prog;

static Prog *prog_new(const char *relpath)
{
    Prog *g = calloc(1, sizeof *g);
    g->u = unit_compile_file(relpath, NULL, 0);
    ck_assert_ptr_nonnull(g->u->variant);
    diags_init(&g->d, &g->u->arena);
    g->p = tir_program_new(&g->u->arena, g->u->variant, "t", 256);
    return g;
}

static void prog_free(Prog *g)
{
    unit_free(g->u);
    free(g);
}

/* tir_verify's verdict, and its message in `msg` (plain rendering). */
static bool prog_verify(Prog *g, char *msg, size_t n)
{
    tir_layout_smem(g->p);
    bool ok = tir_verify(g->p, &g->d);
    StrBuf b;
    strbuf_init(&b);
    diags_render(&g->d, DIAG_FORMAT_PLAIN, &b);
    snprintf(msg, n, "%s", b.data ? b.data : "");
    strbuf_free(&b);
    return ok;
}

START_TEST(cat_and_cols)
{
    Prog *g = prog_new("dsl_examples/linear.la");
    TirValue *s = tir_zero(g->p, 16, 64, "S"), *z = tir_zero(g->p, 16, 8, "Z");
    TirValue *sz = tir_cat(g->p, s, z, "SZ");
    ck_assert_int_eq(sz->cols, 72);
    ck_assert_int_eq(sz->rows, 16);
    TirValue *back = tir_cols(g->p, sz, 64, 8, "Z");
    ck_assert_int_eq(back->cols, 8);
    char msg[512];
    ck_assert_msg(prog_verify(g, msg, sizeof msg), "%s", msg);
    prog_free(g);
}
END_TEST

/* The verifier refuses g's program with a message containing `want`; frees g. */
static void expect_refused(Prog *g, const char *want)
{
    char msg[512];
    ck_assert(!prog_verify(g, msg, sizeof msg));
    ck_assert_msg(strstr(msg, want), "%s", msg);
    prog_free(g);
}

START_TEST(cols_outside_is_refused)
{
    Prog *g = prog_new("dsl_examples/linear.la");
    tir_cols(g->p, tir_zero(g->p, 16, 64, "S"), 64, 8, "past");
    expect_refused(g, "cols is not whole 8-column tiles inside its ACC fragment");
}
END_TEST

START_TEST(cat_of_other_rows_is_refused)
{
    Prog *g = prog_new("dsl_examples/linear.la");
    tir_cat(g->p, tir_zero(g->p, 16, 64, "S"), tir_zero(g->p, 32, 8, "Z"), "SZ");
    expect_refused(g, "cat needs two ACC fragments of the same rows");
}
END_TEST

START_TEST(dtab_rules)
{
    Prog *g = prog_new("dsl_examples/retnet.la");
    TirValue *tab = tir_smem(g->p, "dtab", TE_F32, 1, 1, 128, 0);
    tir_decay_table(g->p, tab, tir_f32(g->p, -0.03), 63);
    char msg[512];
    ck_assert_msg(prog_verify(g, msg, sizeof msg), "%s", msg);
    prog_free(g);

    g = prog_new("dsl_examples/retnet.la");
    tab = tir_smem(g->p, "dtab", TE_BF16, 1, 1, 128, 0);
    tir_decay_table(g->p, tab, tir_f32(g->p, -0.03), 63);
    expect_refused(g, "a decay table is one f32 row");
}
END_TEST

START_TEST(swizzled_normalizer_columns)
{
    /* 72 columns take two 64-column blocks: each buffer rows x 256 bytes,
     * and the next tile starts on a 1024-byte atom after both buffers. */
    Prog *g = prog_new("dsl_examples/linear.la");
    TirValue *v = tir_smem(g->p, "v", TE_BF16, 2, 64, 72, 8);
    tir_smem_swizzle(v);
    TirValue *next = tir_smem(g->p, "next", TE_BF16, 1, 64, 64, 8);
    tir_smem_swizzle(next);
    tir_layout_smem(g->p);
    ck_assert_int_eq(v->stride, 128);
    ck_assert_int_eq(v->offset, 0);
    ck_assert_int_eq(next->offset, 2 * 64 * 128 * 2);
    prog_free(g);
}
END_TEST

/* The sum of f(op, arg) over the ops of the block, inside loops and branches. */
static int sum_ops(const TirBlock *bl, int (*f)(const TirOp *, const void *), const void *arg)
{
    int n = 0;
    for (int i = 0; i < bl->n; i++) {
        const TirOp *op = bl->ops[i];
        n += f(op, arg) + sum_ops(&op->body, f, arg) + sum_ops(&op->orelse, f, arg);
    }
    return n;
}

static int op_is(const TirOp *op, const void *kind) { return op->kind == *(const TirOpKind *)kind; }

/* How many ops of `kind` the block holds. */
static int count_ops(const TirBlock *bl, TirOpKind kind) { return sum_ops(bl, op_is, &kind); }

/* A warpgroup product 72 columns wide (a normalizer's). */
static int wide_wg_product(const TirOp *op, const void *unused)
{
    (void)unused;
    return op->kind == TIR_MMA && op->wg && op->args[0]->cols == 72;
}

/* Token scans storing b in log2 units (ival2), or in natural units. */
static int scan_log2(const TirOp *op, const void *unused)
{
    (void)unused;
    return op->kind == TIR_SCAN_TOKEN && op->ival2;
}

static int scan_ln(const TirOp *op, const void *unused)
{
    (void)unused;
    return op->kind == TIR_SCAN_TOKEN && !op->ival2;
}

static int count_ex(const TirEx *e, TirExKind kind)
{
    if (!e) return 0;
    return (e->kind == kind) + count_ex(e->a, kind) + count_ex(e->b, kind) + count_ex(e->c, kind);
}

/* Expressions of `kind` in an op's map and operand transforms. */
static int op_ex(const TirOp *op, const void *kind)
{
    TirExKind k = *(const TirExKind *)kind;
    return count_ex(op->ex, k) + count_ex(op->a.xf, k) + count_ex(op->b.xf, k);
}

static int count_ex_ops(const TirBlock *bl, TirExKind kind) { return sum_ops(bl, op_ex, &kind); }

/* Reads of sreg `name`. */
static int reads_sreg(const TirOp *op, const void *name)
{
    return op->kind == TIR_SREG && strcmp(op->sval, (const char *)name) == 0;
}

/* The template's program of dsl_examples/NAME.la at warps 8, block_v 64, stages 2. */
static TirProgram *fwd_of(Unit *u, FwdKind kind, KernelInfo *info)
{
    KernelConfig kc = kernel_config_default(u->variant);
    kc.warps = 8;
    kc.block_v = 64;
    kc.stages = 2;
    TirProgram *p = tmpl_fwd(u->variant, &kc, kind, &u->arena, &u->diags, info);
    ck_assert_msg(p != NULL, "%s", u->rendered);
    ck_assert(tir_verify(p, &u->diags));
    return p;
}

START_TEST(linear_norm_warpgroup)
{
    /* q.z beside O: the products into O and S are m64n72 (Q S_prev, P V,
     * and the state's K^T V for each of its two 64-row tiles); z rides in
     * S between cat and cols. */
    Unit *u = unit_compile_file("dsl_examples/linear_norm.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    KernelInfo info;
    TirProgram *p = fwd_of(u, FWD_FULL, &info);
    ck_assert_int_gt(count_ops(&p->top, TIR_MMA), 0);
    ck_assert(p->has_wg);
    ck_assert_int_eq(sum_ops(&p->top, wide_wg_product, NULL), 4);
    ck_assert_int_eq(count_ops(&p->top, TIR_CAT), 2);  /* the two state tiles */
    ck_assert_int_eq(count_ops(&p->top, TIR_COLS), 5); /* O, and S and Z of each tile */
    ck_assert(info.norm);
    unit_free(u);
}
END_TEST

START_TEST(uniform_role_branch)
{
    /* The warpgroup kernels branch on the broadcast warp index (ptxas keeps
     * their wgmma descriptors in uniform registers), GLA's fast form among
     * them; a decay scanned ahead and the mma.sync kernels keep tid / 32
     * (measured slower, and spills). */
    static const struct {
        const char *file;
        FwdKind kind;
        int uniform;
    } cases[] = {
        {"dsl_examples/linear.la", FWD_FULL, 1},      {"dsl_examples/linear.la", FWD_SPLIT_OUT, 1},
        {"dsl_examples/linear.la", FWD_SPLIT_STATE, 0}, {"dsl_examples/retnet.la", FWD_FULL, 1},
        {"dsl_examples/simple_gla.la", FWD_FULL, 0},  {"dsl_examples/gla.la", FWD_FULL, 1},
        {"dsl_examples/gla.la", FWD_SPLIT_STATE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Unit *u = unit_compile_file(cases[i].file, NULL, 0);
        ck_assert_ptr_nonnull(u->variant);
        KernelInfo info;
        TirProgram *p = fwd_of(u, cases[i].kind, &info);
        ck_assert_ptr_nonnull(p);
        ck_assert_msg(sum_ops(&p->top, reads_sreg, "warp") == cases[i].uniform, "%s %s", cases[i].file,
                      fwd_kind_name(cases[i].kind));
        unit_free(u);
    }
}
END_TEST

START_TEST(retnet_decay_table)
{
    /* The state-on-chip kernel reads its decay from the table (no scan in
     * the loop); the split's state pass still scans. */
    Unit *u = unit_compile_file("dsl_examples/retnet.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    KernelInfo info;
    TirProgram *p = fwd_of(u, FWD_FULL, &info);
    ck_assert_int_eq(count_ops(&p->top, TIR_DTAB), 1);
    ck_assert_int_eq(count_ops(&p->top, TIR_SCAN_TOKEN), 0);
    p = fwd_of(u, FWD_SPLIT_OUT, &info);
    ck_assert_int_eq(count_ops(&p->top, TIR_DTAB), 1);
    p = fwd_of(u, FWD_SPLIT_STATE, &info);
    ck_assert_int_eq(count_ops(&p->top, TIR_DTAB), 0);
    ck_assert_int_gt(count_ops(&p->top, TIR_SCAN_TOKEN), 0);
    unit_free(u);
}
END_TEST

/* The input of the unit's variant named `name`. */
static const Symbol *input_sym(Prog *g, const char *name)
{
    const Variant *v = g->u->variant;
    for (int i = 0; i < v->ninputs; i++)
        if (strcmp(v->inputs[i]->name, name) == 0) return v->inputs[i];
    ck_abort_msg("no input %s", name);
    return NULL;
}

/* That input as a kernel parameter. */
static TirValue *input_param(Prog *g, const char *name)
{
    const Symbol *y = input_sym(g, name);
    return tir_param_gmem(g->p, y->name, y, TE_F32, y->layout == LAYOUT_TOKEN ? 1 : y->cols, "[B, T, H]", false);
}

START_TEST(ldtoken_rules)
{
    /* ld.token reads a [B, T, H] input, and a scan takes its lanes only as
     * one token a lane per 32 rows of the chunk. */
    Prog *g = prog_new("dsl_examples/simple_gla.la");
    TirValue *zero = tir_i32(g->p, 0), *T = tir_param_i32(g->p, "T");
    TirValue *gin = input_param(g, "g");
    TirValue *lanes = tir_ldtoken(g->p, gin, zero, zero, zero, T, 2, "g");
    TirValue *b = tir_smem(g->p, "b", TE_F32, 2, 1, 64, 0);
    TirEnv env = {input_sym(g, "g"), NULL, NULL, gin, lanes};
    tir_scan_token(g->p, b, tir_i32(g->p, 1), g->u->variant->decay_expr, &env, 1, zero, zero, zero, T, 128, 128,
                   SCAN_ALL_WARPS, true);
    char msg[512];
    ck_assert_msg(prog_verify(g, msg, sizeof msg), "%s", msg);
    prog_free(g);

    g = prog_new("dsl_examples/simple_gla.la");
    zero = tir_i32(g->p, 0);
    T = tir_param_i32(g->p, "T");
    tir_ldtoken(g->p, input_param(g, "q"), zero, zero, zero, T, 2, "q");
    expect_refused(g, "ld.token reads a [B, T, H] input");

    g = prog_new("dsl_examples/simple_gla.la");
    zero = tir_i32(g->p, 0);
    T = tir_param_i32(g->p, "T");
    gin = input_param(g, "g");
    lanes = tir_ldtoken(g->p, gin, zero, zero, zero, T, 1, "g");
    b = tir_smem(g->p, "b", TE_F32, 2, 1, 64, 0);
    TirEnv env1 = {input_sym(g, "g"), NULL, NULL, gin, lanes};
    tir_scan_token(g->p, b, NULL, g->u->variant->decay_expr, &env1, 1, zero, zero, zero, T, 128, 32, SCAN_ONE_WARP, false);
    expect_refused(g, "a token scan's loaded input is not one token a lane per 32 rows of the chunk");
}
END_TEST

START_TEST(simple_gla_scan_ahead)
{
    /* The warpgroup kernels load g from global memory a chunk ahead (two
     * chunks before the loop, one in it) and scan it on every state warp;
     * the split's state pass (mma.sync) keeps g in the ring and one warp's
     * scan. */
    Unit *u = unit_compile_file("dsl_examples/simple_gla.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    KernelInfo info;
    FwdKind kinds[2] = {FWD_FULL, FWD_SPLIT_OUT};
    for (int k = 0; k < 2; k++) {
        TirProgram *p = fwd_of(u, kinds[k], &info);
        ck_assert(p->has_wg);
        ck_assert_int_eq(count_ops(&p->top, TIR_LDTOKEN), 3);
        ck_assert_int_eq(count_ops(&p->top, TIR_SCAN_TOKEN), 2);
        /* b in log2 units, read through exp2 only */
        ck_assert_int_eq(sum_ops(&p->top, scan_log2, NULL), 2);
        ck_assert_int_eq(sum_ops(&p->top, scan_ln, NULL), 0);
        ck_assert_int_gt(count_ex_ops(&p->top, TX_EXP2), 0);
        /* natural units only in the split's combine (the records' totals) */
        ck_assert_int_eq(count_ex_ops(&p->top, TX_EXP), kinds[k] == FWD_SPLIT_OUT ? 2 : 0);
    }
    TirProgram *p = fwd_of(u, FWD_SPLIT_STATE, &info);
    ck_assert_int_eq(count_ops(&p->top, TIR_LDTOKEN), 0);
    ck_assert_int_gt(count_ops(&p->top, TIR_SCAN_TOKEN), 0);
    ck_assert_int_eq(sum_ops(&p->top, scan_log2, NULL), 0);
    ck_assert_int_gt(sum_ops(&p->top, scan_ln, NULL), 0);
    ck_assert_int_eq(count_ex_ops(&p->top, TX_EXP2), 0);
    unit_free(u);
}
END_TEST

/* Warpgroup products, and barriers that OR a bool (barrier.any). */
static int wg_product(const TirOp *op, const void *unused)
{
    (void)unused;
    return op->kind == TIR_MMA && op->wg;
}

static int barrier_any(const TirOp *op, const void *unused)
{
    (void)unused;
    return op->kind == TIR_BARRIER && op->res != NULL;
}

START_TEST(gla_fast_form)
{
    /* GLA at warps 8, block_v 64: both roles run gla.prep (B and k e^-B of
     * the chunk, every thread) and branch per chunk on the barrier's OR:
     * the fast form's warpgroup products (Q S_prev, Q K^T, P V with q e^B
     * loaded once by lda; the state's k~^T V for its two tiles), or the
     * sub-chunk form on mma.sync with its exact diagonal block. The split's
     * state pass keeps the per-column scan. */
    Unit *u = unit_compile_file("dsl_examples/gla.la", NULL, 0);
    ck_assert_ptr_nonnull(u->variant);
    KernelInfo info;
    FwdKind kinds[2] = {FWD_FULL, FWD_SPLIT_OUT};
    for (int k = 0; k < 2; k++) {
        TirProgram *p = fwd_of(u, kinds[k], &info);
        ck_assert(p->has_wg);
        ck_assert_int_eq(count_ops(&p->top, TIR_GLA_PREP), 2);
        ck_assert_int_eq(sum_ops(&p->top, barrier_any, NULL), 2);
        ck_assert_int_eq(count_ops(&p->top, TIR_SCAN_KEY), 0);
        ck_assert_int_eq(count_ops(&p->top, TIR_LDA), 1);
        ck_assert_int_eq(sum_ops(&p->top, wg_product, NULL), 5);
        ck_assert_int_eq(count_ops(&p->top, TIR_GLA_DIAG), 1);
    }
    TirProgram *p = fwd_of(u, FWD_SPLIT_STATE, &info);
    ck_assert(!p->has_wg);
    ck_assert_int_eq(count_ops(&p->top, TIR_GLA_PREP), 0);
    ck_assert_int_eq(count_ops(&p->top, TIR_SCAN_KEY), 1);
    /* block_v 32: the sub-chunk form alone */
    KernelConfig kc = kernel_config_default(u->variant);
    kc.warps = 8;
    kc.block_v = 32;
    p = tmpl_fwd(u->variant, &kc, FWD_FULL, &u->arena, &u->diags, &info);
    ck_assert_ptr_nonnull(p);
    ck_assert(!p->has_wg);
    ck_assert_int_eq(count_ops(&p->top, TIR_GLA_PREP), 0);
    ck_assert_int_eq(sum_ops(&p->top, barrier_any, NULL), 0);
    unit_free(u);
}
END_TEST

START_TEST(gla_prep_rules)
{
    /* gla.prep: f32 B, bf16 keys into one bf16 buffer, every thread of the
     * CTA a power of two of them to a column pair; lda loads a view, and
     * barrier.any ORs a bool. */
    Prog *g = prog_new("dsl_examples/gla.la");
    TirProgram *p = g->p;
    TirValue *zero = tir_i32(p, 0), *T = tir_param_i32(p, "T");
    TirValue *bt = tir_smem(p, "g", TE_F32, 2, 64, 128, 8), *k = tir_smem(p, "k", TE_BF16, 2, 64, 128, 8);
    TirValue *kx = tir_smem(p, "kx", TE_BF16, 1, 64, 128, 0);
    tir_smem_swizzle(kx);
    TirEnv env = {input_sym(g, "g"), bt, zero, NULL, NULL};
    const Expr *e = g->u->variant->decay_expr;
    TirValue *st = tir_gla_prep(p, bt, zero, e, &env, 1, zero, zero, zero, T, k, zero, kx, 128, 60, 256);
    tir_barrier_any(p, st);
    TirOperand a = tir_view(k, zero, zero, 0, NULL, 0, false, NULL);
    ck_assert_int_eq(tir_lda(p, a, 16, 128, "Qx")->elem, TE_BF16);
    char msg[512];
    ck_assert_msg(prog_verify(g, msg, sizeof msg), "%s", msg);
    StrBuf b;
    strbuf_init(&b);
    tir_print(p, &b);
    ck_assert_msg(strstr(b.data, "= gla.prep %g.") && strstr(b.data, "* exp(-B) t=0+r < %T.") &&
                      strstr(b.data, "cols 128 |B| > 60 threads 256") && strstr(b.data, "= barrier.any %steep.") &&
                      strstr(b.data, ": frag<bf16 a 16x128> = lda %k."),
                  "%s", b.data);
    strbuf_free(&b);
    prog_free(g);

    /* half the CTA's threads */
    g = prog_new("dsl_examples/gla.la");
    p = g->p;
    zero = tir_i32(p, 0);
    T = tir_param_i32(p, "T");
    bt = tir_smem(p, "g", TE_F32, 2, 64, 128, 8);
    k = tir_smem(p, "k", TE_BF16, 2, 64, 128, 8);
    kx = tir_smem(p, "kx", TE_BF16, 1, 64, 128, 0);
    TirEnv env2 = {input_sym(g, "g"), bt, zero, NULL, NULL};
    e = g->u->variant->decay_expr; /* the variant of this unit (the last one's is freed) */
    tir_gla_prep(p, bt, zero, e, &env2, 1, zero, zero, zero, T, k, zero, kx, 128, 60, 128);
    expect_refused(g, "gla.prep needs every thread of the CTA");

    /* keys in f32 */
    g = prog_new("dsl_examples/gla.la");
    p = g->p;
    zero = tir_i32(p, 0);
    T = tir_param_i32(p, "T");
    bt = tir_smem(p, "g", TE_F32, 2, 64, 128, 8);
    TirEnv env3 = {input_sym(g, "g"), bt, zero, NULL, NULL};
    e = g->u->variant->decay_expr;
    tir_gla_prep(p, bt, zero, e, &env3, 1, zero, zero, zero, T, bt, zero, tir_smem(p, "kx", TE_BF16, 1, 64, 128, 0),
                 128, 60, 256);
    expect_refused(g, "gla.prep reads an f32 decay tile and bf16 keys");

    /* an i32 into barrier.any */
    g = prog_new("dsl_examples/gla.la");
    tir_barrier_any(g->p, tir_param_i32(g->p, "T"));
    expect_refused(g, "barrier.any takes a bool");
}
END_TEST

Suite *tir_suite(void)
{
    Suite *s = suite_create("tir");
    TCase *tc = tcase_create("tir");
    tcase_add_test(tc, cat_and_cols);
    tcase_add_test(tc, cols_outside_is_refused);
    tcase_add_test(tc, cat_of_other_rows_is_refused);
    tcase_add_test(tc, dtab_rules);
    tcase_add_test(tc, swizzled_normalizer_columns);
    tcase_add_test(tc, linear_norm_warpgroup);
    tcase_add_test(tc, retnet_decay_table);
    tcase_add_test(tc, uniform_role_branch);
    tcase_add_test(tc, ldtoken_rules);
    tcase_add_test(tc, simple_gla_scan_ahead);
    tcase_add_test(tc, gla_fast_form);
    tcase_add_test(tc, gla_prep_rules);
    suite_add_tcase(s, tc);
    return s;
}
