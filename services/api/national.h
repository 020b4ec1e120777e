/* motcua's status vocabulary and the national status codes 1-10 that the
 * read side shows beside it (docs/domain.md, "Dossier lifecycle"). Pure:
 * no database, no I/O. */
#ifndef MOTCUA_API_NATIONAL_H
#define MOTCUA_API_NATIONAL_H

/* A national status: its code (1..10) and key ("processing"). */
struct mc_national {
    int code;
    const char *key;
};

/* The state a dossier is in after a transition: a dossier.update status
 * ("supplement_received" -> "processing"), "received" (intake accepted it)
 * or "assigned" (the router handed it to a unit). NULL for a transition
 * that does not change the state ("reschedule", "assigned") and for an
 * unknown word. */
const char *mc_api_state_after(const char *transition);

/* The national status of a state (those mc_api_state_after returns).
 * Returns 0, or -1 for an unknown state. */
int mc_api_national(const char *state, struct mc_national *out);

/* 1 when no later update reopens a dossier in state: returned, withdrawn,
 * stopped. */
int mc_api_state_final(const char *state);

#endif
