"""Pods and namespaces of a node without Kubernetes (the local sandbox), for the CNI
plugin's decisions: the agent reads them here where on a cluster it reads the API server.

A directory of Kubernetes-shaped JSON objects, holding the fields the enrollment rules
read (labels, annotations, containers, hostNetwork, uid): ``namespaces/<namespace>.json``
and ``pods/<namespace>/<name>.json``. Whoever creates the pods (the sandbox, from the
manifests it applies) writes a pod's object before it asks the runtime for the pod's
network, as a Pod exists in the API before the kubelet creates its sandbox, and deletes
it after the DEL; the agent writes the enrollment annotations into it, as it patches the
pod on a cluster. Every write is a temp file renamed over the target.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Optional

from kmeshctl.cni.install import read_json_object, write_atomic
from kmeshctl.errors import KmeshctlError

# A DNS-1123 subdomain: also what keeps a name from naming a path outside the directory.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class LocalPods:
    """The directory ``root`` (module docstring). Reads raise KmeshctlError for what is
    not there; names that are not Kubernetes names are refused."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ----- reading (the agent) ------------------------------------------------------------

    def pod(self, namespace: str, name: str) -> dict:
        """The Pod object (``PodView.from_k8s`` reads it)."""
        return self._read(self._pod_path(namespace, name), f"pod {namespace}/{name}")

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        obj = self._read(self._namespace_path(namespace), f"namespace {namespace}")
        return dict((obj.get("metadata") or {}).get("labels") or {})

    def annotate(self, namespace: str, name: str, annotations: Mapping[str, Optional[str]]) -> None:
        """Merge ``annotations`` into the pod's (None removes one), like a merge patch."""
        path = self._pod_path(namespace, name)
        obj = self._read(path, f"pod {namespace}/{name}")
        current = obj.setdefault("metadata", {}).setdefault("annotations", {})
        for key, value in annotations.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        write_atomic(path, (json.dumps(obj, indent=2) + "\n").encode(), 0o600)

    # ----- writing (whoever creates the pods) ---------------------------------------------

    def put_namespace(self, name: str, labels: Mapping[str, str]) -> None:
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels)}}
        self._write(self._namespace_path(name), obj)

    def put_pod(self, namespace: str, name: str, uid: str, labels: Mapping[str, str],
                containers: list[str], node_name: str) -> None:
        obj = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": dict(labels)},
               "spec": {"nodeName": node_name, "containers": [{"name": c} for c in containers]},
               "status": {"phase": "Pending"}}
        self._write(self._pod_path(namespace, name), obj)

    def delete_pod(self, namespace: str, name: str) -> None:
        self._pod_path(namespace, name).unlink(missing_ok=True)

    # ----- files ----------------------------------------------------------------------------

    def _pod_path(self, namespace: str, name: str) -> Path:
        return self.root / "pods" / _checked(namespace) / f"{_checked(name)}.json"

    def _namespace_path(self, namespace: str) -> Path:
        return self.root / "namespaces" / f"{_checked(namespace)}.json"

    def _write(self, path: Path, obj: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, (json.dumps(obj, indent=2) + "\n").encode(), 0o600)

    def _read(self, path: Path, what: str) -> dict:
        if not path.exists():
            raise KmeshctlError(f"{what} is not in {self.root} (no {path.relative_to(self.root)})")
        return read_json_object(path, f"{what}:")


def _checked(name: str) -> str:
    if not _NAME.match(name or ""):
        raise KmeshctlError(f"{name!r} is not a Kubernetes name")
    return name
