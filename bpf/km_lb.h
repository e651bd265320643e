/* The connect-time decision (facts section 4, steps 2-6): where a connect from a managed
 * netns to `dst:dport` goes. Pure lookups; the callers apply the result. */
#ifndef KM_LB_H
#define KM_LB_H
#include "km_common.h"
#include "km_log.h"
#include "maps_frontend.h"
#include "maps_service.h"
#include "maps_endpoint.h"
#include "maps_backend.h"

enum km_verdict {
    KM_LEAVE = 0,   /* connect unchanged */
    KM_REWRITE = 1, /* connect to decision.addr:decision.port */
    KM_REJECT = 2,  /* connect must fail at once with ECONNREFUSED */
};

struct km_decision {
    struct km_ip addr;
    __be16 port;
    __u8 via_waypoint;
    __u8 waypoint_hdr;
    __u32 reason; /* enum km_reason */
};

static __always_inline int km_leave(struct km_decision *d, __u32 reason)
{
    d->reason = reason;
    return KM_LEAVE;
}

/* Nothing may serve the connect: it fails at once, as kube-proxy's REJECT rule makes it. */
static __always_inline int km_refuse(struct km_decision *d, __u32 reason)
{
    d->reason = reason;
    return KM_REJECT;
}

static __always_inline int km_to_waypoint(struct km_decision *d, const struct km_ip *wp_addr,
                                          __be16 wp_port, __u8 wp_hdr, __u32 reason)
{
    d->addr = *wp_addr;
    d->port = wp_port;
    d->via_waypoint = 1;
    d->waypoint_hdr = wp_hdr;
    d->reason = reason;
    return KM_REWRITE;
}

/* Only TCP is balanced (as Kmesh): a UDP or any other socket keeps its destination. */
static __always_inline int protocol_is_balanced(__u32 protocol)
{
    return protocol == KM_IPPROTO_TCP;
}

/* Priority group to pick from, or -1 when the policy allows no non-empty group. */
static __always_inline int pick_priority(const struct km_service_value *svc)
{
    if (svc->lb_policy != KM_LB_FAILOVER)
        return svc->prio_endpoint_count[0] ? 0 : -1;
#pragma unroll
    for (int prio = 0; prio < KM_PRIO_COUNT; prio++) {
        if (svc->prio_endpoint_count[prio])
            return prio;
    }
    return -1;
}

/* Uniformly random endpoint of the group: its backend, or NULL when the entry is missing. */
static __always_inline struct km_backend_value *pick_endpoint(__u32 service_id, int prio,
                                                              __u32 count)
{
    struct km_endpoint_key ekey = {
        .service_id = service_id,
        .prio = prio,
        .backend_index = bpf_get_prandom_u32() % count + 1,
    };
    struct km_endpoint_value *ep = km_endpoint.lookup(&ekey);
    if (!ep)
        return NULL;
    struct km_backend_key bkey = {.backend_uid = ep->backend_uid};
    return km_backend.lookup(&bkey);
}

/* Target port paired with `service_port`, or 0 when the service has no such pair. */
static __always_inline __be16 map_service_port(const struct km_service_value *svc,
                                               __be16 service_port)
{
#pragma unroll
    for (int i = 0; i < KM_MAX_PORTS; i++) {
        if (svc->service_port[i] && svc->service_port[i] == service_port)
            return svc->target_port[i];
    }
    return 0;
}

static __always_inline int decide_service(__u32 service_id, const struct km_service_value *svc,
                                          __be16 dport, struct km_decision *d)
{
    if (svc->waypoint_port)
        return km_to_waypoint(d, &svc->wp_addr, svc->waypoint_port, svc->waypoint_hdr,
                              KM_R_SERVICE_WAYPOINT);

    int prio = pick_priority(svc);
    if (prio < 0 || prio >= KM_PRIO_COUNT)
        return km_refuse(d, KM_R_NO_ENDPOINT_REFUSED);

    struct km_backend_value *backend =
        pick_endpoint(service_id, prio, svc->prio_endpoint_count[prio]);
    if (!backend)
        return km_leave(d, KM_R_STALE);
    if (backend->waypoint_port)
        return km_to_waypoint(d, &backend->wp_addr, backend->waypoint_port,
                              backend->waypoint_hdr, KM_R_BACKEND_WAYPOINT);

    __be16 target_port = map_service_port(svc, dport);
    if (!target_port)
        return km_leave(d, KM_R_NO_PORT);
    d->addr = backend->addr;
    d->port = target_port;
    d->reason = KM_R_ENDPOINT;
    return KM_REWRITE;
}

/* Direct access to a pod IP: only a workload waypoint changes anything. */
static __always_inline int decide_backend(const struct km_backend_value *backend,
                                          struct km_decision *d)
{
    if (backend->waypoint_port)
        return km_to_waypoint(d, &backend->wp_addr, backend->waypoint_port,
                              backend->waypoint_hdr, KM_R_BACKEND_WAYPOINT);
    return km_leave(d, KM_R_DIRECT_POD);
}

/* Idempotent by construction: a rewritten destination (pod IP or waypoint) never leads to
 * another rewrite of its own, so two hook generations running back to back during a
 * program replacement cannot rewrite twice. */
static __always_inline int decide(const struct km_ip *dst, __be16 dport, struct km_decision *d)
{
    struct km_frontend_key fkey = {.addr = *dst};
    struct km_frontend_value *front = km_frontend.lookup(&fkey);
    if (!front)
        return km_leave(d, KM_R_NO_FRONTEND);

    __u32 upstream_id = front->upstream_id;
    struct km_service_key skey = {.service_id = upstream_id};
    struct km_service_value *svc = km_service.lookup(&skey);
    if (svc)
        return decide_service(upstream_id, svc, dport, d);

    struct km_backend_key bkey = {.backend_uid = upstream_id};
    struct km_backend_value *backend = km_backend.lookup(&bkey);
    if (backend)
        return decide_backend(backend, d);
    return km_leave(d, KM_R_STALE);
}

#endif
