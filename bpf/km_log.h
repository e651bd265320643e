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
    KM_R_WAYPOINT_REFUSED = 12, /* waypoint has no pod (in this family): ECONNREFUSED */
    KM_R_PASSTHROUGH = 13,      /* PASSTHROUGH service: original destination kept */
    KM_R_FAMILY_REFUSED = 14,   /* chosen backend has no address of the VIP's family */
    KM_R_NO_TARGET_REFUSED = 15, /* named port without a number for the chosen backend */
    /* inbound authorization (km_authz.h): orig = source, new = this pod's address:port */
    KM_R_AUTHZ_ALLOW = 16,        /* an ALLOW policy matched: accepted */
    KM_R_AUTHZ_DENY = 17,         /* a DENY policy matched: refused (RST) */
    KM_R_AUTHZ_NO_ALLOW = 18,     /* ALLOW policies apply, none matched: refused (RST) */
    KM_R_AUTHZ_UNENFORCEABLE = 19, /* the pod's policy could not be written: refused (RST) */
    KM_R_AUTHZ_DRY_RUN_DENY = 20, /* a dry-run policy would refuse it: accepted, logged */
};

#ifdef KM_BPF_LOG
struct km_log_event {
    __u64 netns_cookie;
    struct km_ip orig_addr;
    struct km_ip new_addr;
    __be16 orig_port;
    __be16 new_port;
    __u32 reason; /* enum km_reason */
    __u32 policy; /* authorization decisions: the deciding policy's id (km_authz_pol); 0: none */
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

static __always_inline void km_log_authz(const struct km_ip *src, const struct km_ip *dst,
                                         __be16 dport, __u32 reason, __u32 policy)
{
    struct km_log_event event = {
        .orig_addr = *src,
        .new_addr = *dst,
        .new_port = dport,
        .reason = reason,
        .policy = policy,
    };
    km_log.ringbuf_output(&event, sizeof(event), 0);
}
#define KM_LOG_DECISION(...) km_log_decision(__VA_ARGS__)
#define KM_LOG_AUTHZ(...) km_log_authz(__VA_ARGS__)
#else
#define KM_LOG_DECISION(...) do { } while (0)
#define KM_LOG_AUTHZ(...) do { } while (0)
#endif

#endif
