/*
 * diag.c: diagnostics. Every stage reports into a Diags list and carries on;
 * nothing here prints or exits. The driver renders the list at the end:
 *
 *   gla.la:12:15: error: decay must be in log space (<= 0) ...
 *     decay per_key(exp(g));
 *                   ^~~~~~
 *   gla.la:12:15: note: ...
 *
 * Columns count bytes from 1. Tabs in the source line are kept in the caret
 * line so the caret stays aligned; other control or non-ASCII bytes are shown
 * as '?'. Very long lines are shown as a window around the column.
 */
#include <stdarg.h>
#include <string.h>

#include "lac_internal.h"

void diags_init(Diags *d, Arena *a)
{
    memset(d, 0, sizeof *d);
    d->arena = a;
}

static Diag *diag_add(Diags *d, DiagLevel level, bool has_loc, SrcLoc loc, const char *where,
                      const char *fmt, va_list ap)
{
    if (level == DIAG_ERROR) {
        if (d->nerrors >= LAC_MAX_ERRORS) {
            d->truncated = true;
            return NULL;
        }
        d->nerrors++;
    } else if (level == DIAG_WARNING) {
        /* After the error limit nothing more is worth reading. */
        if (d->truncated || d->nerrors >= LAC_MAX_ERRORS ||
            d->nerrors + d->nwarnings >= 4 * LAC_MAX_ERRORS)
            return NULL;
        d->nwarnings++;
    }
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    Diag *g = arena_alloc(d->arena, sizeof *g);
    g->level = level;
    g->has_loc = has_loc;
    g->loc = loc;
    if (!has_loc) g->loc.file = NULL;
    g->msg = where ? arena_printf(d->arena, "%s\x1f%s", where, buf) : arena_strdup(d->arena, buf);
    if (d->last)
        d->last->next = g;
    else
        d->first = g;
    d->last = g;
    return g;
}

Diag *diag_error(Diags *d, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    Diag *g = diag_add(d, DIAG_ERROR, loc.file != NULL, loc, NULL, fmt, ap);
    va_end(ap);
    return g;
}

Diag *diag_warning(Diags *d, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    Diag *g = diag_add(d, DIAG_WARNING, loc.file != NULL, loc, NULL, fmt, ap);
    va_end(ap);
    return g;
}

Diag *diag_error_noloc(Diags *d, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    SrcLoc none = {0};
    Diag *g = diag_add(d, DIAG_ERROR, false, none, where, fmt, ap);
    va_end(ap);
    return g;
}

static void note_add(Diags *d, Diag *parent, bool has_loc, SrcLoc loc, const char *fmt,
                     va_list ap)
{
    if (!parent) return;
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    Diag *n = arena_alloc(d->arena, sizeof *n);
    n->level = DIAG_NOTE;
    n->has_loc = has_loc && loc.file;
    n->loc = loc;
    n->msg = arena_strdup(d->arena, buf);
    Diag **tail = &parent->notes;
    while (*tail) tail = &(*tail)->next;
    *tail = n;
}

void diag_note(Diags *d, Diag *parent, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_add(d, parent, true, loc, fmt, ap);
    va_end(ap);
}

void diag_note_noloc(Diags *d, Diag *parent, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    SrcLoc none = {0};
    note_add(d, parent, false, none, fmt, ap);
    va_end(ap);
}

static const char *level_name(DiagLevel l)
{
    switch (l) {
    case DIAG_ERROR: return "error";
    case DIAG_WARNING: return "warning";
    case DIAG_NOTE: return "note";
    }
    return "?";
}

enum { WINDOW = 72 };

/* The source line under a location, then a caret line under its span. */
static void render_source(const SrcLoc *loc, StrBuf *out)
{
    const SrcFile *f = loc->file;
    if (!f || loc->off < 0 || (size_t)loc->off > f->len) return;
    size_t start = (size_t)loc->off;
    while (start > 0 && f->text[start - 1] != '\n') start--;
    size_t end = (size_t)loc->off;
    while (end < f->len && f->text[end] != '\n') end++;
    size_t caret = (size_t)loc->off;
    size_t span = loc->len > 0 ? (size_t)loc->len : 1;
    if (caret + span > end) span = end > caret ? end - caret : 1;

    /* A window around the caret for very long lines. */
    size_t from = start, to = end;
    bool cut_left = false, cut_right = false;
    if (end - start > 2 * WINDOW) {
        if (caret > start + WINDOW) {
            from = caret - WINDOW;
            cut_left = true;
        }
        if (from + 2 * WINDOW < end) {
            to = from + 2 * WINDOW;
            cut_right = true;
        }
        if (caret + span > to) span = to > caret ? to - caret : 1;
    }
    StrBuf caret_line;
    strbuf_init(&caret_line);
    strbuf_puts(out, "  ");
    strbuf_puts(&caret_line, "  ");
    if (cut_left) {
        strbuf_puts(out, "...");
        strbuf_puts(&caret_line, "   ");
    }
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)f->text[i];
        char shown = (c == '\t' || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
        if (c == '\r' && i + 1 == to) break;
        strbuf_putc(out, shown);
        if (i < caret)
            strbuf_putc(&caret_line, c == '\t' ? '\t' : ' ');
        else if (i == caret)
            strbuf_putc(&caret_line, '^');
        else if (i < caret + span)
            strbuf_putc(&caret_line, '~');
    }
    if (caret >= to) strbuf_putc(&caret_line, '^'); /* at end of line or file */
    if (cut_right) strbuf_puts(out, "...");
    strbuf_putc(out, '\n');
    strbuf_puts(out, caret_line.data);
    strbuf_putc(out, '\n');
    strbuf_free(&caret_line);
}

static void render_one(const Diag *g, DiagFormat fmt, StrBuf *out)
{
    const char *sep = g->has_loc ? NULL : strchr(g->msg, '\x1f');
    if (g->has_loc)
        strbuf_printf(out, "%s:%d:%d: ", g->loc.file->name, g->loc.line, g->loc.col);
    else if (sep)
        strbuf_printf(out, "%.*s: ", (int)(sep - g->msg), g->msg);
    strbuf_printf(out, "%s: %s\n", level_name(g->level), sep ? sep + 1 : g->msg);
    if (fmt == DIAG_FORMAT_HUMAN && g->has_loc) render_source(&g->loc, out);
}

void diags_render(const Diags *d, DiagFormat fmt, StrBuf *out)
{
    for (const Diag *g = d->first; g; g = g->next) {
        render_one(g, fmt, out);
        for (const Diag *n = g->notes; n; n = n->next) render_one(n, fmt, out);
    }
    if (d->truncated)
        strbuf_printf(out, "lac: error: too many errors (more than %d); stopping\n",
                      LAC_MAX_ERRORS);
}
