/* The router service core: its mc_service_def, driven by main.c and by tests. */
#ifndef MOTCUA_ROUTER_H
#define MOTCUA_ROUTER_H

#include "motcua/service.h"

extern const struct mc_service_def mc_router_def;

#endif
