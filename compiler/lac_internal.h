/*
 * lac_internal.h: the one internal header of the lac compiler.
 *
 * It is divided by component banners in pipeline order:
 *   util (arena, buffers) -> source & locations -> diagnostics -> tokens & lexer
 *   -> AST -> parser -> sema (types, the checked Variant) -> CPU reference.
 * The pipeline itself is listed once, in order, in driver.c (lac_frontend_run).
 * Nothing here is exported from liblac.so: only lac_* symbols declared in
 * lac.h are (-fvisibility=hidden).
 */
#ifndef LAC_INTERNAL_H
#define LAC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lac.h"

/* ========================================================================
 * util: arena, growable buffer, invariants
 * ======================================================================== */

/* One arena per compilation: tokens, strings, AST, types are freed at once. */
typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
    ArenaBlock *head;
    size_t total; /* bytes handed out, for statistics and limits */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);           /* zeroed, 16-aligned */
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable array of pointers living in an arena (old blocks are abandoned
 * in the arena, which is fine for compile-time sized data). */
typedef struct PtrVec {
    void **items;
    int len, cap;
} PtrVec;
void ptrvec_push(Arena *a, PtrVec *v, void *item);

/* A heap-backed growable string, for rendering (diagnostics, dumps). */
typedef struct StrBuf {
    char *data;
    size_t len, cap;
} StrBuf;
void strbuf_init(StrBuf *b);
void strbuf_free(StrBuf *b);
void strbuf_putc(StrBuf *b, char c);
void strbuf_puts(StrBuf *b, const char *s);
void strbuf_putn(StrBuf *b, const char *s, size_t n);
void strbuf_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Internal invariant failures are bugs, not user errors: report and abort. */
#define LAC_ASSERT(cond)                                                            \
    do {                                                                            \
        if (!(cond)) lac_internal_error(__FILE__, __LINE__, #cond);                 \
    } while (0)
_Noreturn void lac_internal_error(const char *file, int line, const char *what);

/* Levenshtein distance, for "did you mean" suggestions. */
int str_edit_distance(const char *a, const char *b);
/* The closest of `cands` (NULL-terminated) to `name` within a small distance. */
const char *str_suggest(const char *name, const char *const *cands);

/* ========================================================================
 * source & locations
 * ======================================================================== */

/* The largest source file the front end accepts (a .la file is tiny). */
#define LAC_MAX_SOURCE_BYTES (1u << 20)

typedef struct SrcFile {
    const char *name;  /* as given by the user, e.g. "dsl_examples/gla.la" */
    const char *text;  /* not NUL-terminated necessarily; `len` bytes */
    size_t len;
} SrcFile;

/* Every token, AST node and IR op carries one. line/col are 1-based; col
 * counts bytes. off/len give the byte span in file->text (len may be 0). */
typedef struct SrcLoc {
    const SrcFile *file;
    int line, col;
    int off, len;
} SrcLoc;

/* The smallest span covering a and b (same file). */
SrcLoc srcloc_merge(SrcLoc a, SrcLoc b);

/* ========================================================================
 * diagnostics
 * ======================================================================== */

typedef enum DiagLevel { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

typedef struct Diag Diag;
struct Diag {
    DiagLevel level;
    bool has_loc;
    SrcLoc loc;
    char *msg;
    Diag *notes; /* linked list of DIAG_NOTE attached to this diagnostic */
    Diag *next;
};

/* Errors stop after this many (a "too many errors" diagnostic ends the list). */
#define LAC_MAX_ERRORS 25

typedef struct Diags {
    Arena *arena;
    Diag *first, *last;
    int nerrors, nwarnings;
    bool truncated; /* more than LAC_MAX_ERRORS */
} Diags;

void diags_init(Diags *d, Arena *a);
/* Report at a location; returns the diagnostic so notes can be attached. */
Diag *diag_error(Diags *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
Diag *diag_warning(Diags *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A diagnostic with no source location (command line, I/O). `where` names
 * the origin, e.g. "lac" or "<command line>". */
Diag *diag_error_noloc(Diags *d, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Attach a note (may be NULL-parent-safe: a NULL parent is ignored). */
void diag_note(Diags *d, Diag *parent, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_note_noloc(Diags *d, Diag *parent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef enum DiagFormat { DIAG_FORMAT_HUMAN, DIAG_FORMAT_PLAIN } DiagFormat;
/* HUMAN: "file:line:col: error: msg", source line, caret line, notes.
 * PLAIN: one line per diagnostic and note, no source (machine-readable). */
void diags_render(const Diags *d, DiagFormat fmt, StrBuf *out);

/* ========================================================================
 * tokens & lexer (lexer.l)
 * ======================================================================== */

typedef enum TokKind {
    TOK_EOF = 0,
    TOK_IDENT,
    TOK_NUMBER,
    TOK_KEYWORD,
    TOK_PUNCT,
} TokKind;

typedef struct Token {
    int kind;          /* the bison token kind (yytoken_kind_t) */
    const char *text;  /* the spelling, arena-owned */
    double num;        /* TOK_NUMBER */
    bool is_int;       /* TOK_NUMBER written without '.' or exponent */
    SrcLoc loc;
} Token;

/* Lexer state shared by flex (extra) and the parser. */
typedef struct LexState {
    const SrcFile *file;
    Arena *arena;
    Diags *diags;
    int off, line, col;    /* position of the next byte */
    SrcLoc prev_loc;       /* the token before the current one */
    SrcLoc cur_loc;        /* the current (most recent) token */
    Diag *bad_diag;        /* last "invalid character" diagnostic, to merge runs */
    int bad_end;           /* byte offset just past that run */
} LexState;

/* Tokenize a whole file (for `lac dump --tokens`); returns count, tokens in *out. */
int lexer_tokenize(const SrcFile *file, Arena *a, Diags *d, Token **out);
/* Printable name of a bison token kind ("identifier", "';'", "\"param\""). */
const char *lexer_token_name(int kind);

/* ========================================================================
 * AST (ast.c)
 * ======================================================================== */

typedef enum ExprKind {
    EX_NUM,   /* literal */
    EX_NAME,  /* identifier: param, input, let, built-in */
    EX_NEG,   /* unary minus: lhs */
    EX_BIN,   /* lhs op rhs */
    EX_CALL,  /* name(args) */
    EX_ERROR, /* placeholder after a syntax error */
} ExprKind;

typedef enum BinOp { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MATMUL } BinOp;
const char *binop_spelling(BinOp op);

/* Where a value varies: a compile-time constant, a run-time value that is
 * the same for every token of one (sequence, head) (head index, per-head
 * inputs, sequence length), or a value per token. Ordered: join = max. */
typedef enum Variation { VAR_CONST, VAR_UNIFORM, VAR_TOKEN } Variation;
const char *variation_name(Variation v);

/* A closed interval with infinities, for sign analysis (log-space decay). */
typedef struct Interval {
    double lo, hi;
} Interval;

/* The type sema gives every expression: a row of `cols` channels (cols == 1
 * is a scalar per row), or a weight matrix rows x cols (rows > 0) that may
 * only appear on the right of '@'. See docs/language.md section 5.1. */
typedef struct Type {
    bool err;        /* an error was already reported below; stay quiet */
    Variation var;
    int rows;        /* > 0 only for weight matrices */
    int cols;
    bool known;      /* compile-time value known (var == VAR_CONST, cols == 1) */
    double value;
    Interval range;  /* of every element */
} Type;

/* Built-in functions and names, resolved by sema. */
typedef enum Builtin {
    BI_NONE = 0,
    /* elementwise unary */
    BI_EXP, BI_LOG, BI_SQRT, BI_RELU, BI_ELU, BI_SIGMOID, BI_LOGSIGMOID, BI_SILU,
    BI_COS, BI_SIN, BI_SOFTPLUS, BI_TANH, BI_ABS,
    /* elementwise binary */
    BI_POW, BI_MINIMUM, BI_MAXIMUM,
    /* row reductions (-> 1 channel) */
    BI_SUM, BI_MAX, BI_MIN, BI_MEAN,
    /* row maps */
    BI_SOFTMAX,
    /* structure */
    BI_CONCAT, BI_OUTER, BI_ONES,
    /* built-in names */
    BI_POS, BI_HEAD, BI_NUM_HEADS, BI_SEQ_LEN, BI_PI,
    BI_COUNT_
} Builtin;
const char *builtin_name(Builtin b);
/* Scalar meaning of elementwise built-ins and operators (shared by constant
 * folding and the reference). */
double builtin_apply1(Builtin b, double x);
double builtin_apply2(Builtin b, double x, double y);
double binop_apply(BinOp op, double x, double y);

typedef struct Symbol Symbol;
typedef struct Expr Expr;
struct Expr {
    ExprKind kind;
    SrcLoc loc;
    double num;        /* EX_NUM */
    bool is_int;       /* EX_NUM */
    const char *name;  /* EX_NAME, EX_CALL */
    SrcLoc name_loc;   /* EX_CALL: the function name */
    BinOp op;          /* EX_BIN */
    Expr *lhs, *rhs;   /* EX_BIN; EX_NEG uses lhs */
    Expr **args;       /* EX_CALL */
    int nargs;
    int depth;         /* nesting depth, bounded by the parser */
    /* filled by sema */
    Type type;
    Symbol *sym;       /* EX_NAME bound to a param, input or let */
    Builtin fn;        /* EX_CALL function, or EX_NAME built-in */
};

/* The deepest expression the parser accepts (keeps recursion bounded). */
#define LAC_MAX_EXPR_DEPTH 256

typedef enum StmtKind {
    ST_PARAM, ST_INPUT, ST_LET, ST_QUERY, ST_KEY, ST_VALUE, ST_SCALE,
    ST_DECAY, ST_NORMALIZE, ST_MASK, ST_TILE, ST_TUNE,
} StmtKind;
const char *stmt_kind_name(StmtKind k);

typedef struct Dim {
    SrcLoc loc;
    const char *name; /* identifier, or NULL for a number */
    double num;
    bool is_int;
} Dim;

typedef struct Stmt {
    StmtKind kind;
    SrcLoc loc;        /* the whole statement */
    const char *name;  /* param, input, let, tile and tune key; decay form; mask;
                          normalize option ("eps") */
    SrcLoc name_loc;
    Expr *expr;        /* value (param, let, query, key, value, scale, decay,
                          normalize eps, tile) */
    /* ST_INPUT */
    const char *dtype;
    SrcLoc dtype_loc;
    Dim *dims;
    int ndims;
    SrcLoc dims_loc;
    bool dims_on_name;     /* "input q[K] : bf16;" (a common mistake) */
    SrcLoc name_dims_loc;
    /* ST_TUNE */
    Expr **values;
    int nvalues;
    SrcLoc values_loc;
} Stmt;

typedef struct AttnDecl {
    const char *name;
    SrcLoc loc, name_loc;
    Stmt **stmts;
    int nstmts;
} AttnDecl;

typedef struct AstFile {
    const SrcFile *src;
    AttnDecl **decls;
    int ndecls;
} AstFile;

Expr *expr_new(Arena *a, ExprKind kind, SrcLoc loc);
Expr *expr_new_bin(Arena *a, BinOp op, Expr *lhs, Expr *rhs);
void ast_dump(const AstFile *f, StrBuf *out);   /* deterministic */
void expr_dump(const Expr *e, StrBuf *out);      /* one line, s-expression */
void type_format(const Type *t, StrBuf *out);

/* ========================================================================
 * parser (parser.y)
 * ======================================================================== */

/* Parse a file into an AST; syntax errors go to `d`. Never NULL: a file
 * with errors yields the statements that could be recovered. */
AstFile *parser_parse(const SrcFile *file, Arena *a, Diags *d);

/* ========================================================================
 * sema (sema.c): checks a parsed file and builds the Variant
 * ======================================================================== */

typedef enum DType { DT_BF16, DT_F16, DT_F32 } DType;
const char *dtype_name(DType t);
int dtype_size(DType t);

/* Input layouts in fla's convention; B and T only appear together. */
typedef enum Layout {
    LAYOUT_TOKEN,        /* [B, T, H]      one value per token and head */
    LAYOUT_TOKEN_VEC,    /* [B, T, H, C] */
    LAYOUT_HEAD,         /* [H] */
    LAYOUT_HEAD_VEC,     /* [H, C] */
    LAYOUT_HEAD_MAT,     /* [H, R, C]      a weight matrix per head */
    LAYOUT_SHARED_VEC,   /* [C] */
    LAYOUT_SHARED_MAT,   /* [R, C]         a weight matrix shared by heads */
} Layout;
const char *layout_name(Layout l);

typedef enum SymKind { SYM_PARAM, SYM_INPUT, SYM_LET } SymKind;

/* Roles an input plays, so `lac ref` can draw sensible random values:
 * ROLE_POSITIVE is the query or key of a normalized variant used as it is
 * (no feature map), drawn |N(0, 1)| so that q . z keeps one sign. */
enum { ROLE_LOG_GATE = 1, ROLE_POSITIVE = 2 };

struct Symbol {
    SymKind kind;
    const char *name;
    SrcLoc loc;
    Stmt *stmt;
    bool used;
    int index;         /* into Variant.params / inputs / lets */
    Type type;
    /* SYM_PARAM */
    double value;
    bool is_int;
    bool overridden;   /* set with --set */
    /* SYM_INPUT */
    DType dtype;
    Layout layout;
    int rows, cols;    /* channel dims (rows only for matrices) */
    int roles;
    /* SYM_LET */
    Expr *expr;
};

typedef enum DecayKind { DECAY_NONE, DECAY_PER_HEAD, DECAY_PER_TOKEN, DECAY_PER_KEY } DecayKind;
const char *decay_kind_name(DecayKind k);

/* Block sizes and tuning knobs, see docs/language.md section 11. */
typedef enum TuneKnob { KNOB_CHUNK, KNOB_SUBCHUNK, KNOB_BLOCK_K, KNOB_BLOCK_V, KNOB_WARPS,
                        KNOB_STAGES, KNOB_COUNT_ } TuneKnob;
const char *knob_name(TuneKnob k);

#define LAC_MAX_TUNE_VALUES 16

typedef struct TuneSpace {
    int tile[KNOB_COUNT_];                       /* the default configuration */
    bool tile_set[KNOB_COUNT_];                  /* written in a tile statement */
    int values[KNOB_COUNT_][LAC_MAX_TUNE_VALUES]; /* the tuning set of each knob */
    int nvalues[KNOB_COUNT_];                    /* 1 when not tuned (= tile) */
    long nconfigs;                               /* valid combinations */
} TuneSpace;

/* The checked variant: everything later stages need, with types resolved. */
typedef struct Variant {
    const char *name;
    SrcLoc loc;
    const SrcFile *src;
    Symbol **params;  int nparams;
    Symbol **inputs;  int ninputs;
    Symbol **lets;    int nlets;
    Expr *query, *key, *value;  /* feature-mapped rows */
    int dk;                     /* key/query feature count */
    int dv;                     /* value channels */
    DecayKind decay;
    Expr *decay_expr;           /* log-space; NULL for DECAY_NONE */
    bool causal;
    bool normalize;
    double eps;
    Expr *scale;                /* VAR_CONST or VAR_UNIFORM scalar */
    TuneSpace tune;
} Variant;

/* A --set NAME=VALUE override applied to a param before checking. */
typedef struct ParamOverride {
    const char *name;
    double value;
    bool is_int;
    bool used;
} ParamOverride;

/* Check `f`; returns the Variant or NULL when errors were reported. */
Variant *sema_check(const AstFile *f, const ParamOverride *ovr, int novr, Arena *a, Diags *d);
/* Longest channel count sema accepts for one row (features after maps). */
#define LAC_MAX_CHANNELS 65536
/* Largest declared dimension of an input. */
#define LAC_MAX_DIM 16384

/* Is val allowed for knob k (section 11, the value on its own)? */
bool sema_knob_ok(TuneKnob k, int val);
/* A block size clamped to the 16-rounded dimension it tiles (section 11). */
int sema_knob_clamp(const Variant *v, TuneKnob k, int val);
/* Evaluate a VAR_CONST scalar expression (after sema). */
double sema_const_value(const Expr *e);
/* A one-line summary of a variant for `lac check`. */
void variant_summary(const Variant *v, StrBuf *out);

/* ========================================================================
 * CPU reference (ref.c): float64, recurrent form, docs/language.md section 12
 * ======================================================================== */

typedef struct RefProblem {
    int B, T, H;
    /* One array per Variant input, in the input's layout, float64. */
    double **inputs;
    /* Optional initial state [B, H, dk, dv] and normalizer [B, H, dk]; NULL = 0. */
    const double *s0, *z0;
    /* Outputs, caller-allocated: o [B, T, H, dv]; final state [B, H, dk, dv];
     * final normalizer [B, H, dk] (only for normalized variants; may be NULL). */
    double *o, *s_final, *z_final;
} RefProblem;

/* Number of elements of input i for the given B, T, H. */
size_t ref_input_numel(const Variant *v, int i, int B, int T, int H);
/* Fill the inputs with seeded random values (docs/language.md section 13). */
void ref_fill_inputs(const Variant *v, RefProblem *p, uint64_t seed);
/* Fill a buffer with N(0, sd^2) values from a seeded generator. */
void ref_fill_normal(double *x, size_t n, double sd, uint64_t seed);
/* Tokens of the random prefix whose final state is `lac ref --initial-state`. */
#define REF_PREFIX 16
/* s0 [B, H, dk, dv] and z0 [B, H, dk] (z0 may be NULL when the variant is not
 * normalized) := the final state after REF_PREFIX random tokens (section 13). */
bool ref_initial_state(const Variant *v, const RefProblem *p, uint64_t seed, double *s0,
                       double *z0, Diags *d);
/* Run the recurrence. Returns false and reports into d on run-time problems
 * (a decay that is positive, a non-finite value). */
bool ref_run(const Variant *v, const RefProblem *p, Diags *d);

/* Write a float64 array as a NumPy .npy file; false on I/O error (errno set). */
bool npy_write_f64(const char *path, const double *data, const int *dims, int ndims);

/* ========================================================================
 * tile IR (tir.c): a kernel as a program over tiles
 *
 * A TirProgram is one CTA-level kernel: a list of ops, with regions for
 * loops and warp-uniform branches. Values are scalars (i32, f32, bool),
 * shared-memory tiles (a ring of `nbuf` buffers of rows x cols), warp
 * register fragments (a warp's rows x cols tile in one of the three layouts
 * of mma.sync m16n8k16: the fp32 accumulator, the A operand, the B operand)
 * and global tensors (kernel parameters). Every op carries the SrcLoc of the
 * .la construct it implements. Templates (templates/) build programs with
 * the tir_* builder; lower.c turns them into LLVM IR; `lac dump --tir` prints
 * them (docs/design.md section 8 describes the ops).
 * ======================================================================== */

/* TT_LANES: `cols` f32 a thread, lane l's holding tokens l * cols + q of a
 * chunk (ld.token; what a token scan reads in place of its staged rows). */
typedef enum TirType { TT_I32, TT_F32, TT_BOOL, TT_SMEM, TT_FRAG, TT_GMEM, TT_LANES } TirType;
/* Element types of tiles. TE_SPLIT is fp32 carried as two bf16 planes,
 * hi = bf16(x) and lo = bf16(x - hi), multiplied with three mma.sync (the
 * fp32 path: about 16 bits of mantissa). */
typedef enum TirElem { TE_BF16, TE_F16, TE_F32, TE_SPLIT } TirElem;
/* Fragment layouts (algorithms.md 5): ACC rows g, g+8 and columns 2c, 2c+1
 * of each 16x8 tile; A a 16x16 row-major operand; B a 16x8 column operand. */
typedef enum TirRole { TR_ACC, TR_A, TR_B } TirRole;

typedef struct TirValue {
    int id;
    TirType type;
    TirElem elem;
    const char *name;     /* a hint for the printer */
    int rows, cols;       /* TT_SMEM: one buffer; TT_FRAG: the warp's tile */
    int stride;           /* TT_SMEM: row stride in elements */
    int nbuf;             /* TT_SMEM: buffers in the ring */
    int offset;           /* TT_SMEM: byte offset in dynamic shared memory */
    /* TT_SMEM: 0 = padded rows (stride); 128 = wgmma's 128-byte swizzle:
     * 16-bit elements in column blocks of 64 (each rows x 128 bytes, 1024-
     * byte aligned; stride: the columns of the whole blocks), the 16-byte
     * chunk c of row r at chunk c ^ (r % 8). */
    int swizzle;
    TirRole role;         /* TT_FRAG */
    /* TT_GMEM: kernel parameter `param`; a Variant input, or NULL for an
     * output; `gcols` channels per row ([B, T, H, C] rows, or state rows). */
    int param;
    const Symbol *input;
    TirElem gelem;
    int gcols;
    const char *shape;    /* printed layout, e.g. "[B, T, H, 128]" */
    bool optional;        /* a pointer that may be 0 (s0, s_final) */
    bool is_const;        /* TT_I32, TT_F32 literal: cval, defined by no op */
    double cval;
} TirValue;

/* Elementwise expressions of maps and operand transforms. ROW and COL are
 * the element's logical coordinates (i32); VEC and MAT read f32 from a
 * shared vector or tile; SLOT reads the same register slot of 16x8 tile
 * `ival` of a fragment of the same rows (the normalizer column); FRAG reads
 * the same element of another fragment of the same shape. */
typedef enum TirExKind {
    TX_X, TX_ROW, TX_COL, TX_CONST, TX_ICONST, TX_SCALAR, TX_VEC, TX_MAT, TX_SLOT, TX_FRAG,
    TX_ADD, TX_SUB, TX_MUL, TX_DIV, TX_MAX, TX_MIN, TX_NEG, TX_EXP, TX_EXP2,
    TX_IADD, TX_ISUB, TX_ILE, TX_ILT, TX_FGT, TX_AND, TX_OR, TX_SELECT,
} TirExKind;

typedef struct TirEx TirEx;
struct TirEx {
    TirExKind kind;
    double num;           /* TX_CONST */
    int ival;             /* TX_ICONST; TX_SLOT: the 16x8 tile column index */
    struct TirValue *val; /* TX_SCALAR, TX_VEC, TX_MAT, TX_SLOT */
    struct TirValue *buf; /* TX_VEC, TX_MAT: buffer index (NULL = 0) */
    TirEx *a, *b, *c;
};

/* An MMA operand: a fragment, or a view of a shared tile whose origin is
 * (row0 + roff, col0 + coff) in stored coordinates; `trans` makes the
 * operand the transpose of the stored view. `xf` transforms each element
 * (X) at its logical (ROW, COL) before the product. */
typedef struct TirOperand {
    struct TirValue *v;
    struct TirValue *buf, *row0, *col0;
    int roff, coff;
    bool trans;
    TirEx *xf;
    /* A bf16 operand whose transform rounds: carry it as hi + lo (two
     * products), so that the transform adds no rounding of its own. */
    bool split;
} TirOperand;

typedef enum TirOpKind {
    TIR_SREG, TIR_BIN, TIR_LA_SCALAR,
    TIR_SMEM, TIR_FILL,
    TIR_COPY, TIR_COMMIT, TIR_WAIT, TIR_BARRIER,
    TIR_ZERO, TIR_MMA, TIR_MAP, TIR_TOA, TIR_CAT, TIR_COLS, TIR_DTAB, TIR_STS, TIR_STG, TIR_LDSTATE, TIR_STSTATE,
    TIR_LDTOKEN, TIR_SCAN_TOKEN, TIR_SCAN_KEY, TIR_ROWMAP, TIR_ANY, TIR_GLA_DIAG, TIR_GLA_PREP, TIR_LDA,
    TIR_FOR, TIR_IF, TIR_YIELD,
} TirOpKind;

typedef enum TirBinOp {
    TB_ADD, TB_SUB, TB_MUL, TB_DIV, TB_REM, TB_MIN, TB_MAX, TB_LT, TB_LE, TB_EQ, TB_NE, TB_AND,
} TirBinOp;

typedef struct TirOp TirOp;
typedef struct TirBlock {
    TirOp **ops;
    int n, cap;
} TirBlock;

/* An input that a .la expression reads, as the op sees it: staged in shared
 * memory (`tile`, buffer `buf`), loaded already (`lanes`, token scans only)
 * or read from global memory (both NULL). */
typedef struct TirEnv {
    const Symbol *input;
    struct TirValue *tile, *buf, *gmem, *lanes;
} TirEnv;

struct TirOp {
    TirOpKind kind;
    SrcLoc loc;
    struct TirValue *res;
    struct TirValue *args[10];
    int nargs;
    int ival, ival2, ival3, ival4; /* per kind, see tir.c */
    double fval;
    const char *sval;
    TirOperand a, b;      /* TIR_MMA */
    /* TIR_MMA: a warpgroup product. The four warps of the group (warp % 4 =
     * 0..3) hold rows 16 (warp % 4).. of one 64-row product whose A starts
     * at the view's tile row 0 (or is a fragment); wgmma on sm_90a, the
     * per-warp mma.sync of the view elsewhere. Limits are ignored by wgmma
     * (the whole product is computed). */
    bool wg;
    TirEx *ex;            /* TIR_MAP, TIR_ANY */
    const Expr *la;       /* TIR_LA_SCALAR, TIR_SCAN_*, TIR_ROWMAP */
    TirEnv *env;          /* TIR_SCAN_*, TIR_ROWMAP */
    int nenv;
    int thr_lo, thr_n;    /* the threads that take part (copies, scans, maps) */
    int rec, rec_base;    /* LDSTATE, STSTATE: floats per record index, offset of the part */
    int lim_rows, ld;     /* LDSTATE, STSTATE: rows of the part, and its row length */
    TirBlock body, orelse; /* TIR_FOR, TIR_IF */
    struct TirValue *iv;  /* TIR_FOR */
    struct TirValue **carried, **inits, **results; /* TIR_FOR, TIR_IF results */
    int ncarried;
};

/* One kernel. The builder appends to the innermost open region. */
typedef struct TirProgram {
    Arena *a;
    const Variant *v;
    const char *name;
    SrcLoc loc;
    int threads, smem_bytes;
    bool has_wg;          /* some MMA is a warpgroup product */
    int nvalues;
    TirValue **params;
    int nparams, cap_params;
    TirBlock top;
    TirBlock *cur[32];    /* open regions */
    int depth;
    TirOp *open[32];      /* the FOR/IF op of each open region (NULL at the top) */
    SrcLoc at;            /* the location given to new ops */
} TirProgram;

TirProgram *tir_program_new(Arena *a, const Variant *v, const char *name, int threads);
void tir_at(TirProgram *p, SrcLoc loc);  /* location of the ops that follow */
TirValue *tir_param_gmem(TirProgram *p, const char *name, const Symbol *input, TirElem elem, int gcols,
                         const char *shape, bool optional);
TirValue *tir_param_i32(TirProgram *p, const char *name);
TirValue *tir_i32(TirProgram *p, int x);
TirValue *tir_f32(TirProgram *p, double x);
/* A PTX special register (%tid.x, %ctaid.y, ...), or "warp": tid.x / 32
 * broadcast from lane 0, which ptxas knows is warp-uniform. */
TirValue *tir_sreg(TirProgram *p, const char *name);
TirValue *tir_bin(TirProgram *p, TirBinOp op, TirValue *x, TirValue *y, const char *name);
TirValue *tir_la_scalar(TirProgram *p, const Expr *e, TirEnv *env, int nenv, TirValue *b, TirValue *h,
                        const char *name);
TirValue *tir_smem(TirProgram *p, const char *name, TirElem elem, int nbuf, int rows, int cols, int pad);
/* Give a 16-bit tile (rows % 8 == 0, cols % 8 == 0) the 128-byte swizzle;
 * its buffers hold whole column blocks of 64. */
void tir_smem_swizzle(TirValue *t);
void tir_fill(TirProgram *p, TirValue *tile, int col_lo, int col_hi, double x);
/* dst[buf][drow + r][c] = src[b, t0 + r, h, c0 + c] for r < rows, c < cols;
 * zero where t0 + r >= T or c0 + c >= src->gcols. Threads thr_lo ..
 * thr_lo + thr_n - 1 issue the copies (cp.async, 16 bytes where rows allow). */
void tir_copy(TirProgram *p, TirValue *dst, TirValue *buf, int drow, TirValue *src, TirValue *b,
              TirValue *t0, TirValue *h, TirValue *c0, TirValue *T, int rows, int cols, int thr_lo,
              int thr_n);
void tir_commit(TirProgram *p);
void tir_wait(TirProgram *p, int pending);
void tir_barrier(TirProgram *p);
/* A barrier of the whole CTA that is also an OR of pred over its threads
 * (bar.red.or): the result is the same bool in every thread. */
TirValue *tir_barrier_any(TirProgram *p, TirValue *pred);
TirValue *tir_zero(TirProgram *p, int rows, int cols, const char *name);
TirOperand tir_view(TirValue *tile, TirValue *buf, TirValue *row0, int roff, TirValue *col0, int coff,
                    bool trans, TirEx *xf);
TirOperand tir_frag_operand(TirValue *frag);
/* The A operand `a` (rows x K of a shared view, its transform applied;
 * split: hi and lo planes) loaded into a warp's registers once, for the
 * products that share it (tir_frag_operand). */
TirValue *tir_lda(TirProgram *p, TirOperand a, int rows, int K, const char *name);
/* acc + A x B, with A rows x K and B K x cols. nlimit: skip 16-column blocks
 * at or past it; klimit: skip 16-deep blocks at or past it (i32, or NULL). */
TirValue *tir_mma(TirProgram *p, TirValue *acc, TirOperand a, TirOperand b, int K, TirValue *nlimit,
                  TirValue *klimit, const char *name);
/* The same as a warpgroup product (TirOp.wg). */
TirValue *tir_mma_wg(TirProgram *p, TirValue *acc, TirOperand a, TirOperand b, int K, TirValue *nlimit,
                     TirValue *klimit, const char *name);
TirValue *tir_map(TirProgram *p, TirValue *frag, TirValue *row0, int roff, TirValue *col0, int coff,
                  TirEx *ex, const char *name);
TirValue *tir_toa(TirProgram *p, TirValue *acc, TirElem elem, const char *name);
/* ACC fragments side by side: x's columns, then y's (the same rows). */
TirValue *tir_cat(TirProgram *p, TirValue *x, TirValue *y, const char *name);
/* Columns col0 .. col0 + ncols - 1 of an ACC fragment (multiples of 8). */
TirValue *tir_cols(TirProgram *p, TirValue *x, int col0, int ncols, const char *name);
/* The decay table of a per-head log decay lam: tab[i] = e^((i - off) lam)
 * for i >= off, else 0, for i < tab->cols (all threads; read after the next
 * barrier). e^(b_i - b_j) of the chunk is then tab[i - j + off], causal
 * mask included. */
void tir_decay_table(TirProgram *p, TirValue *tab, TirValue *lam, int off);
void tir_sts(TirProgram *p, TirValue *frag, TirValue *tile, TirValue *buf, TirValue *row0, int roff,
             TirValue *col0, int coff);
/* o[b, t0 + r, h, c0 + c] = frag[r][c] for r < rows, c < ncols, where t0 + r < T
 * and c0 + c < o->gcols; through the warp's part of `stage` (16-byte stores). */
void tir_stg(TirProgram *p, TirValue *frag, int ncols, TirValue *o, TirValue *b, TirValue *t0,
             TirValue *h, TirValue *c0, TirValue *T, TirValue *stage, TirValue *slot);
/* A fragment of f32 records: element (r, c) is ptr[idx * rec + base + (row0 + r) * ld + col0 + c]
 * for row0 + r < nrows and col0 + c < ld (zero elsewhere, and zero when ptr is
 * null); vec: every column of row r is ptr[idx * rec + base + row0 + r] (a
 * vector per row, such as the normalizer z). The state s0 is records of
 * dk x dv at idx = b * H + h. */
TirValue *tir_ldstate(TirProgram *p, TirValue *ptr, int rows, int cols, TirValue *idx, int rec,
                      int base, int nrows, int ld, TirValue *row0, int roff, TirValue *col0, int coff,
                      bool vec, const char *name);
/* The inverse, for columns < ncols of the fragment (vec: column 0). */
void tir_ststate(TirProgram *p, TirValue *frag, int ncols, TirValue *ptr, TirValue *idx, int rec, int base,
                 int nrows, int ld, TirValue *row0, int roff, TirValue *col0, int coff, bool vec);
/* Lane l of every thread that reaches it loads src[b, t, h] for the tokens
 * t = t0 + l * per + q, q < per, of a [B, T, H] input (t clamped to T - 1:
 * a scan zeroes the tokens past T). Used only by a later token scan's env
 * (`lanes`), so that the loads are in flight while other work runs. */
TirValue *tir_ldtoken(TirProgram *p, TirValue *src, TirValue *b, TirValue *h, TirValue *t0, TirValue *T,
                      int per, const char *name);
/* Who runs a token scan (below). */
typedef enum TirScanMode {
    SCAN_ONE_WARP, /* the warp at thread thr_lo, into buffer buf */
    SCAN_PER_WARP, /* every warp of the range, each into its own warp's buffer */
    SCAN_ALL_WARPS /* every warp of the range, the same values into buffer buf:
                    * no branch around it, so it may run under a pending
                    * warpgroup product (ptxas serializes wgmma across a
                    * divergent path, C7520) */
} TirScanMode;
/* Inclusive prefix sum of the per-token decay of the chunk into vec: by the
 * warp at thread thr_lo into buffer buf (NULL: 0); per warp by every warp of
 * threads [thr_lo, thr_lo + thr_n) into the buffer of its own warp index
 * (no barrier: each warp reads only its own copy); or by all of them into
 * buf. With log2, the sums are stored times log2(e), for readers that take
 * exp2 of them (one multiply less an element of P). */
void tir_scan_token(TirProgram *p, TirValue *vec, TirValue *buf, const Expr *decay, TirEnv *env, int nenv,
                    TirValue *b, TirValue *h, TirValue *t0, TirValue *T, int thr_lo, int thr_n, TirScanMode mode,
                    bool log2);
/* Inclusive prefix sum down the rows of the per-key decay into tile[buf]
 * (f32; buf NULL for buffer 0). Each thread walks one column, reading the
 * decay's inputs at a row before it writes that row, so tile may be the
 * ring slot of the decay's one input (the scan in place). */
void tir_scan_key(TirProgram *p, TirValue *tile, TirValue *buf, const Expr *decay, TirEnv *env, int nenv, TirValue *b,
                  TirValue *h, TirValue *t0, TirValue *T, int cols, int thr_lo, int thr_n);
/* dst[buf][r][0..width) = channels c0 + 0.. of e for token t0 + r: zero
 * for tokens past T and for channels at or past nch. */
void tir_rowmap(TirProgram *p, TirValue *dst, TirValue *buf, const Expr *e, TirEnv *env, int nenv,
                TirValue *b, TirValue *h, TirValue *t0, TirValue *T, TirValue *c0, int width, int nch,
                int thr_lo, int thr_n);
/* The diagonal 16 x 16 block of the scores of rows r0.. under a per-key
 * decay, exactly: P[i][j] = sum_k q[i][k] k[j][k] e^(B[i][k] - B[j][k]) for
 * r0 <= j <= i < r0 + 16 (fp32, elementwise), B = bt[btbuf]; the other
 * elements of P stay. */
TirValue *tir_gla_diag(TirProgram *p, TirValue *P, TirValue *q, TirValue *qbuf, TirValue *k, TirValue *kbuf,
                       TirValue *bt, TirValue *btbuf, TirValue *r0, int dk);
/* The per-key decay of a chunk in the reference of the chunk's start
 * (GLA's fast form, docs/design.md section 8.2), by threads 0 .. thr_n - 1
 * of the CTA, each two columns of rows / (thr_n / (cols / 2)) consecutive
 * rows (the rows' partial sums added up across the warp's lanes):
 *   bt[btbuf][r][c] = B[r][c], the inclusive cumulative decay (in place
 *                     over the decay's one input, as scan.key),
 *   kx[r][c]        = bf16(k[kbuf][r][c] e^(-B[r][c]))  (kx swizzled or not),
 * zero decay past T. The result, per thread: some |B| of its elements is
 * over lim (or not a number), so that kx may not hold what it should. */
TirValue *tir_gla_prep(TirProgram *p, TirValue *bt, TirValue *btbuf, const Expr *decay, TirEnv *env, int nenv,
                       TirValue *b, TirValue *h, TirValue *t0, TirValue *T, TirValue *k, TirValue *kbuf,
                       TirValue *kx, int cols, double lim, int thr_n);
/* A bool: is ex true for some element (ROW, COL) of rows x cols (lanes of one warp)? */
TirValue *tir_any(TirProgram *p, int rows, int cols, TirValue *row0, TirValue *col0, TirEx *ex);

/* Regions. for: the body sees p->open[...]->iv and the carried values. */
TirOp *tir_for_begin(TirProgram *p, TirValue *lo, TirValue *hi, int ncarried, TirValue **inits,
                     const char *iv_name);
void tir_for_end(TirProgram *p, TirValue **yields); /* results in op->results */
TirOp *tir_if_begin(TirProgram *p, TirValue *cond, int nresults, TirValue **pre);
void tir_else(TirProgram *p, TirValue **then_yields);
void tir_if_end(TirProgram *p, TirValue **yields); /* yields of the open branch */

/* Expression builders (arena-allocated). */
TirEx *tx_x(TirProgram *p);
TirEx *tx_row(TirProgram *p);
TirEx *tx_col(TirProgram *p);
TirEx *tx_const(TirProgram *p, double x);
TirEx *tx_iconst(TirProgram *p, int x);
TirEx *tx_scalar(TirProgram *p, TirValue *v);
TirEx *tx_vec(TirProgram *p, TirValue *vec, TirValue *buf, TirEx *index);
TirEx *tx_mat(TirProgram *p, TirValue *tile, TirValue *buf, TirEx *row, TirEx *col);
TirEx *tx_slot(TirProgram *p, TirValue *frag, int ntile);
TirEx *tx_frag(TirProgram *p, TirValue *frag);
TirEx *tx_bin(TirProgram *p, TirExKind k, TirEx *a, TirEx *b);
TirEx *tx_un(TirProgram *p, TirExKind k, TirEx *a);
TirEx *tx_select(TirProgram *p, TirEx *c, TirEx *a, TirEx *b);

/* Lay out the shared tiles (16-byte aligned); sets p->smem_bytes. */
void tir_layout_smem(TirProgram *p);
/* Check the program's invariants (types, shapes, regions); false + internal
 * diagnostics on failure (a bug in a template, not a user error). */
bool tir_verify(const TirProgram *p, Diags *d);
/* Deterministic text form: `lac dump --tir`. */
void tir_print(const TirProgram *p, StrBuf *out);
const char *tir_elem_name(TirElem e);
int tir_elem_bytes(TirElem e); /* per plane: 2 for bf16, f16, split; 4 for f32 */

/* ========================================================================
 * code generation (codegen_llvm.c, templates/, emit_ptx.c)
 * ======================================================================== */

/* One configuration of the tuning space (docs/language.md section 11). */
typedef struct KernelConfig {
    int chunk, subchunk, block_k, block_v, warps, stages;
} KernelConfig;
/* The Variant's default configuration (its tile values). */
KernelConfig kernel_config_default(const Variant *v);

/* The kernels of the forward (docs/design.md section 8):
 *   FWD_FULL         the state on chip through the whole sequence
 *   FWD_SPLIT_STATE  sequence split, pass 1: each segment's own final state
 *   FWD_SPLIT_OUT    sequence split, pass 2: combine the states of the
 *                    segments before, then the outputs of the segment */
typedef enum FwdKind { FWD_FULL, FWD_SPLIT_STATE, FWD_SPLIT_OUT } FwdKind;
const char *fwd_kind_name(FwdKind k);

/* What a launcher needs to know about a generated kernel. The PTX text
 * carries it too, as the comment line
 *   // lac-kernel name=N threads=T smem=S block_v=BV dk=K dv=V io=bf16 norm=0 kind=full
 * Parameters: one device pointer per Variant input (declaration order), o,
 * s0 (or 0), s_final (or 0), then for normalized variants z0 and z_final (or
 * 0), then int32 B, T, H; split kernels add the workspace pointer and the
 * int32 segment length (tokens) after H. Grid (ceil(dv / block_v), B * H,
 * segments); block (threads); dynamic shared memory `smem` bytes. */
typedef struct KernelInfo {
    char name[96];
    int threads;
    int smem_bytes;
    int block_v;
    int chunk;
    int dk, dv;
    DType io;
    bool norm;
    FwdKind kind;
    KernelConfig config;
} KernelInfo;

/* The dtype of o: that of the value rows' input (the first per-token vector
 * input that the value reads, else the first per-token vector input). */
DType fwd_io_dtype(const Variant *v);

/* templates/fwd_state.c: the forward as a tile program, or NULL with
 * located errors for what the code generator does not support. */
TirProgram *tmpl_fwd(const Variant *v, const KernelConfig *kc, FwdKind kind, Arena *a, Diags *d,
                     KernelInfo *info);

/* Compile the forward kernels of `v` at configuration `kc` (NULL: the
 * default) for `arch` (sm_80, sm_90, sm_90a): the state-on-chip kernel and
 * the two kernels of the sequence split. On success appends the PTX (each
 * kernel with its lac-kernel line) to `ptx`, the LLVM IR to `llvm_ir` and
 * the tile IR to `tir` when they are not NULL. Unsupported variants get
 * located errors. */
bool codegen_forward_ptx(const Variant *v, const KernelConfig *kc, const char *arch, StrBuf *ptx,
                         StrBuf *llvm_ir, StrBuf *tir, Arena *a, Diags *d);
/* Do the tile programs of configuration kc build for `arch` (the state's
 * registers, shared memory: what rules a configuration out before LLVM)?
 * Diagnostics go nowhere; the first error's text into why[n] when why is
 * given. */
bool codegen_config_fits(const Variant *v, const KernelConfig *kc, const char *arch, char *why, size_t n);

/* ========================================================================
 * compile requests (request.c): what `lac compile`, the runtime and the GPU
 * tests share
 * ======================================================================== */

/* The --set NAME=VALUE list of a compilation: param overrides, and tile
 * settings that pin a knob of the tuning space. */
typedef struct CompileSets {
    ParamOverride *ovr; /* room for `cap` */
    int novr, cap;
    int knob[KNOB_COUNT_]; /* a pinned tile setting, or 0 */
    const char *knob_text[KNOB_COUNT_];
} CompileSets;

/* Add one "NAME=VALUE"; false when it does not parse (or there is no room). */
bool compile_sets_add(CompileSets *cs, const char *text, Arena *a);
/* Parse and check a source with the param overrides; NULL with diagnostics. */
Variant *compile_check(const SrcFile *src, const CompileSets *cs, Arena *a, Diags *d);
/* The default configuration with the pinned knobs; false with diagnostics. */
bool compile_config(const Variant *v, const CompileSets *cs, KernelConfig *kc, Diags *d);
/* The configurations of the tuning space with the pinned knobs (valid,
 * distinct, the default first); at most max; returns how many. */
int compile_configs(const Variant *v, const CompileSets *cs, KernelConfig *out, int max);
/* cfgs[0..n) with one stage each (no prefetch, the smallest rings),
 * duplicates dropped, in place; returns the new count. The fallback of
 * `lac compile` and of the runtime when nothing of the tuning space fits. */
int compile_configs_one_stage(KernelConfig *cfgs, int n);
/* "chunk=64 subchunk=16 block_k=128 block_v=64 warps=8 stages=3" */
void kernel_config_format(const KernelConfig *kc, char *out, size_t n);

/* ========================================================================
 * LLVM (llvm_info.c): the statically linked NVPTX back end
 * ======================================================================== */

/* Writes e.g. "LLVM 19.1.7, nvptx64 target: sm_80 sm_90 sm_90a"; false if the
 * NVPTX target cannot be created (the message says why). */
bool llvm_describe_backend(StrBuf *out);
/* Register the NVPTX target with LLVM, once per process (thread-safe). */
void llvm_init_nvptx(void);
/* "19.1.7" */
void llvm_version(char *out, size_t n);

#endif /* LAC_INTERNAL_H */
