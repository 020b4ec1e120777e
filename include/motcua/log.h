/* JSON-lines logging to stderr. Never pass personal data (ID numbers, phone,
 * e-mail, address, names) to these functions. */
#ifndef MOTCUA_LOG_H
#define MOTCUA_LOG_H

enum mc_log_level { MC_LOG_DEBUG, MC_LOG_INFO, MC_LOG_WARN, MC_LOG_ERROR };

/* Sets the "service" field of every line and the minimum level (default
 * info; MOTCUA_LOG_LEVEL=debug|info|warn|error overrides). */
void mc_log_init(const char *service);

/* Writes one line: {"ts":"<RFC 3339 UTC>","level":"info","service":"intake",
 * "msg":"<formatted>"} plus extra fields given as "key", "value" string pairs
 * ending with NULL: mc_log_kv(MC_LOG_INFO, "batch committed", "count", "12", NULL).
 * Values are JSON-escaped. */
void mc_log_kv(enum mc_log_level level, const char *msg, ...);

/* printf-style message, no extra fields. */
void mc_log(enum mc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mc_log_info(...) mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_log_warn(...) mc_log(MC_LOG_WARN, __VA_ARGS__)
#define mc_log_error(...) mc_log(MC_LOG_ERROR, __VA_ARGS__)
#define mc_log_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)

#endif
