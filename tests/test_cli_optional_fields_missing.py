"""Issue 14, kind "an optional Kubernetes field may be absent": a real API server leaves
out empty fields (a Namespace without `metadata.labels`, a DaemonSet without `status`);
kmeshctl reads them as empty, never a KeyError traceback.

Real parts: kmeshctl.namespaces / kmeshctl.status against a client object answering as
a real API server does when it omits the fields (no network needed)."""

from __future__ import annotations

from typing import Any, Optional


class _Omitting:
    """Answers with objects that carry only their required fields."""

    host = "https://127.0.0.1:1"

    def list(self, api_version: str, kind: str, namespace: Optional[str] = None,
             label_selector: Optional[str] = None, field_selector: Optional[str] = None) -> list[dict]:
        if kind == "Namespace":
            return [{"metadata": {"name": "bare"}}, {"metadata": {"name": "nulls", "labels": None}}]
        return [{"metadata": {"name": "p", "namespace": "default"}}]

    def is_served(self, api_version: str, kind: str) -> bool:
        return True

    def get(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None) -> Any:
        if kind == "DaemonSet":
            return {"metadata": {"name": name, "namespace": namespace, "uid": "u",  # kmeshctl's: status reads it
                                 "labels": {"app.kubernetes.io/managed-by": "kmeshctl"}},
                    "spec": {"template": {"spec": {}}, "selector": {"matchLabels": {"app": "kmesh"}}}}
        return {"metadata": {"name": name}}


def test_a_namespace_without_labels_is_not_enrolled() -> None:
    from kmeshctl.namespaces import enrolled_namespaces

    assert enrolled_namespaces(_Omitting()) == []  # type: ignore[arg-type]


def test_status_reads_objects_without_optional_fields() -> None:
    from kmeshctl.status import daemonset_summary, mesh_status, redirected_pods

    assert redirected_pods(_Omitting()) == []  # type: ignore[arg-type]
    summary = daemonset_summary({"metadata": {"name": "kmesh"}, "spec": {}, "status": None})
    assert summary == {"name": "kmesh", "desired": 0, "updated": 0, "ready": 0, "image": ""}
    state = mesh_status(_Omitting(), "kmesh-system")  # type: ignore[arg-type]
    assert state.enrolled_namespaces == [] and state.daemonset is not None
