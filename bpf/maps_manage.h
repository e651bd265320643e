/* km_manage: network namespaces enrolled in the mesh, by netns cookie. */
#ifndef KM_MAPS_MANAGE_H
#define KM_MAPS_MANAGE_H
#include "km_common.h"

#define KM_MAX_MANAGED 8192

struct km_manage_key {
    __u64 netns_cookie;
};

struct km_manage_value {
    __u32 managed;
};

BPF_TABLE_PINNED("hash", struct km_manage_key, struct km_manage_value, km_manage,
                 KM_MAX_MANAGED, KM_PIN("km_manage"), BPF_F_NO_PREALLOC);

static __always_inline int is_managed_netns(__u64 netns_cookie)
{
    struct km_manage_key key = {.netns_cookie = netns_cookie};
    struct km_manage_value *value = km_manage.lookup(&key);
    return value && value->managed;
}

#endif
