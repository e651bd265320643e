"""`status`: the node-agent DaemonSet and its pod on each node with each agent's istiod
(xDS) connection, the enrolled namespaces, and the pods the agent has marked
`kmesh.net/redirection: enabled`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Callable, Optional

from kmeshctl.config_dump import XDS_PATH, ForwardForbidden
from kmeshctl.errors import KmeshctlError
from kmeshctl.istiod import (cluster_service, guessed_xds_address, istiod_addresses_anywhere, istiod_deployment,
                             known_cluster_id)
from kmeshctl.kube import ApiError, KubeClient, object_ref
from kmeshctl import params
from kmeshctl.params import (DEFAULT_IMAGE, DEFAULT_ISTIO_NAMESPACE, DEFAULT_NAMESPACE,
                             RESERVED_NAMESPACES, counted, install_hint)
from kmeshctl.namespaces import REDIRECTION_ANNOTATION, enrolled_namespaces
from kmeshctl.apply import PSA_ENFORCE, PSA_NEEDED
from kmeshctl.render import ADMIN_PORT, DAEMONSET_NAME, MANAGED_BY_LABEL, NOT_OURS, made_by_kmeshctl, template_image
from kmeshctl.rollout import (IMAGE_REASONS, InstallWith, IstiodUnreached, PodState, daemonset_pods, flag_setter,
                              image_at_fault, image_fix, istiod_fix, missing_configmap, mount_fix, replaced_image,
                              start_fix, unasked)
from kmeshctl.uninstall import (InstalledElsewhere, check_install_namespaces, install_istio_namespaces,
                               installed_objects, left_marked_detail, marked_pods_by_node)

# (admin path, pod, namespace, port) -> the agent's JSON answer; raises KmeshctlError.
AdminFetch = Callable[[str, str, str, int], dict]
BEING_UNINSTALLED = "being uninstalled: "  # MeshStatus.deleting_problem's head (the CLI's `Being uninstalled:`)


@dataclass(frozen=True)
class AgentXds:
    """One node agent's istiod connection as its admin endpoint `/debug/xds` reports it
    (``xds``), or why it could not be asked (``error``) and the fix of that when it is
    this user's, not the agent's (``fix``: a port-forward refused by RBAC)."""

    pod: str
    node: str
    xds: Optional[dict]
    error: str = ""
    fix: str = ""

    @property
    def connected(self) -> bool:
        return bool(self.xds and self.xds.get("connected"))

    def to_dict(self) -> dict:
        """``connected`` null when the agent could not be asked (not known, not false)."""
        return {"pod": self.pod, "node": self.node, "connected": None if self.xds is None else self.connected,
                "xds": self.xds, "error": self.error, "fix": self.fix or None}


@dataclass
class MeshStatus:
    namespace: str
    daemonset: Optional[dict]  # desired / updated / ready / image, None when not installed
    pods: list[PodState] = field(default_factory=list)
    enrolled_namespaces: list[str] = field(default_factory=list)
    redirected_pods: list[str] = field(default_factory=list)  # namespace/name
    agents: list[AgentXds] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # objects install creates that are not there
    expected: int = 0  # how many objects install creates (of which ``missing``)
    reinstall: str = ""  # the `kmeshctl install ...` that puts them back (its flags read from the DaemonSet)
    # no DaemonSet: ``reinstall``'s flags were read back from an agent pod still there (else only its namespaces)
    reinstall_read: bool = False
    drifted: list[str] = field(default_factory=list)  # RBAC objects unlike what install renders, and how
    remaining: list[str] = field(default_factory=list)  # no DaemonSet: the objects install creates still there
    uninstall: str = ""  # the `kmeshctl uninstall ...` that removes ``remaining``
    conflicts: list[str] = field(default_factory=list)  # objects of install's names kmeshctl did not make: the fix each
    terminating: str = ""  # ``namespace`` is being deleted: why (its conditions), "" when it is not
    kept: str = ""  # no DaemonSet: why uninstall keeps kmeshctl's ``namespace`` (the user's objects in it)
    kept_labels: list[str] = field(default_factory=list)  # install's labels still on that kept namespace
    enrolled_here: str = ""  # no DaemonSet: ``namespace`` is an app namespace enrolled (its label), "" when not
    deleting: list[str] = field(default_factory=list)  # the DaemonSet and others being deleted: an uninstall going
    istiod_cluster_id: Optional[str] = None  # no DaemonSet: istiod's id for the install suggested (None: unknown)
    replaced_image: str = ""  # an agent cannot pull or start its image: the image that one replaced ("" none known)
    istiod: Optional[IstiodUnreached] = None  # an agent not connected to istiod: what it and the cluster say
    left_marked: dict[str, list[str]] = field(default_factory=dict)  # no DaemonSet: node -> its pods still marked
    unmounted: str = ""  # a ConfigMap agent pods cannot mount (their FailedMount events), "" none known

    @property
    def install_hint(self) -> str:
        """The install to run when kmesh is not installed: istiod's cluster id in it when known."""
        return install_hint(self.istiod_cluster_id)

    @property
    def terminating_problem(self) -> str:
        """The namespace being deleted, why, and that install waits until it is gone."""
        return (f"namespace {self.namespace} is Terminating ({self.terminating}); install refuses it until it is "
                "gone; kmesh goes with it, as in an uninstall (each agent removes its node's data path as it "
                f"stops): {self._terminating_fix}")

    @property
    def _terminating_fix(self) -> str:
        status = with_namespaces(["kmeshctl", "status"], self.namespace, DEFAULT_ISTIO_NAMESPACE)
        return (f"wait for it (`kubectl wait --for=delete namespace/{self.namespace} --timeout=5m`), then `{status}` "
                f"names any node left to clean up; if it stays, remove what holds it (`kubectl get namespace "
                f"{self.namespace} -o yaml` shows its conditions)")

    @property
    def deleting_problem(self) -> str:
        """The install being removed (an uninstall under way): what is being deleted, what
        is gone, and to wait or finish it; never install, which would race the deletion."""
        gone = f"; already gone: {', '.join(self.missing)}" if self.missing else ""
        return f"{BEING_UNINSTALLED}{', '.join(self.deleting)} being deleted (the cluster finishes it){gone}; " \
               f"{self._deleting_fix}"

    @property
    def _deleting_fix(self) -> str:
        return f"wait for the uninstall to finish, or run `{self.uninstall}` to remove the rest (it is safe to repeat)"

    @property
    def app_namespace_problem(self) -> str:
        """-n names an app namespace enrolled in the mesh: kmesh is not installed there, and
        an install into it is refused, so the install suggested is one into its own namespace."""
        return (f"namespace {self.namespace} is an app namespace enrolled in a data plane ({self.enrolled_here}), "
                f"not kmesh's: kmesh is not installed there, nor found in another namespace; "
                f"{self._own_namespace_fix}")

    @property
    def _own_namespace_fix(self) -> str:
        words = shlex.split(params.install_command(self.istiod_cluster_id))
        install = shlex.join([*words[:2], "-n", DEFAULT_NAMESPACE, *words[2:]])
        which = " (istiod's cluster id)" if self.istiod_cluster_id else " (ID this cluster's id)"
        return f"install puts it in a namespace of its own: `{install}`{which}"

    @property
    def kept_text(self) -> str:
        """Why kmeshctl's namespace is still there with nothing of the install left, and
        the Pod Security label install set if it still carries it (it allows privileged pods)."""
        if not self.kept:
            return ""
        text = f"namespace {self.namespace} is still there, kept by uninstall: {self.kept}"
        if self.kept_labels:
            removed = " ".join(f"{label.partition('=')[0]}-" for label in self.kept_labels)
            text += (f"; it still carries install's Pod Security label {', '.join(self.kept_labels)}, which lets "
                     f"its pods run privileged (`kubectl label namespace {self.namespace} {removed}` removes it)")
        return text

    @property
    def left_marked_lines(self) -> list[str]:
        """No DaemonSet: `node N: pods still marked ... ; run `kmeshctl node cleanup --ignore-not-found` ...,
        then `kubectl annotate ...`` per node with pods an earlier install's agent marked
        (uninstall's words: kmeshctl.uninstall.left_marked_detail)."""
        return [f"node {node}: {left_marked_detail(pods, node)}" for node, pods in sorted(self.left_marked.items())]

    @property
    def problems(self) -> list[str]:
        """Why the mesh is not healthy, one phrase each (empty: healthy)."""
        return [problem for problem, _ in self._diagnosis()]

    @property
    def fix(self) -> str:
        """What to do first to make the mesh healthy, with the command to paste: the fix
        of the first problem that has one of its own ("" when healthy)."""
        return next((fix for _, fix in self._diagnosis() if fix), "")

    def _diagnosis(self) -> list[tuple[str, str]]:
        """(problem, its fix) for each reason the mesh is not healthy; a fix is "" where
        another problem's says it (an agent of a pod not running: the pod's)."""
        if self.daemonset is None:
            left = [(f"left from an earlier install: {line}", "") for line in self.left_marked_lines]
            return self._not_installed() + [(conflict, conflict) for conflict in self.conflicts] + left
        ds = self.daemonset
        found = [(self.terminating_problem, self._terminating_fix)] if self.terminating else []
        found += [(conflict, conflict) for conflict in self.conflicts]
        if self.deleting:  # its pods and objects going: neither their counts nor install's fix apply
            return [(self.deleting_problem, self._deleting_fix)] + found
        if self.terminating:  # the same, its namespace going with all in it (install refuses it meanwhile)
            return found
        stuck = [p for p in self.pods if not p.ready]
        if ds["desired"] == 0:
            compare = (f"compare `kubectl get daemonset {ds['name']} -n {self.namespace} "
                       "-o jsonpath='{.spec.template.spec}'` with `kubectl get nodes --show-labels`, then fix the "
                       "nodes or re-install")
            found.append((f"the DaemonSet wants 0 pods: no node matches its nodeSelector / tolerations ({compare})",
                          compare))
        elif ds["ready"] < ds["desired"]:
            found.append((f"{ds['ready']}/{ds['desired']} agent pods ready", self._pods_fix(stuck) if stuck else
                          f"`kubectl describe daemonset {ds['name']} -n {self.namespace}` shows why"))
        if ds["updated"] < ds["desired"]:
            found.append((f"{ds['updated']}/{ds['desired']} agent pods run the current template",
                          f"wait for the DaemonSet to roll its template out (`kubectl rollout status daemonset/"
                          f"{ds['name']} -n {self.namespace}`)"))
        said = stuck + [p for p in self.pods if p.terminating and p not in stuck]  # each pod's problem
        found += [(pod_problem(p), self._pods_fix([p])) for p in said]
        # an agent not asked for its pod's state (`pod is ...`): that pod's problem says it
        found += [(agent_problem(a), self._agent_fix(a)) for a in self.agents if not a.connected
                  and not (a.error.startswith("pod is ") and a.pod in {p.name for p in said})]
        if self.missing:
            put_back = f"put them back with `{self.reinstall}`"
            found.append((f"{len(self.missing)} of the {self.expected} objects install creates missing: "
                          f"{', '.join(self.missing)} ({put_back})", put_back))
        # another field manager (kubectl edit/patch) owns the drifted fields: only a forced apply takes them back
        forced = self.reinstall if FORCE_CONFLICTS in shlex.split(self.reinstall) else \
            f"{self.reinstall} {FORCE_CONFLICTS}"
        restore = f"restore it with `{forced}`"
        found += [(f"{drift} ({restore})", restore) for drift in self.drifted]
        return found

    def _not_installed(self) -> list[tuple[str, str]]:
        """No DaemonSet of kmeshctl's: why (the namespace going, an app's namespace, an
        install or uninstall stopped half-way, nothing) and its fix."""
        if self.terminating:  # no install command: install refuses the namespace until it is gone
            return [(self.terminating_problem, self._terminating_fix)]
        if self.enrolled_here and not self.remaining:
            return [(self.app_namespace_problem, self._own_namespace_fix)]
        if self.remaining:
            finish = f"{self._partial_reinstall} or `{self.uninstall}`"
            return [(f"partly installed or partly uninstalled: {len(self.remaining)} of {self.expected} objects "
                     f"exist ({', '.join(self.remaining)}); {finish}", finish)]
        return [(f"DaemonSet {DAEMONSET_NAME} not found in {self.namespace} ({self.install_hint})", self.install_hint)]

    @property
    def _partial_reinstall(self) -> str:
        """The install to re-run over a partial one with no DaemonSet: its flags as read back
        from an agent pod still there, else the line of the default image, said so (the image
        is read from nowhere else: a line with an IMAGE to fill in pastes as an image named so)."""
        if self.reinstall_read:
            return f"re-run `{self.reinstall}` (its flags read from its agent pods still there)"
        unknown_id = " with ID this cluster's id" if "ID" in shlex.split(self.reinstall) else ""  # istiod's unknown
        return (f"re-run `{self.reinstall}`{unknown_id} (it puts in the default agent image {DEFAULT_IMAGE}; an "
                "install of another image or other flags needs them given again: without its DaemonSet they cannot "
                "be read back)")

    def _pods_fix(self, stuck: list[PodState]) -> str:
        """The fix of agent pods ``stuck`` not ready, by the first one's state: an image
        that cannot be pulled or whose container cannot start (image_fix, start_fix: the
        install to paste); an agent that exits, its log; a running agent not connected to istiod, istiod_fix;
        pods being deleted, the wait for their DaemonSet to replace them; else the pod's events."""
        if all(p.terminating for p in stuck):  # the DaemonSet replaces them: nothing of theirs to mend
            return self._terminating_pod_fix
        if any(p.status in IMAGE_REASONS for p in stuck):
            return image_fix(stuck, self.namespace, self.replaced_image, self._install_with)
        if any(p.not_started for p in stuck):  # it never ran: no log to read
            return start_fix(stuck, self.namespace, self.replaced_image, self._install_with)
        pod = stuck[0]
        where = f"-n {self.namespace} {pod.name}"
        if pod.status == "CrashLoopBackOff" or pod.restarts:
            return f"see why the agent exits: `kubectl logs {where} --previous`"
        agent = next((a for a in self.agents if a.pod == pod.name and a.xds is not None and not a.connected), None)
        if agent is not None and (fix := self._agent_fix(agent)):
            return fix
        if not pod.node:
            return f"see why no node takes it: `kubectl describe pod {where}`"
        if self.unmounted and pod.status == "ContainerCreating":
            return mount_fix(self.unmounted, self.namespace, "the agent pods start by themselves")
        return f"see why it is not ready: `kubectl describe pod {where}` (its events) and `kubectl logs {where}`"

    def _agent_fix(self, agent: AgentXds) -> str:
        """The fix of ``agent`` not connected to istiod: istiod_fix by what it and the
        cluster say; an agent that could not be asked, its log; "" for a pod not running
        (its pod problem's fix says why)."""
        if agent.xds is not None and self.istiod is not None:
            return istiod_fix(self.istiod, self.namespace, self._install_with,
                              wait_longer="wait: they may still be connecting")
        if agent.xds is None and agent.fix:  # this user's: the agent's log would not say it
            return agent.fix
        if agent.xds is None and agent.error and not agent.error.startswith("pod is "):
            return f"see why the agent does not answer in its log: `kubectl logs -n {self.namespace} {agent.pod}`"
        return ""

    @property
    def _terminating_pod_fix(self) -> str:
        return (f"wait for the DaemonSet to replace it (`kubectl rollout status daemonset/{DAEMONSET_NAME} -n "
                f"{self.namespace}`)")

    @property
    def _install_with(self) -> InstallWith:
        """The install that made the DaemonSet (``reinstall``) with one flag set: rollout.InstallWith."""
        return flag_setter(self.reinstall or params.INSTALL_COMMAND)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "namespace": self.namespace, "installed": self.daemonset is not None, "healthy": self.healthy,
            "problems": self.problems, "fix": self.fix or None,
            "daemonset": self.daemonset, "pods": [p.to_dict() for p in self.pods],
            "enrolledNamespaces": self.enrolled_namespaces, "redirectedPods": self.redirected_pods,
            "agents": [a.to_dict() for a in self.agents], "missingObjects": self.missing,
            "differingObjects": self.drifted, "remainingObjects": self.remaining,
            "conflictingObjects": self.conflicts, "namespaceTerminating": self.terminating or None,
            "namespaceKept": {"reason": self.kept, "labels": self.kept_labels} if self.kept else None,
            "beingDeleted": self.deleting,
        }


def _xds_error(agent: AgentXds) -> str:
    """Why ``agent`` is not connected: why it could not be asked, else its last error."""
    return agent.error or (agent.xds or {}).get("lastError") or "disconnected"


def agent_problem(agent: AgentXds) -> str:
    """`agent kmesh-x not connected to istiod (its last error)`; one that could not be
    asked: `istiod connection of agent kmesh-x unknown (why)` (nothing says it is not)."""
    if agent.xds is None:
        return f"{UNKNOWN_HEAD}{agent.pod} unknown ({_xds_error(agent)})"
    return f"agent {agent.pod} not connected to istiod ({_xds_error(agent)})"


UNKNOWN_HEAD = "istiod connection of agent "  # agent_problem's of an agent not asked


def pod_problem(pod: PodState) -> str:
    """`pod kmesh-x on node-a not ready (CrashLoopBackOff)`; a pod no node took: `pod
    kmesh-x not scheduled (Unschedulable: ...)`; one being deleted: `pod kmesh-x on
    node-a being deleted (Terminating)`."""
    if pod.terminating:
        return f"pod {pod.name}{f' on {pod.node}' if pod.node else ''} being deleted ({pod.status})"
    why = pod.reason or pod.phase
    return f"pod {pod.name} on {pod.node} not ready ({why})" if pod.node else f"pod {pod.name} not scheduled ({why})"


def daemonset_summary(ds: dict) -> dict:
    status = ds.get("status") or {}
    return {
        "name": ds["metadata"]["name"],
        "desired": int(status.get("desiredNumberScheduled", 0)),
        "updated": int(status.get("updatedNumberScheduled", 0)),
        "ready": int(status.get("numberReady", 0)),
        "image": template_image(ds),
    }


def deleting_summary(ds: dict, pods: list[PodState]) -> dict:
    """daemonset_summary of a DaemonSet being deleted, its counts those of ``pods`` (its pods
    as read after it): its controller no longer updates its status, and its pods go one by
    one, so the counts it last wrote would stand above pods already gone."""
    summary = daemonset_summary(ds)
    return {**summary, "desired": len(pods), "updated": min(summary["updated"], len(pods)),
            "ready": sum(1 for p in pods if p.ready)}


def daemonset_problems(client: KubeClient, ds: dict) -> list[str]:
    """Why the agent DaemonSet ``ds`` (as read from the cluster) is not healthy, in
    `status`'s words: its counts and its pods only, no agent is asked (empty: healthy)."""
    return MeshStatus(ds["metadata"]["namespace"], daemonset_summary(ds), pods=daemonset_pods(client, ds)).problems


def redirected_pods(client: KubeClient) -> list[str]:
    # Annotations are not selectable: list every pod and filter here.
    return sorted(
        f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        for pod in client.list("v1", "Pod")
        if (pod["metadata"].get("annotations") or {}).get(REDIRECTION_ANNOTATION) == "enabled"
    )


def agent_xds(pods: list[PodState], namespace: str, fetch: AdminFetch,
              admin_port: int = ADMIN_PORT) -> list[AgentXds]:
    """Ask each running agent pod for its istiod connection (port-forward to its admin
    port); a pod not running, backing off or being deleted is not asked (rollout.unasked:
    a port-forward would blame the port). A port-forward RBAC refuses keeps its fix apart:
    status's fix, not the agent's log."""
    agents = []
    for pod in pods:
        if why := unasked(pod):
            agents.append(AgentXds(pod.name, pod.node, None, why))
            continue
        try:
            agents.append(AgentXds(pod.name, pod.node, fetch(XDS_PATH, pod.name, namespace, admin_port)))
        except ForwardForbidden as err:
            agents.append(AgentXds(pod.name, pod.node, None, err.problem, err.fix))
        except KmeshctlError as err:
            agents.append(AgentXds(pod.name, pod.node, None, str(err)))
    return agents


def status_daemonset(client: KubeClient, namespace: str) -> Optional[dict]:
    """kmeshctl's agent DaemonSet in ``namespace`` as read, None when there is none (a
    DaemonSet kmesh of the user's is no agent of kmeshctl's)."""
    ds = client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, namespace)
    return ds if made_by_kmeshctl(ds) else None


def istiod_unreached(client: KubeClient, agent: AgentXds, cluster_id: str) -> IstiodUnreached:
    """What ``agent`` says of its istiod connection, and what the cluster says of istiod
    (its istiod Services; the Deployment behind the agent's address, with its cluster id):
    what rollout.istiod_fix chooses the fix by."""
    xds = agent.xds or {}
    address = xds.get("address") or "?"
    return IstiodUnreached(address, xds.get("lastError") or "", cluster_id,
                           tuple(istiod_addresses_anywhere(client)), istiod_deployment(client, address))


def mesh_status(client: KubeClient, namespace: str, fetch: Optional[AdminFetch] = None) -> MeshStatus:
    """The mesh as the API server and, with ``fetch``, each agent's admin endpoint see it:
    only kmeshctl's objects count; one of its names it did not make is a conflict. What
    a fix needs is read only for the problem it mends (the image an image that cannot be
    pulled or started replaced; istiod's Services and Deployment for an agent not connected)."""
    ds = status_daemonset(client, namespace)
    istio_namespace, expected = expected_here(client, namespace, ds)
    pods = daemonset_pods(client, ds) if ds else []
    deleting = being_deleted(client, expected, ds) if ds and ds["metadata"].get("deletionTimestamp") else []
    agents = agent_xds(pods, namespace, fetch) if fetch else []
    unreached = [a for a in agents if a.xds is not None and not a.connected]
    cluster_id = None if ds else known_cluster_id(client, istio_namespace)  # for the install suggested
    remaining = [] if ds else present_objects(client, expected)
    left_install = "" if ds or not remaining else left_agent_install(client, expected, istio_namespace)
    kept, kept_labels = ("", []) if ds else kept_namespace(client, namespace, expected, remaining)
    # no agent of kmeshctl's anywhere (expected_here refused another namespace's): a pod marked is left over
    left_marked = {} if ds else marked_pods_by_node(client)
    if kept:  # uninstall keeps it for the user's objects: no part of an install, nothing to re-run
        remaining.remove(object_ref(_namespace_of(expected)))
    return MeshStatus(
        namespace=namespace,
        daemonset=(deleting_summary(ds, pods) if deleting else daemonset_summary(ds)) if ds else None,
        pods=pods,
        enrolled_namespaces=enrolled_namespaces(client),
        redirected_pods=redirected_pods(client) if ds else sorted(p for pods in left_marked.values() for p in pods),
        agents=agents,
        # one list each: an object read being deleted, gone when read again, is the deletion's
        missing=[ref for ref in missing_objects(client, expected) if ref not in deleting] if ds else [],
        expected=len(expected),
        reinstall=install_command(ds, istio_namespace, _rendered_daemonset(expected)) if ds else
        left_install or bare_install_command(namespace, istio_namespace, cluster_id),
        reinstall_read=bool(left_install),
        drifted=rbac_drift(client, expected) if ds else [],
        remaining=remaining,
        uninstall=uninstall_command(namespace, istio_namespace),
        conflicts=conflicts(client, expected),
        terminating=terminating_namespace(client, namespace),
        kept=kept, kept_labels=kept_labels,
        enrolled_here="" if ds else enrolled_label(client, namespace),
        deleting=deleting,
        istiod_cluster_id=cluster_id,
        replaced_image=replaced_image(client, ds) if ds and any(map(image_at_fault, pods)) else "",
        istiod=istiod_unreached(client, unreached[0], _env(ds).get("CLUSTER_ID", "")) if ds and unreached else None,
        left_marked=left_marked,
        unmounted=missing_configmap(client, [p for p in pods if not p.ready]),
    )


def being_deleted(client: KubeClient, expected: list[dict], ds: dict) -> list[str]:
    """The refs of the objects install creates that carry a deletionTimestamp, ``ds``
    (the DaemonSet, as read) first; the namespace is terminating_namespace's."""
    others = [object_ref(o) for o in expected if o["kind"] not in ("Namespace", "DaemonSet")
              and ((_read(client, o) or {}).get("metadata") or {}).get("deletionTimestamp")]
    return [object_ref(ds)] + others


def _namespace_of(expected: list[dict]) -> dict:
    return next(o for o in expected if o["kind"] == "Namespace")


def kept_namespace(client: KubeClient, namespace: str, expected: list[dict],
                   remaining: list[str]) -> tuple[str, list[str]]:
    """(why uninstall keeps ``namespace``: uninstall.user_objects' words, the labels
    install set that it still carries) when kmeshctl made it, it is all of the install
    left (``remaining``: an uninstall stopped before it never kept it) and it holds
    objects install did not make; ("", []) otherwise. The first kind of the core and apps APIs
    holding some of the user's objects is enough to say it is kept (its objects named);
    only when there is none is every kind the cluster serves looked through, as uninstall
    does (a status runs this each time, with no DaemonSet)."""
    from kmeshctl.uninstall import Held, first_user_objects, user_objects

    if not any(o["kind"] == "Namespace" for o in expected) or remaining != [object_ref(_namespace_of(expected))]:
        return "", []
    found = first_user_objects(client, namespace, expected)
    reason = Held(found, [], []).text() if found else user_objects(client, namespace, expected).text()
    if not reason:
        return "", []
    current = _read(client, _namespace_of(expected)) or {}
    labels = current.get("metadata", {}).get("labels") or {}
    # a privileged level on the user's pods (uninstall removes it; an older one did not)
    return reason, [f"{PSA_ENFORCE}={PSA_NEEDED}"] if labels.get(PSA_ENFORCE) == PSA_NEEDED else []


def enrolled_label(client: KubeClient, namespace: str) -> str:
    """`istio.io/dataplane-mode=Kmesh` when ``namespace`` is enrolled in a data plane
    (install refuses it: kmeshctl.apply.enrolled_refusal), "" otherwise."""
    from kmeshctl.apply import enrolled_refusal
    from kmeshctl.enrollment import MODE_LABEL

    current = _read(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    if current is None or made_by_kmeshctl(current) or enrolled_refusal(current) is None:  # kmesh's own: not an app's
        return ""
    return f"{MODE_LABEL}={current['metadata']['labels'][MODE_LABEL]}"


def expected_here(client: KubeClient, namespace: str, ds: Optional[dict]) -> tuple[str, list[dict]]:
    """(the install's Istio namespace, the objects install creates for ``namespace``);
    with no agent DaemonSet of kmeshctl's (``ds`` None) in ``namespace`` while kmesh is
    installed in another, InstalledElsewhere (exit 2) naming it: status and version alike."""
    istio_namespace = istio_namespace_of(client, ds)
    expected = [o for o in expected_objects(namespace, istio_namespace) if not _users_namespace(client, o)]
    if ds is None and expected:
        check_install_namespaces(client, expected, namespace, istio_namespace)
    elif ds is None:
        check_never_installed_there(client, namespace, istio_namespace)
    return istio_namespace, expected


def install_refusal(namespace: str, istio_namespace: str) -> str:
    """Why install refuses to put kmesh in ``namespace`` (params.check_install_namespace),
    in a few words; "" when it takes it."""
    try:
        installed_objects(namespace, istio_namespace)
    except KmeshctlError:
        if namespace in RESERVED_NAMESPACES:
            return "reserved for Kubernetes"
        return "it is Istio's namespace" if namespace == istio_namespace else "not a namespace of its own"
    return ""


def check_never_installed_there(client: KubeClient, namespace: str, istio_namespace: str) -> None:
    """-n names a namespace install refuses (kube-system, default, Istio's): kmeshctl's
    agents are never there. InstalledElsewhere naming the install's namespace when kmesh is
    installed in another (as for any other -n), else naming the default one; never a
    suggestion to install into ``namespace``, which install refuses."""
    refused = install_refusal(namespace, istio_namespace)
    if not refused:
        return
    reference = (expected_objects(DEFAULT_NAMESPACE, istio_namespace)
                 or expected_objects(DEFAULT_NAMESPACE, DEFAULT_ISTIO_NAMESPACE))
    check_install_namespaces(client, reference, namespace, istio_namespace)
    raise InstalledElsewhere(f"kmesh is never installed in namespace {namespace}: install refuses it ({refused}) "
                             f"and puts it in {DEFAULT_NAMESPACE}", "namespace", DEFAULT_NAMESPACE)


# -- every object install creates -------------------------------------------------------------


def expected_objects(namespace: str, istio_namespace: str) -> list[dict]:
    """uninstall.installed_objects: the one list of what install creates ([] for
    namespaces no install could have used: then only the DaemonSet is checked)."""
    try:
        return installed_objects(namespace, istio_namespace)
    except KmeshctlError:
        return []


def _read(client: KubeClient, obj: dict) -> Optional[dict]:
    """``obj`` as the cluster has it; None when absent, not served, or refused (RBAC: not
    known to be there or missing; an unreachable API still fails status)."""
    meta = obj["metadata"]
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return None
    try:
        return client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    except ApiError:
        return None


def _users_namespace(client: KubeClient, obj: dict) -> bool:
    """``obj`` is a Namespace that exists and kmeshctl did not make: install uses it as
    it is, so it is not one of the objects install creates."""
    if obj["kind"] != "Namespace":
        return False
    current = _read(client, obj)
    return current is not None and not made_by_kmeshctl(current)


def conflicts(client: KubeClient, expected: list[dict]) -> list[str]:
    """One problem per object of ``expected`` that blocks install (apply.foreign_objects,
    install's and precheck's finder: it exists and kmeshctl did not make it), and its fix."""
    from kmeshctl.apply import foreign_objects, kubectl_words

    return [f"{object_ref(obj)} exists and was {NOT_OURS}, which blocks install: delete it "
            f"(`kubectl delete {kubectl_words(obj)}`) if it is not needed"
            for obj in foreign_objects(client, expected, _read)]


def terminating_namespace(client: KubeClient, namespace: str) -> str:
    """Why ``namespace`` is being deleted, from its status.conditions that hold (`Some
    content in the namespace has finalizers remaining: ...`); "" when it is not."""
    current = _read(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    if current is None or not current["metadata"].get("deletionTimestamp"):
        return ""
    held = [c.get("message") or c.get("type") or "" for c in (current.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"]
    return "; ".join(m for m in held if m) or "being deleted"


def missing_objects(client: KubeClient, expected: list[dict]) -> list[str]:
    """The refs of ``expected`` (the objects install creates, uninstall.installed_objects)
    not in the cluster. A built-in kind the cluster does not serve is not expected (an
    older Kubernetes: install renders it only from 1.30); an Istio kind not served is
    missing (its CRD went)."""
    missing = []
    for obj in expected:
        served = client.is_served(obj["apiVersion"], obj["kind"])
        if not served and not obj["apiVersion"].split("/")[0].endswith("istio.io"):
            continue
        if not served or _absent(client, obj):
            missing.append(object_ref(obj) + ("" if served else " (kind not served)"))
    return missing


def present_objects(client: KubeClient, expected: list[dict]) -> list[str]:
    """The refs of ``expected`` in the cluster that kmeshctl made (those of a kind it serves)."""
    return [object_ref(obj) for obj in expected if made_by_kmeshctl(_read(client, obj))]


def bare_install_command(namespace: str, istio_namespace: str, cluster_id: Optional[str] = None) -> str:
    """`kmeshctl install --cluster-id ID` for these namespaces (flags only when not the
    default): with no DaemonSet to read the install's other flags back from; istiod's
    ``cluster_id`` in place of ID when known."""
    return with_namespaces(shlex.split(params.install_command(cluster_id)), namespace, istio_namespace)


def left_agent_install(client: KubeClient, expected: list[dict], istio_namespace: str) -> str:
    """No DaemonSet: the `kmeshctl install ...` an agent pod of it still there was made by
    (an uninstall stopped while they go), read back as install_command reads a DaemonSet;
    "" when there is none or the pods cannot be listed."""
    rendered = _rendered_daemonset(expected)
    if rendered is None:
        return ""
    labels = rendered["spec"]["selector"]["matchLabels"]
    namespace = rendered["metadata"]["namespace"]
    try:
        pods = client.list("v1", "Pod", namespace, label_selector=",".join(f"{k}={v}" for k, v in labels.items()))
    except KmeshctlError:
        return ""
    if not pods:
        return ""
    as_daemonset = {"metadata": {"namespace": namespace}, "spec": {"template": {"spec": pods[0].get("spec") or {}}}}
    return install_command(as_daemonset, istio_namespace)


def uninstall_command(namespace: str, istio_namespace: str) -> str:
    """The `kmeshctl uninstall ...` for these namespaces (flags only when not the default)."""
    return with_namespaces(["kmeshctl", "uninstall"], namespace, istio_namespace)


def with_namespaces(words: list[str], namespace: str, istio_namespace: str) -> str:
    """The command ``words`` with -n and --istio-namespace, each only when not the default."""
    for flag, value, default in (("-n", namespace, DEFAULT_NAMESPACE),
                                 ("--istio-namespace", istio_namespace, DEFAULT_ISTIO_NAMESPACE)):
        if value != default:
            words = [*words, flag, value]
    return shlex.join(words)


# -- the cluster-scoped RBAC objects as install renders them ------------------------------------

_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


def rbac_drift(client: KubeClient, expected: list[dict]) -> list[str]:
    """How the ClusterRole's rules, the ClusterRoleBinding's subjects and role, and the
    ValidatingAdmissionPolicy's match conditions in the cluster differ from ``expected``
    (what install renders for this install): one phrase per object that differs. A
    missing object is missing_objects' to report; an unreadable one is not compared."""
    found = []
    for obj in expected:
        compare = _COMPARED.get(obj["kind"])
        current = _current(client, obj) if compare else None
        if compare and current is not None and made_by_kmeshctl(current):  # another's is a conflict
            found += [f"{object_ref(obj)} {how}" for how in compare(obj, current)]
    return found


def _current(client: KubeClient, obj: dict) -> Optional[dict]:
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return None
    try:
        return client.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
    except ApiError:
        return None


def _rule(rule: dict) -> tuple:
    return tuple(tuple(sorted(rule.get(name) or ())) for name in _RULE_FIELDS)


def _rule_text(rule: tuple) -> str:
    """`get,list,watch pods` (`apps/daemonsets` for a group, `/kmesh` for names)."""
    verbs, groups, resources, names, urls = rule
    what = ",".join(f"{g}/{r}" if g else r for g in groups or ("",) for r in resources) or ",".join(urls)
    return f"{','.join(verbs)} {what}" + (f" ({','.join(names)})" if names else "")


def _role_drift(want: dict, have: dict) -> list[str]:
    wanted, had = set(map(_rule, want.get("rules") or [])), set(map(_rule, have.get("rules") or []))
    if not had:
        return [f"has no rules (install renders {counted(len(wanted), 'rule')}): the agent is refused"]
    parts = []
    if wanted - had:
        parts.append("lacks " + "; ".join(sorted(map(_rule_text, wanted - had))))
    if had - wanted:
        parts.append("has rules install does not render: " + "; ".join(sorted(map(_rule_text, had - wanted))))
    return [", and ".join(parts)] if parts else []


def _subject(subject: dict) -> str:
    namespace = subject.get("namespace")
    return f"{subject.get('kind')} {namespace + '/' if namespace else ''}{subject.get('name')}"


def _binding_drift(want: dict, have: dict) -> list[str]:
    found = []
    wanted = sorted(map(_subject, want.get("subjects") or []))
    had = sorted(map(_subject, have.get("subjects") or []))
    if wanted != had:
        found.append(f"binds {', '.join(had) or 'no one'}, not {', '.join(wanted)}")
    role, had_role = want.get("roleRef") or {}, have.get("roleRef") or {}
    if (role.get("kind"), role.get("name")) != (had_role.get("kind"), had_role.get("name")):
        found.append(f"grants {had_role.get('kind')} {had_role.get('name')}, not {role.get('kind')} {role.get('name')}")
    return found


def _policy_drift(want: dict, have: dict) -> list[str]:
    def expressions(obj: dict) -> list[str]:
        return sorted(c.get("expression", "") for c in (obj.get("spec") or {}).get("matchConditions") or [])

    if expressions(want) != expressions(have):
        return [f"matches {' or '.join(expressions(have)) or 'every request'}, not {' or '.join(expressions(want))}"]
    return []


_COMPARED = {"ClusterRole": _role_drift, "ClusterRoleBinding": _binding_drift,
             "ValidatingAdmissionPolicy": _policy_drift}


def _absent(client: KubeClient, obj: dict) -> bool:
    """Not there (one of kmeshctl's names it did not make is a conflict, not missing)."""
    meta = obj["metadata"]
    try:
        return client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")) is None
    except ApiError:  # refused (RBAC): not known to be missing; an unreachable API still fails status
        return False


def _container(ds: dict) -> dict:
    return ((((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}])[0]


def _env(ds: dict) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in _container(ds).get("env") or [] if "value" in e}


def istio_namespace_of(client: KubeClient, ds: Optional[dict]) -> str:
    """Where install put the EnvoyFilters: where kmeshctl's EnvoyFilters are, else the
    namespace of the istiod Service the agents use, else the default."""
    filters = install_istio_namespaces(client, expected_objects(DEFAULT_NAMESPACE, DEFAULT_ISTIO_NAMESPACE))
    if filters:
        return filters[0]
    service = cluster_service(_env(ds).get("XDS_ADDRESS", "")) if ds else None
    return service[1] if service else DEFAULT_ISTIO_NAMESPACE


FORCE_CONFLICTS = "--force-conflicts"


def _rendered_daemonset(expected: list[dict]) -> Optional[dict]:
    return next((o for o in expected if o["kind"] == "DaemonSet"), None)


def other_managers(current: dict, rendered: dict) -> list[str]:
    """The field managers other than kmeshctl's that own a field of ``current`` (an object
    as read, its managedFields) that install sets (``rendered``: the object as install
    renders it), e.g. `kubectl-set` after `kubectl set image`: an install re-run without
    --force-conflicts is refused by the server-side apply's conflict. Status writes aside."""
    from kmeshctl.kube import FIELD_MANAGER

    found = set()
    for entry in (current.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER or entry.get("subresource") == "status":
            continue
        if any(_renders(rendered, path) for path in _owned_leaves(entry.get("fieldsV1") or {})):
            found.add(entry.get("manager") or "?")
    return sorted(found)


def _owned_leaves(fields: dict, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The leaf paths of a managedFields entry's fieldsV1 (`f:spec`, `k:{"name":"kmesh"}`, ...)."""
    leaves = []
    for key, below in fields.items():
        if key != ".":
            leaves += _owned_leaves(below, (*path, key)) if below else [(*path, key)]
    return leaves


def _renders(obj: object, path: tuple[str, ...]) -> bool:
    """``obj`` (rendered) sets the field at the fieldsV1 ``path``: `f:NAME` a member,
    `k:{...}` the list item with those keys; a `v:` / `i:` item is never install's own."""
    import json

    for key in path:
        if key.startswith("f:") and isinstance(obj, dict) and key[2:] in obj:
            obj = obj[key[2:]]
        elif key.startswith("k:") and isinstance(obj, list):
            wanted = json.loads(key[2:])
            obj = next((item for item in obj if isinstance(item, dict)
                        and all(item.get(k) == v for k, v in wanted.items())), None)
            if obj is None:
                return False
        else:
            return False
    return True


def install_command(ds: dict, istio_namespace: str, rendered: Optional[dict] = None) -> str:
    """The `kmeshctl install ...` that made ``ds``, its flags read back from it (only
    those not at their default), so re-running it restores what is missing; with
    --force-conflicts when another field manager owns a field of ``ds`` that install sets
    (``rendered``: install's DaemonSet; other_managers), as after `kubectl set image`."""
    env = _env(ds)
    container = _container(ds)
    args = container.get("args") or []
    words = ["kmeshctl", "install", "--cluster-id", env.get("CLUSTER_ID") or "ID",
             "--xds-address", env.get("XDS_ADDRESS") or guessed_xds_address(istio_namespace)]
    namespace = ds["metadata"]["namespace"]
    for flag, value, default in (("-n", namespace, DEFAULT_NAMESPACE), ("--image", container.get("image", ""),
                                                                        DEFAULT_IMAGE),
                                 ("--istio-namespace", istio_namespace, DEFAULT_ISTIO_NAMESPACE),
                                 ("--network", env.get("NETWORK", ""), "")):
        if value and value != default:
            words += [flag, value]
    words += [flag for flag in ("--enable-bypass", "--enable-bpf-log") if flag in args]
    if rendered is not None and other_managers(ds, rendered):
        words.append(FORCE_CONFLICTS)
    return shlex.join(words)
