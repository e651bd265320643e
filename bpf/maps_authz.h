/* L4 authorization tables (issue 13), written by the agent (kmeshctl/authzsync.py) and read
 * by the sk_lookup program (km_authz.h) for each new inbound TCP connection of an enrolled
 * pod.
 *
 * km_authz_dst   destination (the pod's own address) -> the table in force for it.
 * km_authz_port  {table, destination port} -> port class; a port that no policy of the
 *                table names has no entry: class 0.
 * km_authz_rule  LPM trie {table, port class, source address / prefix} -> verdict. Every
 *                table has a root entry (prefix length 64 + 0), so a lookup always hits.
 * km_authz_pol   policy id -> name, action, dry_run (user space only: dump, metrics).
 * km_authz_stats {policy id, verdict, dry run} -> connections (the program counts).
 *
 * A changed policy set gets a new table id; its entries are written before the switch of
 * km_authz_dst, so a connection sees the old or the new table, never a mix. */
#ifndef KM_MAPS_AUTHZ_H
#define KM_MAPS_AUTHZ_H
#include "km_common.h"

#define KM_MAX_AUTHZ_DSTS 16384
#define KM_MAX_AUTHZ_PORTS 65536
#define KM_MAX_AUTHZ_RULES 262144
#define KM_MAX_AUTHZ_POLICIES 16384
#define KM_MAX_AUTHZ_STATS 65536
#define KM_AUTHZ_NAME_LEN 254
/* the fixed part of an LPM key before the source address: table + port class, in bits */
#define KM_AUTHZ_KEY_FIXED_BITS 64

enum km_authz_verdict {
    KM_AZ_ALLOW = 0,          /* no enforced policy applies: allowed */
    KM_AZ_ALLOW_POLICY = 1,   /* an ALLOW policy matched (policy names it) */
    KM_AZ_DENY_POLICY = 2,    /* a DENY policy matched (policy names it) */
    KM_AZ_DENY_NO_ALLOW = 3,  /* ALLOW policies apply and none matched */
    KM_AZ_DENY_UNENFORCEABLE = 4, /* the agent could not write this pod's table: fail closed */
};

enum km_authz_dst_flags {
    KM_AZF_DENY_ALL = 1, /* fail closed: every new connection is refused */
};

struct km_authz_dst_key {
    struct km_ip addr;
};

struct km_authz_dst_value {
    __u32 table;
    __u32 flags; /* enum km_authz_dst_flags */
};

struct km_authz_port_key {
    __u32 table;
    __u16 port; /* host order */
    __u16 pad;
};

struct km_authz_port_value {
    __u32 port_class;
};

struct km_authz_rule_key {
    __u32 prefixlen; /* KM_AUTHZ_KEY_FIXED_BITS + the source prefix length (IPv4: 96 + n) */
    __u32 table;
    __u32 port_class;
    struct km_ip src;
};

struct km_authz_rule_value {
    __u32 verdict;        /* enum km_authz_verdict, dry-run policies left out */
    __u32 policy;         /* the deciding policy's id; 0: none */
    __u32 shadow_verdict; /* the verdict with the dry-run policies too */
    __u32 shadow_policy;
};

struct km_authz_pol_key {
    __u32 id;
};

struct km_authz_pol_value {
    __u8 action;  /* 0 ALLOW, 1 DENY (istio.security.Action) */
    __u8 dry_run;
    char name[KM_AUTHZ_NAME_LEN]; /* namespace/name, NUL-padded */
};

struct km_authz_stat_key {
    __u32 policy;
    __u16 verdict; /* enum km_authz_verdict */
    __u16 dry_run; /* 1: the shadow verdict of a dry-run policy (not enforced) */
};

struct km_authz_stat_value {
    __u64 count;
};

BPF_TABLE_PINNED("hash", struct km_authz_dst_key, struct km_authz_dst_value, km_authz_dst,
                 KM_MAX_AUTHZ_DSTS, KM_PIN("km_authz_dst"), BPF_F_NO_PREALLOC);
BPF_TABLE_PINNED("hash", struct km_authz_port_key, struct km_authz_port_value, km_authz_port,
                 KM_MAX_AUTHZ_PORTS, KM_PIN("km_authz_port"), BPF_F_NO_PREALLOC);
BPF_TABLE_PINNED("lpm_trie", struct km_authz_rule_key, struct km_authz_rule_value,
                 km_authz_rule, KM_MAX_AUTHZ_RULES, KM_PIN("km_authz_rule"), BPF_F_NO_PREALLOC);
BPF_TABLE_PINNED("hash", struct km_authz_pol_key, struct km_authz_pol_value, km_authz_pol,
                 KM_MAX_AUTHZ_POLICIES, KM_PIN("km_authz_pol"), BPF_F_NO_PREALLOC);
BPF_TABLE_PINNED("hash", struct km_authz_stat_key, struct km_authz_stat_value, km_authz_stats,
                 KM_MAX_AUTHZ_STATS, KM_PIN("km_authz_stats"), BPF_F_NO_PREALLOC);

#endif
