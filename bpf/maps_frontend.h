/* km_frontend: destination IP (Service VIP or pod IP) -> upstream id.
 * The id names a service (km_service) or a backend (km_backend); ids of both kinds share
 * one space (see km_idreg), so the first map that has the id decides. */
#ifndef KM_MAPS_FRONTEND_H
#define KM_MAPS_FRONTEND_H
#include "km_common.h"

#define KM_MAX_FRONTENDS 105000

struct km_frontend_key {
    struct km_ip addr;
};

struct km_frontend_value {
    __u32 upstream_id;
};

BPF_TABLE_PINNED("hash", struct km_frontend_key, struct km_frontend_value, km_frontend,
                 KM_MAX_FRONTENDS, KM_PIN("km_frontend"), BPF_F_NO_PREALLOC);

#endif
