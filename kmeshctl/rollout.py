"""Waiting for the node-agent DaemonSet to roll out, with a live view of desired /
updated / ready and the pod on each node, under a visible time limit. Also how a pod's
readiness is read (shared with `status`)."""

from __future__ import annotations

import math
import re
import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Optional

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from kmeshctl.asciinum import duration_words, waited_words
from kmeshctl.bounded import clip
from kmeshctl.errors import KmeshctlError
from kmeshctl.istiod import (CLUSTER_ID_ENV, DEFAULT_CLUSTER_ID, XDS_PORT, IstiodDeployment,
                             guessed_deployment, same_service)
from kmeshctl.kube import ApiError, KubeClient
from kmeshctl.params import DEFAULT_IMAGE, shown
from kmeshctl.render import template_image

POLL_SECONDS = 1.0
# The words an agent's lastError carries after the gRPC status (kmeshctl.xds.client): its
# own hint for a refusal, and the failure to read its files; the ConfigMap it reads istiod's root from.
AGENT_HINT_START = "; istiod refused the token or the cluster id"
AGENT_FILES_ERROR = "cannot read"
ROOT_CERT_CONFIGMAP = "istio-ca-root-cert"
# Stands for istiod's cluster id in a suggested install when it could not be read: the
# words next to it say what to put (check_cluster_id accepts it, as INSTALL_HINT's ID).
CLUSTER_ID_UNKNOWN = "ID"


@dataclass(frozen=True)
class PodState:
    name: str
    namespace: str
    node: str
    phase: str
    ready: bool
    restarts: int
    image: str
    reason: str  # why it is not ready ("" when ready)
    created: str
    # its container's last end, `StartError, exit code 128: exec: ...` ("" none known), and whether the
    # container could not even start (START_REASONS: its image runs no agent, so it has no log to read)
    last_exit: str = ""
    not_started: bool = False
    containers_up: bool = True  # every container's state is running (False: waiting, e.g. CrashLoopBackOff)
    terminating: bool = False  # it carries a deletionTimestamp: being deleted (its DaemonSet makes another)

    @property
    def status(self) -> str:
        """kubectl's STATUS word (`Running`, `ErrImagePull`, `CrashLoopBackOff`, `Pending`,
        `Terminating` whatever the phase, as kubectl's): what a table cell shows; ``reason``
        (the kubelet's message) is for the text below it."""
        if self.terminating:
            return TERMINATING
        head = self.reason.split(":")[0].strip()
        return self.phase if self.ready or not head or head in _CONDITION_ONLY else head

    def to_dict(self) -> dict:
        return {"name": self.name, "namespace": self.namespace, "node": self.node, "phase": self.phase,
                "ready": self.ready, "status": self.status, "restarts": self.restarts, "image": self.image,
                "reason": self.reason, "age": age(self.created)}


TERMINATING = "Terminating"  # kubectl's STATUS of a pod with a deletionTimestamp
# A pod condition's reason that says no more than the phase (kubectl shows the phase then).
_CONDITION_ONLY = frozenset({"ContainersNotReady", "PodCompleted"})
IMAGE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
# The container runtime could not start the image's command (containerd's StartError, Docker's
# ContainerCannotRun, the kubelet's CreateContainerError / RunContainerError): nothing ran, nothing logged.
START_REASONS = frozenset({"StartError", "ContainerCannotRun", "CreateContainerError", "RunContainerError"})
EXIT_MESSAGE_MAX = 120  # chars of a runtime's message quoted (its cause is at the end: `...: exec: "x": not found`)


def image_at_fault(pod: PodState) -> bool:
    """``pod`` waits on its image: it cannot be pulled, or its container cannot start."""
    return pod.status in IMAGE_REASONS or pod.not_started


@dataclass(frozen=True)
class RolloutState:
    found: bool
    desired: int = 0
    updated: int = 0
    ready: int = 0
    observed: bool = False  # the controller has seen the latest spec
    pods: list[PodState] = field(default_factory=list)
    deleting: bool = False  # it carries a deletionTimestamp (an uninstall under way)

    @property
    def done(self) -> bool:
        return self.found and self.observed and self.updated == self.desired and self.ready == self.desired

    def not_ready(self) -> list[PodState]:
        return [p for p in self.pods if not p.ready]


class RolloutGone(KmeshctlError):
    """The DaemonSet waited on was deleted, or is being deleted, after install applied it
    (an uninstall at the same time): no rollout is left to wait for, exit 1 at once."""

    def __init__(self, namespace: str, name: str, deleting: bool) -> None:
        how = "is being deleted" if deleting else "was deleted"
        super().__init__(f"DaemonSet {namespace}/{name} {how} while install waited for its rollout (an uninstall "
                         "at the same time?); nothing is left to wait for",
                         fix=f"once `kmeshctl status -n {namespace}` says nothing is installed, re-run install")


class RolloutTimeout(KmeshctlError):
    """The rollout did not finish in time; its fix is chosen by the cause (timeout_fix),
    the caller may choose again knowing more (the agents' istiod connection). ``refused``:
    the wait stopped early on the istiod refusal every agent not ready reported
    (RefusalWatch), "" when it ran to its limit."""

    def __init__(self, problem: str, state: RolloutState, fix: str, refused: str = "") -> None:
        super().__init__(problem, fix=fix)
        self.state = state
        self.refused = refused


# How long every agent not ready must report the same istiod refusal before the wait stops
# early (istiod will not change its mind: a longer --timeout cannot help), and how often the
# agents are asked (a port-forward to each, at most REFUSAL_PODS_ASKED of them).
REFUSAL_HOLD_S = 20.0
REFUSAL_CHECK_S = 5.0
REFUSAL_PODS_ASKED = 10


def refusal_kind(last_error: str) -> str:
    """Which refusal by istiod (or of its address) an agent's lastError is, "" none:
    `unauthenticated` (istiod refused the token or the cluster id), `dns` (the address
    does not resolve where the agents run), `hostname` (istiod's certificate does not
    name the address). None of these goes away by waiting longer."""
    text = last_error.lower()
    if last_error.startswith("UNAUTHENTICATED"):
        return "unauthenticated"
    if "dns resolution failed" in text or "dns server returned" in text:
        return "dns"
    if "hostname verification" in text or ("peer name" in text and "certificate" in text):
        return "hostname"
    return ""


# Each pod's `/debug/xds` document ({address, connected, lastError, ...}), None when not answered.
AgentAsk = Callable[[list[PodState]], list[Optional[dict]]]


class RefusalWatch:
    """Called with each polled rollout state: the refusal (`ADDRESS: lastError`) once
    every agent not ready (running; the first REFUSAL_PODS_ASKED asked) has reported the
    same kind of refusal (refusal_kind) from the same address in every check for
    REFUSAL_HOLD_S; "" until then, and again whenever an agent says otherwise."""

    def __init__(self, ask: AgentAsk, clock: Callable[[], float] = time.monotonic) -> None:
        self._ask, self._clock = ask, clock
        self._seen: Optional[tuple[str, str]] = None  # (address, kind) of every agent at the last check
        self._since = self._checked = -math.inf
        self._said = ""

    def __call__(self, state: RolloutState) -> str:
        now = self._clock()
        if now - self._checked < REFUSAL_CHECK_S:
            return self._said if self._held(now) else ""
        self._checked = now
        seen, said = self._agreed(state.not_ready())
        if seen is None or seen != self._seen:
            self._since = now if seen is not None else -math.inf
        self._seen, self._said = seen, said
        return said if self._held(now) else ""

    def _held(self, now: float) -> bool:
        return self._seen is not None and now - self._since >= REFUSAL_HOLD_S

    def _agreed(self, stuck: list[PodState]) -> tuple[Optional[tuple[str, str]], str]:
        """((address, kind), `ADDRESS: lastError`) when every pod of ``stuck`` runs and
        reports the same kind of refusal from the same address; (None, "") otherwise."""
        if not stuck or any(pod.phase != "Running" for pod in stuck):
            return None, ""
        documents = self._ask(stuck[:REFUSAL_PODS_ASKED])
        found = {(str(d.get("address", "")), refusal_kind(str(d.get("lastError") or "")))
                 if d is not None and not d.get("connected") else ("", "") for d in documents}
        if len(found) != 1 or not next(iter(found))[1]:
            return None, ""
        first = documents[0] or {}
        return next(iter(found)), f"{first.get('address')}: {str(first.get('lastError')).split(AGENT_HINT_START)[0]}"


# How long every agent not ready must wait on its image (it cannot be pulled, or its container
# cannot start) before the wait stops early: the kubelet only backs off further each time.
IMAGE_HOLD_S = 20.0


class ImageWatch:
    """Called with each polled rollout state: the reasons (`ImagePullBackOff`) once every
    agent not ready has waited on its image (image_at_fault) in every poll for
    IMAGE_HOLD_S; "" until then, and again whenever one does not."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since = -math.inf

    def __call__(self, state: RolloutState) -> str:
        stuck = state.not_ready()
        now = self._clock()
        if not stuck or not all(map(image_at_fault, stuck)):
            self._since = -math.inf
            return ""
        if self._since == -math.inf:
            self._since = now
        return ", ".join(sorted({p.status for p in stuck})) if now - self._since >= IMAGE_HOLD_S else ""


@dataclass(frozen=True)
class IstiodUnreached:
    """An agent's failing istiod connection, as its admin endpoint reports it (``address``,
    ``error``: its lastError, "" when it has none yet), and what the cluster says of
    istiod: ``found``, its istiod Services; ``deployment``, the one behind ``address``
    (None: not found or not readable); ``cluster_id``, the install's --cluster-id."""

    address: str
    error: str
    cluster_id: str
    found: tuple[str, ...] = ()
    deployment: Optional[IstiodDeployment] = None


# (parameter, value) -> the install command to paste: every flag typed, that one set.
InstallWith = Callable[[str, str], str]


def flag_setter(command: str) -> InstallWith:
    """``command`` (a `kmeshctl install ...` line) as an InstallWith: the flag of the
    parameter named set to the value (where it is, else added at the end)."""
    return lambda name, value: shlex.join(set_flag(shlex.split(command), f"--{name.replace('_', '-')}", value))


def set_flag(words: list[str], flag: str, value: str) -> list[str]:
    """``words`` with ``flag`` set to ``value``: where it was typed, else added at the end."""
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            return [*words[:i + 1], value, *words[i + 2:]]
        if word.startswith(f"{flag}="):
            return [*words[:i], f"{flag}={value}", *words[i + 1:]]
    return [*words, flag, value]


def _typed_install(name: str, value: str) -> str:
    return f"kmeshctl install --{name.replace('_', '-')} {value}"


# The --timeout a rollout fix offers to wait longer: install's default, or twice the one that ran out.
LONGER_TIMEOUT_S = 300


def longer_timeout(timeout: float) -> str:
    """The --timeout value to wait longer than ``timeout`` (0: unknown): `5m`, or twice it."""
    return duration_words(max(LONGER_TIMEOUT_S, 2 * timeout) if timeout > 0 else LONGER_TIMEOUT_S)


def again_words(install_with: Optional[InstallWith], timeout: float = 0) -> str:
    """`re-run `kmeshctl install ... --timeout 5m`` (every flag typed, a longer --timeout):
    re-applying what is there changes nothing, so it only waits longer; without the
    command typed, the words."""
    if install_with is None:
        return "re-run install, or wait longer with --timeout"
    return f"re-run `{install_with('timeout', longer_timeout(timeout))}` (it waits longer; nothing else changes)"


def timeout_fix(state: RolloutState, namespace: str, istiod: Optional[IstiodUnreached] = None,
                install_with: Optional[InstallWith] = None, replaced: str = "", unmounted: str = "",
                timeout: float = 0, pull: str = "") -> str:
    """The fix of a rollout that timed out, by its cause: ``istiod`` (an agent that
    cannot connect to istiod, when one said so) by what istiod or the connection said
    (istiod_fix, with ``install_with`` the command to paste); an image that cannot be
    pulled by image_fix (``replaced``: the image it replaced, "" none known); a ConfigMap
    the pods cannot mount (``unmounted``: missing_configmap's) mount_fix; a crashing agent
    its logs; pods still being created, their image pull as ``pull`` (image_pull_state's)
    says it; otherwise where to look, then the install to paste with a --timeout longer
    than ``timeout`` (the one that ran out)."""
    stuck = state.not_ready()
    statuses = {p.status for p in stuck}
    again = again_words(install_with, timeout)
    if istiod is not None:
        return istiod_fix(istiod, namespace, install_with)
    if statuses & IMAGE_REASONS:
        return image_fix(stuck, namespace, replaced, install_with or _typed_install)
    if any(p.not_started for p in stuck):
        return start_fix(stuck, namespace, replaced, install_with or _typed_install)
    if unmounted:
        return mount_fix(unmounted, namespace, again)
    if pull and "ContainerCreating" in statuses:
        return _pull_fix(next(p for p in stuck if p.status == "ContainerCreating"), pull, namespace, replaced,
                         install_with, timeout)
    if "CrashLoopBackOff" in statuses:
        crashing = next(p for p in stuck if p.status == "CrashLoopBackOff")
        return (f"see why the agent exits with `kubectl logs -n {namespace} {crashing.name} --previous`, "
                f"then {again}")
    if not state.pods:
        return f"no agent pod was scheduled: check the nodes (`kubectl get nodes`), then {again}"
    return f"see each pod's state with `kmeshctl status -n {namespace}`, then {again}"


def _pull_fix(pod: PodState, pull: str, namespace: str, replaced: str, install_with: Optional[InstallWith],
              timeout: float) -> str:
    """The fix of agent pod ``pod`` still being created when the wait ran out, by its image
    pull (``pull``): failed, image_fix's (its state says so next); still pulling, the longer
    wait, which ends early once the pull fails; pulled, where to look (not the image)."""
    if pull.startswith("failed: "):
        head = (f"the image {pod.image} cannot be pulled (the kubelet's last event: {pull.removeprefix('failed: ')}): "
                "fix --image (or the nodes' registry access) and re-run install")
        return _image_put_back(pod, head, replaced, install_with or _typed_install) or (
            f"{head}; `kubectl describe pod -n {namespace} {pod.name}` shows the kubelet's events")
    again = again_words(install_with, timeout)
    if pull == "pulling" and install_with is not None:
        return (f"the image {pod.image} is still being pulled (the kubelet's last event: Pulling): re-run "
                f"`{install_with('timeout', longer_timeout(timeout))}` (it waits longer, and stops early once the pull "
                "fails; nothing else changes)")
    if pull == "pulling":
        return f"the image {pod.image} is still being pulled (the kubelet's last event: Pulling): {again}"
    return (f"the image is pulled; see why the pod is not created yet with `kubectl describe pod -n {namespace} "
            f"{pod.name}`, then {again}")


_CONFIGMAP_NOT_FOUND = re.compile(r'configmap "([^"]+)" not found')


def missing_configmap(client: KubeClient, stuck: list[PodState]) -> str:
    """The ConfigMap the kubelet cannot mount into a pod of ``stuck`` waiting in
    ContainerCreating, from the pod's FailedMount events (`configmap "istio-ca-root-cert"
    not found`); "" when none says so or the events cannot be read (only a fix depends on it)."""
    waiting = [p for p in stuck if p.status == "ContainerCreating"]
    if not waiting or not client.is_served("v1", "Event"):
        return ""
    try:
        events = client.list("v1", "Event", waiting[0].namespace, field_selector="reason=FailedMount")
    except KmeshctlError:
        return ""
    names = {p.name for p in waiting}
    for event in events:
        found = _CONFIGMAP_NOT_FOUND.search(event.get("message") or "")
        if found and (event.get("involvedObject") or {}).get("name") in names:
            return found.group(1)
    return ""


_PULL_EVENTS = ("Pulling", "Pulled", "Failed", "BackOff")  # the kubelet's events of an image pull


def image_pull_state(client: KubeClient, stuck: list[PodState]) -> str:
    """How the image pull of the first pod of ``stuck`` waiting in ContainerCreating stands,
    by its latest pull event: `pulling` (still being pulled), `failed: MESSAGE` (the kubelet
    failed it; the pod's state says so next), `pulled`; "" when none says or the events cannot
    be read (only a fix depends on it). A timeout seen before the pull ended says which."""
    waiting = [p for p in stuck if p.status == "ContainerCreating"]
    if not waiting or not client.is_served("v1", "Event"):
        return ""
    try:
        events = client.list("v1", "Event", waiting[0].namespace)
    except KmeshctlError:
        return ""
    name = waiting[0].name
    pulls = [e for e in events if (e.get("involvedObject") or {}).get("name") == name
             and e.get("reason") in _PULL_EVENTS]
    if not pulls:
        return ""
    last = max(pulls, key=lambda e: (e.get("lastTimestamp") or e.get("eventTime") or
                                     (e.get("metadata") or {}).get("creationTimestamp") or ""))
    reason = last.get("reason")
    if reason in ("Failed", "BackOff"):
        return f"failed: {' '.join(str(last.get('message') or reason).split())[:EXIT_MESSAGE_MAX]}"
    return "pulling" if reason == "Pulling" else "pulled"


def mount_fix(configmap: str, namespace: str, again: str = "re-run install") -> str:
    """The fix of agent pods that cannot start because ConfigMap ``configmap`` is missing
    from ``namespace``: istiod's root certificate (istiod writes it to every namespace)
    needs istiod running; another, the pod's events."""
    said = f"ConfigMap {configmap} not found in namespace {namespace} (the pods' FailedMount events)"
    if configmap == ROOT_CERT_CONFIGMAP:
        return (f"{said}: istiod writes it to every namespace once it runs: get istiod running (`kubectl get deploy "
                f"-A -l app=istiod` shows its ready replicas), then {again}")
    return f"{said}: see `kubectl -n {namespace} get events --field-selector reason=FailedMount`, then {again}"


def image_fix(stuck: list[PodState], namespace: str, replaced: str, install_with: InstallWith) -> str:
    """What to do when agents of ``stuck`` cannot pull their image, with the install to
    paste (``install_with``: every other flag kept): ``replaced`` (the image the failing
    one replaced) put back; with none, kmeshctl's default image when the failing one is
    another; else the kubelet's events (`kubectl describe pod`), the registry being the
    nodes' to mend. Waiting is no fix: the kubelet backs off further each time."""
    pod = next(p for p in stuck if p.status in IMAGE_REASONS)
    head = "the image cannot be pulled: fix --image (or the nodes' registry access) and re-run install"
    return _image_put_back(pod, head, replaced, install_with) or (
        f"the image {pod.image} cannot be pulled: check the nodes' registry access (`kubectl describe pod -n "
        f"{namespace} {pod.name}` shows the kubelet's events), then re-run install")


def start_fix(stuck: list[PodState], namespace: str, replaced: str, install_with: InstallWith) -> str:
    """What to do when the container of agents of ``stuck`` cannot start (PodState.not_started:
    its image has no agent to run, so it has no log): the runtime's words, and --image
    fixed, the install to paste as image_fix's; with kmeshctl's default image, the
    kubelet's events."""
    pod = next(p for p in stuck if p.not_started)
    said = pod.last_exit or pod.reason
    head = f"the agent's container cannot start in image {pod.image} ({said}): fix --image and re-run install"
    return _image_put_back(pod, head, replaced, install_with) or (
        f"the agent's container cannot start in image {pod.image} ({said}): see why in the kubelet's events "
        f"(`kubectl describe pod -n {namespace} {pod.name}`), then re-run install")


def _image_put_back(pod: PodState, head: str, replaced: str, install_with: InstallWith) -> str:
    """``head`` and the install that puts back the image ``pod``'s replaced (``replaced``),
    else kmeshctl's default image; "" when ``pod`` runs the default image (none to offer)."""
    put_back = put_back_words(pod.image, replaced, install_with)
    if put_back:
        return f"{head}{put_back}"
    if pod.image != DEFAULT_IMAGE:
        return (f"{head}, or install kmeshctl's default image instead of {pod.image}: "
                f"`{install_with('image', DEFAULT_IMAGE)}`")
    return ""


def put_back_words(image: str, replaced: str, command_with: InstallWith) -> str:
    """`, or put back OLD, the image NEW replaced: `LINE`` (``command_with`` the command with
    its --image OLD; install's and waypoint apply's words); "" when no other image is known."""
    if not replaced or replaced == image:
        return ""
    return f", or put back {replaced}, the image {image} replaced: `{command_with('image', replaced)}`"


def replaced_image(client: KubeClient, daemonset: dict, before: str = "") -> str:
    """The image the current template of ``daemonset`` (as read) replaced: ``before`` (its
    image before this install applied) when another; else that of its ready pods still
    running another (a rolling update stops at the first node that cannot pull); else the
    newest ControllerRevision's with another (the DaemonSet controller keeps the earlier
    templates). "" when none is known (a first install), or they cannot be read."""
    current = template_image(daemonset)
    if before and before != current:
        return before
    try:
        older = [p.image for p in daemonset_pods(client, daemonset) if p.ready and p.image != current]
        return older[0] if older else _revision_image(client, daemonset, current)
    except (ApiError, KmeshctlError):
        return ""  # only a suggestion depends on it


def _revision_image(client: KubeClient, daemonset: dict, current: str) -> str:
    """The image of ``daemonset``'s newest ControllerRevision whose template is not ``current``."""
    if not client.is_served("apps/v1", "ControllerRevision"):
        return ""
    meta = daemonset["metadata"]
    selector = selector_string(daemonset["spec"]["selector"].get("matchLabels", {}))
    revisions = [r for r in client.list("apps/v1", "ControllerRevision", meta["namespace"], label_selector=selector)
                 if any(o.get("uid") == meta.get("uid") for o in r["metadata"].get("ownerReferences") or [])]
    for revision in sorted(revisions, key=lambda r: int(r.get("revision") or 0), reverse=True):
        image = template_image(revision.get("data") or {})
        if image and image != current:
            return image
    return ""


def istiod_fix(agent: IstiodUnreached, namespace: str, install_with: Optional[InstallWith] = None,
               wait_longer: str = "wait longer with --timeout") -> str:
    """What to do when the agents do not connect to istiod, by what they were told: a
    refusal (UNAUTHENTICATED: istiod was reached, the cluster id or token is wrong) names
    --cluster-id with istiod's own when it is known; an address that is not the cluster's
    istiod names --xds-address with it; istiod's own address that fails names istiod's
    log. The install to paste keeps every flag typed (``install_with``); a placeholder
    only for a value not known, said so. ``wait_longer``: how to wait, offered when
    waiting may end it (never for a refusal)."""
    error = agent.error.split(AGENT_HINT_START)[0]  # the agent's own hint: what this fix says better
    said = f"{agent.address}: {error or 'not yet connected'}"
    command = install_with or _typed_install
    if error.startswith("UNAUTHENTICATED"):
        return _refused_fix(agent, said, command)
    if error.startswith(AGENT_FILES_ERROR):
        return (f"the agents cannot read their TLS or token files ({said}): check that ConfigMap {ROOT_CERT_CONFIGMAP} "
                f"exists in namespace {namespace} (`kubectl -n {namespace} get configmap {ROOT_CERT_CONFIGMAP}`; "
                "istiod writes it to every namespace), then re-run install")
    found = list(agent.found)
    longer = "" if refusal_kind(error) else f", or {wait_longer}"  # waiting never ends a refusal
    if agent.deployment and agent.deployment.none_ready:  # no istiod pod answers: its log is of no pod
        return _no_istiod_ready(agent.deployment, said, longer)
    if any(same_service(agent.address, address) for address in found):  # istiod's own address: istiod says why
        deployment = agent.deployment or guessed_deployment(agent.address)
        look = f"`{deployment.read_logs}`" if deployment else "the logs of istiod's pods"
        waiting = "" if error else "they may still be starting: "
        return (f"the agents have not connected to istiod, which the cluster has at that address ({said}): "
                f"{waiting}see istiod's log ({look}){longer}")
    others = f"; istiod Services found: {', '.join(found)}" if found else ""
    if len(found) == 1:
        return (f"the agents cannot reach istiod ({said}{others}): re-run install with istiod's address: "
                f"`{command('xds_address', found[0])}`{longer}")
    if found:  # several revisions: the first, to change for the one meant
        return (f"the agents cannot reach istiod ({said}{others}): re-run install with istiod's address: "
                f"`{command('xds_address', found[0])}` (or another of them: the revision meant){longer}")
    return (f"the agents cannot reach istiod ({said}): re-run install with --xds-address set to istiod's address "
            f"as the nodes reach it, HOST:{XDS_PORT} (no istiod Service was found in the cluster){longer}")


def _no_istiod_ready(deployment: IstiodDeployment, said: str, longer: str) -> str:
    """istiod's Deployment has no ready pod: scaled to 0 (scale it up), or its pods not
    ready (kubectl shows why); the agents connect once one is."""
    head = f"the agents cannot connect to istiod ({said}): {deployment.idle_text}: {deployment.idle_fix}"
    return f"{head}; the agents connect once istiod is ready" if deployment.replicas == 0 else f"{head}{longer}"


def _refused_fix(agent: IstiodUnreached, said: str, command: InstallWith) -> str:
    """istiod was reached and refused the agents: the cluster id they send (--cluster-id)
    is not one istiod knows, or their token is refused."""
    deployment = agent.deployment
    own = deployment.cluster_id if deployment else None
    if deployment and own and own != agent.cluster_id:
        source = (f"its {CLUSTER_ID_ENV} is not set: Istio's default" if deployment.defaulted else
                  f"its {CLUSTER_ID_ENV}: `{deployment.read_cluster_id}`")
        return (f"istiod refused the agents ({said}): --cluster-id {shown(agent.cluster_id)} is not istiod's "
                f"cluster id, which is {shown(own)} ({source}): re-run install with it: "
                f"`{command('cluster_id', own)}`")
    if deployment and own:
        return (f"istiod refused the agents' token ({said}), although --cluster-id {shown(own)} is istiod's own: "
                f"see why in istiod's log (`{deployment.read_logs}`), then re-run install")
    guessed = deployment or guessed_deployment(agent.address)
    how = (f"`{guessed.read_cluster_id}` prints it; nothing printed: {DEFAULT_CLUSTER_ID}" if guessed else
           "the id istiod knows this cluster by; ACK: the cluster id")
    return (f"istiod refused the agents' token or cluster id ({said}): re-run install with --cluster-id set to "
            f"istiod's own cluster id ({how}): `{command('cluster_id', CLUSTER_ID_UNKNOWN)}` with "
            f"{CLUSTER_ID_UNKNOWN} that id")


# -- reading pods -------------------------------------------------------------------------


def pod_state(pod: dict) -> PodState:
    meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    statuses = status.get("containerStatuses", [])
    ready = status.get("phase") == "Running" and _condition_true(status, "Ready")
    return PodState(
        name=meta["name"], namespace=meta.get("namespace", ""), node=spec.get("nodeName", ""),
        phase=status.get("phase", "Unknown"), ready=ready,
        restarts=sum(int(s.get("restartCount", 0)) for s in statuses),
        image=", ".join(c.get("image", "") for c in spec.get("containers", [])),
        reason="" if ready else not_ready_reason(status), created=meta.get("creationTimestamp", ""),
        last_exit="" if ready else last_exit(statuses), not_started=not ready and not_started(statuses),
        containers_up=all("running" in (s.get("state") or {}) for s in statuses),
        terminating=bool(meta.get("deletionTimestamp")),
    )


def not_serving(pod: PodState) -> str:
    """Why the agent in ``pod`` serves nothing to ask (no port-forward can reach it), ""
    when its phase is Running and its containers run: kubectl's STATUS word for a pod not
    Running (`Pending`, `ErrImagePull`) or being deleted (`Terminating`: its agent is
    stopping, the API server's port-forward to it fails), the kubelet's reason for a
    container down in a Running pod (`CrashLoopBackOff: last exit Error, exit code 1: ...`)."""
    if pod.phase != "Running" or pod.terminating:
        return pod.status
    return "" if pod.containers_up else pod.reason or pod.status


def unasked(pod: PodState) -> str:
    """Why the agent in ``pod`` is not asked (not_serving), as status and version say it
    (`pod is Pending`, `pod is Terminating`, `pod is not running (CrashLoopBackOff: ...)`);
    "" when it can be asked."""
    if pod.terminating or pod.phase != "Running":
        return f"pod is {TERMINATING if pod.terminating else pod.phase}"
    down = not_serving(pod)
    return f"pod is not running ({down})" if down else ""


def _condition_true(status: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions", []))


def not_ready_reason(status: dict) -> str:
    """The most telling reason a pod is not ready, e.g. `ImagePullBackOff: Back-off pulling image ...`;
    a container backing off after it ended, how it ended (`CrashLoopBackOff: last exit
    StartError, exit code 128: exec: ...`), which kubectl shows only in describe."""
    for container in status.get("containerStatuses", []):
        state = container.get("state", {})
        ended = (container.get("lastState") or {}).get("terminated")
        if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff" and ended:
            return f"CrashLoopBackOff: last exit {_ended_text(ended)}"
        for key in ("waiting", "terminated"):
            if key in state and state[key].get("reason"):
                reason, message = state[key]["reason"], state[key].get("message", "")
                if reason in START_REASONS:  # the runtime's chain of causes: its end is the one to read
                    message = exit_message(message)
                return f"{reason}: {message}" if message else reason
    for condition in status.get("conditions", []):
        if condition.get("status") != "True" and condition.get("reason"):
            return f"{condition['reason']}: {condition.get('message', '')}".rstrip(": ")
    return status.get("phase", "Unknown")


def last_exit(statuses: list[dict]) -> str:
    """How the first container that ended last ended (its state.terminated, else its
    lastState.terminated): `StartError, exit code 128: exec: ...`; "" when none has."""
    for container in statuses:
        for where in ("state", "lastState"):
            ended = (container.get(where) or {}).get("terminated")
            if ended:
                return _ended_text(ended)
    return ""


def not_started(statuses: list[dict]) -> bool:
    """A container of ``statuses`` could not be started by the runtime (START_REASONS: now
    or at its last try), or its command is not in its image."""
    for container in statuses:
        states = [(container.get("state") or {}).get(key) or {} for key in ("waiting", "terminated")]
        states.append((container.get("lastState") or {}).get("terminated") or {})
        if any(s.get("reason") in START_REASONS or "executable file not found" in str(s.get("message", ""))
               for s in states):
            return True
    return False


def _ended_text(terminated: dict) -> str:
    """`StartError, exit code 128: exec: ...` of a containerStatus's terminated state."""
    code = terminated.get("exitCode")
    text = f"{terminated.get('reason') or 'Terminated'}" + (f", exit code {code}" if code is not None else "")
    message = exit_message(str(terminated.get("message") or ""))
    return f"{text}: {message}" if message else text


def exit_message(message: str) -> str:
    """A runtime's message on one line in at most EXIT_MESSAGE_MAX chars: its causes are
    chained `a: b: cause`, so a longer one keeps its last parts (`... exec: "x": ...`)."""
    text = " ".join(message.split()).removesuffix(": unknown")
    if len(text) <= EXIT_MESSAGE_MAX:
        return text
    parts = text.split(": ")
    for start in range(1, len(parts)):
        tail = ": ".join(parts[start:])
        if len(tail) + 4 <= EXIT_MESSAGE_MAX:
            return f"... {tail}"
    return clip(parts[-1], EXIT_MESSAGE_MAX)


def age(timestamp: str) -> str:
    if not timestamp:
        return ""
    created = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    seconds = int((datetime.now(timezone.utc) - created).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def daemonset_pods(client: KubeClient, daemonset: dict) -> list[PodState]:
    selector = selector_string(daemonset["spec"]["selector"].get("matchLabels", {}))
    uid = daemonset["metadata"].get("uid")
    pods = client.list("v1", "Pod", namespace=daemonset["metadata"]["namespace"], label_selector=selector)
    owned = [p for p in pods if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences", []))]
    return sorted((pod_state(p) for p in owned), key=lambda p: (p.node, p.name))


def read_rollout(client: KubeClient, namespace: str, name: str) -> RolloutState:
    ds = client.get("apps/v1", "DaemonSet", name, namespace)
    if ds is None:
        return RolloutState(found=False)
    status = ds.get("status", {})
    return RolloutState(
        found=True,
        desired=int(status.get("desiredNumberScheduled", 0)),
        updated=int(status.get("updatedNumberScheduled", 0)),
        ready=int(status.get("numberReady", 0)),
        observed=int(status.get("observedGeneration", 0)) >= int(ds["metadata"].get("generation", 1)),
        pods=daemonset_pods(client, ds),
        deleting=bool(ds["metadata"].get("deletionTimestamp")),
    )


# -- waiting ------------------------------------------------------------------------------


def wait_for_rollout(
    client: KubeClient,
    namespace: str,
    name: str,
    timeout: float,
    console: Optional[Console] = None,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    refused: Optional[Callable[[RolloutState], str]] = None,
) -> RolloutState:
    """Poll until every desired pod is updated and ready; RolloutTimeout after `timeout` s
    (math.inf: no limit), or as soon as ``refused`` (a RefusalWatch) names a refusal by
    istiod that waiting cannot end, or every agent not ready has waited on its image for
    IMAGE_HOLD_S (ImageWatch: the kubelet backs off, a longer wait cannot help); RolloutGone
    as soon as the DaemonSet (applied before the wait) is not found or is being deleted.
    On a terminal a live view; otherwise (a CI log) plain lines, each printed as the state
    changes."""
    console = console or Console()
    start = clock()
    refusal, image = refused or (lambda _state: ""), ImageWatch(clock)
    on_image: list[str] = []  # what the image watch said, when it ended the wait

    def stop(current: RolloutState) -> str:
        said = refusal(current)
        if not said and (waits := image(current)):
            on_image.append(waits)
            return waits
        return said
    state = read_rollout(client, namespace, name)
    if console.is_terminal and not console.is_dumb_terminal:  # TERM=dumb cannot redraw: lines as in a log
        with Live(rollout_view(namespace, name, state, 0, timeout), console=console, auto_refresh=False) as live:
            state, said = _poll(client, namespace, name, timeout, state, poll, clock, start,
                                lambda s, waited: live.update(rollout_view(namespace, name, s, waited, timeout),
                                                              refresh=True), stop)
    else:
        shown: list[list[str]] = [[]]

        def show(current: RolloutState, waited: float) -> None:
            lines = rollout_lines(namespace, name, current)
            if lines != shown[0]:
                shown[0] = lines
                console.print("\n".join([lines[0], waited_text(waited, timeout), *lines[1:]]), markup=False,
                              highlight=False, soft_wrap=True)
                console.file.flush()

        show(state, 0)
        state, said = _poll(client, namespace, name, timeout, state, poll, clock, start, show, stop)
    if not state.found or state.deleting:
        raise RolloutGone(namespace, name, state.deleting)
    if on_image:
        raise RolloutTimeout(f"DaemonSet {namespace}/{name} not ready: every agent not ready has waited on its image "
                             f"for {duration_words(IMAGE_HOLD_S)} ({on_image[0]}), which waiting longer does not end "
                             f"(stopped after {duration_words(round(clock() - start))})", state,
                             timeout_fix(state, namespace))
    if said:
        raise RolloutTimeout(f"DaemonSet {namespace}/{name} not ready: every agent not ready has reported the same "
                             f"refusal from istiod's address for {duration_words(REFUSAL_HOLD_S)}, which waiting "
                             f"longer does not end (stopped after {duration_words(round(clock() - start))})", state,
                             f"the agents report {said}: see `kmeshctl status -n {namespace}`, fix it, then re-run "
                             "install", refused=said)
    if not state.done:
        reasons = sorted({p.status for p in state.not_ready()}) or ["no pods scheduled"]
        raise RolloutTimeout(f"DaemonSet {namespace}/{name} not ready after {duration_words(timeout)} ({state.ready}/"
                             f"{state.desired} ready; {', '.join(reasons)})", state, timeout_fix(state, namespace))
    return state


def _poll(client: KubeClient, namespace: str, name: str, timeout: float, state: RolloutState, poll: float,
          clock: Callable[[], float], start: float, show: Callable[[RolloutState, float], None],
          refused: Callable[[RolloutState], str]) -> tuple[RolloutState, str]:
    """(the last state, the refusal that stopped the wait early or ""); it ends at once
    when the DaemonSet is gone or going."""
    while not state.done and state.found and not state.deleting:
        waited = clock() - start
        if waited >= timeout:
            break
        time.sleep(min(poll, max(timeout - waited, 0)))
        state = read_rollout(client, namespace, name)
        show(state, clock() - start)
        said = "" if state.done else refused(state)
        if said:
            return state, said
    return state, ""


def counts_text(desired: int, updated: int, ready: int) -> str:
    """`desired 2  updated 2  ready 0`: the one wording of a DaemonSet's counts (install's
    progress, live or in a log, and status)."""
    return f"desired {desired}  updated {updated}  ready {ready}"


def waited_text(waited: float, timeout: float) -> str:
    """`waited 12s, limit 5m` (`waited 12s, no limit`: --timeout 0), asciinum's spelling."""
    return f"waited {waited_words(waited, timeout)}"


def rollout_lines(namespace: str, name: str, state: RolloutState) -> list[str]:
    """The rollout as plain lines (no table rules, no trailing spaces): for a log. The
    same words as the live view; each pod's state as its STATUS word (the kubelet's
    message is in the list of pods not ready, should the wait end without them)."""
    from kmeshctl.cli.tables import EMPTY

    if not state.found:
        return [f"DaemonSet {namespace}/{name}: not found yet"]
    lines = [f"DaemonSet {namespace}/{name}: {counts_text(state.desired, state.updated, state.ready)}"]
    for pod in state.pods:
        lines.append(f"  pod {pod.name} on node {pod.node or EMPTY}: "
                     + ("ready" if pod.ready else f"not ready ({pod.status})"))
    return lines


def rollout_view(namespace: str, name: str, state: RolloutState, waited: float, timeout: float) -> Group:
    """The live view: the counts, the time waited and the pods, in the one table style of
    every command (kmeshctl.cli.tables), colour only where styles are wanted (never under
    NO_COLOR or TERM=dumb)."""
    from kmeshctl.cli.tables import styled_terminal

    styled = styled_terminal()
    if not state.found:
        summary = Text(f"DaemonSet {namespace}/{name}: not found yet", style="yellow" if styled else "")
    else:
        style = ("green" if state.done else "yellow") if styled else ""
        summary = Text(f"DaemonSet {namespace}/{name}: {counts_text(state.desired, state.updated, state.ready)}",
                       style=style)
    limit = Text(waited_text(waited, timeout), style="dim" if styled else "")
    return Group(summary, limit, pods_table(state.pods))


def pods_table(pods: list[PodState]) -> Table:
    from kmeshctl.cli.tables import EMPTY, terminal_style

    table = Table()
    for column in ("NODE", "POD", "READY", "STATUS"):
        table.add_column(column)
    for pod in pods:
        # a word, as kubectl
        table.add_row(pod.node or EMPTY, pod.name, "yes" if pod.ready else "no", escape(pod.status))
    terminal_style(table)
    return table
