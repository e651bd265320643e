"""Rendering: the seed parameters give the right objects, in apply order, with every
defect of the ASM guide's manifest (facts section 8) fixed; the `render` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
import yaml
from google.protobuf import json_format

from kmeshctl.errors import KmeshctlError
from kmeshctl.params import InstallParams
from kmeshctl.paths import templates_dir
from kmeshctl import render as render_module
from kmeshctl.maps import DEFAULT_BPF_FS
from kmeshctl.render import (
    ADMIN_PORT,
    COMMON_LABELS,
    METRICS_PORT,
    ORIGINAL_DST_CLUSTER,
    TEMPLATES,
    WAYPOINT_LABEL,
    render_manifests,
    render_yaml,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
ISTIO_CRDS = REPO_ROOT.parent / "shared" / "schemas" / "istio-crds.yaml"
SEED_ADDRESS = "istiod-1-22-6.istio-system.svc:15012"
SEED = InstallParams(xds_address=SEED_ADDRESS, cluster_id="c1")
ASM_GUIDE_HARDCODED_ADDRESS = "istiod.istio-system.svc:15012"


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render_manifests(SEED)


def find(objs: list[dict], kind: str, name: str | None = None) -> dict:
    return next(o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def pod_spec(objs: list[dict]) -> dict:
    return find(objs, "DaemonSet")["spec"]["template"]["spec"]


def container(objs: list[dict]) -> dict:
    [agent] = pod_spec(objs)["containers"]
    return agent


def env_of(objs: list[dict]) -> dict[str, dict]:
    return {e["name"]: e for e in container(objs)["env"]}


# --- the seed parameters -------------------------------------------------------------


def test_objects_and_apply_order(objects: list[dict]) -> None:
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "kmesh-system"),
        ("ServiceAccount", "kmesh"),
        ("ClusterRole", "kmesh"),
        ("ClusterRoleBinding", "kmesh"),
        ("ValidatingAdmissionPolicy", "kmesh-pod-patch-own-node"),
        ("ValidatingAdmissionPolicyBinding", "kmesh-pod-patch-own-node"),
        ("DaemonSet", "kmesh"),
        ("EnvoyFilter", "add-listener-filter"),
        ("EnvoyFilter", "skip-tunneling"),
        ("EnvoyFilter", "add-original-dst-cluster"),
    ]


def test_flag_values_are_in_the_container_env(objects: list[dict]) -> None:
    env = env_of(objects)
    assert env["XDS_ADDRESS"] == {"name": "XDS_ADDRESS", "value": SEED_ADDRESS}
    assert env["CLUSTER_ID"] == {"name": "CLUSTER_ID", "value": "c1"}


def test_downward_api_env(objects: list[dict]) -> None:
    env = env_of(objects)
    field_paths = {name: env[name]["valueFrom"]["fieldRef"]["fieldPath"] for name in env if "valueFrom" in env[name]}
    assert field_paths == {
        "POD_NAME": "metadata.name",
        "POD_NAMESPACE": "metadata.namespace",
        "INSTANCE_IP": "status.podIP",
        "NODE_NAME": "spec.nodeName",
        "SERVICE_ACCOUNT": "spec.serviceAccountName",
    }


def test_agent_command_and_args_follow_the_flags() -> None:
    for bypass, bpf_log in [(False, False), (True, True), (True, False)]:
        objs = render_manifests(InstallParams(SEED_ADDRESS, "c1", enable_bypass=bypass, enable_bpf_log=bpf_log))
        agent = container(objs)
        assert agent["command"] == ["kmeshctl"]
        assert agent["args"][:5] == [
            "node",
            "run",
            "--mode=dual-engine",
            "--enable-bypass" if bypass else "--no-enable-bypass",
            "--enable-bpf-log" if bpf_log else "--no-enable-bpf-log",
        ]


def test_flags_reach_every_object() -> None:
    params = InstallParams(
        "10.0.0.9:15012", "ack-c7", image="registry.example.com/k/node:1", namespace="mesh-agent",
        istio_namespace="asm-root",
    )
    objs = render_manifests(params)
    assert container(objs)["image"] == "registry.example.com/k/node:1"
    assert {o["metadata"].get("namespace") for o in objs if o["kind"] in ("ServiceAccount", "DaemonSet")} == {"mesh-agent"}
    assert find(objs, "Namespace")["metadata"]["name"] == "mesh-agent"
    assert find(objs, "ClusterRoleBinding")["subjects"][0]["namespace"] == "mesh-agent"
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] == "EnvoyFilter"} == {"asm-root"}


@pytest.mark.parametrize("cluster_id", ["true", "123", "1e3", "null", "0x1F", "no"])
def test_values_yaml_would_retype_stay_strings(cluster_id: str) -> None:
    assert env_of(render_manifests(InstallParams(SEED_ADDRESS, cluster_id)))["CLUSTER_ID"]["value"] == cluster_id


def test_common_labels_on_every_object(objects: list[dict]) -> None:
    for obj in objects:
        assert COMMON_LABELS.items() <= obj["metadata"]["labels"].items(), obj["kind"]


# --- facts section 8: the ASM guide's defects ------------------------------------------


def test_defect_env_not_under_volumes_and_not_hardcoded() -> None:
    """XDS_ADDRESS / CLUSTER_ID were under volumes; the env hard-coded istiod and lacked CLUSTER_ID."""
    objs = render_manifests(InstallParams("istiod-1-24-0.istio-system.svc:15012", "c-prod"))
    spec = pod_spec(objs)
    for volume in spec["volumes"]:
        assert "value" not in volume and volume["name"] not in ("XDS_ADDRESS", "CLUSTER_ID")
        sources = set(volume) - {"name"}
        assert len(sources) == 1, f"volume {volume['name']} must have exactly one source, has {sources}"
    env = container(objs)["env"]
    assert [e["value"] for e in env if e["name"] == "XDS_ADDRESS"] == ["istiod-1-24-0.istio-system.svc:15012"]
    assert [e["value"] for e in env if e["name"] == "CLUSTER_ID"] == ["c-prod"]
    assert ASM_GUIDE_HARDCODED_ADDRESS not in json.dumps(objs)


def test_defect_dependency_order(objects: list[dict]) -> None:
    """The guide applied the DaemonSet before the Namespace and ServiceAccount it needs."""
    created: set[tuple[str, str | None, str]] = set()
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if namespace is not None and namespace != SEED.istio_namespace:  # Istio owns its namespace
            assert ("Namespace", None, namespace) in created, f"{obj['kind']} before its Namespace"
        if obj["kind"] == "ClusterRoleBinding":
            assert ("ClusterRole", None, obj["roleRef"]["name"]) in created
            for subject in obj["subjects"]:
                assert ("ServiceAccount", subject["namespace"], subject["name"]) in created
        if obj["kind"] == "DaemonSet":
            account = obj["spec"]["template"]["spec"]["serviceAccountName"]
            assert ("ServiceAccount", namespace, account) in created
            assert any(kind == "ClusterRoleBinding" for kind, _, _ in created)
        created.add((obj["kind"], namespace, obj["metadata"]["name"]))
    assert objects[-1]["kind"] == "EnvoyFilter"


def test_defect_agent_flags_are_ones_the_agent_has(objects: list[dict]) -> None:
    """The guide passed `--enable-bpf-log=true`, a flag the upstream agent does not have."""
    args = container(objects)["args"]
    assert not any(arg.endswith(("=true", "=false")) for arg in args)
    assert [a for a in args if "bpf-log" in a] == ["--no-enable-bpf-log"]
    assert not any(arg.startswith("./start_kmesh.sh") for arg in args)


# What the kubelet would put into the downward-API env of one agent pod.
DOWNWARD_API = {"metadata.name": "kmesh-7xk2p", "metadata.namespace": "kmesh-system",
                "status.podIP": "10.0.3.7", "spec.nodeName": "cn-hangzhou.10.0.3.7",
                "spec.serviceAccountName": "kmesh"}


def test_agent_command_line_parses_with_the_agent_cli(objects: list[dict], monkeypatch) -> None:
    """The DaemonSet's args and env, given to the real `node run` parser, are the agent
    configuration the manifest means, and the agent's file defaults are where it mounts."""
    root = typer.main.get_command(_cli_app())
    run = root.commands["node"].commands["run"]  # type: ignore[attr-defined]
    agent = container(objects)
    for var in agent["env"]:
        value = var["value"] if "value" in var else DOWNWARD_API[var["valueFrom"]["fieldRef"]["fieldPath"]]
        monkeypatch.setenv(var["name"], value)
    assert agent["command"] == ["kmeshctl"] and agent["args"][:2] == ["node", "run"]
    params = run.make_context("run", list(agent["args"][2:])).params  # a usage error on an unknown flag
    assert params["mode"] == "dual-engine"
    assert (params["xds_address"], params["cluster_id"]) == (SEED_ADDRESS, "c1")
    assert (params["pod_name"], params["pod_namespace"], params["instance_ip"], params["node_name"],
            params["service_account"]) == ("kmesh-7xk2p", "kmesh-system", "10.0.3.7", "cn-hangzhou.10.0.3.7",
                                           "kmesh")
    assert (params["enable_bypass"], params["enable_bpf_log"]) == (False, False)
    assert (params["admin_port"], params["metrics_port"]) == (ADMIN_PORT, METRICS_PORT)
    assert params["xds_insecure"] is False and params["enrollment"] == "auto"
    # Pins go where `node cleanup` and `dump maps` on the node look by default.
    assert params["bpf_fs"] == DEFAULT_BPF_FS
    mounts = {m["mountPath"] for m in agent["volumeMounts"]}
    for path in (params["bpf_fs"].parent, params["cgroup2_path"], params["proc_root"],
                 params["xds_root_cert"].parent, params["xds_token"].parent):
        assert str(path) in mounts, f"the agent uses {path}, the DaemonSet mounts nothing there"


def test_prometheus_scrape_annotations(objects: list[dict]) -> None:
    annotations = find(objects, "DaemonSet")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": "/status/metric",  # the guide's "status/metric" lacked the leading slash
    }


# --- DaemonSet details ---------------------------------------------------------------


def test_mounts_match_volumes_and_cover_the_agent_needs(objects: list[dict]) -> None:
    spec = pod_spec(objects)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m for m in container(objects)["volumeMounts"]}
    assert set(mounts) == set(volumes)
    host_paths = {volumes[n]["hostPath"]["path"]: mounts[n]["mountPath"] for n in volumes if "hostPath" in volumes[n]}
    assert host_paths == {
        "/sys/fs/bpf": "/sys/fs/bpf",
        "/sys/fs/cgroup": "/host/sys/fs/cgroup",
        "/proc": "/host/proc",
        "/lib/modules": "/lib/modules",
        "/usr/src": "/usr/src",
        # the chained CNI plugin (kmeshctl.cni): config list, plugin binary, its socket to the agent
        "/etc/cni/net.d": "/etc/cni/net.d",
        "/opt/cni/bin": "/opt/cni/bin",
        "/var/run/kmesh-cni": "/var/run/kmesh-cni",
    }
    # Nothing is created on the node to look present: every hostPath must already be a
    # directory, except the CNI socket's directory, which is the agent's own.
    types = {volumes[n]["hostPath"]["path"]: volumes[n]["hostPath"].get("type") for n in volumes
             if "hostPath" in volumes[n]}
    assert types.pop("/var/run/kmesh-cni") == "DirectoryOrCreate"
    assert set(types.values()) == {"Directory"}
    writable = {"bpffs", "cni-conf", "cni-bin", "cni-socket"}  # the agent writes these (the CNI install)
    assert all(mounts[n].get("readOnly") for n in volumes if "hostPath" in volumes[n] and n not in writable)
    bpffs = next(m for m in mounts.values() if m["mountPath"] == "/sys/fs/bpf")
    # The host's bpffs as it is; Bidirectional would need a privileged container.
    assert bpffs["mountPropagation"] == "HostToContainer" and not bpffs.get("readOnly")
    assert volumes["istiod-ca-cert"]["configMap"]["name"] == "istio-ca-root-cert"
    assert mounts["istiod-ca-cert"]["mountPath"] == "/var/run/secrets/istio"
    [source] = volumes["istio-token"]["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == "istio-ca"
    assert f"{mounts['istio-token']['mountPath']}/{source['serviceAccountToken']['path']}" == (
        "/var/run/secrets/tokens/istio-token"
    )
    args = container(objects)["args"]
    assert "--cgroup2-path=/host/sys/fs/cgroup" in args and "--bpf-fs=/sys/fs/bpf/kmesh" in args


def test_pod_runs_everywhere_with_listed_capabilities_and_three_probes(objects: list[dict]) -> None:
    spec = pod_spec(objects)
    agent = container(objects)
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["priorityClassName"] == "system-node-critical"
    # Not privileged: the capabilities the agent uses, every other one dropped (the e2e
    # tier's agent runs with exactly these: tests/e2e/test_node_security_e2e.py).
    assert agent["securityContext"] == {
        "privileged": False,
        "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN", "NET_ADMIN", "BPF", "PERFMON", "SYS_PTRACE"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    probes = {kind: agent[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {kind: (p["host"], p["port"], p["path"]) for kind, p in probes.items()} == {
        "startupProbe": ("127.0.0.1", ADMIN_PORT, "/debug/live"),  # answers once the data path is loaded
        "livenessProbe": ("127.0.0.1", ADMIN_PORT, "/debug/live"),  # every worker still runs
        "readinessProbe": ("127.0.0.1", ADMIN_PORT, "/debug/ready"),  # first xDS sync in the maps
    }
    startup = agent["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300  # bcc's compile: the load timeout
    assert "--admin-socket=/var/run/kmesh/admin.sock" in agent["args"]
    # 127.0.0.1 reaches the agent's admin listener only when the pod is on the host network.
    assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert f"--admin-port={ADMIN_PORT}" in agent["args"] and f"--metrics-port={METRICS_PORT}" in agent["args"]
    assert agent["resources"]["requests"] and agent["resources"]["limits"]["memory"]
    assert find(objects, "DaemonSet")["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 1, "maxSurge": 0}
    assert find(objects, "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


# --- RBAC ----------------------------------------------------------------------------


def test_rbac_is_least_privilege(objects: list[dict]) -> None:
    granted = {
        (group, resource, verb)
        for rule in find(objects, "ClusterRole")["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("", "namespaces", "get"), ("", "namespaces", "list"), ("", "namespaces", "watch"),
        ("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch"), ("", "pods", "patch"),
        ("", "nodes", "get"),  # this node's topology labels: the locality of priority groups
        ("apps", "daemonsets", "get"),  # at SIGTERM: restart or uninstall (kmeshctl.lifecycle)
    }
    [ds_rule] = [r for r in find(objects, "ClusterRole")["rules"] if r["resources"] == ["daemonsets"]]
    assert ds_rule["resourceNames"] == ["kmesh"]  # its own DaemonSet only
    binding = find(objects, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kmesh", "namespace": "kmesh-system"}]


def test_every_rbac_rule_says_why() -> None:
    lines = (templates_dir() / "rbac.yaml.j2").read_text().splitlines()
    rule_lines = [i for i, line in enumerate(lines) if line.lstrip().startswith("- apiGroups:")]
    assert rule_lines
    for i in rule_lines:
        assert lines[i - 1].lstrip().startswith("#"), f"rbac rule at line {i + 1} has no comment saying why"


# --- EnvoyFilters --------------------------------------------------------------------


def test_envoyfilters_select_waypoints_in_the_istio_namespace(objects: list[dict]) -> None:
    filters = [o for o in objects if o["kind"] == "EnvoyFilter"]
    assert len(filters) == 3
    for ef in filters:
        assert ef["apiVersion"] == "networking.istio.io/v1alpha3"
        assert ef["metadata"]["namespace"] == "istio-system"
        assert ef["spec"]["workloadSelector"] == {"labels": {WAYPOINT_LABEL[0]: WAYPOINT_LABEL[1]}}


def test_envoyfilter_patches_are_valid_envoy_config(objects: list[dict]) -> None:
    """Parse each patch value with the real Envoy protos (xds-protos), as istiod does."""
    from envoy.config.cluster.v3 import cluster_pb2
    from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
    from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401 (registers Any type)
    from envoy.extensions.filters.listener.http_inspector.v3 import http_inspector_pb2  # noqa: F401
    from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2  # noqa: F401
    from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
    from udpa.type.v1 import typed_struct_pb2  # noqa: F401

    def patch_value(name: str) -> dict:
        [patch] = find(objects, "EnvoyFilter", name)["spec"]["configPatches"]
        return patch["patch"]["value"]

    listener = json_format.ParseDict(patch_value("add-listener-filter"), listener_pb2.Listener())
    assert listener.name == "kmesh-listener"
    assert listener.address.socket_address.port_value == 15019
    assert [f.name for f in listener.listener_filters] == [
        "envoy.listener.kmesh_tlv",
        "envoy.filters.listener.http_inspector",
    ]
    assert list(listener.filter_chains[0].filter_chain_match.application_protocols) == ["http/1.1", "h2c"]

    network_filter = json_format.ParseDict(patch_value("skip-tunneling"), listener_components_pb2.Filter())
    proxy = tcp_proxy_pb2.TcpProxy()
    assert network_filter.typed_config.Unpack(proxy) and proxy.cluster == ORIGINAL_DST_CLUSTER

    cluster = json_format.ParseDict(patch_value("add-original-dst-cluster"), cluster_pb2.Cluster())
    assert cluster.name == ORIGINAL_DST_CLUSTER
    assert cluster.type == cluster_pb2.Cluster.ORIGINAL_DST
    assert cluster.lb_policy == cluster_pb2.Cluster.CLUSTER_PROVIDED


# --- templates -----------------------------------------------------------------------


def test_yaml_text_keeps_the_why_comments_and_parses_to_the_objects(objects: list[dict]) -> None:
    text = render_yaml(SEED)
    assert "# Pods, patch only:" in text
    assert [d for d in yaml.safe_load_all(text) if d] == objects


def test_undefined_template_variable_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TEMPLATES:
        (tmp_path / name).write_text((templates_dir() / name).read_text())
    (tmp_path / "namespace.yaml.j2").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: {{ p.nmespace }}}\n")
    monkeypatch.setattr(render_module, "templates_dir", lambda: tmp_path)
    with pytest.raises(KmeshctlError, match="template namespace.yaml.j2: .*nmespace"):
        render_manifests(SEED)


# --- the `render` command ------------------------------------------------------------


def _cli_app():
    import kmeshctl.cli  # registers every command module

    return kmeshctl.cli.app


def run_cli(args: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    from kmeshctl.cli import main

    monkeypatch.setattr(sys, "argv", ["kmeshctl", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_render_prints_yaml_that_round_trips(capsys, monkeypatch) -> None:
    code, out, err = run_cli(["render", "--xds-address", SEED_ADDRESS, "--cluster-id", "c1"], capsys, monkeypatch)
    assert code == 0
    assert [d for d in yaml.safe_load_all(out) if d] == render_manifests(SEED)
    assert err.count("\n") == 1 and "EnvoyFilter not schema-validated" in err and "--crd-file" in err


def test_render_with_crd_file_validates_istio_kinds_silently(capsys, monkeypatch) -> None:
    if not ISTIO_CRDS.is_file():
        pytest.skip(f"Istio CRD schemas not found at {ISTIO_CRDS} (dev machines and CI only)")
    args = ["render", "--xds-address", SEED_ADDRESS, "--cluster-id", "c1", "--crd-file", str(ISTIO_CRDS), "-o", "json"]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert (code, err) == (0, "")
    assert json.loads(out) == {"apiVersion": "v1", "kind": "List", "items": render_manifests(SEED)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster-id", "c1"], "--xds-address is required (render is offline)"),
        (["--xds-address", "istiod.istio-system.svc", "--cluster-id", "c1"], "--xds-address"),
        (["--xds-address", "istiod:70000", "--cluster-id", "c1"], "out of range; use an integer from 1 to 65535"),
        (["--xds-address", SEED_ADDRESS], "--cluster-id is required (render is offline)"),
        (["--xds-address", SEED_ADDRESS, "--cluster-id", ""], "--cluster-id '': empty value"),
        (["--xds-address", SEED_ADDRESS, "--cluster-id", "c1", "--image", "not an image"], "--image"),
        (["--xds-address", SEED_ADDRESS, "--cluster-id", "c1", "--mode", "kernel-native"], "--mode"),
        (["--xds-address", SEED_ADDRESS, "--cluster-id", "c1", "--namespace", "Kmesh"], "--namespace"),
        (["--xds-address", SEED_ADDRESS, "--cluster-id", "c1", "--kubernetes-version", "1.19"], "--kubernetes-version"),
        (["--xds-address", SEED_ADDRESS, "--cluster-id", "c1", "--crd-file", "/nonexistent.yaml"], "--crd-file"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], message: str, capsys, monkeypatch) -> None:
    code, out, err = run_cli(["render", *args], capsys, monkeypatch)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("Error: ") and message in err


def test_console_script_renders(tmp_path: Path) -> None:
    kmeshctl_bin = Path(sys.executable).parent / "kmeshctl"
    if not kmeshctl_bin.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    ok = subprocess.run(
        [str(kmeshctl_bin), "render", "--xds-address", SEED_ADDRESS, "--cluster-id", "c1"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert [d for d in yaml.safe_load_all(ok.stdout) if d] == render_manifests(SEED)
    bad = subprocess.run(
        [str(kmeshctl_bin), "render", "--xds-address", "istiod:0", "--cluster-id", "c1"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert (bad.returncode, bad.stdout, bad.stderr.count("\n")) == (2, "", 1)


def test_network_reaches_the_agent_as_istio_names_it() -> None:
    """Issue 10 item 5: the NETWORK routing preference needs the node's network; install
    --network sets the agent's NETWORK env (as Istio's ztunnel gets it), absent by default."""
    assert "NETWORK" not in env_of(render_manifests(InstallParams(SEED_ADDRESS, "c1")))
    env = env_of(render_manifests(InstallParams(SEED_ADDRESS, "c1", network="net-a")))
    assert env["NETWORK"] == {"name": "NETWORK", "value": "net-a"}


def test_pod_patches_are_limited_to_the_agents_node_from_kubernetes_1_30() -> None:
    """Issue 12 item 7: RBAC cannot narrow `patch pods` to a node; the rendered
    ValidatingAdmissionPolicy does, for the agent's service account only, from the
    node-name claim of its pod-bound token. Older schema versions get no policy (the
    kind is not served there)."""
    objs = render_manifests(InstallParams(SEED_ADDRESS, "c1", namespace="mesh-agent"))
    (policy,) = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicy"]
    (binding,) = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert policy["spec"]["matchConditions"][0]["expression"] == \
        "request.userInfo.username == 'system:serviceaccount:mesh-agent:kmesh'"
    assert "authentication.kubernetes.io/node-name" in policy["spec"]["validations"][0]["expression"]
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}
    older = render_manifests(InstallParams(SEED_ADDRESS, "c1", kubernetes_version="1.29"))
    assert not [o for o in older if o["kind"].startswith("ValidatingAdmission")]
