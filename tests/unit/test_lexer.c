/*
 * test_lexer.c: tokens, locations, numbers and bad bytes (lexer.l).
 */
#include "unit.h"
#include "parser.h"

typedef struct Lexed {
    Arena a;
    Diags d;
    SrcFile f;
    Token *t;
    int n;
} Lexed;

static Lexed *lex(const char *text, size_t len)
{
    Lexed *x = calloc(1, sizeof *x);
    arena_init(&x->a);
    diags_init(&x->d, &x->a);
    x->f.name = "t.la";
    x->f.text = text;
    x->f.len = len;
    x->n = lexer_tokenize(&x->f, &x->a, &x->d, &x->t);
    return x;
}

static void lexed_free(Lexed *x)
{
    arena_free(&x->a);
    free(x);
}

START_TEST(keywords_and_identifiers)
{
    const char *s = "attention param input let query key value scale decay normalize mask tile "
                    "tune in keys qq _x9";
    Lexed *x = lex(s, strlen(s));
    const int want[] = {KW_ATTENTION, KW_PARAM, KW_INPUT, KW_LET, KW_QUERY, KW_KEY, KW_VALUE,
                        KW_SCALE, KW_DECAY, KW_NORMALIZE, KW_MASK, KW_TILE, KW_TUNE, KW_IN,
                        IDENT, IDENT, IDENT, 0};
    ck_assert_int_eq(x->n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < x->n; i++) ck_assert_int_eq(x->t[i].kind, want[i]);
    ck_assert_str_eq(x->t[14].text, "keys");
    ck_assert_str_eq(x->t[16].text, "_x9");
    ck_assert_int_eq(x->d.nerrors, 0);
    lexed_free(x);
}
END_TEST

START_TEST(numbers)
{
    const char *s = "128 0.5 1e-6 .25 3. 2E+3";
    Lexed *x = lex(s, strlen(s));
    ck_assert_int_eq(x->n, 7);
    const double want[] = {128, 0.5, 1e-6, 0.25, 3, 2000};
    const bool ints[] = {true, false, false, false, false, false};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(x->t[i].kind, NUMBER);
        ck_assert_double_eq(x->t[i].num, want[i]);
        ck_assert_int_eq(x->t[i].is_int, ints[i]);
    }
    ck_assert_int_eq(x->d.nerrors, 0);
    lexed_free(x);
}
END_TEST

START_TEST(number_errors)
{
    const char *s = "1e999 99999999999999999999 2e";
    Lexed *x = lex(s, strlen(s));
    ck_assert_int_eq(x->d.nerrors, 3);
    ck_assert(strstr(x->d.first->msg, "out of range") != NULL);
    ck_assert(strstr(x->d.first->next->msg, "too large") != NULL);
    ck_assert(strstr(x->d.last->msg, "exponent has no digits") != NULL);
    ck_assert_int_eq(x->d.last->loc.col, 28);
    lexed_free(x);
}
END_TEST

START_TEST(locations)
{
    const char *s = "# comment\n  param K = 16;\n\tinput";
    Lexed *x = lex(s, strlen(s));
    ck_assert_int_eq(x->n, 7);
    /* param */
    ck_assert_int_eq(x->t[0].loc.line, 2);
    ck_assert_int_eq(x->t[0].loc.col, 3);
    ck_assert_int_eq(x->t[0].loc.off, 12);
    ck_assert_int_eq(x->t[0].loc.len, 5);
    /* 16 */
    ck_assert_int_eq(x->t[3].loc.col, 13);
    ck_assert_int_eq(x->t[3].loc.len, 2);
    /* input after a tab: the column counts bytes */
    ck_assert_int_eq(x->t[5].loc.line, 3);
    ck_assert_int_eq(x->t[5].loc.col, 2);
    /* end of file sits after the last byte */
    ck_assert_int_eq(x->t[6].kind, 0);
    ck_assert_int_eq(x->t[6].loc.off, (int)strlen(s));
    ck_assert_int_eq(x->t[6].loc.col, 7);
    lexed_free(x);
}
END_TEST

START_TEST(bad_bytes_merge)
{
    /* A run of bad bytes is one diagnostic; separate runs are two. NUL is a byte too. */
    const char s[] = {'a', '$', '$', '\x01', 'b', ' ', '\0', '\xff', '!', 'c'};
    Lexed *x = lex(s, sizeof s);
    ck_assert_int_eq(x->d.nerrors, 2);
    ck_assert_int_eq(x->d.first->loc.col, 2);
    ck_assert_int_eq(x->d.first->loc.len, 3);
    ck_assert(strstr(x->d.first->msg, "'$'") != NULL);
    ck_assert_int_eq(x->d.last->loc.col, 7);
    ck_assert_int_eq(x->d.last->loc.len, 3);
    ck_assert(strstr(x->d.last->msg, "0x00") != NULL);
    ck_assert_int_eq(x->n, 4); /* a b c EOF */
    lexed_free(x);
}
END_TEST

START_TEST(punctuation)
{
    const char *s = "{}[](),;:=+-*/@";
    Lexed *x = lex(s, strlen(s));
    ck_assert_int_eq(x->n, (int)strlen(s) + 1);
    for (int i = 0; i < (int)strlen(s); i++) ck_assert_int_eq(x->t[i].kind, s[i]);
    ck_assert_int_eq(x->d.nerrors, 0);
    lexed_free(x);
}
END_TEST

START_TEST(token_names)
{
    ck_assert_str_eq(lexer_token_name(0), "end of file");
    ck_assert_str_eq(lexer_token_name(IDENT), "identifier");
    ck_assert_str_eq(lexer_token_name(';'), "';'");
    ck_assert_str_eq(lexer_token_name(KW_PARAM), "param");
}
END_TEST

Suite *lexer_suite(void)
{
    Suite *s = suite_create("lexer");
    TCase *tc = tcase_create("lexer");
    tcase_add_test(tc, keywords_and_identifiers);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, number_errors);
    tcase_add_test(tc, locations);
    tcase_add_test(tc, bad_bytes_merge);
    tcase_add_test(tc, punctuation);
    tcase_add_test(tc, token_names);
    suite_add_tcase(s, tc);
    return s;
}
