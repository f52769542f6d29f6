/*
 * parser.y: the grammar of a .la file (docs/language.md sections 2-11).
 *
 * A pure (reentrant) bison parser with locations, lookahead correction and
 * custom syntax-error messages that show spellings ("expected ';' after the
 * statement", "unexpected identifier 'foo'"). `error ';'` recovers at the
 * statement level so one run reports several syntax errors. Rules build the
 * AST only; every meaning is checked in sema.c.
 */
%require "3.8"
%define api.pure full
%define api.prefix {lac_yy}
%define api.location.type {SrcLoc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0

%code requires {
#include "lac_internal.h"
typedef struct Parser Parser;
typedef struct NumLit {
    double value;
    bool is_int;
} NumLit;
}

%code provides {
int lexer_open(const SrcFile *file, Arena *a, Diags *d, LexState *st, void **scanner);
void lexer_close(void *scanner);
int lac_yylex(LAC_YYSTYPE *val, SrcLoc *loc, void *scanner);
}

%code {
#include <string.h>

/* Bison's stack limit (its default), named so messages can cite it. */
#define YYMAXDEPTH 10000

struct Parser {
    Arena *arena;
    Diags *diags;
    LexState *lex;
    void *scanner;
    PtrVec decls;
    bool depth_reported;
    const char *open_name; /* the attention block being parsed, for EOF errors */
    SrcLoc open_loc;
};

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                           \
    do {                                                                      \
        if (N) {                                                              \
            (Cur) = srcloc_merge(YYRHSLOC(Rhs, 1), YYRHSLOC(Rhs, N));         \
        } else {                                                              \
            (Cur) = YYRHSLOC(Rhs, 0);                                         \
            (Cur).off += (Cur).len;                                           \
            (Cur).col += (Cur).len;                                           \
            (Cur).len = 0;                                                    \
        }                                                                     \
    } while (0)

static int lac_yylex_wrap(LAC_YYSTYPE *val, SrcLoc *loc, Parser *p)
{
    int t = lac_yylex(val, loc, p->scanner);
    p->lex->prev_loc = p->lex->cur_loc;
    if (t == 0) {
        loc->file = p->lex->file;
        loc->line = p->lex->line;
        loc->col = p->lex->col;
        loc->off = p->lex->off;
        loc->len = 0;
    }
    p->lex->cur_loc = *loc;
    return t;
}
#define lac_yylex(val, loc, p) lac_yylex_wrap(val, loc, p)

static Stmt *stmt_new(Parser *p, StmtKind kind, SrcLoc loc)
{
    Stmt *s = arena_alloc(p->arena, sizeof *s);
    s->kind = kind;
    s->loc = loc;
    return s;
}

static Stmt *stmt_named(Parser *p, StmtKind kind, SrcLoc loc, const char *name, SrcLoc nloc,
                        Expr *e)
{
    Stmt *s = stmt_new(p, kind, loc);
    s->name = name;
    s->name_loc = nloc;
    s->expr = e;
    return s;
}

static PtrVec *vec_new(Parser *p) { return arena_alloc(p->arena, sizeof(PtrVec)); }
static PtrVec *vec_push(Parser *p, PtrVec *v, void *x)
{
    ptrvec_push(p->arena, v, x);
    return v;
}

/* Bounded nesting keeps every recursive stage (sema, reference, printers)
 * within a small stack, whatever the input. */
static Expr *depth_check(Parser *p, Expr *e)
{
    int d = 0;
    if (e->lhs && e->lhs->depth > d) d = e->lhs->depth;
    if (e->rhs && e->rhs->depth > d) d = e->rhs->depth;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i]->depth > d) d = e->args[i]->depth;
    e->depth = d + 1;
    if (e->depth <= LAC_MAX_EXPR_DEPTH) return e;
    if (!p->depth_reported)
        diag_error(p->diags, e->loc,
                   "expression is too deep: more than %d nested operations or calls",
                   LAC_MAX_EXPR_DEPTH);
    p->depth_reported = true;
    Expr *err = expr_new(p->arena, EX_ERROR, e->loc);
    err->depth = 1;
    return err;
}

static Expr *mk_bin(Parser *p, BinOp op, Expr *l, Expr *r, SrcLoc loc)
{
    Expr *e = expr_new_bin(p->arena, op, l, r);
    e->loc = loc;
    return depth_check(p, e);
}

static void yyerror(const SrcLoc *loc, Parser *p, const char *msg)
{
    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(p->diags, *loc, "the parser's stack is full: parentheses or operators are "
                                   "nested more than %d deep",
                   YYMAXDEPTH);
    else
        diag_error(p->diags, *loc, "%s", msg);
}
}

%param {Parser *p}

%union {
    char *str;
    NumLit num;
    Expr *expr;
    Stmt *stmt;
    PtrVec *vec;
    Dim *dim;
    AttnDecl *decl;
}

%token END 0 "end of file"
%token <str> IDENT "identifier"
%token <num> NUMBER "number"
%token KW_ATTENTION "attention" KW_PARAM "param" KW_INPUT "input" KW_LET "let"
%token KW_QUERY "query" KW_KEY "key" KW_VALUE "value" KW_SCALE "scale"
%token KW_DECAY "decay" KW_NORMALIZE "normalize" KW_MASK "mask" KW_TILE "tile"
%token KW_TUNE "tune" KW_IN "in"

%type <expr> expr primary
%type <vec> decls stmts stmt params input_names tile_items tune_items
%type <vec> dims dim_list args arg_list expr_list
%type <stmt> param_item tile_item tune_item input_name
%type <dim> dim
%type <decl> attention

%left '+' '-'
%left '*' '/' '@'
%precedence UMINUS

%%

file:
    decls                       { p->decls = *$1; }
    ;

decls:
    %empty                      { $$ = vec_new(p); }
  | decls attention             { $$ = $2 ? vec_push(p, $1, $2) : $1; }
  ;

attention:
    "attention" IDENT '{' { p->open_name = $2; p->open_loc = @1; } stmts '}' {
        p->open_name = NULL;
        AttnDecl *d = arena_alloc(p->arena, sizeof *d);
        d->name = $2;
        d->loc = @$;
        d->name_loc = @2;
        d->stmts = (Stmt **)$5->items;
        d->nstmts = $5->len;
        $$ = d;
    }
  | error '}'                   { $$ = NULL; }
  ;

stmts:
    %empty                      { $$ = vec_new(p); }
  | stmts stmt                  { $$ = $1; for (int i = 0; i < $2->len; i++) vec_push(p, $$, $2->items[i]); }
  ;

stmt:
    "param" params ';'          { $$ = $2; }
  | "input" input_names ':' IDENT dims ';' {
        $$ = $2;
        for (int i = 0; i < $$->len; i++) {
            Stmt *s = $$->items[i];
            s->loc = @$;
            s->dtype = $4;
            s->dtype_loc = @4;
            if ($5) {
                s->dims = (Dim *)$5->items[0];
                s->ndims = $5->len;
                s->dims_loc = @5;
            }
        }
    }
  | "let" IDENT '=' expr ';'    { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_LET, @$, $2, @2, $4)); }
  | "query" '=' expr ';'        { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_QUERY, @$, "query", @1, $3)); }
  | "key" '=' expr ';'          { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_KEY, @$, "key", @1, $3)); }
  | "value" '=' expr ';'        { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_VALUE, @$, "value", @1, $3)); }
  | "scale" '=' expr ';'        { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_SCALE, @$, "scale", @1, $3)); }
  | "decay" IDENT ';'           { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_DECAY, @$, $2, @2, NULL)); }
  | "decay" IDENT '(' expr ')' ';' { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_DECAY, @$, $2, @2, $4)); }
  | "normalize" ';'             { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_NORMALIZE, @$, NULL, @1, NULL)); }
  | "normalize" IDENT '=' expr ';' { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_NORMALIZE, @$, $2, @2, $4)); }
  | "mask" IDENT ';'            { $$ = vec_push(p, vec_new(p), stmt_named(p, ST_MASK, @$, $2, @2, NULL)); }
  | "tile" tile_items ';'       { $$ = $2; }
  | "tune" tune_items ';'       { $$ = $2; }
  | error ';'                   { $$ = vec_new(p); }
  ;

params:
    param_item                  { $$ = vec_push(p, vec_new(p), $1); }
  | params ',' param_item       { $$ = vec_push(p, $1, $3); }
  ;
param_item:
    IDENT '=' expr              { $$ = stmt_named(p, ST_PARAM, @$, $1, @1, $3); }
  ;

input_names:
    input_name                  { $$ = vec_push(p, vec_new(p), $1); }
  | input_names ',' input_name  { $$ = vec_push(p, $1, $3); }
  ;

input_name:
    IDENT                       { $$ = stmt_named(p, ST_INPUT, @$, $1, @1, NULL); }
  | IDENT '[' dim_list ']'      {
        /* The layout belongs after the dtype; sema explains. */
        $$ = stmt_named(p, ST_INPUT, @$, $1, @1, NULL);
        $$->dims_on_name = true;
        $$->name_dims_loc = srcloc_merge(@2, @4);
    }
  ;

dims:
    %empty                      { $$ = NULL; }
  | '[' dim_list ']'            { $$ = $2; }
  ;

dim_list:
    dim                         {
        /* items[0] is the Dim array; len counts dims. */
        $$ = vec_new(p);
        Dim *arr = arena_alloc(p->arena, sizeof(Dim) * 8);
        arr[0] = *$1;
        vec_push(p, $$, arr);
    }
  | dim_list ',' dim            {
        $$ = $1;
        Dim *arr = (Dim *)$$->items[0];
        if ($$->len % 8 == 0) {
            Dim *bigger = arena_alloc(p->arena, sizeof(Dim) * (size_t)($$->len + 8));
            memcpy(bigger, arr, sizeof(Dim) * (size_t)$$->len);
            arr = bigger;
            $$->items[0] = arr;
        }
        arr[$$->len] = *$3;
        $$->len++;
    }
  ;

dim:
    IDENT                       { $$ = arena_alloc(p->arena, sizeof(Dim)); $$->loc = @1; $$->name = $1; }
  | NUMBER                      { $$ = arena_alloc(p->arena, sizeof(Dim)); $$->loc = @1; $$->num = $1.value; $$->is_int = $1.is_int; }
  ;

tile_items:
    tile_item                   { $$ = vec_push(p, vec_new(p), $1); }
  | tile_items ',' tile_item    { $$ = vec_push(p, $1, $3); }
  ;

tile_item:
    IDENT '=' expr              { $$ = stmt_named(p, ST_TILE, @$, $1, @1, $3); }
  ;

tune_items:
    tune_item                   { $$ = vec_push(p, vec_new(p), $1); }
  | tune_items ',' tune_item    { $$ = vec_push(p, $1, $3); }
  ;

tune_item:
    IDENT "in" '{' expr_list '}' {
        $$ = stmt_named(p, ST_TUNE, @$, $1, @1, NULL);
        $$->values = (Expr **)$4->items;
        $$->nvalues = $4->len;
        $$->values_loc = srcloc_merge(@3, @5);
    }
  ;

expr_list:
    %empty                      { $$ = vec_new(p); }
  | arg_list                    { $$ = $1; }
  ;

expr:
    expr '+' expr               { $$ = mk_bin(p, OP_ADD, $1, $3, @$); }
  | expr '-' expr               { $$ = mk_bin(p, OP_SUB, $1, $3, @$); }
  | expr '*' expr               { $$ = mk_bin(p, OP_MUL, $1, $3, @$); }
  | expr '/' expr               { $$ = mk_bin(p, OP_DIV, $1, $3, @$); }
  | expr '@' expr               { $$ = mk_bin(p, OP_MATMUL, $1, $3, @$); }
  | '-' expr %prec UMINUS       { $$ = expr_new(p->arena, EX_NEG, @$); $$->lhs = $2; $$ = depth_check(p, $$); }
  | primary                     { $$ = $1; }
  ;

primary:
    NUMBER                      { $$ = expr_new(p->arena, EX_NUM, @$); $$->num = $1.value; $$->is_int = $1.is_int; $$->depth = 1; }
  | IDENT                       { $$ = expr_new(p->arena, EX_NAME, @$); $$->name = $1; $$->depth = 1; }
  | IDENT '(' args ')'          {
        $$ = expr_new(p->arena, EX_CALL, @$);
        $$->name = $1;
        $$->name_loc = @1;
        $$->args = (Expr **)$3->items;
        $$->nargs = $3->len;
        $$ = depth_check(p, $$);
    }
  | '(' expr ')'                { $$ = $2; }
  ;

args:
    %empty                      { $$ = vec_new(p); }
  | arg_list                    { $$ = $1; }
  ;

arg_list:
    expr                        { $$ = vec_push(p, vec_new(p), $1); }
  | arg_list ',' expr           { $$ = vec_push(p, $1, $3); }
  ;

%%

/* How a token kind reads in a message: keywords and punctuation quoted. */
static const char *symbol_spelling(yysymbol_kind_t k, char *buf, size_t n)
{
    const char *name = yysymbol_name(k);
    if (k >= YYSYMBOL_KW_ATTENTION && k <= YYSYMBOL_KW_IN) {
        snprintf(buf, n, "'%s'", name);
        return buf;
    }
    return name; /* 'x' for chars, "identifier", "number", "end of file" */
}

static int yyreport_syntax_error(const yypcontext_t *ctx, Parser *p)
{
    enum { MAXLIST = 5 }; /* longer lists of expected tokens are not shown */
    yysymbol_kind_t expected[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
    yysymbol_kind_t la = yypcontext_token(ctx);
    const SrcLoc *loc = yypcontext_location(ctx);
    const SrcLoc *prev = &p->lex->prev_loc;
    char b1[64], b2[64];

    bool wants_semi = false;
    for (int i = 0; i < n; i++)
        if (strcmp(yysymbol_name(expected[i]), "';'") == 0) wants_semi = true;

    /* A statement that ends without ';' before a new line: point just past
     * the previous token, as a person would read it. */
    if (wants_semi && prev->file && loc->line > prev->line) {
        SrcLoc at = *prev;
        at.off += at.len;
        at.col += at.len;
        at.len = 0;
        diag_error(p->diags, at, "expected ';' after this statement");
        return 0;
    }

    /* A statement keyword where only 'attention' may start. */
    bool wants_attention = false;
    for (int i = 0; i < n; i++)
        if (expected[i] == YYSYMBOL_KW_ATTENTION) wants_attention = true;
    if (wants_attention && la > YYSYMBOL_KW_ATTENTION && la <= YYSYMBOL_KW_TUNE) {
        Diag *g = diag_error(p->diags, *loc, "'%s' must be inside an attention block",
                             yysymbol_name(la));
        diag_note_noloc(p->diags, g, "a .la file is 'attention NAME { ... }' (section 2)");
        return 0;
    }
    if (la == YYSYMBOL_YYEOF && p->open_name) {
        Diag *g = diag_error(p->diags, *loc,
                             "unexpected end of file: attention '%s' is not closed with '}'",
                             p->open_name);
        diag_note(p->diags, g, p->open_loc, "the block opens here");
        return 0;
    }

    StrBuf msg;
    strbuf_init(&msg);
    if (la == YYSYMBOL_YYEOF) {
        strbuf_puts(&msg, "unexpected end of file");
    } else if (la == YYSYMBOL_IDENT || la == YYSYMBOL_NUMBER ||
               (la >= YYSYMBOL_KW_ATTENTION && la <= YYSYMBOL_KW_IN)) {
        strbuf_printf(&msg, "unexpected %s '%.*s'",
                      la == YYSYMBOL_IDENT ? "identifier" : la == YYSYMBOL_NUMBER ? "number" : "keyword",
                      loc->len > 40 ? 40 : loc->len, loc->file->text + loc->off);
    } else {
        strbuf_printf(&msg, "unexpected %s", symbol_spelling(la, b1, sizeof b1));
    }
    /* After an operand every operator may follow: name the other tokens
     * (';', ')', ',') and say "or an operator" rather than list them all. */
    yysymbol_kind_t shown[YYNTOKENS];
    int nshown = 0;
    bool operators = false;
    for (int i = 0; i < n; i++) {
        const char *nm = yysymbol_name(expected[i]);
        if (n > MAXLIST && (strcmp(nm, "'+'") == 0 || strcmp(nm, "'-'") == 0 ||
                            strcmp(nm, "'*'") == 0 || strcmp(nm, "'/'") == 0 ||
                            strcmp(nm, "'@'") == 0))
            operators = true;
        else
            shown[nshown++] = expected[i];
    }
    if (nshown > 0 && nshown <= MAXLIST) {
        strbuf_puts(&msg, ", expected ");
        for (int i = 0; i < nshown; i++) {
            if (i) strbuf_puts(&msg, i == nshown - 1 && !operators ? " or " : ", ");
            strbuf_puts(&msg, symbol_spelling(shown[i], b2, sizeof b2));
        }
        if (operators) strbuf_puts(&msg, " or an operator");
    }
    diag_error(p->diags, *loc, "%s", msg.data);
    strbuf_free(&msg);
    return 0;
}

AstFile *parser_parse(const SrcFile *file, Arena *a, Diags *d)
{
    AstFile *f = arena_alloc(a, sizeof *f);
    f->src = file;
    LexState st;
    Parser p = {0};
    p.arena = a;
    p.diags = d;
    p.lex = &st;
    if (lexer_open(file, a, d, &st, &p.scanner)) {
        diag_error_noloc(d, file->name, "cannot create the scanner");
        return f;
    }
    int rc = lac_yyparse(&p);
    lexer_close(p.scanner);
    if (rc != 0 && d->nerrors == 0) /* bison's own failures ("memory exhausted") */
        diag_error(d, st.cur_loc, "the parser gave up here");
    f->decls = (AttnDecl **)p.decls.items;
    f->ndecls = p.decls.len;
    return f;
}

const char *lexer_token_name(int kind)
{
    return yysymbol_name(YYTRANSLATE(kind));
}
