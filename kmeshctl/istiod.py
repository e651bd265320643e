"""Finding the istiod xDS address when `--xds-address` is not given: the Services named
`istiod*` in the Istio namespace that expose port 15012 (in ASM one per revision, e.g.
`istiod-1-22-6`)."""

from __future__ import annotations

from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import KubeClient

XDS_PORT = 15012


def istiod_addresses(client: KubeClient, istio_namespace: str) -> list[str]:
    """`<service>.<namespace>.svc:15012` for every istiod Service exposing the xDS port."""
    services = client.list("v1", "Service", namespace=istio_namespace)
    return sorted(
        f"{svc['metadata']['name']}.{istio_namespace}.svc:{XDS_PORT}"
        for svc in services
        if svc["metadata"]["name"].startswith("istiod") and _exposes_xds(svc)
    )


def _exposes_xds(service: dict) -> bool:
    return any(port.get("port") == XDS_PORT for port in service.get("spec", {}).get("ports", []))


def resolve_xds_address(client: KubeClient, istio_namespace: str) -> str:
    """The one istiod address, or a UsageError asking for --xds-address."""
    found = istiod_addresses(client, istio_namespace)
    if not found:
        raise KmeshctlError(
            f"no istiod Service exposing port {XDS_PORT} in namespace {istio_namespace}; "
            "fix: pass --xds-address HOST:PORT of your ASM istiod, or --istio-namespace where istiod runs"
        )
    if len(found) > 1:
        raise UsageError(
            f"several istiod revisions in {istio_namespace}: {', '.join(found)}; "
            "choose one with --xds-address"
        )
    return found[0]
