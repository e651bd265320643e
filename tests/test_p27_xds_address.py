"""Findings of a new-user tester on a real cluster (p27) about install's --xds-address, against
the stand-in API server; each refusal comes before anything is written (install, install
--dry-run), exit 2, one line whose command (every flag typed) is accepted when pasted:

1. a Service that is not istiod's (kube-dns, the API server's `kubernetes`, by name or by
   ClusterIP) is refused naming istiod's; its Deployment (CoreDNS) is never read as istiod's,
   so the --cluster-id hints no longer contradict each other.
2. NAME.NAMESPACE (no `.svc`) and NAME.NAMESPACE.svc.cluster.local are refused with
   NAME.NAMESPACE.svc (istiod's certificate names no other: the agents' TLS hostname check
   fails, seen on the e2e tier for both); one naming no Service is refused with istiod's.
3. istiod's other ports (15014 monitoring, 443 webhook) are refused with its xDS port 15012.
4. a missing port or a scheme offers the typed host with :15012, as the whole install.
5. a namespace name kubectl would take as TYPE/NAME (`ns/foo`) or in capitals offers the
   name meant (params.meant_namespace, for the flag and argument checks to use).

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin)."""

from __future__ import annotations

import shlex

import pytest

from kmeshctl import istiod
from kmeshctl.errors import UsageError
from kmeshctl.kube import KubeTarget, connect
from kmeshctl.params import check_namespace_name, check_xds_address, meant_namespace
from standin_apiserver import cluster, istiod_service, namespace  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)
from test_p24_install import ISTIOD, USER, _commands, _istiod_deployment, _rollout_ready
from test_p26_install import _nothing_sent, _one_error_line, _pasted, _words

AGENTS = "kmesh-f271"
EXTRA = [(), ("--dry-run",)]
EXTRA_IDS = ["install", "dry-run"]


def _kube_dns(cluster) -> None:  # noqa: F811
    """CoreDNS as a cluster has it: the kube-dns Service and its Deployment (no CLUSTER_ID)."""
    cluster.server.put(namespace("kube-system"))
    cluster.server.put({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                                     "labels": {"k8s-app": "kube-dns"}},
                        "spec": {"selector": {"k8s-app": "kube-dns"},
                                 "ports": [{"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                                           {"name": "metrics", "port": 9153, "protocol": "TCP"}]}}, USER)
    cluster.server.put({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "coredns", "namespace": "kube-system"},
                        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                                              "spec": {"containers": [{"name": "coredns", "image": "coredns"}]}}}},
                       USER)
    cluster.server.put(namespace("default"))
    cluster.server.put({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "kubernetes", "namespace": "default",
                                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
                        "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}, USER)


def _istiods_ports(cluster) -> None:  # noqa: F811
    """The stand-in's istiod Service with every port Istio's chart gives it."""
    service = istiod_service("istiod-1-22-6")
    service["metadata"]["labels"] = {"app": "istiod", "istio": "pilot"}
    service["spec"]["ports"] += [{"name": "https-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP"},
                                 {"name": "http-monitoring", "port": 15014, "protocol": "TCP"}]
    cluster.server.put(service, USER)


def _refused_with_istiods(cluster, monkeypatch, address: str, problem: str, extra: tuple = (),  # noqa: F811
                          cluster_id: str = "c1") -> str:
    """install -n AGENTS --cluster-id C --xds-address ``address`` EXTRA: refused before
    anything, one line `--xds-address ADDRESS: PROBLEM...` whose install (the same flags,
    istiod's address) is accepted pasted. The line."""
    result = cluster.kmeshctl("install", "-n", AGENTS, "--cluster-id", cluster_id, "--xds-address", address, *extra)
    assert result.code == 2 and not result.out, result
    line = _one_error_line(result)
    assert line.startswith(f"Error: --xds-address {address}: {problem}"), line
    _nothing_sent(cluster)
    [command] = _commands(line, "kmeshctl")
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "-n", AGENTS, "--cluster-id",
                                      cluster_id, "--xds-address", ISTIOD, *extra]), command
    _rollout_ready(monkeypatch)
    pasted = _pasted(cluster, line)
    assert pasted.code == 0, pasted
    return line


# -- 1: a Service that is not istiod ---------------------------------------------------------------


@pytest.mark.parametrize("address", ["kube-dns.kube-system.svc:53", "kube-dns.kube-system.svc:9153",
                                     "kubernetes.default.svc:443", "kube-dns.kube-system:53"])
@pytest.mark.parametrize("extra", EXTRA, ids=EXTRA_IDS)
def test_a_service_that_is_not_istiod_is_refused_with_istiods(cluster, monkeypatch, address,  # noqa: F811
                                                              extra) -> None:
    _kube_dns(cluster)
    line = _refused_with_istiods(cluster, monkeypatch, address, "not an istiod Service (Service ", extra)
    assert f"istiod Services found: {ISTIOD}" in line, line


def test_another_services_cluster_ip_is_refused_as_not_istiod(cluster, monkeypatch) -> None:  # noqa: F811
    _kube_dns(cluster)
    ip = cluster.server.get("v1", "Service", "kube-dns", "kube-system")["spec"]["clusterIP"]
    _refused_with_istiods(cluster, monkeypatch, f"{ip}:53", "the ClusterIP of Service kube-system/kube-dns, not an "
                          "istiod Service", ("--dry-run",))


def test_the_cluster_id_hints_agree_once_the_address_is_not_istiods(cluster, monkeypatch) -> None:  # noqa: F811
    """The tester's sequence: no --cluster-id (istiod's offered), pasted: the address is refused
    (not CoreDNS's `Kubernetes` offered as istiod's id), pasted: accepted."""
    _kube_dns(cluster)
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-f271"}])
    first = cluster.kmeshctl("install", "-n", AGENTS, "--dry-run", "--xds-address", "kube-dns.kube-system.svc:53")
    line = _one_error_line(first)
    assert line.startswith("Error: --cluster-id is required") and "istiod's is tier-f271" in line, line
    second = _pasted(cluster, line)
    line = _one_error_line(second)
    assert second.code == 2 and "not an istiod Service" in line and "Kubernetes" not in line, line
    assert "--cluster-id tier-f271" in line, line
    assert _pasted(cluster, line).code == 0
    refused = cluster.kmeshctl("install", "-n", AGENTS, "--dry-run", "--cluster-id", "Kubernetes", "--xds-address",
                               "kube-dns.kube-system.svc:53")  # what the tester was offered before, and accepted
    assert refused.code == 2 and "not an istiod Service" in refused.err, refused


def test_no_deployment_behind_another_service_is_taken_for_istiods(cluster) -> None:  # noqa: F811
    _kube_dns(cluster)
    client = connect(KubeTarget(str(cluster.kubeconfig)))
    assert istiod.istiod_deployment(client, "kube-dns.kube-system.svc:53") is None
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-f271"}])
    assert istiod.istiod_deployment(client, ISTIOD).cluster_id == "tier-f271"


def test_what_counts_as_istiod() -> None:
    def service(name: str, labels: dict | None = None, selector: dict | None = None) -> dict:
        return {"metadata": {"name": name, "namespace": "ns", "labels": labels or {}},
                "spec": {"selector": selector or {}}}

    assert istiod.is_istiod_service(service("istiod"))
    assert istiod.is_istiod_service(service("istiod-1-22-6"))  # ASM's, no selector
    assert istiod.is_istiod_service(service("pilot", selector={"app": "istiod"}))
    assert istiod.is_istiod_service(service("istio-pilot", labels={"istio": "pilot"}))
    assert not istiod.is_istiod_service(service("kube-dns", {"k8s-app": "kube-dns"}, {"k8s-app": "kube-dns"}))
    assert not istiod.is_istiod_service(service("kubernetes", {"component": "apiserver"}))


# -- 2: names istiod's certificate does not carry, and names of no Service ----------------------


@pytest.mark.parametrize("address", ["istiod-1-22-6.istio-system:15012",
                                     "istiod-1-22-6.istio-system.svc.cluster.local:15012"])
@pytest.mark.parametrize("extra", EXTRA, ids=EXTRA_IDS)
def test_a_service_name_istiods_certificate_lacks_is_refused_with_its_dns_name(cluster, monkeypatch, address,  # noqa: F811
                                                                               extra) -> None:
    host = address.rpartition(":")[0]
    _refused_with_istiods(cluster, monkeypatch, address, "istiod's certificate names the Service by its DNS name "
                          f"istiod-1-22-6.istio-system.svc, not {host} (the agents' TLS check would fail)", extra)


@pytest.mark.parametrize("address", ["nowhere.istio-system:15012", "nowhere.istio-system.svc:15012"])
def test_a_name_of_no_service_is_refused_with_istiods(cluster, monkeypatch, address) -> None:  # noqa: F811
    _refused_with_istiods(cluster, monkeypatch, address, "no Service nowhere in namespace istio-system; istiod "
                          f"Services found: {ISTIOD}", ("--dry-run",))


def test_a_bare_name_of_the_agents_own_namespace_is_refused_with_its_dns_name(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace(AGENTS))
    cluster.server.put(istiod_service("istiod", AGENTS), USER)
    result = cluster.kmeshctl("install", "-n", AGENTS, "--cluster-id", "c1", "--xds-address", "istiod:15012",
                              "--dry-run")
    line = _one_error_line(result)
    assert result.code == 2 and line.startswith("Error: --xds-address istiod:15012: istiod's certificate names the "
                                                f"Service by its DNS name istiod.{AGENTS}.svc, not istiod"), line
    assert f"--xds-address istiod.{AGENTS}.svc:15012" in line, line
    _nothing_sent(cluster)


@pytest.mark.parametrize("address", ["istiod.corp:15012", "istiod.example.com:15012", "10.0.0.99:15012"])
def test_an_address_outside_the_clusters_services_is_not_judged(cluster, address) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", address, "--dry-run", "-q")
    assert result.code == 0, (address, result)


# -- 3: istiod's other ports -----------------------------------------------------------------------


@pytest.mark.parametrize("port, name", [(15014, "http-monitoring"), (443, "https-webhook")])
@pytest.mark.parametrize("extra", EXTRA, ids=EXTRA_IDS)
def test_istiods_other_ports_are_refused_with_its_xds_port(cluster, monkeypatch, port, name, extra) -> None:  # noqa: F811
    _istiods_ports(cluster)
    _refused_with_istiods(cluster, monkeypatch, f"istiod-1-22-6.istio-system.svc:{port}",
                          f"port {port} of Service istio-system/istiod-1-22-6 ({name}) is not istiod's xDS port "
                          "(15012, TLS)", extra)


def test_istiods_cluster_ip_on_another_port_offers_its_xds_port(cluster, monkeypatch) -> None:  # noqa: F811
    _istiods_ports(cluster)
    ip = cluster.server.get("v1", "Service", "istiod-1-22-6", "istio-system")["spec"]["clusterIP"]
    _refused_with_istiods(cluster, monkeypatch, f"{ip}:15014", "the ClusterIP of Service istio-system/istiod-1-22-6",
                          ("--dry-run",))


# -- 4: a malformed --xds-address offers what was typed, whole ----------------------------------


@pytest.mark.parametrize("typed, problem", [("istiod-1-22-6.istio-system.svc", "missing port"),
                                            ("https://istiod-1-22-6.istio-system.svc:15012",
                                             "no scheme (https://), istiod's xDS is gRPC over TLS"),
                                            ("grpc://istiod-1-22-6.istio-system.svc/", "no scheme (grpc://)")])
@pytest.mark.parametrize("extra", EXTRA, ids=EXTRA_IDS)
def test_a_malformed_address_offers_the_typed_host_as_the_whole_install(cluster, monkeypatch, typed, problem,  # noqa: F811
                                                                        extra) -> None:
    result = cluster.kmeshctl("install", "-n", AGENTS, "--cluster-id", "c1", "--xds-address", typed, *extra)
    assert result.code == 2 and not result.out, result
    line = _one_error_line(result)
    assert line.startswith(f"Error: --xds-address {typed}: {problem}"), line
    assert "istiod-1-22-6.istio-system.svc:15012" in line and "e.g." not in line, line
    assert cluster.server.requests == [], cluster.server.requests  # checked before the cluster is asked
    [command] = _commands(line, "kmeshctl")
    assert _words(command) == _words(["kmeshctl", "--kubeconfig", "K", "install", "-n", AGENTS, "--cluster-id", "c1",
                                      "--xds-address", ISTIOD, *extra]), command
    _rollout_ready(monkeypatch)
    assert _pasted(cluster, line).code == 0


def test_offline_the_whole_dry_run_is_offered_too(capsys, no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, "install", "--dry-run", "--cluster-id", "c1", "--xds-address",
                         "https://istiod.istio-system.svc")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    [command] = _commands(err, "kmeshctl")
    assert _words(["kmeshctl", "--kubeconfig", "K", *command[1:]]) == _words(
        ["kmeshctl", "--kubeconfig", "K", "install", "--dry-run", "--cluster-id", "c1", "--xds-address",
         "istiod.istio-system.svc:15012"]), command
    code, out, err = cli(capsys, *command[1:])
    assert code == 0 and out, err


@pytest.mark.parametrize("typed, meant", [("istiod.istio-system.svc", "istiod.istio-system.svc:15012"),
                                          ("[fd00::7]", "[fd00::7]:15012"),
                                          ("https://istiod.istio-system.svc:15010/", "istiod.istio-system.svc:15012"),
                                          ("grpcs://10.0.0.7:15013", "10.0.0.7:15013")])
def test_render_and_node_run_offer_the_typed_host_too(typed, meant, capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", typed)
    # the whole line to paste (f36a), the typed host in it
    assert code == 2 and f"--xds-address {shlex.quote(meant)} " in err and "istiod-1-22-6" not in err, err
    with pytest.raises(UsageError) as raised:
        check_xds_address(typed, flag="$XDS_ADDRESS", allow_unix=True)
    assert f"e.g. $XDS_ADDRESS={meant}" in str(raised.value), raised.value
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", meant)
    assert code == 0, err


# -- 5: the namespace meant ------------------------------------------------------------------------


@pytest.mark.parametrize("typed, meant", [("ns/t27b-a", "t27b-a"), ("namespace/t27b-a", "t27b-a"),
                                          ("namespaces/t27b-a", "t27b-a"), ("Bad_NS", "bad-ns"), ("NS/Foo", "foo"),
                                          ("ns/", None), ("ns/a/b", None), ("Bad Name", "bad-name"),  # t43b 9: a space too
                                          ("Bad!Name", None), ("default", None)])
def test_the_namespace_meant(typed, meant) -> None:
    assert meant_namespace(typed) == meant


def test_the_install_namespace_check_offers_the_name_meant() -> None:
    with pytest.raises(UsageError) as raised:
        check_namespace_name("--istio-namespace", "ns/istio-system")
    assert str(raised.value).endswith("; did you mean --istio-namespace istio-system?"), raised.value
    with pytest.raises(UsageError) as raised:
        check_namespace_name("--istio-namespace", "a!b")  # ('a b' is a-b: t43b 9)
    assert "did you mean" not in str(raised.value), raised.value
