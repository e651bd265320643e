"""`waypoint apply -o json|yaml` and `waypoint delete -o json|yaml` print one document on
stdout and nothing else (the per-object lines of a real-cluster run went to stdout before
the JSON: H6); the waypoint documents are camelCase as every kmeshctl document."""

from __future__ import annotations

import json
from typing import Any

import yaml

from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd


def _ready(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))


def test_apply_o_json_prints_only_the_document_on_stdout(cluster) -> None:  # noqa: F811
    _ready(cluster)
    first = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "json")
    assert first.code == 0, first
    document = json.loads(first.out)  # the whole of stdout: no `ServiceAccount ... created` before it
    assert document["waypoint"] == "default/waypoint" and document["changed"] is True, document
    assert {a["action"] for a in document["applied"]} == {"created"} and len(document["applied"]) == 6, document
    assert "created" not in first.err, first
    again = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "json")
    redo = json.loads(again.out)
    assert again.code == 0 and redo["changed"] is False, again
    assert {a["action"] for a in redo["applied"]} == {"unchanged"}
    assert "Nothing to do" not in again.out


def test_apply_o_yaml_prints_a_yaml_document_not_text_lines(cluster) -> None:  # noqa: F811
    _ready(cluster)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "yaml")
    assert result.code == 0, result
    document = yaml.safe_load(result.out)
    assert isinstance(document, dict) and document["waypoint"] == "default/waypoint", result.out
    assert [a["object"] for a in document["applied"]][-1] == "Gateway default/waypoint"


class _Ready:
    """waypoint_state as --wait sees it: not ready once, then ready."""

    def __init__(self) -> None:
        self.polls = 0

    def __call__(self, _client: Any, namespace: str, name: str, *_: Any, **__: Any) -> deploy.WaypointState:
        self.polls += 1
        if self.polls == 1:
            return deploy.WaypointState(namespace, name, True, 0, [], [], "Pending")
        return deploy.WaypointState(namespace, name, True, 1, ["wp-0"], ["10.0.0.9"], "Programmed")


def test_apply_wait_o_json_puts_the_wait_s_lines_on_stderr(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    monkeypatch.setattr(deploy, "POLL_S", 0)
    monkeypatch.setattr(deploy, "waypoint_state", _Ready())
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--wait", "-o", "json")
    assert result.code == 0, result
    assert json.loads(result.out)["changed"] is True
    assert "waiting for waypoint default/waypoint" in result.err and "1 pod ready" in result.err, result


def test_delete_o_json_reports_each_object_as_one_document(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json")
    assert result.code == 0, result
    document = json.loads(result.out)
    assert document["waypoint"] == "default/waypoint" and document["errors"] == [] and document["usedBy"] == []
    assert document["deleted"][0] == "Gateway default/waypoint" and "ClusterRole kmeshctl-waypoint" in \
        document["deleted"] and len(document["deleted"]) == 6, document
    assert document["left"] == [] and document["absent"] == []
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "yaml", "--ignore-not-found")
    assert gone.code == 0 and yaml.safe_load(gone.out)["deleted"] == [], gone
    missing = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json")
    assert missing.code == 1 and "not found" in json.loads(missing.out)["errors"][0], missing


def test_waypoint_documents_are_camel_case(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    listed = json.loads(cluster.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").out)
    assert set(listed[0]) == {"namespace", "name", "managed", "readyPods", "pods", "terminatingPods", "addresses",
                              "gatewayReason", "services"}, listed
    assert listed[0]["managed"] is True
