"""`kmeshctl version`: this client's version and, when a cluster answers, the version each
node's agent reports on its admin endpoint (GET /version, through a port-forward)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from kmeshctl import __version__
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.render import ADMIN_PORT, DAEMONSET_NAME
from kmeshctl.rollout import daemonset_pods

VERSION_PATH = "/version"
AdminFetch = Callable[[str, str, str, int], Any]


def agent_versions(client: Any, namespace: str, fetch: AdminFetch) -> list[dict]:
    """One row per agent pod: ``{"node", "pod", "version", "image", "error"}``
    (version None and error set when the agent could not be asked)."""
    ds = client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, namespace)
    if ds is None:
        return []
    rows = []
    for pod in daemonset_pods(client, ds):
        row = {"node": pod.node, "pod": pod.name, "version": None, "image": pod.image, "error": None}
        if pod.phase != "Running":
            row["error"] = f"pod is {pod.phase}"
        else:
            try:
                row["version"] = fetch(VERSION_PATH, pod.name, namespace, ADMIN_PORT).get("version")
            except KmeshctlError as err:
                row["error"] = str(err)
        rows.append(row)
    return rows


def version_report(namespace: str, connect: Optional[Callable[[], Any]], fetch: AdminFetch) -> dict:
    """``{"client": {"version"}, "cluster": {"server", "serverVersion", "namespace", "agents": [...]} | None,
    "clusterError": str | None, "clusterConfigured": bool}``; ``connect`` None: client only
    (clusterConfigured false). A kubeconfig that does not load (bad input) is raised; a
    cluster that does not answer is reported (see exit_code)."""
    from kmeshctl.kube import NoClusterConfigured

    report: dict[str, Any] = {"client": {"version": __version__}, "cluster": None, "clusterError": None,
                              "clusterConfigured": connect is not None}
    if connect is None:
        return report
    try:
        client = connect()
        server_version = client.server_version().get("gitVersion")
    except UsageError:
        raise
    except NoClusterConfigured as err:
        report["clusterError"], report["clusterConfigured"] = str(err), False
        return report
    except KmeshctlError as err:
        report["clusterError"] = str(err)
        return report
    report["cluster"] = {"server": client.host, "serverVersion": server_version, "namespace": namespace,
                         "agents": agent_versions(client, namespace, fetch)}
    return report


def exit_code(report: dict) -> int:
    """1 when a cluster is configured (--kubeconfig, --context, KUBECONFIG, ~/.kube/config,
    in-cluster) and could not be asked, as `kubectl version` does; else 0 (client only)."""
    return 1 if report["clusterConfigured"] and report["clusterError"] else 0
