/* The original-destination header written in front of the first bytes a waypoint-bound
 * connection sends (facts: "Original-destination header written to the waypoint").
 *   Kmesh TLV, IPv4 (16 bytes): 0x01 | be32 6  | IPv4  | port | 0xFE | be32 0
 *   Kmesh TLV, IPv6 (28 bytes): 0x01 | be32 18 | IPv6  | port | 0xFE | be32 0
 *   PROXY v2 (28 / 52 bytes): signature | 0x21 | 0x11 (TCP4) or 0x21 (TCP6) | be16 length |
 *                             src addr | dst addr | src port | dst port
 */
#ifndef KM_HEADER_H
#define KM_HEADER_H
#include "km_common.h"
#include "maps_socket.h"

#define KM_TLV_TYPE_ORIG_DST 0x01
#define KM_TLV_TYPE_END 0xFE

struct km_tlv4 {
    __u8 type;
    __be32 length;
    __be32 addr;
    __be16 port;
    __u8 end_type;
    __be32 end_length;
} __attribute__((packed));

struct km_tlv6 {
    __u8 type;
    __be32 length;
    __u32 addr[4];
    __be16 port;
    __u8 end_type;
    __be32 end_length;
} __attribute__((packed));

struct km_ppv2_prefix {
    __u8 signature[12];
    __u8 version_command; /* 0x21: version 2, PROXY */
    __u8 family;          /* 0x11: TCP over IPv4, 0x21: TCP over IPv6 */
    __be16 length;        /* bytes after this prefix */
} __attribute__((packed));

struct km_ppv2_v4 {
    struct km_ppv2_prefix prefix;
    __be32 src_addr;
    __be32 dst_addr;
    __be16 src_port;
    __be16 dst_port;
} __attribute__((packed));

struct km_ppv2_v6 {
    struct km_ppv2_prefix prefix;
    __u32 src_addr[4];
    __u32 dst_addr[4];
    __be16 src_port;
    __be16 dst_port;
} __attribute__((packed));

static __always_inline void ppv2_prefix(struct km_ppv2_prefix *p, __u8 family, __u16 length)
{
    const __u8 signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    __builtin_memcpy(p->signature, signature, sizeof(signature));
    p->version_command = 0x21;
    p->family = family;
    p->length = bpf_htons(length);
}

/* Make room for `len` bytes at the start of the message; the start of the new room, or
 * NULL. A macro so that each caller's constant length reaches the verifier. */
#define KM_PUSH_FRONT(msg, len)                                                        \
    ({                                                                                 \
        void *_room = NULL;                                                            \
        if (bpf_msg_push_data(msg, 0, len, 0) == 0) {                                  \
            void *_data = (void *)(long)(msg)->data;                                   \
            void *_end = (void *)(long)(msg)->data_end;                                \
            if (_data + (len) <= _end)                                                 \
                _room = _data;                                                         \
        }                                                                              \
        _room;                                                                         \
    })

static __always_inline int write_tlv4(struct sk_msg_md *msg, const struct km_sock_dst *sd)
{
    struct km_tlv4 h = {
        .type = KM_TLV_TYPE_ORIG_DST,
        .length = bpf_htonl(6),
        .addr = sd->orig_addr.addr[3],
        .port = sd->orig_port,
        .end_type = KM_TLV_TYPE_END,
        .end_length = 0,
    };
    void *room = KM_PUSH_FRONT(msg, sizeof(h));
    if (!room)
        return -1;
    __builtin_memcpy(room, &h, sizeof(h));
    return 0;
}

static __always_inline int write_tlv6(struct sk_msg_md *msg, const struct km_sock_dst *sd)
{
    struct km_tlv6 h = {
        .type = KM_TLV_TYPE_ORIG_DST,
        .length = bpf_htonl(18),
        .port = sd->orig_port,
        .end_type = KM_TLV_TYPE_END,
        .end_length = 0,
    };
    __builtin_memcpy(h.addr, sd->orig_addr.addr, sizeof(h.addr));
    void *room = KM_PUSH_FRONT(msg, sizeof(h));
    if (!room)
        return -1;
    __builtin_memcpy(room, &h, sizeof(h));
    return 0;
}

/* The connection's own address as 16 bytes (IPv4-mapped for IPv4). */
static __always_inline void msg_local_addr(struct sk_msg_md *msg, struct km_ip *ip)
{
    __u32 family = KM_CTX(msg->family);
    __u32 local4 = KM_CTX(msg->local_ip4);
    struct km_ip local6 = {.addr = {KM_CTX(msg->local_ip6[0]), KM_CTX(msg->local_ip6[1]),
                                    KM_CTX(msg->local_ip6[2]), KM_CTX(msg->local_ip6[3])}};
    if (family == KM_AF_INET)
        km_ip_from_v4(ip, local4);
    else
        *ip = local6;
}

static __always_inline int write_ppv2_v4(struct sk_msg_md *msg, const struct km_sock_dst *sd,
                                         const struct km_ip *src)
{
    struct km_ppv2_v4 h = {
        .src_addr = src->addr[3],
        .dst_addr = sd->orig_addr.addr[3],
        .src_port = bpf_htons((__u16)KM_CTX(msg->local_port)), /* host order */
        .dst_port = sd->orig_port,
    };
    ppv2_prefix(&h.prefix, 0x11, 12);
    void *room = KM_PUSH_FRONT(msg, sizeof(h));
    if (!room)
        return -1;
    __builtin_memcpy(room, &h, sizeof(h));
    return 0;
}

static __always_inline int write_ppv2_v6(struct sk_msg_md *msg, const struct km_sock_dst *sd,
                                         const struct km_ip *src)
{
    struct km_ppv2_v6 h = {
        .src_port = bpf_htons((__u16)KM_CTX(msg->local_port)),
        .dst_port = sd->orig_port,
    };
    ppv2_prefix(&h.prefix, 0x21, 36);
    __builtin_memcpy(h.src_addr, src->addr, sizeof(h.src_addr));
    __builtin_memcpy(h.dst_addr, sd->orig_addr.addr, sizeof(h.dst_addr));
    void *room = KM_PUSH_FRONT(msg, sizeof(h));
    if (!room)
        return -1;
    __builtin_memcpy(room, &h, sizeof(h));
    return 0;
}

/* 0 when the header for the socket's waypoint format is in place, -1 otherwise. */
static __always_inline int write_orig_dst_header(struct sk_msg_md *msg,
                                                 const struct km_sock_dst *sd)
{
    int v4 = km_ip_is_v4(&sd->orig_addr);
    if (sd->waypoint_hdr != KM_WP_PROXY_V2)
        return v4 ? write_tlv4(msg, sd) : write_tlv6(msg, sd);

    struct km_ip src = {};
    msg_local_addr(msg, &src);
    if (v4)
        return write_ppv2_v4(msg, sd, &src);
    return write_ppv2_v6(msg, sd, &src);
}

#endif
