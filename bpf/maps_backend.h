/* km_backend: backend (workload) uid -> its addresses (at most one per family), the
 * services it serves, its workload-level waypoint, and where it listens when it is itself
 * a waypoint (its application tunnel). */
#ifndef KM_MAPS_BACKEND_H
#define KM_MAPS_BACKEND_H
#include "km_common.h"

#define KM_MAX_BACKENDS 100000
#define KM_MAX_BACKEND_SERVICES 10
/* Where a waypoint pod without an application tunnel reads the Kmesh TLV (the listener of
 * the install's EnvoyFilter; Kmesh's fixed KmeshWaypointPort). */
#define KM_WAYPOINT_TLV_PORT 15019

enum km_backend_flags {
    /* the workload names a waypoint the agent cannot resolve: connects to it are refused
     * (never sent past its waypoint) */
    KM_BF_WAYPOINT_UNRESOLVED = 1,
};

struct km_backend_key {
    __u32 backend_uid;
};

struct km_backend_value {
    struct km_ip addr4; /* IPv4-mapped; all zero: no IPv4 address */
    struct km_ip addr6; /* all zero: no IPv6 address */
    __u32 service[KM_MAX_BACKEND_SERVICES];
    __u32 service_count;
    __u32 waypoint_id;  /* upstream id of the workload's waypoint (as km_service); 0: none */
    __be16 tunnel_port; /* as a waypoint: its application tunnel port; 0: KM_WAYPOINT_TLV_PORT */
    __u8 tunnel_hdr;    /* enum km_waypoint_header read at tunnel_port */
    __u8 flags;         /* enum km_backend_flags */
};

BPF_TABLE_PINNED("hash", struct km_backend_key, struct km_backend_value, km_backend,
                 KM_MAX_BACKENDS, KM_PIN("km_backend"), BPF_F_NO_PREALLOC);

#endif
