/* The intake service core: its mc_service_def, driven by main.c and by tests. */
#ifndef MOTCUA_INTAKE_H
#define MOTCUA_INTAKE_H

#include "motcua/service.h"

extern const struct mc_service_def mc_intake_def;

#endif
