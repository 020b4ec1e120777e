/* Small Jansson helpers for reading validated messages. */
#ifndef MOTCUA_JSONUTIL_H
#define MOTCUA_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

#include "motcua/timeutil.h"

/* Deepest nesting of objects and arrays a consumed message may have; the
 * deepest of motcua's own schemas is 5. */
#define MC_JSON_MAX_DEPTH 32

/* 1 when the n bytes of text nest objects and arrays at most max deep (a
 * scan without recursion, before any parser sees them); else 0 with *at the
 * offset of the bracket that went deeper. Brackets inside strings do not
 * count; the text need not be valid JSON. */
int mc_json_depth_ok(const char *text, size_t n, int max, size_t *at);

/* The value at a '/'-separated path ("applicant/name"), borrowed, or NULL. */
json_t *mc_json_at(const json_t *doc, const char *path);
/* The string at path, or NULL when absent or not a string. */
const char *mc_json_str(const json_t *doc, const char *path);
/* The instant at path (RFC 3339). Returns 0, or MC_EINVAL when absent/bad. */
int mc_json_time(const json_t *doc, const char *path, mc_instant *out);
/* mc_json_time for a member the message must have: MC_EINVAL with
 * "<what>: <path> is missing or not an RFC 3339 date-time" in err. */
int mc_json_time_required(const json_t *doc, const char *path, mc_instant *out, const char *what,
                          char *err, size_t errlen);
/* A JSON string of t in +07:00 (new reference). */
json_t *mc_json_time_new(mc_instant t);
/* A JSON string or null (new reference). */
json_t *mc_json_str_or_null(const char *s);

#endif
