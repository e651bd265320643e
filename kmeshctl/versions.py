"""`kmeshctl version`: this client's version and, when a cluster answers, the version each
node's agent reports on its admin endpoint (GET /version, through a port-forward)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from kmeshctl import __version__
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import KubeTarget
from kmeshctl.render import ADMIN_PORT, DAEMONSET_NAME, made_by_kmeshctl
from kmeshctl.rollout import daemonset_pods, unasked

VERSION_PATH = "/version"
AdminFetch = Callable[[str, str, str, int], Any]


def agents_where_installed(client: Any, namespace: str, fetch: AdminFetch,
                           follow: bool = True) -> tuple[str, bool, list[dict]]:
    """(the namespace the agents were read in, agent_versions' two): ``namespace``'s, or,
    with ``follow`` (no -n typed) and kmesh installed in another one, that one's (version is
    informational, as kubectl's: it shows the agents there and says where, where status
    refuses). Raises InstalledElsewhere for a namespace typed that has no install."""
    from kmeshctl.uninstall import InstalledElsewhere

    try:
        return (namespace, *agent_versions(client, namespace, fetch))
    except InstalledElsewhere as elsewhere:
        if not follow or elsewhere.parameter != "namespace" or elsewhere.found == namespace:
            raise
        installed, rows = agent_versions(client, elsewhere.found, fetch)
        if not installed:  # said to be there, yet not: the refusal stands
            raise
        return elsewhere.found, installed, rows


def agent_versions(client: Any, namespace: str, fetch: AdminFetch) -> tuple[bool, list[dict]]:
    """(kmeshctl's DaemonSet is in ``namespace``, one row per agent pod: ``{"node", "pod",
    "version", "image", "error"}``; version None and error set when the agent could not be asked)."""
    ds = client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, namespace)
    if not made_by_kmeshctl(ds):  # absent, or the user's DaemonSet of that name: no agent of kmeshctl's
        from kmeshctl.kube import ApiError
        from kmeshctl.status import expected_here

        try:  # installed in another namespace: InstalledElsewhere, as status
            expected_here(client, namespace, None)
        except ApiError as err:
            if err.status not in (401, 403):  # one who may not look elsewhere still gets the agents (none here)
                raise
        return False, []
    rows = []
    for pod in daemonset_pods(client, ds):
        row = {"node": pod.node, "pod": pod.name, "version": None, "image": pod.image, "error": None}
        if why := unasked(pod):  # not running, backing off, being deleted: a port-forward would blame the port
            row["error"] = why
        else:
            try:
                row["version"] = fetch(VERSION_PATH, pod.name, namespace, ADMIN_PORT).get("version")
            except KmeshctlError as err:
                row["error"] = str(err)
        rows.append(row)
    return True, rows


def client_report(target: KubeTarget) -> dict:
    """The report before any cluster is asked: the client's version, no cluster (yet), and
    whether one is configured (version_report fills in the rest). What `-o json|yaml`
    prints when the run is stopped while the cluster is asked (clusterError: the stop)."""
    from kmeshctl.kube import cluster_configured

    return {"client": {"version": __version__}, "cluster": None, "clusterError": None,
            "clusterConfigured": cluster_configured(target)}


def version_report(namespace: str, connect: Optional[Callable[[], Any]], fetch: AdminFetch,
                   check: Callable[[], None] = lambda: None, *,
                   target: KubeTarget, report: Optional[dict] = None,
                   follow_install: bool = True) -> tuple[dict, Optional[KmeshctlError]]:
    """``({"client": {"version"}, "cluster": {"server", "serverVersion", "namespace", "installed": bool | None
    (kmeshctl's DaemonSet is there), "agents": [...] | None}
    | None, "clusterError": str | None, "clusterConfigured": bool}, the failure or None)``.

    Never raises: the client's version is always reported first, as `kubectl version`
    does, whatever the cluster did (``check``: the cluster flags typed, a UsageError when
    wrong; then connecting, discovery, the agents). ``connect`` None: client only, the
    cluster not contacted; clusterConfigured still says whether one is configured. Once
    GET /version has answered, "cluster" holds the server's version even when a later call
    (discovery, the agents) fails: "agents" is None then and clusterError says why.
    ``report``: client_report's, filled in place (a stop while the cluster is asked leaves
    it with what was learnt so far)."""
    from kmeshctl.kube import NoClusterConfigured

    report = client_report(target) if report is None else report
    try:
        check()
        if connect is None:
            return report, None
        client = connect()
        report["cluster"] = {"server": client.host, "serverVersion": client.server_version().get("gitVersion"),
                             "namespace": namespace, "installed": None, "agents": None}
        cluster = report["cluster"]
        cluster["namespace"], cluster["installed"], cluster["agents"] = agents_where_installed(client, namespace,
                                                                                               fetch, follow_install)
    except NoClusterConfigured as err:
        report["clusterError"], report["clusterConfigured"] = str(err), False
        return report, err
    except KmeshctlError as err:
        report["clusterError"] = str(err)
        return report, err
    return report, None


def exit_code(report: dict, failure: Optional[KmeshctlError] = None) -> int:
    """1 when a cluster is configured (--kubeconfig, --context, KUBECONFIG, ~/.kube/config,
    in-cluster) and could not be asked, as `kubectl version` does (2: a cluster flag or
    kubeconfig that is bad input); else 0 (client only)."""
    if isinstance(failure, UsageError):
        return failure.exit_code
    return 1 if report["clusterConfigured"] and report["clusterError"] else 0
