"""Enrolling namespaces in the mesh: the label `istio.io/dataplane-mode=Kmesh` on a
namespace enrolls its pods; the node agent then marks each enrolled pod with the
annotation `kmesh.net/redirection: enabled` (facts section 5)."""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from kmeshctl.asciinum import duration_words
from kmeshctl.enrollment import (MODE_KMESH, MODE_LABEL, MODE_NONE, REDIRECTION_ANNOTATION, PodView, decide,
                                 is_annotated, namespace_enabled)
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import ApiError, KubeClient
from kmeshctl.params import DNS1123_LABEL_RE, counted, shown

MODE_VALUE = "Kmesh"
# enable-ns --overwrite keeps the data plane label it replaced here; disable-ns puts it back
PREVIOUS_MODE_ANNOTATION = "kmeshctl.io/previous-dataplane-mode"


@dataclass(frozen=True)
class NamespaceChange:
    name: str
    changed: bool
    sidecar_injection: bool  # the namespace also asks for Istio sidecars
    other_mode: str = ""  # another data plane's label value it had (enable: replaced; disable: left)
    restored: str = ""  # disable: the label value enable-ns --overwrite had replaced, put back
    replaced: str = ""  # enable --overwrite: the other data plane's label value it replaced
    injection_labels: tuple[str, ...] = ()  # the labels that turn Istio sidecar injection on (injection_labels)

    def to_dict(self) -> dict:
        """enable-ns / disable-ns -o json|yaml (docs/usage.md): the labels replaced and put
        back as `istio.io/dataplane-mode=VALUE`, null when none was."""
        return {"name": self.name, "changed": self.changed, "sidecarInjection": self.sidecar_injection,
                "replacedLabel": _label(self.replaced), "restoredLabel": _label(self.restored)}


def _label(value: str) -> Optional[str]:
    return f"{MODE_LABEL}={value}" if value else None


@dataclass(frozen=True)
class PodEnrollment:
    name: str
    namespace: str
    phase: str
    annotated: bool
    expected: Optional[bool]  # should carry the annotation once the agent has seen it
    ip: str = ""  # status.podIP (empty until the pod has one)
    node: str = ""  # spec.nodeName (empty until scheduled)
    skipped: str = ""  # why the agent never marks it, whatever its namespace says (skip_reason)

    def to_dict(self) -> dict:
        return {"name": self.name, "namespace": self.namespace, "phase": self.phase,
                "annotated": self.annotated, "expected": self.expected, "skipped": self.skipped or None,
                "podIP": self.ip or None, "node": self.node or None}


# A namespace name is an RFC 1123 label (params.DNS1123_LABEL_RE).
DNS1123_RULE = ("an RFC 1123 label: at most 63 lower-case letters, digits or '-', starting and ending "
                "with a letter or digit")


def check_names(what: str, names: Iterable[str], kind: str = "namespace name", example: str = "default") -> None:
    """A UsageError naming ``what`` (the flag or argument as typed) and the rule for the
    first name that cannot be a ``kind`` (an RFC 1123 label); called before anything connects."""
    from kmeshctl.params import meant_namespace

    for name in names:
        if not DNS1123_LABEL_RE.match(name):
            meant = meant_namespace(name)  # `Canary` -> canary, as kubectl users mean it
            fix = f"; did you mean {what + ' ' if what.startswith('-') else ''}{meant}?" if meant else \
                f", e.g. {example}"
            raise UsageError(f"{what} {shown(name)}: not a valid {kind} ({DNS1123_RULE}){fix}")


def enrolled_namespaces(client: KubeClient) -> list[str]:
    labelled = client.list("v1", "Namespace", label_selector=MODE_LABEL)
    # a real API server leaves out empty labels: none is not enrolled
    return sorted(ns["metadata"]["name"] for ns in labelled
                  if namespace_enabled(ns["metadata"].get("labels") or {}))


def has_sidecar_injection(namespace: dict) -> bool:
    return bool(injection_labels(namespace))


def injection_labels(namespace: dict) -> tuple[str, ...]:
    """The labels of ``namespace`` that turn Istio sidecar injection on: istio-injection=enabled,
    istio.io/rev (any revision)."""
    labels = namespace["metadata"].get("labels") or {}
    return tuple(key for key in ("istio-injection", "istio.io/rev")
                 if (labels.get(key) == "enabled" if key == "istio-injection" else key in labels))


def sidecar_warning(change: NamespaceChange) -> str:
    """enable-ns's warning for a namespace with sidecar injection on, with the kubectl
    line that turns it off (each injection label removed)."""
    found = change.injection_labels or ("istio-injection", "istio.io/rev")
    remove = " ".join(f"{key}-" for key in found)
    return (f"namespace {change.name} also has Istio sidecar injection on ({', '.join(found)}); pods with a sidecar "
            f"are never enrolled: turn it off with `kubectl label namespace {change.name} {remove}`, then restart "
            "its pods")


SHOWN_NAMESPACES = 5  # a mistyped name's fix lists at most this many to choose from


class NamespacesNotFound(UsageError):
    """Named namespaces that do not exist (nothing was changed): ``missing`` those names,
    ``meant`` the existing name each close one is a typo of (did you mean), never one the
    command names already; ``repeats`` each missing name whose only close name is named
    already (one to leave out: pasted, a guess would name that namespace twice). The fix
    says which was meant when every missing name has a guess or a repeat, else lists the
    namespaces to pick from (enable: those it would enroll, else all; disable: those
    enrolled, else a few)."""

    def __init__(self, missing: list[str], meant: dict[str, str], listing: str, enable: bool,
                 repeats: Optional[dict[str, str]] = None) -> None:
        self.missing, self.meant, self.repeats = missing, meant, repeats or {}
        guesses = did_you_mean(meant, missing, self.repeats)
        # what a fix says besides creating the namespaces (the CLI adds the kubectl line)
        self.pick = f"correct the names ({listing})" + (f"; {guesses}" if guesses else "")
        if guesses and len(meant) + len(self.repeats) == len(missing):
            fix = guesses
        else:
            fix = ("create them first or " if enable else "") + self.pick
        super().__init__(f"namespace(s) not found: {', '.join(missing)} (nothing was changed)", fix=fix)

    @property
    def to_create(self) -> list[str]:
        """The missing names that are no typo of a namespace there: enable-ns's fix creates them."""
        return [name for name in self.missing if name not in self.meant and name not in self.repeats]

    def corrected(self, names: list[str]) -> Optional[list[str]]:
        """``names`` as typed with each guess in place of its typo and each repeat left out
        (the names of the command the fix offers); None when a missing name has neither."""
        if len(self.meant) + len(self.repeats) != len(self.missing):
            return None
        return [self.meant.get(name, name) for name in dict.fromkeys(names) if name not in self.repeats]


def did_you_mean(meant: dict[str, str], missing: list[str], repeats: Optional[dict[str, str]] = None) -> str:
    """`did you mean default?` (one typo), `did you mean default (for defualt) and demo
    (for dmeo)?` (several), `leave out demoo (close to demo, named already)?` (a typo of a
    name typed too); "" when none is close to a name."""
    said = []
    if meant:
        said.append(f"did you mean {meant[missing[0]]}?" if len(missing) == 1 else
                    f"did you mean {' and '.join(f'{right} (for {typed})' for typed, right in meant.items())}?")
    if repeats:
        left = " and ".join(f"{typed} (close to {named}, named already)" for typed, named in repeats.items())
        said.append(f"leave out {left}?")
    return " ".join(said)


# difflib ratio for a mistyped namespace name (cli.suggestions.SUGGEST_CLOSENESS, the
# closeness of every did-you-mean): a typo, not a look-alike
NAME_CLOSENESS = 0.75


def fetch_all(client: KubeClient, names: list[str], enable: bool = True) -> list[dict]:
    """Every named namespace, or NamespacesNotFound naming the missing ones (nothing
    changed), enable-ns and disable-ns alike: `did you mean default?` when a name is a
    typo of one that exists, else the namespaces to pick from. Enrolling, a missing
    namespace may also be one to create."""
    found = {name: client.get("v1", "Namespace", name) for name in dict.fromkeys(names)}
    missing = [name for name, ns in found.items() if ns is None]
    if missing:
        try:
            existing = sorted(ns["metadata"]["name"] for ns in client.list("v1", "Namespace"))
            enrolled = enrolled_namespaces(client) if not enable else []
        except ApiError as error:  # may get them by name, not list them: nothing to guess from
            if error.status not in (401, 403):
                raise
            raise NamespacesNotFound(missing, {}, "`kubectl get namespaces`", enable) from None
        meant, repeats = _guesses(missing, list(found), [enrolled, _enrollable(existing) if enable else existing])
        listing = _namespaces_to_enroll(existing) if enable else _namespaces_to_release(enrolled, existing)
        raise NamespacesNotFound(missing, meant, listing, enable, repeats)
    return list(found.values())  # type: ignore[arg-type]


def _guesses(missing: list[str], typed: list[str], pools: list[list[str]]) -> tuple[dict[str, str], dict[str, str]]:
    """(meant, repeats) of NamespacesNotFound: for each ``missing`` name the closest name of
    the first of ``pools`` that has one (enrolled before the rest) that is neither ``typed``
    nor guessed already; else, when the closest is one of those, a repeat naming it."""
    meant: dict[str, str] = {}
    repeats: dict[str, str] = {}
    for name in missing:
        named = set(typed) | set(meant.values())
        fresh = next((close for pool in pools if (close := _closest(name, [n for n in pool if n not in named]))), None)
        if fresh:
            meant[name] = fresh
        elif again := next((close for pool in pools if (close := _closest(name, [n for n in pool if n in named]))),
                           None):
            repeats[name] = again
    return meant, repeats


def _closest(name: str, names: list[str]) -> Optional[str]:
    close = difflib.get_close_matches(name, names, n=1, cutoff=NAME_CLOSENESS)
    return close[0] if close else None


def _enrollable(existing: list[str]) -> list[str]:
    """The namespaces of ``existing`` enable-ns does not refuse by name (system_namespaces)."""
    refused = system_namespaces()
    return [name for name in existing if name not in refused]


def _namespaces_to_enroll(existing: list[str]) -> str:
    """`namespaces: default, demo`: those enable-ns would take, else every one."""
    return f"namespaces: {_few(_enrollable(existing) or existing)}"


def _namespaces_to_release(enrolled: list[str], existing: list[str]) -> str:
    """`enrolled: demo, prod`, else `none is enrolled; namespaces: default, kube-system, ...`."""
    if enrolled:
        return f"enrolled: {_few(enrolled)}"
    return f"none is enrolled; namespaces: {_few(existing)}"


def _few(names: list[str]) -> str:
    more = len(names) - SHOWN_NAMESPACES
    return ", ".join(names[:SHOWN_NAMESPACES]) + (f" and {more} more (`kubectl get namespaces`)" if more > 0 else "")


def agent_namespaces(client: KubeClient) -> list[str]:
    """The namespaces a kmesh DaemonSet made by `kmeshctl install` is in (any namespace:
    install's -n chooses it), sorted: empty when the node agents are not installed. The one
    DaemonSet lookup: install, status and uninstall ask it too (kmeshctl.uninstall.install_namespaces)."""
    from kmeshctl.render import DAEMONSET_NAME, MANAGED_BY_SELECTOR

    return sorted(d["metadata"]["namespace"] for d in client.list("apps/v1", "DaemonSet", None, MANAGED_BY_SELECTOR)
                  if d["metadata"]["name"] == DAEMONSET_NAME)


class NoAgentToWaitFor(KmeshctlError):
    """enable-ns --wait with no node agent installed (nothing was changed): ``install`` the
    install to run first (istiod's cluster id in it when known); or installed where its
    DaemonSets want no pod (``idle``: their namespaces, idle_agent_namespaces), the status
    that says why."""

    def __init__(self, install: str, without_wait: str = "", idle: Sequence[str] = ()) -> None:
        from kmeshctl.params import DEFAULT_NAMESPACE

        self.install, self.idle = install, list(idle)
        leave_out = f"leave out --wait: `{without_wait}`" if without_wait else "leave out --wait"
        wait = "--wait would wait for an agent that is not there (nothing was changed)"
        if self.idle:
            super().__init__(f"{idle_words(self.idle)}: {wait}",
                             fix=f"see why with `kmeshctl status -n {self.idle[0]}`, or {leave_out}")
            return
        super().__init__(f"the kmesh DaemonSet is not installed (none in {DEFAULT_NAMESPACE} or any other "
                         f"namespace): {wait}", fix=f"install first: `{install}`, or {leave_out}")


def idle_words(idle: Sequence[str]) -> str:
    """`the kmesh DaemonSet kmesh-system/kmesh wants 0 pods (no node matches its
    nodeSelector / tolerations)` for the namespaces ``idle`` (idle_agent_namespaces)."""
    from kmeshctl.render import DAEMONSET_NAME

    refs = ", ".join(f"{name}/{DAEMONSET_NAME}" for name in idle)
    return (f"the kmesh DaemonSet{'s' if len(idle) > 1 else ''} {refs} "
            f"want{'' if len(idle) > 1 else 's'} 0 pods (no node matches "
            f"{'their' if len(idle) > 1 else 'its'} nodeSelector / tolerations)")


def idle_agent_namespaces(client: KubeClient, namespaces: Sequence[str]) -> list[str]:
    """Those of ``namespaces`` (agent_namespaces) whose kmesh DaemonSet its controller has
    seen and schedules no pod on (desiredNumberScheduled 0): no agent there marks or
    unmarks a pod. One not yet seen by its controller (no status) may still run pods."""
    from kmeshctl.render import DAEMONSET_NAME

    idle = []
    for name in namespaces:
        ds = client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, name) or {}
        status = ds.get("status") or {}
        seen = int(status.get("observedGeneration", 0)) >= int((ds.get("metadata") or {}).get("generation", 1))
        if ds and seen and not int(status.get("desiredNumberScheduled", 0)):
            idle.append(name)
    return idle


def check_agents_for_wait(client: KubeClient) -> None:
    """--wait with no node agent installed, or only DaemonSets that want no pod, would wait
    its whole limit for marks nobody makes: a failure at once (exit 1, nothing changed)
    instead, NoAgentToWaitFor."""
    from kmeshctl.istiod import known_cluster_id
    from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, install_command

    installed = agent_namespaces(client)
    idle = idle_agent_namespaces(client, installed)
    if not installed or len(idle) == len(installed):
        raise NoAgentToWaitFor(install_command(known_cluster_id(client, DEFAULT_ISTIO_NAMESPACE)), idle=idle)


class NotToEnroll(UsageError):
    """enable-ns named a namespace that is never enrolled (nothing was changed): ``names``
    the refused ones, ``reasons`` why each (a phrase)."""

    def __init__(self, reasons: dict[str, str]) -> None:
        self.names, self.reasons = list(reasons), reasons
        said = "; ".join(f"namespace {name} {why}" for name, why in reasons.items())
        super().__init__(f"{said}: enrolling {'it' if len(reasons) == 1 else 'them'} makes no sense "
                         "(nothing was changed)")


class EnrolledElsewhere(UsageError):
    """enable-ns over another data plane's label, without --overwrite (as `kubectl label`):
    ``found`` maps each such namespace to its label's value (nothing was changed)."""

    def __init__(self, found: dict[str, str]) -> None:
        self.found = found
        said = ", ".join(f"namespace {name} is {_elsewhere_words(value)}" for name, value in found.items())
        super().__init__(f"{said} (nothing was changed)")


def _elsewhere_words(value: str) -> str:
    if value.lower() == MODE_NONE:
        return f"opted out of every data plane ({MODE_LABEL}={value})"
    return f"enrolled in another data plane ({MODE_LABEL}={value})"


def other_data_plane(namespace: dict) -> Optional[str]:
    """The value of the namespace's mode label when it is another data plane's (`ambient`,
    or `none`, an opt-out); None when unlabelled or kmesh's."""
    value = (namespace["metadata"].get("labels") or {}).get(MODE_LABEL)
    return value if value and value.lower() != MODE_KMESH else None


def system_namespaces() -> dict[str, str]:
    """never_enrolled's namespaces known without a cluster (Kubernetes', Istio's, kmesh's
    default install namespace), each with why; `waypoint apply` refuses them too."""
    from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, DEFAULT_NAMESPACE, RESERVED_NAMESPACES

    # `default` is reserved for install's -n, yet the usual home of an app: enrollable
    reasons = {name: "is Kubernetes' own" for name in sorted(RESERVED_NAMESPACES - {"default"})}
    reasons[DEFAULT_ISTIO_NAMESPACE] = "holds Istio's control plane (istiod)"
    reasons[DEFAULT_NAMESPACE] = "is kmesh's own (where install puts the node agent)"
    return reasons


def never_enrolled(client: KubeClient) -> dict[str, str]:
    """The namespaces enable-ns refuses, each with why: where kmesh's own node agent runs
    (install's namespace, found from its DaemonSet), Istio's root namespace and Kubernetes'
    own. A user who may not list DaemonSets gets the default install namespace only."""
    try:
        running = agent_namespaces(client)
    except ApiError as error:
        if error.status not in (401, 403, 404):
            raise
        running = []
    reasons = system_namespaces()
    from kmeshctl.render import DAEMONSET_NAME

    for name in running:
        reasons[name] = f"is where the kmesh node agent runs (DaemonSet {name}/{DAEMONSET_NAME})"
    return reasons


def check_not_system(names: list[str]) -> None:
    """enable-ns's refusal (NotToEnroll) of system_namespaces, known without a cluster: said
    before connecting, as `waypoint apply -n kube-system` says its own."""
    known = system_namespaces()
    own = {name: known[name] for name in dict.fromkeys(names) if name in known}
    if own:
        raise NotToEnroll(own)


# The conditions of a Terminating namespace that say what holds it (its content, their finalizers)
HOLDING_CONDITIONS = ("NamespaceContentRemaining", "NamespaceFinalizersRemaining")


def terminating_why(live: Optional[dict]) -> Optional[str]:
    """`Terminating` or `Terminating: <what holds it>` (its holding conditions' messages)
    when Namespace ``live`` (as read; None: absent) is being deleted; None when it is not."""
    if live is None or not (live.get("metadata") or {}).get("deletionTimestamp"):
        return None
    held = [c.get("message", "") for c in (live.get("status") or {}).get("conditions") or []
            if c.get("type") in HOLDING_CONDITIONS and c.get("status") == "True" and c.get("message")]
    return "Terminating" + (f": {'; '.join(held)}" if held else "")


class NamespacesTerminating(KmeshctlError):
    """enable-ns of namespaces being deleted (``found``: name -> terminating_why's words),
    exit 1, nothing changed: their pods are going and no new one starts there, so the
    label would enroll nothing (as waypoint apply and the demo refuse them)."""

    def __init__(self, found: dict[str, str]) -> None:
        names = list(found)
        said = "; ".join(f"{name}: {why}" for name, why in found.items()) if len(names) > 1 else found[names[0]]
        super().__init__(f"{'namespace' if len(names) == 1 else 'namespaces'} {', '.join(names)} "
                         f"{'is' if len(names) == 1 else 'are'} being deleted ({said}): nothing there to enroll; "
                         "nothing was changed",
                         fix=f"`kubectl get namespace {names[0]} -o yaml` shows what holds it; once it is gone, "
                             f"re-create it (`kubectl create namespace {names[0]}`) and re-run, or leave it out")
        self.found = found


def check_enrollable(client: KubeClient, found: list[dict], overwrite: bool) -> None:
    """Before any change: no namespace that is never enrolled (NotToEnroll), none being
    deleted (NamespacesTerminating), and, unless
    ``overwrite``, none another data plane has (EnrolledElsewhere)."""
    names = [ns["metadata"]["name"] for ns in found]
    refused = never_enrolled(client)
    own = {name: refused[name] for name in names if name in refused}
    if own:
        raise NotToEnroll(own)
    going = {ns["metadata"]["name"]: why for ns in found if (why := terminating_why(ns)) is not None}
    if going:
        raise NamespacesTerminating(going)
    elsewhere = {ns["metadata"]["name"]: value for ns in found if (value := other_data_plane(ns))}
    if elsewhere and not overwrite:
        raise EnrolledElsewhere(elsewhere)


def set_mode_label(client: KubeClient, names: list[str], enable: bool, overwrite: bool = False) -> list[NamespaceChange]:
    """Add (enable) or remove the mesh label on every namespace, after checking they all
    exist and (enable) may be enrolled: nothing changes unless every one can. Releasing
    leaves another data plane's label as it is (NamespaceChange.other_mode says so)."""
    return label_namespaces(client, checked_namespaces(client, names, enable, overwrite), enable)


def checked_namespaces(client: KubeClient, names: list[str], enable: bool, overwrite: bool = False) -> list[dict]:
    """Every named namespace as read, once each, when all exist (fetch_all) and (enable)
    may be enrolled (check_enrollable); their refusals otherwise, nothing changed."""
    found = fetch_all(client, names, enable)
    if enable:
        check_enrollable(client, found, overwrite)
    return found


class PartlyLabelled(KmeshctlError):
    """A label patch failed after others went through (the API server failing between
    them: each was checked by a dry run first): says which namespaces changed."""

    def __init__(self, done: list[str], failed: str, enable: bool, error: KmeshctlError) -> None:
        changed = "enrolled" if enable else "released"
        super().__init__(f"namespace {failed} not {changed}: {error.problem} (already {changed}: {', '.join(done)})",
                         error.exit_code, fix=error.fix or "re-run the same command once the API server answers")


def label_namespaces(client: KubeClient, found: list[dict], enable: bool) -> list[NamespaceChange]:
    """Add (enable) or remove the mesh label on each namespace of ``found`` (checked_namespaces').
    With more than one to change, each patch is a server dry run first (RBAC, admission), so
    a refusal changes none; a failure after that is PartlyLabelled."""
    patches = {ns["metadata"]["name"]: _mode_patch(ns, enable) for ns in found
               if namespace_enabled(ns["metadata"].get("labels") or {}) != enable}
    if len(patches) > 1:
        for name, patch in patches.items():
            client.merge_patch("v1", "Namespace", name, patch, dry_run=True)
    done: list[str] = []
    for name, patch in patches.items():
        try:
            client.merge_patch("v1", "Namespace", name, patch)
        except KmeshctlError as err:
            if done:
                raise PartlyLabelled(done, name, enable, err) from err
            raise
        done.append(name)
    return [_change(ns, enable, ns["metadata"]["name"] in patches) for ns in found]


def _change(ns: dict, enable: bool, needs_change: bool) -> NamespaceChange:
    """What labelling namespace ``ns`` (as read before) did."""
    restored = "" if enable or not needs_change else previous_mode(ns)
    other = other_data_plane(ns) or ""
    return NamespaceChange(ns["metadata"]["name"], needs_change, has_sidecar_injection(ns), other, restored,
                           other if enable and needs_change else "", injection_labels(ns))


def previous_mode(namespace: dict) -> str:
    """The data plane label value enable-ns --overwrite replaced on ``namespace`` ("" if none)."""
    return (namespace["metadata"].get("annotations") or {}).get(PREVIOUS_MODE_ANNOTATION, "")


def _mode_patch(namespace: dict, enable: bool) -> dict:
    """The merge patch that enrolls or releases ``namespace`` (null removes a key).
    Enrolling over another data plane's label (--overwrite) records that label's value
    in PREVIOUS_MODE_ANNOTATION; releasing puts a recorded value back (an opt-out `none`
    is not lost) and drops the annotation; without one the label is removed."""
    if enable:
        other = other_data_plane(namespace)
        return {"metadata": {"labels": {MODE_LABEL: MODE_VALUE},
                             **({"annotations": {PREVIOUS_MODE_ANNOTATION: other}} if other else {})}}
    previous = previous_mode(namespace)
    return {"metadata": {"labels": {MODE_LABEL: previous or None},
                         **({"annotations": {PREVIOUS_MODE_ANNOTATION: None}} if previous else {})}}


def expected_enrollment(pod: dict, namespace_labels: dict[str, str]) -> Optional[bool]:
    """Whether the agent should mark this pod; None when that depends on the install's
    --enable-bypass (the pod carries the bypass label)."""
    view = PodView.from_k8s(pod)
    with_bypass = decide(view, namespace_labels, enable_bypass=True).enroll
    without_bypass = decide(view, namespace_labels, enable_bypass=False).enroll
    return with_bypass if with_bypass == without_bypass else None


def skip_reason(pod: dict) -> str:
    """Why the agent never marks this pod, even in an enrolled namespace (`waypoint pod`,
    `hostNetwork pod`, `pod has an Istio sidecar`, an opt-out label); "" when its
    namespace's label decides (or the install's --enable-bypass: expected_enrollment's None)."""
    decision = decide(PodView.from_k8s(pod), {MODE_LABEL: MODE_KMESH}, enable_bypass=False)
    return "" if decision.enroll else decision.reason


def pod_enrollment(client: KubeClient, namespace: str) -> list[PodEnrollment]:
    ns = client.get("v1", "Namespace", namespace) or {"metadata": {}}
    ns_labels = ns["metadata"].get("labels") or {}
    result = []
    for pod in client.list("v1", "Pod", namespace=namespace):
        phase = pod.get("status", {}).get("phase", "Unknown")
        result.append(PodEnrollment(
            name=pod["metadata"]["name"], namespace=namespace, phase=phase,
            annotated=is_annotated(PodView.from_k8s(pod)),
            expected=expected_enrollment(pod, ns_labels) if phase == "Running" else False,
            ip=pod.get("status", {}).get("podIP") or "", node=(pod.get("spec") or {}).get("nodeName") or "",
            skipped=skip_reason(pod),
        ))
    return result


def pods_of(client: KubeClient, namespaces: list[str]) -> list[PodEnrollment]:
    return [p for ns in namespaces for p in pod_enrollment(client, ns)]


def pending_pods(pods: list[PodEnrollment]) -> list[PodEnrollment]:
    """Running pods whose annotation does not yet match their enrollment."""
    return [p for p in pods if p.phase == "Running" and p.expected is not None and p.annotated != p.expected]


def direction(pods: list[PodEnrollment]) -> str:
    """`marked`, `unmarked` (or both) for what the pending ``pods`` wait for."""
    wanted = {p.expected for p in pods}
    return "marked or unmarked" if len(wanted) > 1 else ("marked" if wanted == {True} else "unmarked")


def wait_for_annotations(
    client: KubeClient,
    namespaces: list[str],
    timeout: float,
    on_poll: Callable[[list[PodEnrollment], float], None] = lambda pods, waited: None,
    poll: float = 1.0,
) -> list[PodEnrollment]:
    """Until every running pod of the namespaces is annotated (or not) as its enrollment says."""
    start = time.monotonic()
    while True:
        pods = pods_of(client, namespaces)
        waited = time.monotonic() - start
        on_poll(pods, waited)
        pending = pending_pods(pods)
        if not pending:
            return pods
        if waited >= timeout:
            names = ", ".join(f"{p.namespace}/{p.name}" for p in pending)
            raise KmeshctlError(
                f"{counted(len(pending), 'running pod')} not yet {direction(pending)} {REDIRECTION_ANNOTATION} "
                f"after {duration_words(timeout)}: {names}",
                fix="check the node agent (`kmeshctl status`) or wait longer with --timeout")
        time.sleep(min(poll, max(timeout - waited, 0.05)))
