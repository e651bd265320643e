"""Pass 40, fixer f40a: `sandbox up -f` manifest checks of t40a findings 1, 2, 4 and 5.

1 two subsets of one name are refused (Istio refuses them), never warned about as two
subsets with one Server header; 2 an object written twice in one file (or directory, or
stdin) is said so, not as a file given twice; 4 duplicate container names and container
port names are refused before anything is made; 5 smaller words: a number as subset name,
`action: deny`, a bad CIDR, did-you-mean for a subset and a host, two DestinationRules or
VirtualServices for one Service, JSON files in a directory, `spec.replicas -1`. Most
tests load manifests written under tmp_path (no root); one real `sandbox up` refusal."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from kmeshctl.errors import UsageError
from kmeshctl.sandbox import manifests as m
from test_sandbox_manifest_checks import _docs, _of, _write  # the suite's manifest helpers

KMESHCTL = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "kmeshctl")

PYTHON_WORDS = re.compile(r"Error\b|Exception|does not appear to be|object has no attribute|'(list|dict|str|int)'")


def _refused(paths: list[Path]) -> str:
    with pytest.raises(UsageError) as refused:
        m.load(paths)
    message = str(refused.value)
    assert "\n" not in message and not PYTHON_WORDS.search(message), message
    return message


@pytest.fixture
def stdin(monkeypatch) -> Iterator[Any]:
    m._stdin_text.clear()
    yield lambda text: monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    m._stdin_text.clear()


def _subsets(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _of(docs, "DestinationRule", "fortio")["spec"]["subsets"]


# ------------------------------------------------------------------ 1. duplicate subset names


@pytest.mark.parametrize("labels", [{"version": "v2"}, {"version": "v1"}])
def test_two_subsets_of_one_name_are_refused_naming_both(tmp_path: Path, labels: dict[str, str]) -> None:
    docs = _docs()
    _subsets(docs).append({"name": "v1", "labels": labels})
    path = _write(tmp_path, docs)
    message = _refused([path])
    assert message.startswith(f"{path}: DestinationRule fortio: spec.subsets[2].name v1 is also spec.subsets[0]'s "
                              "(Istio refuses it too): rename or remove one"), message


def test_the_same_server_warning_never_names_one_subset_twice() -> None:
    docs = _docs()
    manifests = m.from_documents(docs)
    rule = manifests.destination_rules[0]
    twice = m.DestinationRule(rule.name, rule.namespace, rule.host, (*rule.subsets, rule.subsets[1]))
    manifests.destination_rules[0] = twice
    said = [w for w in m.warnings(manifests) if "same Server header" in w]
    assert not any(re.search(r"subsets (\S+) and \1 ", w) for w in said), said


# ------------------------------------------------------------------ 2. defined twice in one file


def _twice_in_one(docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, int]:
    first = next(i for i, d in enumerate(docs) if d["kind"] == "Deployment")
    return docs + [copy.deepcopy(docs[first])], first + 1, len(docs) + 1


def test_an_object_twice_in_one_file_is_said_so(tmp_path: Path) -> None:
    docs, first, second = _twice_in_one(_docs())
    path = _write(tmp_path, docs)
    message = _refused([path])
    name = docs[first - 1]["metadata"]["name"]
    assert message == (f"{path}: document {second}: Deployment default/{name} is defined twice (also document "
                       f"{first} in {path}); keep one"), message
    assert "given twice" not in message


def test_an_object_twice_in_one_file_of_a_directory_is_said_so(tmp_path: Path) -> None:
    docs, first, second = _twice_in_one(_docs())
    path = _write(tmp_path, docs)
    message = _refused([tmp_path])
    assert f"{path}: document {second}: Deployment default/" in message, message
    assert f"is defined twice (also document {first} in {path}); keep one" in message, message


def test_an_object_twice_on_stdin_is_said_so(stdin) -> None:
    docs, first, second = _twice_in_one(_docs())
    stdin(yaml.safe_dump_all(docs))
    message = _refused([Path("-")])
    assert f"-: document {second}: Deployment default/" in message, message
    assert f"is defined twice (also document {first} of stdin); keep one" in message, message


def test_a_file_really_given_twice_is_still_said_so(tmp_path: Path, stdin) -> None:
    path = _write(tmp_path, _docs())
    assert _refused([path, path]) == f"{path} given twice; give each file once"
    stdin(yaml.safe_dump_all(_docs()))
    assert _refused([Path("-"), Path("-")]) == "- given twice; give each file once"


# ------------------------------------------------------------------ 4. duplicate container (port) names


def _deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment")


def test_two_containers_of_one_name_are_refused(tmp_path: Path) -> None:
    docs = _docs()
    deployment = _deployment(docs)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers.append(copy.deepcopy(containers[0]))
    message = _refused([_write(tmp_path, docs)])
    assert (f"Deployment {deployment['metadata']['name']}: spec.template.spec.containers[1].name "
            f"{containers[0]['name']} is also containers[0]'s (Kubernetes refuses it too: Duplicate value); "
            "rename one") in message, message


def test_two_ports_of_one_name_in_a_container_are_refused(tmp_path: Path) -> None:
    docs = _docs()
    container = _deployment(docs)["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [{"name": "http", "containerPort": 8080}, {"name": "http", "containerPort": 8079}]
    message = _refused([_write(tmp_path, docs)])
    assert ("spec.template.spec.containers[0].ports[1].name http is also ports[0]'s (Kubernetes refuses it too: "
            "Duplicate value); rename one or remove it") in message, message


# ------------------------------------------------------------------ 5. smaller words


def test_a_number_as_subset_name_gets_a_name_from_its_labels(tmp_path: Path) -> None:
    docs = _docs()
    _subsets(docs)[0]["name"] = 1
    message = _refused([_write(tmp_path, docs)])
    label = _subsets(docs)[0]["labels"]["version"]
    assert ("spec.subsets[0].name is the number 1, not text (Istio refuses it too): write `name: \"1\"`, in quotes, "
            f"or give a name, e.g. name: {label}") in message, message
    assert "e.g. 1" not in message


def _policy(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "p"}, "spec": spec}


def test_a_lower_case_action_gets_did_you_mean(tmp_path: Path) -> None:
    message = _refused([_write(tmp_path, _docs() + [_policy({"action": "deny", "rules": [{}]})])])
    assert "AuthorizationPolicy p: spec.action deny: Istio's actions are upper case" in message, message
    assert message.endswith("did you mean action: DENY?"), message


@pytest.mark.parametrize("where, spec, said", [
    ("spec.rules[0].from[0].source.ipBlocks[0]",
     {"rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.0/33"]}}]}]}, "10.0.0.0/33: not a CIDR"),
    ("spec.rules[0].from[0].source.notIpBlocks[1]",
     {"rules": [{"from": [{"source": {"notIpBlocks": ["10.0.0.1", "nope"]}}]}]}, "nope: not a CIDR"),
    ("spec.rules[0].when[0].values[0]",
     {"rules": [{"when": [{"key": "source.ip", "values": ["10.0.0.0/33"]}]}]}, "10.0.0.0/33: not a CIDR"),
])
def test_a_bad_cidr_is_said_in_our_words(tmp_path: Path, where: str, spec: dict[str, Any], said: str) -> None:
    message = _refused([_write(tmp_path, _docs() + [_policy(spec)])])
    example = "10.0.0.0/24"
    assert f"{where} {said} (ADDRESS or ADDRESS/LENGTH); e.g. {example}" in message, message


def _route(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return _of(docs, "VirtualService", "fortio")["spec"]["http"][0]["route"][0]["destination"]


def test_a_subset_case_slip_gets_did_you_mean(tmp_path: Path) -> None:
    docs = _docs()
    meant = _route(docs)["subset"]
    _route(docs)["subset"] = meant.upper()
    message = _refused([_write(tmp_path, docs)])
    assert f"subset {meant.upper()} of fortio is not defined by a DestinationRule; did you mean subset: {meant}?" \
        in message, message


def test_a_host_typo_gets_did_you_mean(tmp_path: Path) -> None:
    docs = _docs()
    _route(docs)["host"] = "fortoi"
    message = _refused([_write(tmp_path, docs)])
    assert ("destination host fortoi: no Service fortoi in namespace default in the files (did you mean fortio?); "
            "add the Service or fix the host") in message, message


@pytest.mark.parametrize("kind", ["DestinationRule", "VirtualService"])
def test_two_objects_for_one_service_are_refused_saying_which_to_keep(tmp_path: Path, kind: str) -> None:
    docs = _docs()
    second = copy.deepcopy(_of(docs, kind, "fortio"))
    second["metadata"]["name"] = "fortio-2"
    if kind == "VirtualService":
        second["spec"]["hosts"] = ["fortio.default.svc.cluster.local"]
    path = _write(tmp_path, docs + [second])
    message = _refused([path])
    assert message.startswith(f"{path}: {kind} fortio-2: host ") and f"is also the host of {kind} default/fortio " \
        f"(in {path}), both for Service default/fortio (" in message, message
    assert "keep one, with every" in message, message


def test_a_directory_of_json_manifests_is_read(tmp_path: Path) -> None:
    (tmp_path / "all.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": _docs()}))
    manifests = m.load([tmp_path])
    assert [s.name for s in manifests.services] == [s.name for s in m.load(m.default_files()).services]


def test_a_directory_with_only_a_subdirectory_says_it_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "empty").mkdir()  # (holds no manifest: not named)
    _write(tmp_path / "sub", _docs())
    message = _refused([tmp_path])
    assert message == (f"{tmp_path}/: no YAML manifests in this directory (no *.yaml or *.yml file) and no JSON "
                       f"(*.json); its subdirectory sub/ is not read (give each with -f {tmp_path}/sub/); pass a "
                       "directory or file with Kubernetes objects"), message


@pytest.mark.parametrize("replicas, said", [
    (-1, "spec.replicas -1 is out of the sandbox's range 0-10 (Kubernetes refuses a negative one too): give e.g. "
         "replicas: 1"),
    (11, "spec.replicas 11 is out of the sandbox's range 0-10: give e.g. replicas: 10"),
])
def test_replicas_out_of_range_is_said_with_its_path(tmp_path: Path, replicas: int, said: str) -> None:
    docs = _docs()
    _deployment(docs)["spec"]["replicas"] = replicas
    message = _refused([_write(tmp_path, docs)])
    assert message.endswith(said), message


# ------------------------------------------------------------------ one real refusal: nothing made


def test_up_refuses_duplicate_subsets_with_exit_2_and_makes_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("sandbox up needs root")
    docs = _docs()
    _subsets(docs).append({"name": "v1", "labels": {"version": "v2"}})
    _write(tmp_path, docs)
    name = f"f40a-{os.getpid() % 100000}"
    try:
        done = subprocess.run([KMESHCTL, "sandbox", "up", "--name", name, "-f", str(tmp_path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "spec.subsets[2].name v1 is also spec.subsets[0]'s" in done.stderr, done.stderr
        listed = subprocess.run([KMESHCTL, "sandbox", "list", "-o", "name"], capture_output=True, text=True,
                                timeout=30)
        assert name not in listed.stdout.split(), listed.stdout
        assert not Path(f"/run/netns/{name}").exists()
    finally:
        subprocess.run([KMESHCTL, "sandbox", "down", "--name", name], capture_output=True, timeout=60)


def test_a_subset_without_labels_is_named_as_the_cause() -> None:
    docs = _docs()
    del _subsets(docs)[1]["labels"]
    name = _subsets(docs)[1]["name"]
    said = m.warnings(m.from_documents(docs))
    assert f"DestinationRule default/fortio subset {name} has no labels: it selects every pod of Service " \
        f"default/fortio, the other subsets' too; give it the labels of its own pods, e.g. labels: " \
        f"{{version: {name}}}" in said, said
    assert not any("same Server header" in w for w in said), said
