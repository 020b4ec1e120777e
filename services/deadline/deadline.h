/* The deadline service core: its mc_service_def, driven by main.c and by
 * tests. Calendar corrections are applied by the service itself when the
 * catalog's calendar revision changes (migration 012). */
#ifndef MOTCUA_DEADLINE_H
#define MOTCUA_DEADLINE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "motcua/config.h"
#include "motcua/service.h"

extern const struct mc_service_def mc_deadline_def;


#endif
