"""examples/fortio and how the sandbox reads Kubernetes YAML (no root needed)."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from kmeshctl.errors import UsageError
from kmeshctl.sandbox import containers, manifests as m
from kmeshctl.sandbox.echo_server import EchoParams, canonical_header, parse_listen
from kmeshctl.sandbox.pods import plan_pods, plan_vips
from kmeshctl.sandbox.topology import waypoint_keys
from kmeshctl.validate import CrdSchemas, validate_manifests

REPO_ROOT = Path(__file__).resolve().parent.parent
ISTIO_CRDS = REPO_ROOT.parent / "shared" / "schemas" / "istio-crds.yaml"
EXAMPLES = REPO_ROOT / "examples" / "fortio"


def _docs() -> list[dict]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_examples_follow_the_kmesh_fortio_sample() -> None:
    manifests = m.load(m.default_files())
    assert manifests.namespace("default").in_mesh
    [service] = manifests.services
    assert (service.name, service.selector) == ("fortio", {"app": "fortio"})
    assert [(p.port, p.target_port) for p in service.ports] == [(80, 8080)]
    by_name = {d.name: d for d in manifests.deployments}
    assert set(by_name) == {"fortio-v1", "fortio-v2", "netutils"}
    for version in ("1", "2"):
        deployment = by_name[f"fortio-v{version}"]
        assert deployment.pod_labels == {"app": "fortio", "version": f"v{version}"}
        [container] = deployment.containers
        assert container.image == "fortio/fortio:1.68.2"  # pinned: what the e2e tier builds
        assert container.args == ("server", "-http-port", "0.0.0.0:8080",
                                  "-echo-server-default-params", f"header=server:{version}")
    assert by_name["netutils"].containers[0].image == "hwchiu/netutils:latest"
    [vs] = manifests.virtual_services
    assert [(d.subset, d.weight) for d in vs.http[0].destinations] == [("v1", 90), ("v2", 10)]
    [rule] = manifests.destination_rules
    assert [(s.name, s.labels) for s in rule.subsets] == [("v1", {"version": "v1"}),
                                                           ("v2", {"version": "v2"})]
    assert waypoint_keys(manifests) == [("default", "waypoint")]


@pytest.mark.skipif(not ISTIO_CRDS.exists(), reason="needs ../shared/schemas (dev machines and CI)")
def test_examples_pass_strict_kubernetes_and_istio_schema_validation() -> None:
    validate_manifests(_docs(), "1.30", CrdSchemas.from_files([ISTIO_CRDS]))


def test_pods_and_vips_are_planned_from_the_examples() -> None:
    manifests = m.load(m.default_files())
    plans = plan_pods(manifests)
    assert [p.name for p in plans] == ["waypoint", "fortio-v1-0", "fortio-v2-0", "netutils-0"]
    assert plans[0].waypoint and plans[0].labels["gateway.istio.io/managed"] == "istio.io-mesh-controller"
    assert plan_vips(manifests) == {"default/fortio": "10.96.0.10"}


@pytest.mark.parametrize("text, problem", [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "not supported in the sandbox"),
    # a kubeconfig passed as a manifest: its kind is named, not its missing metadata.name
    ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n", "kind Config is not supported in the sandbox"),
    ("apiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata: {name: g}\n",
     "not supported in the sandbox"),
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: NodePort, ports: [{port: 80}]}\n",
     "NodePort is not supported"),
    ("apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: d}\n", "apiVersion apps/v2"),
    ("kind: Service\napiVersion: v1\nmetadata: {}\n", "no metadata.name"),
    ("a: [\n", "not valid YAML"),
])
def test_unsupported_or_malformed_objects_are_one_line_errors(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(UsageError) as err:
        m.load([_write(tmp_path, text)])
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_a_file_that_is_not_text_is_a_one_line_error(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(UsageError, match="is not UTF-8 text"):
        m.load([binary])


def _with_route(tmp_path: Path, route: str) -> Path:
    text = (EXAMPLES / "fortio-route.yaml").read_text()
    original = "          weight: 90\n"
    assert original in text
    return _write(tmp_path, text.replace(original, route))


def test_weights_must_add_up_to_100(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="add up to 100"):
        m.load([_with_route(tmp_path, "          weight: 80\n")])


def test_unknown_subset_is_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "fortio-route.yaml").read_text().replace("subset: v2", "subset: v3")
    with pytest.raises(UsageError, match="subset v3"):
        m.load([_write(tmp_path, text)])


def test_unsupported_image_is_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "netutils.yaml").read_text().replace("hwchiu/netutils:latest", "nginx:1.27")
    path = _write(tmp_path, text)
    # refused while the file is read, naming it (issue 14): `FILE: Deployment NAME: image ...`
    with pytest.raises(UsageError, match=f"^{path}: Deployment netutils: image nginx:1.27 is not supported in the "
                                         "sandbox"):
        m.load([path])


def test_a_directory_is_read_whole() -> None:
    assert len(m.load([EXAMPLES]).deployments) == 3


def test_image_names_ignore_registry_and_tag() -> None:
    assert containers.image_name("docker.io/fortio/fortio:1.69.0") == "fortio/fortio"
    assert containers.image_name("fortio/fortio@sha256:abc") == "fortio/fortio"
    assert containers.image_name("localhost:5000/hwchiu/netutils") == "hwchiu/netutils"


def test_fortio_container_runs_fortio_or_the_built_in_echo_server(monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = next(d for d in m.load(m.default_files()).deployments if d.name == "fortio-v2")
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    spec = containers.process_for(deployment.containers[0], deployment)
    assert spec.argv[1:] == ("-m", "kmeshctl.sandbox.echo_server", "-http-port", "0.0.0.0:8080",
                             "-echo-server-default-params", "header=server:2")
    assert spec.ports == (8080,)
    monkeypatch.setattr(shutil, "which", lambda name, path=None: "/usr/local/bin/fortio" if path is None else None)
    spec = containers.process_for(deployment.containers[0], deployment)
    assert spec.argv == ("/usr/local/bin/fortio", "server", "-http-port", "0.0.0.0:8080",
                         "-echo-server-default-params", "header=server:2")
    # Not on PATH but beside the interpreter (setup.sh links the tier's fortio into .venv/bin).
    beside = str(Path(sys.executable).parent)
    monkeypatch.setattr(shutil, "which", lambda name, path=None: f"{beside}/fortio" if path == beside else None)
    assert containers.process_for(deployment.containers[0], deployment).argv[0] == f"{beside}/fortio"


def test_echo_parameters_like_fortio() -> None:
    params = EchoParams("header=server:1&status=503&delay=20ms&header=x-trace:a:b")
    assert params.status == 503
    assert params.headers == [("Server", "1"), ("X-Trace", "a:b")]
    assert params.delay == pytest.approx(0.02)
    assert canonical_header("content-TYPE") == "Content-Type"
    assert parse_listen("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert parse_listen(":8080") == ("0.0.0.0", 8080)
    assert parse_listen("8080") == ("0.0.0.0", 8080)


# --- names and namespaces, checked as the API server checks them (issue 12, item 11) ---

_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: a}}}}
  template:
    metadata: {{labels: {{app: a}}}}
    spec:
      containers: [{{name: {container}, image: fortio/fortio}}]
"""


@pytest.mark.parametrize("namespace", ['"x/../../../tmp/evil"', '"a/b"', '"UPPER"', '"-x"', '"a.b"', "'" + "n" * 64 + "'"])
def test_a_namespace_kubernetes_would_refuse_is_refused_before_anything(tmp_path: Path, namespace: str) -> None:
    path = _write(tmp_path, _DEPLOYMENT.format(name="web", namespace=namespace, container="c"))
    with pytest.raises(UsageError, match=r"metadata.namespace .* is not a valid Namespace name \(RFC 1123 label"):
        m.load([path])


@pytest.mark.parametrize(("kind", "doc"), [
    ("Deployment", _DEPLOYMENT.format(name='"a/b"', namespace="default", container="c")),
    ("Deployment", _DEPLOYMENT.format(name='"../x"', namespace="default", container="c")),
    ("Service", "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}\n"),
    ("Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: 'x/../y'}\n"),
    ("VirtualService", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: 'Bad_Name'}\n"
                       "spec: {hosts: [web]}\n"),
])
def test_an_object_name_kubernetes_would_refuse_is_refused(tmp_path: Path, kind: str, doc: str) -> None:
    with pytest.raises(UsageError, match=rf"{kind}: metadata.name .* is not a valid {kind} name"):
        m.load([_write(tmp_path, doc)])


def test_a_container_name_kubernetes_would_refuse_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _DEPLOYMENT.format(name="web", namespace="default", container='"a/b"'))
    with pytest.raises(UsageError, match=r"container name 'a/b' is not a valid container name"):
        m.load([path])


def test_names_kubernetes_accepts_are_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-1}\n---"
                  + _DEPLOYMENT.format(name="web.v1-2", namespace="ns-1", container="c-1"))
    [deployment] = m.load([path]).deployments
    assert (deployment.name, deployment.namespace) == ("web.v1-2", "ns-1")
