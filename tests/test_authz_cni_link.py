"""The CNI path of inbound authorization on the real kernel: the CNI server enrolls a pod
from the netns descriptor the plugin passed (opened through the runtime's bind-mounted
/var/run/netns/cni-... file), naming it only "cni:<container id>". The agent's enroller must
find that descriptor among its own and link km_authz into that namespace.

Found on the e2e tier (issue 13): a descriptor opened through a bind mount reads as the
mount's path in /proc/self/fd, not "net:[inode]", so every CNI-enrolled pod was left
unlinked (event=authz_link_failed) and its DENY policies silently open.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from bpf_testlib import LoadedEnv, PodProcess, connect, loaded_dataplane, pod_network
from kmeshctl.node import authzlink
from kmeshctl.node.authzsync import AuthzSync
from kmeshctl.enrollment import ENROLLED_BY_CNI
from kmeshctl.node.model import DENY, POLICY_NAMESPACE, Clause, Match, Policy, Rule, StringMatch, Workload
from kmeshctl.node.workload_cache import WorkloadCache

pytestmark = pytest.mark.root

SUBNET = "10.79.1.0/24"


@pytest.fixture(scope="module")
def env(run_id: str) -> Iterator[tuple[LoadedEnv, object]]:
    for dp in loaded_dataplane(run_id, "ac"):
        for net in pod_network(f"km{run_id}ac", SUBNET, dp.cgroup):
            for name in ("client", "server"):
                net.add_pod(name)
            yield dp, net


def test_only_netns_descriptors_are_taken(env) -> None:
    _dp, net = env
    fd = os.open(net.pods["client"].netns_path, os.O_RDONLY | os.O_CLOEXEC)
    other = os.open(__file__, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert authzlink.netns_fd_with_cookie(net.pods["client"].netns_cookie()) == fd
        assert other not in authzlink._netns_fds_of_self()
    finally:
        os.close(fd)
        os.close(other)


def test_cni_enrolled_pod_is_linked_and_its_deny_enforced(env) -> None:
    dp, net = env
    server, client = net.pods["server"], net.pods["client"]
    # As the plugin does: the pod's netns opened through its bind-mounted file.
    fd = os.open(server.netns_path, os.O_RDONLY | os.O_CLOEXEC)
    assert os.readlink(f"/proc/self/fd/{fd}") == str(server.netns_path)  # not "net:[...]"
    cookie = server.netns_cookie()
    enroller = authzlink.make_enroller(dp.maps, dp.bpf_fs)
    failures = type(enroller).link_failures
    process = None
    try:
        enroller.enroll_cookie(cookie, "cni:0123456789ab", "shop/server", ENROLLED_BY_CNI)
        assert type(enroller).link_failures == failures
        assert cookie in authzlink.linked_cookies(dp.bpf_fs)

        cache = WorkloadCache()
        sync = AuthzSync(dp.maps, cache)
        workloads = {f"Kubernetes//Pod/{ns}/{name}": Workload(
            uid=f"Kubernetes//Pod/{ns}/{name}", name=name, namespace=ns, addresses=(net.pods[name].ip,))
            for name, ns in (("client", "foo"), ("server", "shop"))}
        sync(cache.apply_addresses(workloads, []))
        deny = Policy(name="deny-foo", namespace="shop", scope=POLICY_NAMESPACE, action=DENY,
                      rules=(Rule((Clause((Match(namespaces=(StringMatch(exact="foo"),)),)),)),))
        sync(cache.apply_authorizations({deny.key: deny}, []))
        process = PodProcess(server, "serve", "server", "8080")
        [result] = connect(client, str(server.ip), 8080, timeout=3, timed=True)
        assert result["ok"] is False and result["error"] == "ECONNREFUSED", result
        assert result["seconds"] < 1.0, result
    finally:
        os.close(fd)
        if process is not None:
            process.stop()
        enroller.release_cookie(cookie, "shop/server")
    assert cookie not in authzlink.linked_cookies(dp.bpf_fs)
