/* km_backend: backend (workload) uid -> IP, the services it serves, workload-level
 * waypoint (waypoint_port == 0: none). */
#ifndef KM_MAPS_BACKEND_H
#define KM_MAPS_BACKEND_H
#include "km_common.h"

#define KM_MAX_BACKENDS 100000
#define KM_MAX_BACKEND_SERVICES 10

struct km_backend_key {
    __u32 backend_uid;
};

struct km_backend_value {
    struct km_ip addr;
    __u32 service[KM_MAX_BACKEND_SERVICES];
    __u32 service_count;
    struct km_ip wp_addr;
    __be16 waypoint_port;
    __u8 waypoint_hdr; /* enum km_waypoint_header */
    __u8 pad;
};

BPF_TABLE_PINNED("hash", struct km_backend_key, struct km_backend_value, km_backend,
                 KM_MAX_BACKENDS, KM_PIN("km_backend"), BPF_F_NO_PREALLOC);

#endif
