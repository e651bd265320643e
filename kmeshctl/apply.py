"""Sending rendered objects to the cluster: the checks that must pass before the first
write (every kind served, Istio kinds valid against the cluster's own CRDs, install
namespace not being deleted), then server-side apply in order, reporting per object
whether it was created, configured or left unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient, object_ref
from kmeshctl.validate import CrdSchemas, is_kubernetes_kind, validate_manifests

Action = Literal["created", "configured", "unchanged"]
CRD_API_VERSION = "apiextensions.k8s.io/v1"


@dataclass(frozen=True)
class ApplyResult:
    ref: str
    action: Action


def check_kinds_served(client: KubeClient, objs: list[dict]) -> None:
    """Stop before any write when the cluster lacks a kind (typically: no Istio CRDs)."""
    missing = sorted({f"{o['kind']} ({o['apiVersion']})" for o in objs if not client.is_served(o["apiVersion"], o["kind"])})
    if missing:
        raise KmeshctlError(
            f"the cluster does not serve {', '.join(missing)}; nothing was applied. Fix: install Istio / "
            "add the cluster to an ASM instance so its CRDs exist, then re-run (`kmeshctl precheck` checks it)"
        )


def custom_objects(objs: list[dict], kubernetes_version: str) -> list[dict]:
    return [o for o in objs if not is_kubernetes_kind(o, kubernetes_version)]


def fetch_crds(client: KubeClient, objs: list[dict], kubernetes_version: str) -> list[dict]:
    """The cluster's CRD objects for the custom kinds in `objs` (their kinds must be served)."""
    crds: dict[str, dict] = {}
    for obj in custom_objects(objs, kubernetes_version):
        kind = client.kind(obj["apiVersion"], obj["kind"])
        name = f"{kind.plural}.{kind.group}"
        if name not in crds:
            crd = client.get(CRD_API_VERSION, "CustomResourceDefinition", name)
            if crd is None:
                raise KmeshctlError(f"CustomResourceDefinition {name} not found although its kind is served; "
                                    "re-run, or pass --crd-file with the CRD")
            crds[name] = crd
    return list(crds.values())


def check_namespaces_not_terminating(client: KubeClient, objs: list[dict]) -> None:
    for obj in objs:
        if obj["kind"] != "Namespace":
            continue
        current = client.get("v1", "Namespace", obj["metadata"]["name"])
        if current and current["metadata"].get("deletionTimestamp"):
            raise KmeshctlError(
                f"namespace {obj['metadata']['name']} is still being deleted (uninstall in progress); "
                "nothing was applied. Fix: wait until it is gone, then re-run"
            )


def preflight(client: KubeClient, objs: list[dict], kubernetes_version: str, crds: CrdSchemas | None) -> None:
    """Everything that can fail without writing, run before the first write.

    `crds` None means: validate Istio kinds against the cluster's own CRDs."""
    check_kinds_served(client, objs)
    if crds is None:
        crds = CrdSchemas.from_crd_objects(fetch_crds(client, objs, kubernetes_version))
    validate_manifests(objs, kubernetes_version, crds)
    check_namespaces_not_terminating(client, objs)


def apply_one(client: KubeClient, obj: dict) -> ApplyResult:
    meta = obj["metadata"]
    before = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    after = client.apply(obj)
    if before is None:
        action: Action = "created"
    elif before["metadata"].get("resourceVersion") == after.get("metadata", {}).get("resourceVersion"):
        action = "unchanged"
    else:
        action = "configured"
    return ApplyResult(object_ref(obj), action)


def apply_all(
    client: KubeClient, objs: list[dict], on_result: Callable[[ApplyResult], None] = lambda r: None
) -> list[ApplyResult]:
    """Server-side apply each object in the given (dependency) order."""
    results = []
    for obj in objs:
        result = apply_one(client, obj)
        on_result(result)
        results.append(result)
    return results


def nothing_changed(results: list[ApplyResult]) -> bool:
    return all(r.action == "unchanged" for r in results)
