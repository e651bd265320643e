"""Waiting for the node-agent DaemonSet to roll out, with a live view of desired /
updated / ready and the pod on each node, under a visible time limit. Also how a pod's
readiness is read (shared with `status`)."""

from __future__ import annotations

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
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient

POLL_SECONDS = 1.0


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

    @property
    def status(self) -> str:
        """kubectl's STATUS word (`Running`, `ErrImagePull`, `CrashLoopBackOff`, `Pending`):
        what a table cell shows; ``reason`` (the kubelet's message) is for the text below it."""
        head = self.reason.split(":")[0].strip()
        return self.phase if self.ready or not head or head in _CONDITION_ONLY else head

    def to_dict(self) -> dict:
        return {"name": self.name, "namespace": self.namespace, "node": self.node, "phase": self.phase,
                "ready": self.ready, "status": self.status, "restarts": self.restarts, "image": self.image,
                "reason": self.reason, "age": age(self.created)}


# A pod condition's reason that says no more than the phase (kubectl shows the phase then).
_CONDITION_ONLY = frozenset({"ContainersNotReady", "PodCompleted"})
IMAGE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})


@dataclass(frozen=True)
class RolloutState:
    found: bool
    desired: int = 0
    updated: int = 0
    ready: int = 0
    observed: bool = False  # the controller has seen the latest spec
    pods: list[PodState] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.found and self.observed and self.updated == self.desired and self.ready == self.desired

    def not_ready(self) -> list[PodState]:
        return [p for p in self.pods if not p.ready]


class RolloutTimeout(KmeshctlError):
    """The rollout did not finish in time; its fix is chosen by the cause (timeout_fix),
    the caller may choose again knowing more (the agents' istiod connection)."""

    def __init__(self, problem: str, state: RolloutState, fix: str) -> None:
        super().__init__(problem, fix=fix)
        self.state = state


def timeout_fix(state: RolloutState, namespace: str, istiod_unreached: str = "", xds_command: str = "") -> str:
    """The fix of a rollout that timed out, by its cause: ``istiod_unreached`` (why the
    agents cannot reach istiod, when they said so) names --xds-address, with
    ``xds_command`` (the install to paste, every flag typed, that address set); an image
    that cannot be pulled --image; a crashing agent its logs; otherwise where to look."""
    stuck = state.not_ready()
    statuses = {p.status for p in stuck}
    again = "re-run install, or wait longer with --timeout"
    if istiod_unreached and xds_command:
        return (f"the agents cannot reach istiod ({istiod_unreached}): re-run install with istiod's address: "
                f"`{xds_command}`, or wait longer with --timeout")
    if istiod_unreached:
        return f"the agents cannot reach istiod ({istiod_unreached}): fix --xds-address, then {again}"
    if statuses & IMAGE_REASONS:
        return f"the image cannot be pulled: fix --image (or the nodes' registry access), then {again}"
    if "CrashLoopBackOff" in statuses:
        return (f"see why the agent exits with `kubectl logs -n {namespace} {stuck[0].name} --previous`, "
                f"then {again}")
    if not state.pods:
        return f"no agent pod was scheduled: check the nodes (`kubectl get nodes`), then {again}"
    return f"see each pod's state with `kmeshctl status -n {namespace}`, then {again}"


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
    )


def _condition_true(status: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions", []))


def not_ready_reason(status: dict) -> str:
    """The most telling reason a pod is not ready, e.g. `ImagePullBackOff: Back-off pulling image ...`."""
    for container in status.get("containerStatuses", []):
        state = container.get("state", {})
        for key in ("waiting", "terminated"):
            if key in state and state[key].get("reason"):
                message = state[key].get("message", "")
                return f"{state[key]['reason']}: {message}" if message else state[key]["reason"]
    for condition in status.get("conditions", []):
        if condition.get("status") != "True" and condition.get("reason"):
            return f"{condition['reason']}: {condition.get('message', '')}".rstrip(": ")
    return status.get("phase", "Unknown")


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
) -> RolloutState:
    """Poll until every desired pod is updated and ready; RolloutTimeout after `timeout` s
    (math.inf: no limit). On a terminal a live view; otherwise (a CI log) plain lines, each
    printed as the state changes."""
    console = console or Console()
    start = clock()
    state = read_rollout(client, namespace, name)
    if console.is_terminal and not console.is_dumb_terminal:  # TERM=dumb cannot redraw: lines as in a log
        with Live(rollout_view(namespace, name, state, 0, timeout), console=console, auto_refresh=False) as live:
            state = _poll(client, namespace, name, timeout, state, poll, clock, start,
                          lambda s, waited: live.update(rollout_view(namespace, name, s, waited, timeout),
                                                        refresh=True))
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
        state = _poll(client, namespace, name, timeout, state, poll, clock, start, show)
    if not state.done:
        reasons = sorted({p.status for p in state.not_ready()}) or ["no pods scheduled"]
        raise RolloutTimeout(f"DaemonSet {namespace}/{name} not ready after {duration_words(timeout)} ({state.ready}/"
                             f"{state.desired} ready; {', '.join(reasons)})", state, timeout_fix(state, namespace))
    return state


def _poll(client: KubeClient, namespace: str, name: str, timeout: float, state: RolloutState, poll: float,
          clock: Callable[[], float], start: float, show: Callable[[RolloutState, float], None]) -> RolloutState:
    while not state.done:
        waited = clock() - start
        if waited >= timeout:
            break
        time.sleep(min(poll, max(timeout - waited, 0)))
        state = read_rollout(client, namespace, name)
        show(state, clock() - start)
    return state


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
