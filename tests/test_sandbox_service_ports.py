"""H3 (h88): a Service's ports are checked as the API server checks them, before anything
is made: a port listed twice gave the waypoint two listeners with one match, which Envoy
rejected (0 listeners, every request failing) while `sandbox up` said the sandbox was up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kmeshctl.errors import UsageError
from kmeshctl.sandbox import manifests as m
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
FORTIO = REPO / "examples" / "fortio"


def _service(ports: object) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                           "spec": {"selector": {"app": "web"}, "ports": ports}})


@pytest.mark.parametrize("ports,problem", [
    ([{"name": "http", "port": 80}, {"name": "http2", "port": 80}],
     "spec.ports[1]: port 80/TCP is also spec.ports[0] (Kubernetes refuses a duplicate too)"),
    ([{"name": "http", "port": 80}, {"name": "http", "port": 81}],
     "spec.ports[1].name 'http' is also the name of spec.ports[0]"),
    ([{"name": "http", "port": 80}, {"port": 81}], "spec.ports[1].name is required when a Service has several ports"),
    ([{"port": 0}], "spec.ports[0].port 0 is not a port number (1-65535)"),
    ([{"port": 65536}], "spec.ports[0].port 65536 is not a port number (1-65535)"),
    ([{"port": True}], "spec.ports[0].port is the boolean true, not an integer (Kubernetes refuses it too)"),
    ([{"port": 80, "targetPort": 0}], "spec.ports[0].targetPort 0 is not a port number"),
    ([{"port": 80, "targetPort": "Not_A_Name"}], "spec.ports[0].targetPort 'Not_A_Name' is neither a port number"),
    ([{"port": 80, "name": "HTTP"}], "spec.ports[0].name 'HTTP' is not a valid port name (RFC 1123 label"),
    ([{"name": "http"}], "spec.ports[0].port is required"),
    (["80"], "spec.ports[0] is the text '80', not a port"),
    ("80", "spec.ports is the text '80', not a list of ports"),
    ([], "a Service needs at least one port"),
])
def test_bad_service_ports_are_refused_naming_the_file_and_the_port(tmp_path: Path, ports: object,
                                                                    problem: str) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text(_service(ports))
    with pytest.raises(UsageError) as caught:
        m.load([path])
    assert str(caught.value).startswith(f"{path}: Service web: "), caught.value
    assert problem in str(caught.value), caught.value
    assert "\n" not in str(caught.value)


def test_several_named_ports_and_named_target_ports_pass(tmp_path: Path) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text(_service([{"name": "http", "port": 80, "targetPort": "web"},
                              {"name": "admin", "port": 8080, "targetPort": "8081"}]))
    service = m.load([path]).services[0]
    assert [(p.name, p.port, p.target_port) for p in service.ports] == [("http", 80, "web"), ("admin", 8080, 8081)]


def test_up_with_the_fortio_service_port_listed_twice_exits_2_before_creating(tmp_path: Path, state_root, capsys,
                                                                             no_env, monkeypatch) -> None:
    """The tester's dupport.yaml: the example Service with its ports[0] listed twice."""
    from kmeshctl.sandbox import sandbox as sandbox_mod

    monkeypatch.setattr(sandbox_mod, "require_root", lambda: None)
    documents = list(yaml.safe_load_all((FORTIO / "fortio-route.yaml").read_text()))
    for doc in documents:
        if doc and doc["kind"] == "Service":
            doc["spec"]["ports"].append(dict(doc["spec"]["ports"][0]))
    path = tmp_path / "dupport.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    code, out, err = cli(capsys, "sandbox", "up", "--name", "h88dup", "-f", str(path),
                         "-f", str(FORTIO / "netutils.yaml"))
    assert code == 2 and not out, (code, err)
    assert err.startswith(f"Error: -f {path}: Service fortio: spec.ports[1]: port 80/TCP is also spec.ports[0] "), err
    assert "Creating" not in err and not state_root.exists()
