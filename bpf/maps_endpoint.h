/* km_endpoint: {service id, priority group, 1-based index} -> backend uid and that
 * backend's own target ports for the service (named ports: each pod may give its own).
 * Each group is dense: indices 1..prio_endpoint_count[prio] of the service. */
#ifndef KM_MAPS_ENDPOINT_H
#define KM_MAPS_ENDPOINT_H
#include "km_common.h"
#include "maps_service.h"

#define KM_MAX_ENDPOINTS 105000

struct km_endpoint_key {
    __u32 service_id;
    __u32 prio;
    __u32 backend_index;
};

struct km_endpoint_value {
    __u32 backend_uid;
    /* Per port slot of the service (same index as km_service.service_port): this
     * backend's target port; 0: the service's target_port. */
    __be16 target_port[KM_MAX_PORTS];
};

BPF_TABLE_PINNED("hash", struct km_endpoint_key, struct km_endpoint_value, km_endpoint,
                 KM_MAX_ENDPOINTS, KM_PIN("km_endpoint"), BPF_F_NO_PREALLOC);

#endif
