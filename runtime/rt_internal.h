/*
 * rt_internal.h: the runtime's parts that need no GPU, in the order a warm
 * start uses them (each is one file, and each has unit tests that run on
 * any machine, tests/unit/test_runtime.c):
 *
 *   hash    (hash.c)    SHA-256: cache keys, variant hashes, entry checksums
 *   cache   (cache.c)   the on-disk kernel cache: atomic, checksummed,
 *                       owner-only entries under $LAC_CACHE_DIR
 *   tunedb  (tunedb.c)  the tuning database: one text record per line
 *   fp      (fp.c)      float64 to and from bf16, f16, f32
 *
 * Nothing here prints or exits; errors come back as false plus a message.
 */
#ifndef LAC_RT_INTERNAL_H
#define LAC_RT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A whole regular file of at most `max` bytes, NUL-terminated, malloc'ed
 * (cache.c); NULL with errno set (ENOENT, EFBIG, ENOMEM, ...). */
char *store_file_read(const char *path, size_t max, size_t *len);
/* Format a message into err[0..errlen) (nothing when err is NULL). */
void store_msg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ========================================================================
 * hash (hash.c)
 * ======================================================================== */

typedef struct Sha256 {
    uint32_t h[8];
    uint64_t len;          /* bytes so far */
    unsigned char buf[64];
    size_t nbuf;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
/* A string and its terminating NUL, so that ("ab", "c") and ("a", "bc")
 * hash differently. */
void sha256_update_str(Sha256 *s, const char *str);
void sha256_final(Sha256 *s, unsigned char out[32]);
/* 64 hex digits and a NUL. */
void sha256_hex(const unsigned char digest[32], char out[65]);
/* The SHA-256 of a buffer, in hex. */
void sha256_hex_of(const void *data, size_t n, char out[65]);

/* ========================================================================
 * cache (cache.c): the kernel cache
 *
 * An entry is one file, DIR/KIND/KEY (KIND "ptx" or "cubin", KEY 64 hex
 * digits), written as a temporary file in the same folder and renamed into
 * place, so a reader sees the old entry, the new one, or none: never half of
 * one, whatever other processes do at the same time. The file starts with
 * the line "lac-cache 1 SIZE SHA256\n" over the payload that follows;
 * cache_get checks both before it returns anything, and removes an entry
 * that does not match (truncated, corrupted, or not ours), so it is rebuilt.
 * Folders are created 0700 and files 0600.
 * ======================================================================== */

typedef enum CacheResult { CACHE_HIT, CACHE_MISS, CACHE_CORRUPT, CACHE_ERROR } CacheResult;
const char *cache_result_name(CacheResult r);

/* The folder: `explicit_dir` if not NULL, else $LAC_CACHE_DIR, else
 * $XDG_CACHE_HOME/lac, else $HOME/.cache/lac. An explicit or $LAC_CACHE_DIR
 * value of "" disables the cache: out is "" and the result true. false
 * when no folder can be named (no HOME). */
bool cache_dir_resolve(const char *explicit_dir, char *out, size_t n);
/* Creates DIR (and its parents) with mode 0700; false with a message. */
bool cache_dir_make(const char *dir, char *err, size_t errlen);

/* Read entry KIND/KEY: on CACHE_HIT *data is malloc'ed (with a NUL after
 * the payload, so a PTX entry is a C string) and *size its length. A
 * corrupt entry is removed and reported as CACHE_CORRUPT (err says why). */
CacheResult cache_get(const char *dir, const char *kind, const char *key, void **data, size_t *size,
                      char *err, size_t errlen);
/* Write entry KIND/KEY atomically; false with a message. */
bool cache_put(const char *dir, const char *kind, const char *key, const void *data, size_t size, char *err,
               size_t errlen);

/* ========================================================================
 * tunedb (tunedb.c): the tuning database
 *
 * A plain text file, DIR/tune.db, one record per line, fields separated by
 * tabs (names with spaces keep them; tabs and newlines become spaces):
 *
 *   lac-tune 1 <variant> <kernel> <shape class> <gpu> <cc> <driver> <lac> <config> <ms> <time>
 *
 * e.g. "lac-tune 1\t3f2a...\tfwd\tT4096 BH64 bf16\tNVIDIA H100 80GB HBM3\t9.0\t13000\t0.1.0\t
 * block_v=64 warps=8 stages=3 schedule=full\t0.1750\t1764633600". The
 * first seven fields after the version are the key; a later record of the
 * same key replaces the earlier one. Lines that do not parse are kept as
 * they are and ignored. Writers take an flock on DIR/tune.db.lock, read the
 * file, add or replace their record and rename a new file into place;
 * readers need no lock.
 * ======================================================================== */

enum { TUNE_FIELD_MAX = 256 };

typedef struct TuneKey {
    char variant[TUNE_FIELD_MAX];     /* variant hash */
    char kernel[TUNE_FIELD_MAX];      /* "fwd" */
    char shape_class[TUNE_FIELD_MAX]; /* tune_shape_class */
    char gpu[TUNE_FIELD_MAX];         /* the device's name */
    char cc[16];                      /* "9.0" */
    char driver[16];                  /* "13000" */
    char lac[32];                     /* lac's version */
} TuneKey;

typedef struct TuneRecord {
    TuneKey key;
    char config[TUNE_FIELD_MAX];      /* "block_v=64 warps=8 stages=3 schedule=full" */
    double ms;
    long long time;                   /* seconds since the epoch */
} TuneRecord;

/* The class a shape is tuned for: T rounded up to a power of two (at least
 * 64), B x H rounded up to a power of two, the head dims and the dtype, e.g.
 * "T4096 BH64 K128 V128 bf16". */
void tune_shape_class(int B, int T, int H, int dk, int dv, const char *dtype, char *out, size_t n);

/* Find the record of `key` in DIR/tune.db: true and *out when there is one
 * (the last of that key); false when there is none or no file. */
bool tunedb_lookup(const char *dir, const TuneKey *key, TuneRecord *out);
/* Add or replace the record (atomic, safe with concurrent writers); false
 * with a message. */
bool tunedb_store(const char *dir, const TuneRecord *r, char *err, size_t errlen);
/* Parse one line (without its newline); false if it is not a record. */
bool tunedb_parse_line(const char *line, TuneRecord *out);
/* Format one record as a line with its newline. */
void tunedb_format(const TuneRecord *r, char *out, size_t n);

/* ========================================================================
 * fp (fp.c): correct round-to-nearest-even from float64, with gradual
 * underflow and overflow to infinity
 * ======================================================================== */

uint16_t fp_bf16_from_double(double x);
double fp_bf16_to_double(uint16_t h);
uint16_t fp_f16_from_double(double x);
double fp_f16_to_double(uint16_t h);
float fp_f32_from_double(double x);

#endif /* LAC_RT_INTERNAL_H */
