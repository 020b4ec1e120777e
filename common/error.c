/* Error reporting (mc_err) and the out-of-memory policy: log, then abort. */
#include "motcua/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/log.h"

int mc_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Never returns. mc_log_kv formats into a stack buffer for a line this short,
 * so logging here does not allocate. */
static void oom(const char *what, size_t n)
{
    char bytes[32];

    snprintf(bytes, sizeof(bytes), "%zu", n);
    mc_log_kv(MC_LOG_ERROR, "out of memory, aborting", "call", what, "bytes", bytes, NULL);
    abort();
}

void *mc_xmalloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);

    if (p == NULL)
        oom("malloc", n);
    return p;
}

void *mc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size > 0 ? size : 1);

    if (p == NULL)
        oom("calloc", size != 0 && n > SIZE_MAX / size ? SIZE_MAX : n * size);
    return p;
}

void *mc_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n > 0 ? n : 1);

    if (q == NULL)
        oom("realloc", n);
    return q;
}

char *mc_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mc_xmalloc(n);

    memcpy(p, s, n);
    return p;
}
