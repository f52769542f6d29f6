/*
 * mutate.c: the front end on broken versions of every example.
 *
 *   lac_mutate DSL_EXAMPLES_DIR
 *
 * For each .la file of the folder it makes
 *   (a) every truncation (the first n bytes, for every n < size),
 *   (b) the file without each one of its lines,
 *   (c) 300 seeded random insertions of 1-8 garbage bytes (NUL, 0xff, '{',
 *       ';', '(' and random bytes) at random offsets,
 * and runs each through the pipeline as `lac check` does (parse, then sema on
 * a file without syntax errors) and both renderings of the diagnostics, each
 * in a fresh arena. The text is an exact-size heap copy, not NUL-terminated,
 * so the sanitizer build catches any read past its end.
 *
 * A crash fails the test by itself. Besides, these must hold:
 *   - errors <=> no Variant;
 *   - a mutation with errors has an error diagnostic with a source location;
 *     file-level errors without one are counted and reported (none expected);
 *   - every location (errors, warnings, notes) lies in the file: line >= 1,
 *     col >= 1, 0 <= off, off + len <= size, and line and col agree with off;
 *   - a truncation that cuts off the block's final '}' is an error.
 * It prints counts per file and the first violations, and exits 1 on any.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "lac_internal.h"

enum { NRANDOM = 300, MAX_SHOWN = 12 };

typedef struct Totals {
    long mutations, errors, accepted, noloc_only, violations;
} Totals;

typedef struct Mutation {
    const char *file;  /* the example's name */
    char what[160];    /* how it was made, for the report */
    const char *text;
    size_t len;
} Mutation;

static Totals all;

static void violation(const Mutation *m, const char *detail)
{
    if (all.violations++ < MAX_SHOWN) printf("VIOLATION: %s, %s: %s\n", m->file, m->what, detail);
}

/* A location must point into the text, and its line and column must be those
 * of its offset (diag.c draws the caret from off, the header from line:col). */
static const char *loc_problem(const SrcLoc *l, const Mutation *m, char *buf, size_t n)
{
    if (l->line < 1 || l->col < 1 || l->off < 0 || l->len < 0 ||
        (size_t)l->off + (size_t)l->len > m->len) {
        snprintf(buf, n, "location %d:%d off %d len %d outside a file of %zu bytes", l->line,
                 l->col, l->off, l->len, m->len);
        return buf;
    }
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < (size_t)l->off; i++)
        if (m->text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    int col = (int)((size_t)l->off - line_start) + 1;
    if (line != l->line || col != l->col) {
        snprintf(buf, n, "location says %d:%d but offset %d is at %d:%d", l->line, l->col,
                 l->off, line, col);
        return buf;
    }
    return NULL;
}

/* Runs one mutation; `must_fail` when it cannot be a valid file. */
static void check_one(const Mutation *m, bool must_fail, Totals *t)
{
    char *text = malloc(m->len ? m->len : 1);
    if (!text) {
        perror("malloc");
        exit(2);
    }
    memcpy(text, m->text, m->len);
    Mutation mm = *m;
    mm.text = text;
    SrcFile src = {m->file, text, m->len};

    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    AstFile *ast = parser_parse(&src, &a, &d);
    Variant *v = d.nerrors == 0 ? sema_check(ast, NULL, 0, &a, &d) : NULL;
    StrBuf out;
    strbuf_init(&out);
    diags_render(&d, DIAG_FORMAT_HUMAN, &out);
    diags_render(&d, DIAG_FORMAT_PLAIN, &out);
    strbuf_free(&out);

    bool failed = d.nerrors > 0 || d.truncated;
    t->mutations++;
    if (failed)
        t->errors++;
    else
        t->accepted++;
    if (failed == (v != NULL)) violation(&mm, failed ? "errors, yet a Variant" : "no errors, no Variant");
    if (must_fail && !failed) violation(&mm, "accepted, but the block's final '}' is cut off");

    bool located_error = false, noloc_error = false;
    char buf[256];
    for (const Diag *g = d.first; g; g = g->next) {
        if (g->level == DIAG_ERROR) {
            if (g->has_loc) located_error = true;
            else noloc_error = true;
        }
        for (const Diag *x = g; x; x = x == g ? g->notes : x->next) {
            if (!x->has_loc) continue;
            const char *p = loc_problem(&x->loc, &mm, buf, sizeof buf);
            if (p) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s (\"%.120s\")", p, x->msg);
                violation(&mm, msg);
            }
        }
    }
    if (failed && !located_error) {
        if (noloc_error) {
            t->noloc_only++;
            violation(&mm, "only file-level errors, none with a source location");
        } else {
            violation(&mm, "errors counted, but none in the list");
        }
    }
    arena_free(&a);
    free(text);
}

/* splitmix64: small, seeded, the same everywhere. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    StrBuf b;
    strbuf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) strbuf_putn(&b, chunk, n);
    fclose(f);
    *len = b.len;
    if (!b.data) strbuf_putc(&b, 0);
    return b.data;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void mutate_file(const char *dir, const char *name, uint64_t seed)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *orig = file_read(path, &len);
    if (!orig) {
        perror(path);
        exit(2);
    }
    Totals t = {0};
    long before = all.violations;
    Mutation m = {.file = name};

    /* The original must be valid, or the rest says little. */
    m.text = orig;
    m.len = len;
    snprintf(m.what, sizeof m.what, "the original");
    Totals t0 = {0};
    check_one(&m, false, &t0);
    if (t0.accepted != 1) violation(&m, "the unmodified example has errors");

    /* (a) every truncation; cutting off the final '}' must be an error. */
    size_t last_brace = len;
    for (size_t i = len; i-- > 0;)
        if (orig[i] == '}') {
            last_brace = i;
            break;
        }
    for (size_t n = 0; n < len; n++) {
        m.text = orig;
        m.len = n;
        snprintf(m.what, sizeof m.what, "truncated to %zu of %zu bytes", n, len);
        check_one(&m, last_brace < len && n <= last_brace, &t);
    }

    /* (b) each line deleted. */
    char *buf = malloc(len + 8 + 1);
    int line = 1;
    for (size_t start = 0; start < len; line++) {
        size_t end = start;
        while (end < len && orig[end] != '\n') end++;
        if (end < len) end++; /* with its newline */
        memcpy(buf, orig, start);
        memcpy(buf + start, orig + end, len - end);
        m.text = buf;
        m.len = len - (end - start);
        snprintf(m.what, sizeof m.what, "line %d deleted", line);
        check_one(&m, false, &t);
        start = end;
    }

    /* (c) garbage inserted at random offsets. */
    static const unsigned char special[] = {0x00, 0xff, '{', ';', '(', '}', ')', '\n', '#'};
    uint64_t s = seed;
    for (int k = 0; k < NRANDOM; k++) {
        size_t at = len ? (size_t)(rng_next(&s) % (len + 1)) : 0;
        int n = 1 + (int)(rng_next(&s) % 8);
        unsigned char ins[8];
        char shown[8 * 3 + 1] = "";
        for (int i = 0; i < n; i++) {
            uint64_t r = rng_next(&s);
            ins[i] = r % 2 ? special[(r >> 8) % sizeof special] : (unsigned char)(r >> 16);
            snprintf(shown + 3 * i, 4, "%02x ", ins[i]);
        }
        memcpy(buf, orig, at);
        memcpy(buf + at, ins, (size_t)n);
        memcpy(buf + at + n, orig + at, len - at);
        m.text = buf;
        m.len = len + (size_t)n;
        snprintf(m.what, sizeof m.what, "insertion %d: bytes %sat offset %zu", k, shown, at);
        check_one(&m, false, &t);
    }
    free(buf);
    free(orig);

    printf("%-16s %6ld mutations  %6ld with errors  %6ld accepted  %3ld file-level only  %s\n",
           name, t.mutations, t.errors, t.accepted, t.noloc_only,
           all.violations == before ? "ok" : "VIOLATIONS");
    all.mutations += t.mutations;
    all.errors += t.errors;
    all.accepted += t.accepted;
    all.noloc_only += t.noloc_only;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DSL_EXAMPLES_DIR\n", argv[0]);
        return 2;
    }
    DIR *dp = opendir(argv[1]);
    if (!dp) {
        perror(argv[1]);
        return 2;
    }
    char **names = NULL;
    int n = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t l = strlen(e->d_name);
        if (l > 3 && strcmp(e->d_name + l - 3, ".la") == 0) {
            names = realloc(names, sizeof(char *) * (size_t)(n + 1));
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(dp);
    if (n == 0) {
        fprintf(stderr, "%s: no .la files\n", argv[1]);
        free(names);
        return 2;
    }
    qsort(names, (size_t)n, sizeof *names, name_cmp);
    for (int i = 0; i < n; i++) {
        mutate_file(argv[1], names[i], 0x1a5eedull + (uint64_t)i);
        free(names[i]);
    }
    free(names);

    printf("total: %d files, %ld mutations, %ld with errors, %ld accepted, %ld with only "
           "file-level errors\n",
           n, all.mutations, all.errors, all.accepted, all.noloc_only);
    if (all.violations) {
        printf("FAIL: %ld violations (the first %d are listed above)\n", all.violations,
               MAX_SHOWN);
        return 1;
    }
    printf("PASS: no crash, every error located, every cut-off block rejected\n");
    return 0;
}
