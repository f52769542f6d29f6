/*
 * cache.c: the on-disk kernel cache (rt_internal.h has the format).
 *
 * One file per entry, written to a temporary name in its own folder and
 * renamed into place: rename is atomic within a file system, so concurrent
 * writers of the same key leave one complete entry and readers never see a
 * partial one. Every read checks the header's size and SHA-256 against the
 * payload; an entry that fails is removed and reported as corrupt, and the
 * caller rebuilds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_internal.h"

/* No entry is larger: a module's PTX is a few MB, its cubin less. */
#define CACHE_MAX_ENTRY ((size_t)256 << 20)
#define CACHE_MAGIC "lac-cache 1 "

const char *cache_result_name(CacheResult r)
{
    switch (r) {
    case CACHE_HIT: return "hit";
    case CACHE_MISS: return "miss";
    case CACHE_CORRUPT: return "corrupt";
    case CACHE_ERROR: return "error";
    }
    return "?";
}

void store_msg(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool cache_dir_resolve(const char *explicit_dir, char *out, size_t n)
{
    const char *env = getenv("LAC_CACHE_DIR");
    const char *dir = explicit_dir ? explicit_dir : env;
    if (dir) {
        int w = snprintf(out, n, "%s", dir);
        return w >= 0 && (size_t)w < n;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int w;
    if (xdg && xdg[0] == '/')
        w = snprintf(out, n, "%s/lac", xdg);
    else if (home && home[0])
        w = snprintf(out, n, "%s/.cache/lac", home);
    else {
        if (n) out[0] = 0;
        return false;
    }
    return w >= 0 && (size_t)w < n;
}

bool cache_dir_make(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    int w = snprintf(path, sizeof path, "%s", dir);
    if (w < 0 || (size_t)w >= sizeof path) {
        store_msg(err, errlen, "cache folder name too long: %s", dir);
        return false;
    }
    /* mkdir -p, each level 0700 (existing levels are left as they are). */
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            store_msg(err, errlen, "cannot create the cache folder %s: %s", path, strerror(errno));
            return false;
        }
        *p = c;
        if (c == 0) break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        store_msg(err, errlen, "the cache folder %s is not a folder", dir);
        return false;
    }
    return true;
}

static bool entry_path(const char *dir, const char *kind, const char *key, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/%s/%s", dir, kind, key);
    return w >= 0 && (size_t)w < n;
}

char *store_file_read(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *len = got;
    return buf;
}

CacheResult cache_get(const char *dir, const char *kind, const char *key, void **data, size_t *size,
                      char *err, size_t errlen)
{
    *data = NULL;
    *size = 0;
    char path[4096];
    if (!dir[0] || !entry_path(dir, kind, key, path, sizeof path)) return CACHE_MISS;
    size_t len = 0;
    unsigned char *buf = (unsigned char *)store_file_read(path, CACHE_MAX_ENTRY + 256, &len);
    if (!buf) {
        if (errno == ENOENT) return CACHE_MISS;
        store_msg(err, errlen, "cannot read cache entry %s: %s", path, strerror(errno));
        return CACHE_ERROR;
    }
    /* "lac-cache 1 SIZE SHA256\n" */
    const char *why = NULL;
    unsigned long long want = 0;
    char sum[65] = "";
    unsigned char *nl = memchr(buf, '\n', len < 128 ? len : 128);
    if (!nl || strncmp((char *)buf, CACHE_MAGIC, strlen(CACHE_MAGIC)) != 0) {
        why = "no lac-cache header";
    } else {
        *nl = 0;
        char extra;
        if (sscanf((char *)buf + strlen(CACHE_MAGIC), "%llu %64s %c", &want, sum, &extra) != 2 ||
            strlen(sum) != 64)
            why = "a malformed header";
        else if ((size_t)(len - (size_t)(nl + 1 - buf)) != want)
            why = "the wrong size (truncated?)";
    }
    if (!why) {
        unsigned char *payload = nl + 1;
        char got[65];
        sha256_hex_of(payload, (size_t)want, got);
        if (strcmp(got, sum) != 0) why = "a checksum that does not match its contents";
        else {
            memmove(buf, payload, (size_t)want);
            buf[want] = 0;
            *data = buf;
            *size = (size_t)want;
            return CACHE_HIT;
        }
    }
    free(buf);
    store_msg(err, errlen, "cache entry %s has %s: removed, it will be rebuilt", path, why);
    unlink(path);
    return CACHE_CORRUPT;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

bool cache_put(const char *dir, const char *kind, const char *key, const void *data, size_t size, char *err,
               size_t errlen)
{
    if (!dir[0]) return true; /* no cache */
    if (size > CACHE_MAX_ENTRY) {
        store_msg(err, errlen, "cache entry of %zu bytes is too large", size);
        return false;
    }
    char sub[4096], path[4096], tmp[4096];
    int w = snprintf(sub, sizeof sub, "%s/%s", dir, kind);
    if (w < 0 || (size_t)w >= sizeof sub || !entry_path(dir, kind, key, path, sizeof path)) {
        store_msg(err, errlen, "cache path too long under %s", dir);
        return false;
    }
    if (!cache_dir_make(sub, err, errlen)) return false;
    w = snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", sub, key);
    if (w < 0 || (size_t)w >= sizeof tmp) {
        store_msg(err, errlen, "cache path too long under %s", dir);
        return false;
    }
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        store_msg(err, errlen, "cannot create a file in %s: %s", sub, strerror(errno));
        return false;
    }
    char sum[65], head[128];
    sha256_hex_of(data, size, sum);
    int hl = snprintf(head, sizeof head, CACHE_MAGIC "%zu %s\n", size, sum);
    bool ok = fchmod(fd, 0600) == 0 && write_all(fd, head, (size_t)hl) && write_all(fd, data, size) &&
              fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        store_msg(err, errlen, "cannot write cache entry %s: %s", path, strerror(e));
    }
    return ok;
}
