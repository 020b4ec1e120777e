/* The deadline service core: its mc_service_def, driven by main.c and by tests. */
#ifndef MOTCUA_DEADLINE_H
#define MOTCUA_DEADLINE_H

#include "motcua/service.h"

extern const struct mc_service_def mc_deadline_def;

#endif
