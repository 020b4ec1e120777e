/* Error codes shared by every module of libmotcua_common. */
#ifndef MOTCUA_ERROR_H
#define MOTCUA_ERROR_H

#include <stddef.h>

/* Functions return 0 on success or one of these (negative) on failure, and
 * write a human-readable reason to the caller's (char *err, size_t errlen). */
enum {
    MC_OK = 0,
    MC_EINVAL = -1,    /* bad input: config, message, argument from a person */
    MC_ENOMEM = -2,    /* never returned: see mc_xmalloc (we abort on OOM) */
    MC_EDB = -3,       /* PostgreSQL error (connection or statement) */
    MC_EKAFKA = -4,    /* librdkafka error */
    MC_EIO = -5,       /* file or socket error */
    MC_ENOTFOUND = -6, /* a looked-up row or file does not exist */
    MC_ECONFLICT = -7, /* a uniqueness or state rule refuses the change */
};

/* Formats into err (if err != NULL and errlen > 0); always returns code, so
 * callers can write `return mc_err(err, errlen, MC_EINVAL, "bad %s", x);`. */
int mc_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Out-of-memory policy (decided once, here): allocation failure aborts the
 * process after logging. A service that cannot allocate cannot keep its
 * promises; the supervisor restarts it and the inbox/outbox make that safe. */
void *mc_xmalloc(size_t n);
void *mc_xcalloc(size_t n, size_t size);
void *mc_xrealloc(void *p, size_t n);
char *mc_xstrdup(const char *s);

#endif
