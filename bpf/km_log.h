/* Optional decision log (compile with -DKM_BPF_LOG): one event per connect decision in a
 * managed netns, streamed to the agent through a ring buffer. Without KM_BPF_LOG the
 * macro and the ring buffer do not exist, so the log costs nothing. */
#ifndef KM_LOG_H
#define KM_LOG_H
#include "km_common.h"

enum km_reason {
    KM_R_NO_FRONTEND = 1,      /* destination is not a known VIP / pod IP: left alone */
    KM_R_SERVICE_WAYPOINT = 2, /* sent to the service's waypoint */
    KM_R_BACKEND_WAYPOINT = 3, /* sent to the chosen backend's waypoint */
    KM_R_ENDPOINT = 4,         /* sent to the chosen backend's target port */
    /* 5, 6: retired (a Service without endpoints was left alone, STRICT was rejected) */
    KM_R_NO_PORT = 7,          /* service port has no target port pair: left alone */
    KM_R_DIRECT_POD = 8,       /* pod IP without a waypoint: left alone */
    KM_R_STALE = 9,            /* endpoint or backend entry missing: left alone */
    KM_R_FAMILY = 10,          /* new destination not reachable from this socket family */
    KM_R_NO_ENDPOINT_REFUSED = 11, /* Service with no endpoint in the groups its policy
                                    * allows and no waypoint: connect fails, ECONNREFUSED */
};

#ifdef KM_BPF_LOG
struct km_log_event {
    __u64 netns_cookie;
    struct km_ip orig_addr;
    struct km_ip new_addr;
    __be16 orig_port;
    __be16 new_port;
    __u32 reason; /* enum km_reason */
};

BPF_RINGBUF_OUTPUT(km_log, 16);

static __always_inline void km_log_decision(__u64 netns_cookie, const struct km_ip *orig,
                                            __be16 orig_port, const struct km_ip *new_addr,
                                            __be16 new_port, __u32 reason)
{
    struct km_log_event event = {
        .netns_cookie = netns_cookie,
        .orig_addr = *orig,
        .new_addr = *new_addr,
        .orig_port = orig_port,
        .new_port = new_port,
        .reason = reason,
    };
    km_log.ringbuf_output(&event, sizeof(event), 0);
}
#define KM_LOG_DECISION(...) km_log_decision(__VA_ARGS__)
#else
#define KM_LOG_DECISION(...) do { } while (0)
#endif

#endif
