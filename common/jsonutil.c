/* Jansson helpers for reading validated messages. */
#include "motcua/jsonutil.h"

#include <string.h>

#include "motcua/error.h"

json_t *mc_json_at(const json_t *doc, const char *path)
{
    const json_t *cur = doc;
    char key[128];
    while (cur && *path) {
        size_t n = strcspn(path, "/");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        path += n;
        if (*path == '/')
            path++;
    }
    return (json_t *)cur;
}

const char *mc_json_str(const json_t *doc, const char *path)
{
    return json_string_value(mc_json_at(doc, path));
}

int mc_json_time(const json_t *doc, const char *path, mc_instant *out)
{
    const char *s = mc_json_str(doc, path);
    if (s == NULL)
        return MC_EINVAL;
    return mc_time_parse(s, out);
}

int mc_json_time_required(const json_t *doc, const char *path, mc_instant *out, const char *what,
                          char *err, size_t errlen)
{
    if (mc_json_time(doc, path, out) != 0)
        return mc_err(err, errlen, MC_EINVAL, "%s: %s is missing or not an RFC 3339 date-time",
                      what, path);
    return 0;
}

json_t *mc_json_time_new(mc_instant t)
{
    char buf[MC_RFC3339_LEN];
    return json_string(mc_time_format(t, buf));
}

json_t *mc_json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int mc_json_depth_ok(const char *text, size_t n, int max, size_t *at)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++; /* the escaped character, whatever it is */
            else if (ch == '"')
                in_string = 0;
        } else if (ch == '"') {
            in_string = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max) {
                *at = i;
                return 0;
            }
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return 1;
}
