/* km_service: service id -> endpoint counts per priority group, LB policy, port pairs,
 * service-level waypoint (the waypoint's upstream id; 0: none). */
#ifndef KM_MAPS_SERVICE_H
#define KM_MAPS_SERVICE_H
#include "km_common.h"

#define KM_MAX_SERVICES 5000
#define KM_PRIO_COUNT 7
#define KM_MAX_PORTS 10

enum km_lb_policy {
    KM_LB_RANDOM = 0,   /* uniform in group 0 */
    KM_LB_STRICT = 1,   /* group 0 only; empty group 0: connect fails (ECONNREFUSED) */
    KM_LB_FAILOVER = 2, /* first non-empty group */
    KM_LB_PASSTHROUGH = 3, /* no balancing: the connect keeps its original destination */
};

struct km_service_key {
    __u32 service_id;
};

struct km_service_value {
    __u32 prio_endpoint_count[KM_PRIO_COUNT];
    __u32 lb_policy;
    __be16 service_port[KM_MAX_PORTS]; /* 0: unused slot */
    __be16 target_port[KM_MAX_PORTS]; /* 0: per endpoint (a named port, km_endpoint) */
    /* Upstream id of the waypoint: a service id (a pod of that service is picked like any
     * endpoint) or a backend uid (that pod). 0: none. */
    __u32 waypoint_id;
};

BPF_TABLE_PINNED("hash", struct km_service_key, struct km_service_value, km_service,
                 KM_MAX_SERVICES, KM_PIN("km_service"), BPF_F_NO_PREALLOC);

#endif
