/* Shared types and helpers of the kmeshctl data path.
 *
 * Every map is pinned under KM_PIN_DIR (set by the loader with -DKM_PIN_DIR="...") so
 * that a restarted agent reuses the maps with their contents.
 * Addresses are always 16 bytes: IPv6, or IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d),
 * network byte order. Ports in maps are network byte order (__be16).
 */
#ifndef KM_COMMON_H
#define KM_COMMON_H

#include <uapi/linux/bpf.h>

#ifndef KM_PIN_DIR
#error "compile with -DKM_PIN_DIR=\"/sys/fs/bpf/<dir>\" (the loader does this)"
#endif

#define KM_PIN(name) KM_PIN_DIR "/" name

#define KM_AF_INET 2
#define KM_AF_INET6 10

/* cgroup/connect return values: let connect() proceed (to the possibly rewritten address),
 * or make it fail with the errno set by bpf_set_retval (EPERM when none was set) */
#define KM_CONNECT_ALLOW 1
#define KM_CONNECT_FAIL 0

#define KM_IPPROTO_TCP 6
#define KM_ECONNREFUSED 111

/* Reads a 4-byte context field with a volatile load. Family-dependent fields must be read
 * up front this way: otherwise the compiler sinks the loads into per-family branches as
 * offset ctx pointers, which the verifier rejects. */
#define KM_CTX(field) (*(volatile __u32 *)&(field))

struct km_ip {
    __u32 addr[4];
};

static __always_inline void km_ip_from_v4(struct km_ip *ip, __u32 v4)
{
    ip->addr[0] = 0;
    ip->addr[1] = 0;
    ip->addr[2] = bpf_htonl(0x0000ffff);
    ip->addr[3] = v4;
}

static __always_inline int km_ip_is_v4(const struct km_ip *ip)
{
    return ip->addr[0] == 0 && ip->addr[1] == 0 && ip->addr[2] == bpf_htonl(0x0000ffff);
}

static __always_inline int km_ip_is_zero(const struct km_ip *ip)
{
    return !(ip->addr[0] | ip->addr[1] | ip->addr[2] | ip->addr[3]);
}

/* The header a waypoint reads first (km_backend.tunnel_hdr, km_sock_dst.waypoint_hdr). */
enum km_waypoint_header {
    KM_WP_KMESH_TLV = 0,
    KM_WP_PROXY_V2 = 1,
};

/* Sockets in km_socket are keyed by their tuple; ports in network byte order. */
struct km_sock_tuple {
    struct km_ip local;
    struct km_ip remote;
    __be16 local_port;
    __be16 remote_port;
};

/* A pinned sockhash; bcc's BPF_SOCKHASH has no pinned form.  The u64 value lets user
 * space read each socket's cookie back (sockhash lookups need an 8-byte value). */
#define KM_PINNED_SOCKHASH(_name, _key_type, _max_entries, _pinned) \
struct _name##_table_t { \
    _key_type key; \
    u64 leaf; \
    int (*update) (_key_type *, u64 *); \
    int (*delete) (_key_type *); \
    int (*sock_hash_update) (void *, void *, u64); \
    int (*msg_redirect_hash) (void *, void *, u64); \
    int (*sk_redirect_hash) (void *, void *, u64); \
    u32 max_entries; \
}; \
__attribute__((section("maps/sockhash:" _pinned))) \
struct _name##_table_t _name = { .max_entries = (_max_entries) }; \
BPF_ANNOTATE_KV_PAIR(_name, _key_type, u64)

#endif
