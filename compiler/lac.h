/*
 * lac.h: the public C interface of liblac.
 *
 * liblac is the whole compiler (front end, CPU reference, and the statically
 * linked LLVM NVPTX back end) in one shared library; only the lac_* symbols
 * declared here are exported. The library never exits or aborts on bad
 * input: it reports diagnostics and returns an error code.
 */
#ifndef LAC_H
#define LAC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LAC_API __attribute__((visibility("default")))
#else
#define LAC_API
#endif

#define LAC_VERSION_MAJOR 0
#define LAC_VERSION_MINOR 1
#define LAC_VERSION_PATCH 0
#define LAC_VERSION_STRING "0.1.0"

/* "0.1.0" */
LAC_API const char *lac_version(void);

/* Runs the `lac` command line (lac check|dump|ref|version ...) and returns
 * its exit code: 0 success, 1 errors in the input, 2 usage or I/O errors.
 * Output goes to stdout, diagnostics to stderr. */
LAC_API int lac_main(int argc, char **argv);

/* Checks one .la source held in memory. Returns 0 when it is valid, 1 when
 * it has errors. If `diagnostics` is not NULL it receives a malloc'ed,
 * NUL-terminated rendering of all diagnostics (free it with free()). */
LAC_API int lac_check_source(const char *name, const char *text, size_t len, char **diagnostics);

#ifdef __cplusplus
}
#endif

#endif /* LAC_H */
