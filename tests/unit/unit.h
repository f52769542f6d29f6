/*
 * unit.h: shared helpers of the Check unit tests (one suite per stage).
 * Each test_*.c defines `Suite *NAME_suite(void)`; main.c runs them all,
 * and ctest runs one at a time through CK_RUN_SUITE=NAME.
 */
#ifndef LAC_UNIT_H
#define LAC_UNIT_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lac_internal.h"

Suite *lexer_suite(void);
Suite *parser_suite(void);
Suite *sema_suite(void);
Suite *ref_suite(void);
Suite *request_suite(void);
Suite *tir_suite(void);

/* One compilation of a source string: arena, diagnostics, AST, Variant. */
typedef struct Unit {
    Arena arena;
    Diags diags;
    SrcFile src;
    AstFile *ast;
    Variant *variant; /* NULL when there were errors */
    char *rendered;   /* diagnostics, plain format (arena-owned) */
} Unit;

/* Parse and check `text` (named "t.la") with optional overrides. */
Unit *unit_compile(const char *text, const ParamOverride *ovr, int novr);
/* Same for a file of the repository, e.g. "dsl_examples/gla.la". */
Unit *unit_compile_file(const char *relpath, const ParamOverride *ovr, int novr);
void unit_free(Unit *u);
/* True when some diagnostic's rendered line contains `needle`. */
bool unit_has(const Unit *u, const char *needle);

#endif
