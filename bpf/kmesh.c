/* kmeshctl data path: cgroup/connect4 + cgroup/connect6 (L4 balancing, waypoint
 * redirection), sockops (track waypoint-bound sockets until their header is out), sk_msg
 * (prepend the original destination once per connection), sk_lookup (inbound L4
 * authorization of enrolled pods, km_authz.h). Compiled at run time by bcc
 * (kmeshctl/loader.py). */
#include "km_common.h"
#include "km_log.h"
#include "maps_manage.h"
#include "maps_socket.h"
#include "maps_idreg.h"
#include "km_lb.h"
#include "km_header.h"
#include "km_authz.h"

/* Remember where a waypoint-bound socket was going; any other rewrite forgets it (a TCP
 * socket may connect again after a failed attempt). */
static __always_inline void remember_orig_dst(struct bpf_sock *sk, const struct km_ip *dst,
                                              __be16 dport, const struct km_decision *d)
{
    if (!d->via_waypoint) {
        km_sockdst.sk_storage_delete(sk);
        return;
    }
    struct km_sock_dst *sd = km_sockdst.sk_storage_get(sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (!sd)
        return;
    sd->orig_addr = *dst;
    sd->orig_port = dport;
    sd->waypoint_hdr = d->waypoint_hdr;
    sd->state = KM_HDR_PENDING;
}

/* Steps 1-6 for one connect; returns the verdict and fills `d` for a rewrite. Sockets of
 * a protocol that is not balanced are left alone before anything else (and not logged). */
static __always_inline int connect_decision(struct bpf_sock_addr *ctx, const struct km_ip *dst,
                                            __be16 dport, struct km_decision *d)
{
    if (!protocol_is_balanced(ctx->protocol))
        return KM_LEAVE;
    __u64 netns = bpf_get_netns_cookie(ctx);
    if (!is_managed_netns(netns))
        return KM_LEAVE;
    int verdict = decide(dst, dport, d);
    KM_LOG_DECISION(netns, dst, dport, &d->addr, d->port, d->reason);
    return verdict;
}

/* connect() fails with ECONNREFUSED (not the EPERM a plain 0 return gives). */
static __always_inline int refuse_connect(void)
{
    bpf_set_retval(-KM_ECONNREFUSED);
    return KM_CONNECT_FAIL;
}

int km_connect4(struct bpf_sock_addr *ctx)
{
    struct km_ip dst;
    km_ip_from_v4(&dst, ctx->user_ip4);
    __be16 dport = (__be16)ctx->user_port;
    struct km_decision d = {};

    int verdict = connect_decision(ctx, &dst, dport, &d);
    if (verdict == KM_REJECT)
        return refuse_connect();
    if (verdict != KM_REWRITE || !km_ip_is_v4(&d.addr))
        return KM_CONNECT_ALLOW;

    struct bpf_sock *sk = ctx->sk;
    if (sk)
        remember_orig_dst(sk, &dst, dport, &d);
    ctx->user_ip4 = d.addr.addr[3];
    ctx->user_port = (__u32)d.port;
    return KM_CONNECT_ALLOW;
}

/* Volatile stores: the compiler would otherwise merge the stores of different branches
 * through one offset ctx pointer, which the verifier rejects. */
static __always_inline void set_dst6(struct bpf_sock_addr *ctx, const struct km_ip *addr,
                                     __be16 port)
{
    *(volatile __u32 *)&ctx->user_ip6[0] = addr->addr[0];
    *(volatile __u32 *)&ctx->user_ip6[1] = addr->addr[1];
    *(volatile __u32 *)&ctx->user_ip6[2] = addr->addr[2];
    *(volatile __u32 *)&ctx->user_ip6[3] = addr->addr[3];
    *(volatile __u32 *)&ctx->user_port = (__u32)port;
}

int km_connect6(struct bpf_sock_addr *ctx)
{
    struct km_ip dst = {.addr = {ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
                                 ctx->user_ip6[3]}};
    __be16 dport = (__be16)ctx->user_port;
    struct km_decision d = {};

    int verdict = connect_decision(ctx, &dst, dport, &d);
    if (verdict == KM_REJECT)
        return refuse_connect();
    if (verdict != KM_REWRITE)
        return KM_CONNECT_ALLOW;

    struct bpf_sock *sk = ctx->sk;
    if (sk)
        remember_orig_dst(sk, &dst, dport, &d);
    set_dst6(ctx, &d.addr, d.port);
    return KM_CONNECT_ALLOW;
}

static __always_inline void sock_tuple(struct bpf_sock_ops *skops, struct km_sock_tuple *t)
{
    __u32 family = KM_CTX(skops->family);
    __u32 local4 = KM_CTX(skops->local_ip4), remote4 = KM_CTX(skops->remote_ip4);
    struct km_ip local6 = {.addr = {KM_CTX(skops->local_ip6[0]), KM_CTX(skops->local_ip6[1]),
                                    KM_CTX(skops->local_ip6[2]), KM_CTX(skops->local_ip6[3])}};
    struct km_ip remote6 = {.addr = {KM_CTX(skops->remote_ip6[0]), KM_CTX(skops->remote_ip6[1]),
                                     KM_CTX(skops->remote_ip6[2]), KM_CTX(skops->remote_ip6[3])}};
    __u32 local_port = KM_CTX(skops->local_port);   /* host order */
    __u32 remote_port = KM_CTX(skops->remote_port); /* network order, upper 16 bits */

    if (family == KM_AF_INET) {
        km_ip_from_v4(&t->local, local4);
        km_ip_from_v4(&t->remote, remote4);
    } else {
        t->local = local6;
        t->remote = remote6;
    }
    t->local_port = bpf_htons((__u16)local_port);
    t->remote_port = (__be16)(remote_port >> 16);
}

/* An established waypoint-bound connection joins km_socket, so km_sk_msg sees its first
 * send; the header-option callback is switched on to notice when that send went out. */
static __always_inline void track_until_header(struct bpf_sock_ops *skops, struct bpf_sock *sk)
{
    struct km_sock_dst *sd = km_sockdst.sk_storage_get(sk, 0, 0);
    if (!sd || sd->state != KM_HDR_PENDING)
        return;
    struct km_sock_tuple key = {};
    sock_tuple(skops, &key);
    int err = km_socket.sock_hash_update(skops, &key, BPF_NOEXIST);
    if (err == 0)
        bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
                                             BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
}

/* The header is the only reason a socket is in km_socket. Once km_sk_msg has written it,
 * the first packet of that send (its TCP option sizing) takes the socket out again and
 * switches the callback off: the rest of the connection uses the plain TCP send and
 * receive path (no psock, no sk_msg run, no scatterlist copy per send). An sk_msg
 * program may not delete from a sockhash itself ("cannot update sockmap in this
 * context"); sockops may. */
static __always_inline void untrack_after_header(struct bpf_sock_ops *skops, struct bpf_sock *sk)
{
    struct km_sock_dst *sd = km_sockdst.sk_storage_get(sk, 0, 0);
    if (!sd)
        return; /* not ours: another data path (another cgroup level) may be tracking it */
    if (sd->state == KM_HDR_PENDING)
        return; /* handshake ACK or a pure ACK before the first send */
    struct km_sock_tuple key = {};
    sock_tuple(skops, &key);
    km_socket.delete(&key);
    bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
                                         ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
}

int km_sockops(struct bpf_sock_ops *skops)
{
    __u32 op = skops->op;
    if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_HDR_OPT_LEN_CB)
        return 1;
    struct bpf_sock *sk = skops->sk;
    if (!sk)
        return 1;
    if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
        track_until_header(skops, sk);
    else
        untrack_after_header(skops, sk);
    return 1;
}

/* First send of a waypoint-bound connection: prepend the original destination. */
int km_sk_msg(struct sk_msg_md *msg)
{
    struct bpf_sock *sk = msg->sk;
    if (!sk)
        return SK_PASS;
    struct km_sock_dst *sd = km_sockdst.sk_storage_get(sk, 0, 0);
    if (!sd || sd->state != KM_HDR_PENDING)
        return SK_PASS;
    sd->state = KM_HDR_SENT;
    /* Without its header the waypoint would misread the stream: fail the send instead. */
    return write_orig_dst_header(msg, sd) == 0 ? SK_PASS : SK_DROP;
}
