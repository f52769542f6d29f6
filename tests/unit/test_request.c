/*
 * test_request.c: compile requests (compiler/request.c): the --set list,
 * the configuration it asks for, and the configurations of the tuning
 * space it leaves open.
 */
#include "unit.h"

typedef struct Req {
    Arena arena;
    Diags diags;
    CompileSets sets;
    SrcFile src;
    Variant *v;
} Req;

/* dsl_examples/NAME.la checked with `sets` (NULL-terminated). */
static Req *req_new(const char *relpath, const char *const *sets)
{
    Req *r = calloc(1, sizeof *r);
    arena_init(&r->arena);
    diags_init(&r->diags, &r->arena);
    r->sets.ovr = arena_alloc(&r->arena, sizeof(ParamOverride) * 16);
    r->sets.cap = 16;
    for (int i = 0; sets && sets[i]; i++) ck_assert_msg(compile_sets_add(&r->sets, sets[i], &r->arena), "%s", sets[i]);
    Unit *u = unit_compile_file(relpath, NULL, 0);
    r->src.name = arena_strdup(&r->arena, relpath);
    r->src.text = arena_strdup(&r->arena, u->src.text);
    r->src.len = u->src.len;
    unit_free(u);
    r->v = compile_check(&r->src, &r->sets, &r->arena, &r->diags);
    return r;
}

static void req_free(Req *r)
{
    arena_free(&r->arena);
    free(r);
}

START_TEST(sets_parse)
{
    Arena a;
    arena_init(&a);
    ParamOverride ovr[4];
    CompileSets cs = {ovr, 0, 4, {0}, {0}};
    ck_assert(compile_sets_add(&cs, "K=64", &a));
    ck_assert(compile_sets_add(&cs, "eps=1e-6", &a));
    ck_assert(compile_sets_add(&cs, "block_v=64", &a));
    ck_assert_int_eq(cs.novr, 2);
    ck_assert_str_eq(cs.ovr[0].name, "K");
    ck_assert(cs.ovr[0].is_int);
    ck_assert(!cs.ovr[1].is_int);
    ck_assert_int_eq(cs.knob[KNOB_BLOCK_V], 64);
    ck_assert_str_eq(cs.knob_text[KNOB_BLOCK_V], "block_v=64");
    ck_assert(!compile_sets_add(&cs, "K", &a));
    ck_assert(!compile_sets_add(&cs, "=3", &a));
    ck_assert(!compile_sets_add(&cs, "K=x", &a));
    ck_assert(!compile_sets_add(&cs, "K=inf", &a));
    ck_assert(!compile_sets_add(&cs, "warps=2.5", &a)); /* knobs are integers */
    ck_assert(!compile_sets_add(&cs, "stages=0", &a));
    ck_assert(compile_sets_add(&cs, "V=32", &a));
    ck_assert(compile_sets_add(&cs, "P=1", &a));
    ck_assert(!compile_sets_add(&cs, "N=2", &a)); /* no room: cap 4 */
    arena_free(&a);
}
END_TEST

START_TEST(configs_default_first)
{
    Req *r = req_new("dsl_examples/linear.la", NULL);
    ck_assert_ptr_nonnull(r->v);
    KernelConfig c[64];
    int n = compile_configs(r->v, &r->sets, c, 64);
    ck_assert_int_eq(n, 4); /* block_v {64, 32} x stages {3, 2} */
    KernelConfig def;
    ck_assert(compile_config(r->v, &r->sets, &def, &r->diags));
    ck_assert_int_eq(c[0].block_v, def.block_v);
    ck_assert_int_eq(c[0].stages, def.stages);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            ck_assert(c[i].block_v != c[j].block_v || c[i].stages != c[j].stages);
    char text[160];
    kernel_config_format(&c[0], text, sizeof text);
    ck_assert_str_eq(text, "chunk=64 subchunk=16 block_k=128 block_v=64 warps=8 stages=3");
    ck_assert_int_eq(compile_configs(r->v, &r->sets, c, 2), 2); /* at most max */
    req_free(r);
}
END_TEST

START_TEST(configs_pinned_and_clamped)
{
    const char *sets[] = {"block_v=64", NULL};
    Req *r = req_new("dsl_examples/linear.la", sets);
    KernelConfig c[64];
    int n = compile_configs(r->v, &r->sets, c, 64);
    ck_assert_int_eq(n, 2); /* stages {2, 3} */
    for (int i = 0; i < n; i++) ck_assert_int_eq(c[i].block_v, 64);
    req_free(r);
    /* V = 32: block_v 64 clamps to 32, and the two values become one. */
    const char *sets2[] = {"V=32", NULL};
    r = req_new("dsl_examples/linear.la", sets2);
    ck_assert_ptr_nonnull(r->v);
    n = compile_configs(r->v, &r->sets, c, 64);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < n; i++) ck_assert_int_eq(c[i].block_v, 32);
    req_free(r);
}
END_TEST

START_TEST(config_rejects_bad_knob)
{
    const char *sets[] = {"block_v=40", NULL};
    Req *r = req_new("dsl_examples/linear.la", sets);
    KernelConfig kc;
    ck_assert(!compile_config(r->v, &r->sets, &kc, &r->diags));
    StrBuf b;
    strbuf_init(&b);
    diags_render(&r->diags, DIAG_FORMAT_PLAIN, &b);
    ck_assert_msg(strstr(b.data, "--set block_v=40") != NULL, "%s", b.data);
    strbuf_free(&b);
    req_free(r);
}
END_TEST

START_TEST(check_reports_source_errors)
{
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    CompileSets cs = {NULL, 0, 0, {0}, {0}};
    SrcFile src = {"x.la", "attention {", 11};
    ck_assert_ptr_null(compile_check(&src, &cs, &a, &d));
    ck_assert_int_gt(d.nerrors, 0);
    arena_free(&a);
}
END_TEST

Suite *request_suite(void)
{
    Suite *s = suite_create("request");
    TCase *t = tcase_create("request");
    tcase_add_test(t, sets_parse);
    tcase_add_test(t, configs_default_first);
    tcase_add_test(t, configs_pinned_and_clamped);
    tcase_add_test(t, config_rejects_bad_knob);
    tcase_add_test(t, check_reports_source_errors);
    suite_add_tcase(s, t);
    return s;
}
