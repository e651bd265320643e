/* Inbound L4 authorization (issue 13): an sk_lookup program, attached by the agent to the
 * network namespace of every enrolled pod, decides each new TCP connection when its SYN
 * looks for a listening socket, before any socket (or the application) sees it. A refused
 * connection gets SK_DROP: the lookup finds no socket and the kernel answers the SYN with
 * a RST, so the client's connect() fails at once with ECONNREFUSED.
 *
 * The decision is three lookups in the tables the agent compiled for this pod
 * (maps_authz.h): the pod's table by its address, the port class of the destination
 * port, the verdict for the source address (longest prefix). No loop over policies here:
 * Istio's semantics (DENY first, then ALLOW-if-any) are evaluated by the agent. */
#ifndef KM_AUTHZ_H
#define KM_AUTHZ_H
#include "km_common.h"
#include "km_log.h"
#include "maps_authz.h"

#define KM_SK_PASS 1
#define KM_SK_DROP 0
#define KM_AUTHZ_FULL_PREFIX (KM_AUTHZ_KEY_FIXED_BITS + 128)

static __always_inline int km_authz_refuses(__u32 verdict)
{
    return verdict >= KM_AZ_DENY_POLICY;
}

static __always_inline __u32 km_authz_reason(__u32 verdict)
{
    switch (verdict) {
    case KM_AZ_ALLOW_POLICY: return KM_R_AUTHZ_ALLOW;
    case KM_AZ_DENY_POLICY: return KM_R_AUTHZ_DENY;
    case KM_AZ_DENY_NO_ALLOW: return KM_R_AUTHZ_NO_ALLOW;
    default: return KM_R_AUTHZ_UNENFORCEABLE;
    }
}

/* One more connection for {policy, verdict, dry_run}; the entry is created on first use. */
static __always_inline void km_authz_count(__u32 policy, __u32 verdict, __u16 dry_run)
{
    struct km_authz_stat_key key = {.policy = policy, .verdict = (__u16)verdict,
                                    .dry_run = dry_run};
    struct km_authz_stat_value *value = km_authz_stats.lookup(&key);
    if (!value) {
        struct km_authz_stat_value first = {.count = 0};
        km_authz_stats.update(&key, &first);
        value = km_authz_stats.lookup(&key);
        if (!value)
            return; /* stats map full: the decision stands, only uncounted */
    }
    __sync_fetch_and_add(&value->count, 1);
}

static __always_inline __u32 km_authz_port_class(__u32 table, __u32 port)
{
    struct km_authz_port_key key = {.table = table, .port = (__u16)port};
    struct km_authz_port_value *value = km_authz_port.lookup(&key);
    return value ? value->port_class : 0;
}

/* The verdict for src -> dst:port, counted and logged; KM_SK_DROP refuses it. */
static __always_inline int km_authz_decide(const struct km_ip *src, const struct km_ip *dst,
                                           __u32 port)
{
    struct km_authz_dst_key dkey = {.addr = *dst};
    struct km_authz_dst_value *d = km_authz_dst.lookup(&dkey);
    if (!d)
        return KM_SK_PASS; /* no policy compiled for this address */
    __be16 dport = bpf_htons((__u16)port);
    if (d->flags & KM_AZF_DENY_ALL) {
        km_authz_count(0, KM_AZ_DENY_UNENFORCEABLE, 0);
        KM_LOG_AUTHZ(src, dst, dport, KM_R_AUTHZ_UNENFORCEABLE, 0);
        return KM_SK_DROP;
    }
    struct km_authz_rule_key rkey = {
        .prefixlen = KM_AUTHZ_FULL_PREFIX,
        .table = d->table,
        .port_class = km_authz_port_class(d->table, port),
        .src = *src,
    };
    struct km_authz_rule_value *r = km_authz_rule.lookup(&rkey);
    if (!r)
        return KM_SK_PASS; /* a table always has its root entry; none: no table (yet) */
    __u32 verdict = r->verdict, policy = r->policy;
    if (r->shadow_policy && r->shadow_verdict != verdict) {
        km_authz_count(r->shadow_policy, r->shadow_verdict, 1);
        if (km_authz_refuses(r->shadow_verdict) && !km_authz_refuses(verdict))
            KM_LOG_AUTHZ(src, dst, dport, KM_R_AUTHZ_DRY_RUN_DENY, r->shadow_policy);
    }
    if (verdict == KM_AZ_ALLOW)
        return KM_SK_PASS; /* no enforced policy applies: not counted, not logged */
    km_authz_count(policy, verdict, 0);
    KM_LOG_AUTHZ(src, dst, dport, km_authz_reason(verdict), policy);
    return km_authz_refuses(verdict) ? KM_SK_DROP : KM_SK_PASS;
}

int km_authz(struct bpf_sk_lookup *ctx)
{
    if (KM_CTX(ctx->protocol) != KM_IPPROTO_TCP)
        return KM_SK_PASS;
    __u32 family = KM_CTX(ctx->family);
    __u32 remote4 = KM_CTX(ctx->remote_ip4), local4 = KM_CTX(ctx->local_ip4);
    struct km_ip remote6 = {.addr = {KM_CTX(ctx->remote_ip6[0]), KM_CTX(ctx->remote_ip6[1]),
                                     KM_CTX(ctx->remote_ip6[2]), KM_CTX(ctx->remote_ip6[3])}};
    struct km_ip local6 = {.addr = {KM_CTX(ctx->local_ip6[0]), KM_CTX(ctx->local_ip6[1]),
                                    KM_CTX(ctx->local_ip6[2]), KM_CTX(ctx->local_ip6[3])}};
    __u32 port = KM_CTX(ctx->local_port); /* host order */
    struct km_ip src, dst;
    if (family == KM_AF_INET) {
        km_ip_from_v4(&src, remote4);
        km_ip_from_v4(&dst, local4);
    } else {
        src = remote6;
        dst = local6;
    }
    return km_authz_decide(&src, &dst, port);
}

#endif
