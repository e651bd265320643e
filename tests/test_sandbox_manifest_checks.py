"""A new-user tester's `sandbox up -f` findings (helper 100), one test per kind of fault:
1 duplicate YAML keys; 2 a URL given as a file; 3 subset names and the namespace a host
was looked for in; 4 objects that leave a subset or Service without a pod (warnings of
`up` and `status`); 5 a namespace no file defines; 6 the messages around the sandbox
commands. No root: the checks are pure, the CLI runs in-process (sandbox records under a
temporary state root)."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from kmeshctl.errors import UsageError
from kmeshctl.sandbox import manifests as m
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _record

FORTIO = Path(__file__).resolve().parent.parent / "examples" / "fortio"


def _docs() -> list[dict[str, Any]]:
    return [d for path in m.default_files() for d in yaml.safe_load_all(path.read_text()) if d]


def _of(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _write(tmp_path: Path, docs: list[dict[str, Any]], name: str = "objects.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return path


@pytest.fixture
def stdin(monkeypatch) -> Iterator[Any]:
    """`-f -`: sets what stdin holds (read once per run: the module's cache is emptied)."""
    m._stdin_text.clear()
    yield lambda text: monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    m._stdin_text.clear()


@pytest.fixture
def as_root(monkeypatch) -> None:
    from kmeshctl.sandbox import sandbox as sandbox_mod

    monkeypatch.setattr(sandbox_mod, "require_root", lambda: None)


# ------------------------------------------------------------------ 1. duplicate keys


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\nkind: Service\n")
    with pytest.raises(UsageError) as refused:
        m.load([path])
    assert str(refused.value).startswith(f'{path}: line 5: mapping key "kind" already defined at line 2; '
                                         "separate two objects with a line `---`"), refused.value


def test_a_nested_key_given_twice_is_refused_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "nested.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n")
    with pytest.raises(UsageError, match=r'line 5: mapping key "name" already defined at line 4; remove one'):
        m.load([path])
    merged = tmp_path / "merge.yaml"
    merged.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: &l {a: b}\n"
                      "  annotations:\n    <<: *l\n    a: c\n")  # an explicit key over a merged one: YAML's rule
    assert m.load([merged]).namespaces["x"].labels == {"a": "b"}


def test_two_files_run_together_on_stdin_name_the_line_not_a_route(tmp_path: Path, state_root, capsys, no_env,
                                                                    stdin, as_root) -> None:
    route = (FORTIO / "fortio-route.yaml").read_text()
    netutils = (FORTIO / "netutils.yaml").read_text()
    stdin(route + netutils)  # `cat a b | ... -f -`: no `---` between them
    lines = (route + netutils).splitlines()
    second = len(route.splitlines()) + next(i for i, line in enumerate(netutils.splitlines(), 1)
                                            if line.startswith("apiVersion:"))
    first = max(i for i, line in enumerate(route.splitlines(), 1) if line.startswith("apiVersion:"))
    assert lines[second - 1].startswith("apiVersion:")
    code, out, err = cli(capsys, "sandbox", "up", "--name", "h100dup", "-f", "-")
    assert code == 2 and not out, err
    assert err.startswith(f'Error: -f -: line {second}: mapping key "apiVersion" already defined at line '
                          f"{first}; separate two objects with a line `---`"), err
    assert "VirtualService" not in err and not state_root.exists()


# ------------------------------------------------------------------ 2. URLs


@pytest.mark.parametrize("flag", ["-f", "--filename"])
def test_a_url_is_refused_as_typed_with_the_way_to_download_it(flag: str, state_root, capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "up", "--name", "h100url", flag, "https://example.com/x.yaml")
    assert code == 2 and not out
    assert err.startswith(f"Error: {flag} https://example.com/x.yaml: URLs are not supported; download it first "
                          "(curl -o x.yaml https://example.com/x.yaml) and pass the file"), err
    assert not state_root.exists()


def test_load_refuses_a_url_too() -> None:
    with pytest.raises(UsageError, match="URLs are not supported"):
        m.load([Path("http://example.com/a.yaml")])


# ------------------------------------------------------------------ 3. subset names, hosts


@pytest.mark.parametrize("subset", ["Blue", "v_1", "-v1"])
def test_a_subset_name_istio_refuses_is_refused_with_the_rule(tmp_path: Path, subset: str) -> None:
    docs = _docs()
    _of(docs, "DestinationRule", "fortio")["spec"]["subsets"][0]["name"] = subset
    _of(docs, "VirtualService", "fortio")["spec"]["http"][0]["route"][0]["destination"]["subset"] = subset
    with pytest.raises(UsageError) as refused:
        m.load([_write(tmp_path, docs)])
    message = str(refused.value)
    assert f"DestinationRule fortio: subset name {subset!r} is not a DNS-1123 label" in message, message
    assert "rename it, e.g. " in message and "\n" not in message


def test_a_host_not_found_names_the_namespace_it_was_looked_for_in(tmp_path: Path) -> None:
    docs = _docs() + [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}]
    _of(docs, "VirtualService", "fortio")["metadata"]["namespace"] = "other"
    _of(docs, "DestinationRule", "fortio")["spec"]["host"] = "fortio.default.svc.cluster.local"
    with pytest.raises(UsageError) as refused:
        m.load([_write(tmp_path, docs)])
    assert "VirtualService fortio: host fortio: no Service fortio in namespace other in the files" \
        in str(refused.value), refused.value


# ------------------------------------------------------------------ 4. warnings: no pod to answer


def test_the_examples_have_no_warning() -> None:
    assert m.warnings(m.load(m.default_files())) == []


def test_a_subset_whose_labels_match_no_pod_is_a_warning(tmp_path: Path) -> None:
    docs = _docs()
    _of(docs, "DestinationRule", "fortio")["spec"]["subsets"][1]["labels"] = {"version": "v7"}
    assert m.warnings(m.load([_write(tmp_path, docs)])) == [
        "DestinationRule default/fortio subset v2 (version=v7) selects no pod of Service default/fortio: requests "
        "routed to it fail (HTTP 503); fix the subset's labels or the pods'"]


def test_replicas_0_is_a_warning_naming_the_deployment(tmp_path: Path) -> None:
    docs = _docs()
    _of(docs, "Deployment", "fortio-v2")["spec"]["replicas"] = 0
    [warning] = m.warnings(m.load([_write(tmp_path, docs)]))
    assert warning.startswith("DestinationRule default/fortio subset v2 (version=v2) selects no running pod "
                              "(replicas: 0 in Deployment default/fortio-v2)"), warning


def test_a_named_target_port_no_container_has_is_a_warning(tmp_path: Path) -> None:
    docs = _docs()
    _of(docs, "Service", "fortio")["spec"]["ports"][0]["targetPort"] = "web"
    assert m.warnings(m.load([_write(tmp_path, docs)])) == [
        "Service default/fortio targetPort web names no container port of its pods; name a containerPort web "
        "or give the port number"]


def test_a_service_selecting_no_pod_is_a_warning(tmp_path: Path) -> None:
    docs = _docs()
    _of(docs, "Service", "fortio")["spec"]["selector"] = {"app": "fortoi"}
    warnings = m.warnings(m.load([_write(tmp_path, docs)]))
    assert warnings[0].startswith("Service default/fortio (selector app=fortoi) selects no pod"), warnings


def test_status_notes_the_same_warnings(tmp_path: Path, state_root, capsys, no_env, monkeypatch) -> None:
    from kmeshctl.sandbox import sandbox as sandbox_mod

    docs = _docs()
    _of(docs, "DestinationRule", "fortio")["spec"]["subsets"][1]["labels"] = {"version": "v7"}
    state = _record("h100st")
    state.manifests_file.parent.mkdir(parents=True, exist_ok=True)
    state.manifests_file.write_text(yaml.safe_dump_all(docs))
    monkeypatch.setattr(sandbox_mod, "status", lambda name: {"name": name, "phase": "ready", "ready": True,
                                                            "problems": [], "notes": []})
    code, out, err = cli(capsys, "sandbox", "status", "--name", "h100st", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["notes"] == m.warnings(m.from_documents(docs)) and json.loads(out)["notes"]


def test_up_prints_each_warning_on_stderr_and_still_succeeds(tmp_path: Path, state_root, capsys, no_env,
                                                              monkeypatch) -> None:
    from kmeshctl.sandbox import sandbox as sandbox_mod

    docs = _docs()
    _of(docs, "Service", "fortio")["spec"]["ports"][0]["targetPort"] = "web"
    _of(docs, "DestinationRule", "fortio")["spec"]["subsets"][1]["labels"] = {"version": "v7"}
    path = _write(tmp_path, docs)
    plan = sandbox_mod.UpPlan("h100up", m.load([path]), [], {})
    monkeypatch.setattr(sandbox_mod, "check_up", lambda name, files: plan)  # nothing made: the CLI's part only
    monkeypatch.setattr(sandbox_mod, "up", lambda name, files, progress, plan: _record(name))
    monkeypatch.setattr(sandbox_mod, "unenrolled_note", lambda state: "")
    code, out, err = cli(capsys, "sandbox", "up", "--name", "h100up", "-f", str(path))
    assert code == 0 and out.startswith("Sandbox h100up is up."), (out, err)
    warned = [line for line in err.splitlines() if line.startswith("Warning: ")]
    assert warned == [f"Warning: {w}" for w in m.warnings(plan.manifests)] and len(warned) == 2, err


# ------------------------------------------------------------------ 5. namespaces


def test_an_object_in_a_namespace_no_file_defines_is_refused(tmp_path: Path, state_root, capsys, no_env,
                                                             as_root) -> None:
    docs = list(yaml.safe_load_all((FORTIO / "netutils.yaml").read_text()))
    docs = [d for d in docs if d]
    for doc in docs:
        doc["metadata"]["namespace"] = "other"
    path = _write(tmp_path, docs, "netutils.yaml")
    code, out, err = cli(capsys, "sandbox", "up", "--name", "h100ns", "-f", str(FORTIO / "fortio-route.yaml"),
                         "-f", str(path))
    assert code == 2 and not out, err
    assert err.startswith(f"Error: -f {path}: Deployment other/netutils: namespace other is not defined in the "
                          "files; add a Namespace other (kind: Namespace)"), err
    assert not state_root.exists()


def test_the_namespaces_every_cluster_has_need_no_namespace_object(tmp_path: Path) -> None:
    docs = [d for d in _docs() if d["kind"] != "Namespace"]
    assert {d.namespace for d in m.load([_write(tmp_path, docs)]).deployments} == {"default"}


# ------------------------------------------------------------------ 6. messages


def test_help_of_a_command_without_subcommands(capsys, no_env) -> None:
    code, _, err = cli(capsys, "help", "sandbox", "up", "extra")
    assert code == 2 and err.startswith("Error: help: kmeshctl sandbox up has no subcommands"), err
    assert "its commands" not in err


def test_a_command_prefix_suggests_the_command(capsys, no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic")
    assert code == 2 and "kmeshctl demo has no command traffic; did you mean traffic-shift?" in err, err


@pytest.mark.parametrize("flag", ["--name", "--sandbox"])
def test_sandbox_list_with_a_name_points_to_status(flag: str, capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "list", flag, "x")
    assert code == 2, err
    assert (f"No such option: {flag}; sandbox list has no {flag} (it lists every sandbox), and no sandbox is "
            "named x") in err and "without it: `kmeshctl sandbox list`" in err, err  # the name typed (pass 29)


def test_exec_c_says_what_it_cannot_do_and_what_to_do(capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "exec", "netutils", "-c", "sleep", "--", "sh")
    assert code == 2 and "have no containers" not in err, err
    assert "sandbox exec cannot choose a container: the command runs in the pod's network namespace and cgroup, " \
           "which all its containers share" in err and "leave out -c" in err, err


def test_exec_deploy_that_does_not_exist_is_said_as_a_deployment(state_root, capsys, no_env) -> None:
    _record("h100ex", (("waypoint", True), ("fortio-v1-0", False), ("netutils-0", False)))
    code, _, err = cli(capsys, "sandbox", "exec", "deploy/nope", "--name", "h100ex", "--", "true")
    assert code == 1, err
    assert "no Deployment nope in sandbox h100ex (Deployments: default/fortio, default/netutils)" in err, err


def test_one_file_given_twice_is_said_so(tmp_path: Path, state_root, capsys, no_env, as_root) -> None:
    path = tmp_path / "fortio-route.yaml"
    path.write_text((FORTIO / "fortio-route.yaml").read_text())
    code, _, err = cli(capsys, "sandbox", "up", "--name", "h100tw", "-f", str(path), "-f", str(path))
    assert code == 2 and err.startswith(f"Error: -f {path} given twice; give each file once"), err
