/*
 * main.c: runs the unit suites. `CK_RUN_SUITE=sema ./lac_unit` runs one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

Unit *unit_compile(const char *text, const ParamOverride *ovr, int novr)
{
    Unit *u = calloc(1, sizeof *u);
    arena_init(&u->arena);
    diags_init(&u->diags, &u->arena);
    u->src.name = "t.la";
    u->src.text = arena_strdup(&u->arena, text);
    u->src.len = strlen(text);
    u->ast = parser_parse(&u->src, &u->arena, &u->diags);
    if (u->diags.nerrors == 0)
        u->variant = sema_check(u->ast, ovr, novr, &u->arena, &u->diags);
    StrBuf b;
    strbuf_init(&b);
    diags_render(&u->diags, DIAG_FORMAT_PLAIN, &b);
    u->rendered = arena_strdup(&u->arena, b.data ? b.data : "");
    strbuf_free(&b);
    return u;
}

Unit *unit_compile_file(const char *relpath, const ParamOverride *ovr, int novr)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", LAC_SOURCE_DIR, relpath);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    Unit *u = unit_compile(buf, ovr, novr);
    u->src.name = arena_strdup(&u->arena, relpath);
    return u;
}

void unit_free(Unit *u)
{
    arena_free(&u->arena);
    free(u);
}

bool unit_has(const Unit *u, const char *needle) { return strstr(u->rendered, needle) != NULL; }

int main(void)
{
    SRunner *sr = srunner_create(lexer_suite());
    srunner_add_suite(sr, parser_suite());
    srunner_add_suite(sr, sema_suite());
    srunner_add_suite(sr, ref_suite());
    srunner_add_suite(sr, request_suite());
    srunner_add_suite(sr, tir_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
