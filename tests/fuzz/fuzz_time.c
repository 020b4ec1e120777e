/* libFuzzer harness: RFC 3339 instants (mc_time_parse, which the schema's
 * date-time also uses) and statutory durations (mc_duration_parse).
 * Invariant: an accepted instant formats (+07:00) and parses back to the
 * same second. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/calendar.h"
#include "motcua/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[256], err[256], back[MC_RFC3339_LEN];
    struct mc_duration dur;
    mc_instant t, again;
    if (size >= sizeof text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (mc_time_parse(text, &t) == 0) {
        mc_time_format(t, back);
        if (mc_time_parse(back, &again) != 0 || again != t)
            abort();
    }
    (void)mc_duration_parse(text, &dur, err, sizeof err);
    return 0;
}
