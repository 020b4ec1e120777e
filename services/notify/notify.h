/* The notify service core: its mc_service_def, driven by main.c and by tests. */
#ifndef MOTCUA_NOTIFY_H
#define MOTCUA_NOTIFY_H

#include "motcua/service.h"

extern const struct mc_service_def mc_notify_def;

#endif
