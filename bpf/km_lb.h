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

/* Uniformly random slot of the group, or NULL when the entry is missing. */
static __always_inline struct km_endpoint_value *pick_slot(__u32 service_id, int prio,
                                                           __u32 count)
{
    struct km_endpoint_key ekey = {
        .service_id = service_id,
        .prio = prio,
        .backend_index = bpf_get_prandom_u32() % count + 1,
    };
    return km_endpoint.lookup(&ekey);
}

static __always_inline struct km_backend_value *backend_of(__u32 backend_uid)
{
    struct km_backend_key bkey = {.backend_uid = backend_uid};
    return km_backend.lookup(&bkey);
}

/* A slot of the service's group its policy allows, or NULL when there is none. */
static __always_inline struct km_endpoint_value *pick_endpoint(__u32 service_id,
                                                               const struct km_service_value *svc)
{
    int prio = pick_priority(svc);
    if (prio < 0 || prio >= KM_PRIO_COUNT)
        return NULL;
    return pick_slot(service_id, prio, svc->prio_endpoint_count[prio]);
}

/* The backend's address of the destination's family (v6: a plain IPv6 destination), or
 * NULL when it has none. */
static __always_inline const struct km_ip *backend_addr(const struct km_backend_value *b, int v6)
{
    const struct km_ip *addr = v6 ? &b->addr6 : &b->addr4;
    return km_ip_is_zero(addr) ? NULL : addr;
}

/* Land on a pod of the waypoint `waypoint_id` (a waypoint Service: one of its pods,
 * balanced like any endpoint; a backend: that pod) where it reads our header: its
 * application tunnel port (PROXY v2), else the Kmesh TLV port. A waypoint with no pod
 * (of this family) refuses the connect: it is never sent past its waypoint. */
static __always_inline int km_to_waypoint(__u32 waypoint_id, int v6, struct km_decision *d,
                                          __u32 reason)
{
    struct km_backend_value *wp = NULL;
    struct km_service_key skey = {.service_id = waypoint_id};
    struct km_service_value *wsvc = km_service.lookup(&skey);
    if (wsvc) {
        struct km_endpoint_value *ep = pick_endpoint(waypoint_id, wsvc);
        if (ep)
            wp = backend_of(ep->backend_uid);
    } else {
        wp = backend_of(waypoint_id);
    }
    if (!wp)
        return km_refuse(d, KM_R_WAYPOINT_REFUSED);
    const struct km_ip *addr = backend_addr(wp, v6);
    if (!addr)
        return km_refuse(d, KM_R_WAYPOINT_REFUSED);
    d->addr = *addr;
    d->port = wp->tunnel_port ? wp->tunnel_port : bpf_htons(KM_WAYPOINT_TLV_PORT);
    d->waypoint_hdr = wp->tunnel_port ? wp->tunnel_hdr : KM_WP_KMESH_TLV;
    d->via_waypoint = 1;
    d->reason = reason;
    return KM_REWRITE;
}

/* Target port for `service_port` on the chosen endpoint: its own (named port), else the
 * service's; 0 when the pair has no number; -1 when the service has no such port. */
static __always_inline int map_service_port(const struct km_service_value *svc,
                                            const struct km_endpoint_value *ep,
                                            __be16 service_port)
{
#pragma unroll
    for (int i = 0; i < KM_MAX_PORTS; i++) {
        if (svc->service_port[i] && svc->service_port[i] == service_port)
            return ep->target_port[i] ? ep->target_port[i] : svc->target_port[i];
    }
    return -1;
}

static __always_inline int decide_service(__u32 service_id, const struct km_service_value *svc,
                                          __be16 dport, int v6, struct km_decision *d)
{
    /* a waypoint Service naming itself is not redirected to itself */
    if (svc->waypoint_id && svc->waypoint_id != service_id)
        return km_to_waypoint(svc->waypoint_id, v6, d, KM_R_SERVICE_WAYPOINT);
    if (svc->lb_policy == KM_LB_PASSTHROUGH)
        return km_leave(d, KM_R_PASSTHROUGH);

    if (pick_priority(svc) < 0)
        return km_refuse(d, KM_R_NO_ENDPOINT_REFUSED);
    struct km_endpoint_value *ep = pick_endpoint(service_id, svc);
    if (!ep)
        return km_leave(d, KM_R_STALE);
    struct km_backend_value *backend = backend_of(ep->backend_uid);
    if (!backend)
        return km_leave(d, KM_R_STALE);
    if (backend->flags & KM_BF_WAYPOINT_UNRESOLVED)
        return km_refuse(d, KM_R_WAYPOINT_REFUSED);
    if (backend->waypoint_id && backend->waypoint_id != ep->backend_uid)
        return km_to_waypoint(backend->waypoint_id, v6, d, KM_R_BACKEND_WAYPOINT);

    int target_port = map_service_port(svc, ep, dport);
    if (target_port < 0)
        return km_leave(d, KM_R_NO_PORT);
    if (target_port == 0)
        return km_refuse(d, KM_R_NO_TARGET_REFUSED);
    const struct km_ip *addr = backend_addr(backend, v6);
    if (!addr)
        return km_refuse(d, KM_R_FAMILY_REFUSED);
    d->addr = *addr;
    d->port = (__be16)target_port;
    d->reason = KM_R_ENDPOINT;
    return KM_REWRITE;
}

/* Direct access to a pod IP: only a workload waypoint changes anything. */
static __always_inline int decide_backend(__u32 backend_uid, const struct km_backend_value *backend,
                                          int v6, struct km_decision *d)
{
    if (backend->flags & KM_BF_WAYPOINT_UNRESOLVED)
        return km_refuse(d, KM_R_WAYPOINT_REFUSED);
    if (backend->waypoint_id && backend->waypoint_id != backend_uid)
        return km_to_waypoint(backend->waypoint_id, v6, d, KM_R_BACKEND_WAYPOINT);
    return km_leave(d, KM_R_DIRECT_POD);
}

/* Idempotent by construction: a rewritten destination (pod IP or waypoint pod) never
 * leads to another rewrite of its own, so two hook generations running back to back during
 * a program replacement cannot rewrite twice. */
static __always_inline int decide(const struct km_ip *dst, __be16 dport, struct km_decision *d)
{
    struct km_frontend_key fkey = {.addr = *dst};
    struct km_frontend_value *front = km_frontend.lookup(&fkey);
    if (!front)
        return km_leave(d, KM_R_NO_FRONTEND);

    int v6 = !km_ip_is_v4(dst);
    __u32 upstream_id = front->upstream_id;
    struct km_service_key skey = {.service_id = upstream_id};
    struct km_service_value *svc = km_service.lookup(&skey);
    if (svc)
        return decide_service(upstream_id, svc, dport, v6, d);

    struct km_backend_value *backend = backend_of(upstream_id);
    if (backend)
        return decide_backend(upstream_id, backend, v6, d);
    return km_leave(d, KM_R_STALE);
}

#endif
