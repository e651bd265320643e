/* Per-connection waypoint state.
 * km_sockdst (socket-local storage): the original destination of a socket that the
 *   connect hook sent to a waypoint, and whether its header is still to be written.
 * km_socket (sockhash keyed by tuple): established waypoint-bound sockets whose header is
 *   not written yet, so that the sk_msg program runs on their first send; it removes the
 *   socket right after (the kernel also drops entries when sockets close). */
#ifndef KM_MAPS_SOCKET_H
#define KM_MAPS_SOCKET_H
#include "km_common.h"

#define KM_MAX_SOCKETS 65535

enum km_header_state {
    KM_HDR_NONE = 0,
    KM_HDR_PENDING = 1,
    KM_HDR_SENT = 2,
};

struct km_sock_dst {
    struct km_ip orig_addr;
    __be16 orig_port;
    __u8 waypoint_hdr; /* enum km_waypoint_header */
    __u8 state;        /* enum km_header_state */
};

BPF_TABLE_PINNED("sk_storage", int, struct km_sock_dst, km_sockdst, 0, KM_PIN("km_sockdst"),
                 BPF_F_NO_PREALLOC);

KM_PINNED_SOCKHASH(km_socket, struct km_sock_tuple, KM_MAX_SOCKETS, KM_PIN("km_socket"));

#endif
