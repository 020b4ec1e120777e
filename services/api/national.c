/* The national status codes of the lifecycle table (docs/domain.md), one
 * row per motcua state of a dossier. Codes 1 (submitted online, not yet
 * accepted) and 3 (refused at intake) belong to submissions that never
 * became dossiers: intake accepts or refuses a submission as it reads it,
 * and the portal reads the refusal on submission.rejected. */
#include "national.h"

#include <string.h>

static const struct {
    const char *state;
    struct mc_national national;
    int final;
} states[] = {
    {"received", {2, "new"}, 0},
    {"processing", {4, "processing"}, 0},
    {"supplement_requested", {5, "waiting"}, 0},
    {"paying", {6, "paying"}, 0},
    {"withdrawn", {7, "cancelled"}, 1},
    {"stopped", {8, "unresolved"}, 1},
    {"result_ready", {9, "releasing"}, 0},
    {"returned", {10, "done"}, 1},
};

/* Transitions (dossier.update statuses and the services' events) to the
 * state they leave the dossier in; NULL: the state does not change. */
static const struct {
    const char *transition;
    const char *state;
} transitions[] = {
    {"received", "received"},
    {"assigned", NULL},
    {"processing", "processing"},
    {"supplement_requested", "supplement_requested"},
    {"supplement_received", "processing"},
    {"paying", "paying"},
    {"result_ready", "result_ready"},
    {"returned", "returned"},
    {"withdrawn", "withdrawn"},
    {"stopped", "stopped"},
    {"transfer", "processing"},
    {"reschedule", NULL},
};

const char *mc_api_state_after(const char *transition)
{
    for (size_t i = 0; transition && i < sizeof transitions / sizeof transitions[0]; i++)
        if (strcmp(transitions[i].transition, transition) == 0)
            return transitions[i].state;
    return NULL;
}

int mc_api_national(const char *state, struct mc_national *out)
{
    for (size_t i = 0; state && i < sizeof states / sizeof states[0]; i++)
        if (strcmp(states[i].state, state) == 0) {
            *out = states[i].national;
            return 0;
        }
    return -1;
}

int mc_api_state_final(const char *state)
{
    for (size_t i = 0; state && i < sizeof states / sizeof states[0]; i++)
        if (strcmp(states[i].state, state) == 0)
            return states[i].final;
    return 0;
}
