"""Issue 12 item 7: the node agent's ClusterRole covers exactly the Kubernetes API calls
the node-side code makes, no more, no fewer.

The calls are found in the source (kubernetes client methods such as
``read_namespaced_pod`` or ``list_pod_for_all_namespaces``; a ``list_*`` method passed
uncalled is handed to a watch), mapped to (API group, resource, verb), and compared with
the rules of the rendered ClusterRole.
"""

from __future__ import annotations

import re
from pathlib import Path

from kmeshctl.params import InstallParams
from kmeshctl.render import render_manifests

ROOT = Path(__file__).resolve().parents[1] / "kmeshctl"
# what runs on the node with the agent's service account: the agent, its pod watch and
# enrollment, the shutdown decision, the locality read and the CNI plugin's server
NODE_SIDE = ["node/agent.py", "node/podwatch.py", "enrollment.py", "node/lifecycle.py", "node/locality.py", "cni"]
CALL = re.compile(r"\.(read|list|patch|create|delete|replace)_(namespaced_)?([a-z_]+?)(_for_all_namespaces)?\b(\()?")
VERBS = {"read": "get", "list": "list", "patch": "patch", "create": "create", "delete": "delete",
         "replace": "update"}
RESOURCES = {"pod": ("", "pods"), "namespace": ("", "namespaces"), "node": ("", "nodes"),
             "daemon_set": ("apps", "daemonsets")}


def _sources() -> list[Path]:
    files: list[Path] = []
    for name in NODE_SIDE:
        path = ROOT / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def calls_in_code() -> set[tuple[str, str, str]]:
    found = set()
    for path in _sources():
        for match in CALL.finditer(path.read_text()):
            action, _, kind, _, called = match.groups()
            if kind not in RESOURCES:
                continue
            group, resource = RESOURCES[kind]
            # a list method handed over uncalled is the watch's list call
            verbs = ["list", "watch"] if action == "list" and not called else [VERBS[action]]
            found |= {(group, resource, verb) for verb in verbs}
    return found


def granted() -> set[tuple[str, str, str]]:
    (role,) = [o for o in render_manifests(InstallParams("istiod.istio-system.svc:15012", "c1"))
               if o["kind"] == "ClusterRole"]
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_the_cluster_role_grants_exactly_what_the_node_side_code_calls() -> None:
    code, role = calls_in_code(), granted()
    assert code, "no API call found: the pattern no longer matches the client's method names"
    assert role - code == set(), f"granted but never called: {sorted(role - code)}"
    assert code - role == set(), f"called but not granted: {sorted(code - role)}"


def test_the_daemonset_grant_names_only_its_own_daemonset() -> None:
    (role,) = [o for o in render_manifests(InstallParams("istiod.istio-system.svc:15012", "c1"))
               if o["kind"] == "ClusterRole"]
    (rule,) = [r for r in role["rules"] if "daemonsets" in r["resources"]]
    assert rule["resourceNames"] == ["kmesh"] and rule["verbs"] == ["get"]
