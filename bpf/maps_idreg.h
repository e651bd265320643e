/* km_idreg: the agent's id registry (id -> kind and name), pinned next to the other
 * maps so ids survive agent restarts and `kmeshctl dump maps` can resolve names.
 * Only user space reads or writes it. */
#ifndef KM_MAPS_IDREG_H
#define KM_MAPS_IDREG_H
#include "km_common.h"

#define KM_MAX_IDS 105000
#define KM_ID_NAME_LEN 255

enum km_id_kind {
    KM_ID_SERVICE = 1, /* name: namespace/hostname */
    KM_ID_BACKEND = 2, /* name: workload uid */
};

struct km_idreg_key {
    __u32 id;
};

struct km_idreg_value {
    __u8 kind;
    char name[KM_ID_NAME_LEN]; /* NUL-padded */
};

BPF_TABLE_PINNED("hash", struct km_idreg_key, struct km_idreg_value, km_idreg, KM_MAX_IDS,
                 KM_PIN("km_idreg"), BPF_F_NO_PREALLOC);

#endif
