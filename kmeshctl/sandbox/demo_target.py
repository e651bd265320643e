"""The demo's local target: the sandbox. Brings it up when it is not (and down again
afterwards), runs the request loop in the netutils pod, and changes weights through the
sandbox control plane (returning once the waypoint's Envoy routes with them).

What it measures is the sandbox's own VirtualService (its subsets and weights, whatever
the manifests it was made with), in the namespace -n names, else the only namespace of
the sandbox with the demo's objects (`default` first), from the netutils pod of that
namespace. Before a demo first changes the weights it records the
VirtualService's own in the sandbox's directory, and removes the record once it put them
back: a demo killed before that (SIGKILL) leaves the record, and the next demo puts those
weights back first (`sandbox status` says so meanwhile)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import yaml

from kmeshctl import demo, stopping
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.params import DEMO_LOOP_EXIT_TIMEOUT_S, DEMO_NAMESPACE
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import manifests as m
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import Manifests, default_files, load
from kmeshctl.sandbox.state import PHASE_READY, SandboxState
from kmeshctl.sandboxes import Rerun, rerun_line
from kmeshctl.sandboxes import load as sandboxes_load

CLIENT_DEPLOYMENT = "netutils"
SERVICE = "fortio"
FORTIO_SERVICE = "default/fortio"  # the key of the demo's manifests' fortio VIP in the sandbox's record
WEIGHTS_RECORD = "demo-weights.json"


def stop_loop(process: subprocess.Popen, kill: bool, timeout: float = DEMO_LOOP_EXIT_TIMEOUT_S) -> None:
    """Wait for a request loop (its own session: sh and its curl), at most ``timeout``
    seconds; ``kill``: SIGKILL its group first, and close our end of its pipe."""
    if kill:
        _kill_group(process)
    if process.stdout is not None:
        process.stdout.close()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILLed: it ends once the kernel lets it
            process.wait(timeout)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the loop's whole group, its leader gone or not: a curl outlives its sh."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def demo_missing(state: SandboxState, namespace: str = DEMO_NAMESPACE) -> str:
    """What sandbox ``state`` lacks in ``namespace`` to run the demo (`fortio Service`,
    `netutils pod`), or ''."""
    if f"{namespace}/{SERVICE}" not in state.vips:
        return f"{SERVICE} Service"
    if not any(p.deployment == CLIENT_DEPLOYMENT and not p.waypoint and p.namespace == namespace
               for p in state.pods):
        return f"{CLIENT_DEPLOYMENT} pod"
    return ""


def demo_namespaces(state: SandboxState) -> list[str]:
    """The namespaces of sandbox ``state`` with the demo's objects (a fortio Service and a
    netutils pod), `default` first, then by name."""
    return [ns for ns in _service_namespaces(state) if not demo_missing(state, ns)]


def _service_namespaces(state: SandboxState) -> list[str]:
    """The namespaces of sandbox ``state`` with a fortio Service, `default` first, then by name."""
    found = {key.split("/", 1)[0] for key in state.vips if key.endswith(f"/{SERVICE}")}
    return sorted(found, key=lambda ns: (ns != DEMO_NAMESPACE, ns))


class NamespaceChoice(UsageError):
    """-n names a namespace of the sandbox without the demo's objects, or it is needed."""


def demo_namespace(state: SandboxState, namespace: str | None, rerun: Rerun = rerun_line) -> str:
    """The namespace the demo measures in sandbox ``state``: ``namespace`` (-n) when given
    (a UsageError naming those that have the demo's objects when it has not), else the only
    one that has them, `default` first; several others: a UsageError listing them, each
    with the demo to paste. With none, the first with a fortio Service, else `default`
    (check_demo_ready names what it lacks there: never a Service that is in another one)."""
    found = demo_namespaces(state)
    if namespace is not None and (namespace in found or not found):
        return namespace
    if namespace is None and (not found or found[0] == DEMO_NAMESPACE or len(found) == 1):
        return found[0] if found else next(iter(_service_namespaces(state)), DEMO_NAMESPACE)
    example = judged(demo.with_namespace(demo.rerun_command(state.name, rerun), found[0]), state, found[0])
    if namespace is not None:
        raise NamespaceChoice(f"-n {namespace}: sandbox {state.name} has no {demo_missing(state, namespace)} in "
                              f"namespace {namespace} (the demo's objects are in {_listed(found)}); pass -n of one "
                              f"of them, e.g. `{example}`")
    raise NamespaceChoice(f"sandbox {state.name} has the demo's objects in several namespaces ({', '.join(found)}): "
                          f"pass -n NAMESPACE, e.g. `{example}`")


def judged(command: str, state: SandboxState, namespace: str | None, manifests: Path | None = None) -> str:
    """``command`` (the demo on ``namespace`` of sandbox ``state``, alone on its line) with
    `-c N` when the requests it sends (-c typed, else the default) are too few to judge
    that namespace's own weights (80/20: 24), or the --weights typed, as `sandbox up`'s Try
    line: pasted, it must pass; unchanged when they do not fit (that run says so).
    ``manifests``: the objects it has (default: its record; a failed `up`'s kept logs).
    Every demo line a fix offers for a sandbox is judged here (see judged_again)."""
    import shlex

    from kmeshctl.params import DEMO_REQUESTS

    words = shlex.split(command)
    try:
        subject = sandbox_subject(state, namespace) if manifests is None else \
            demo.demo_subject(load([manifests]), where=f"sandbox {state.name}", namespace=namespace)
        needed = weights_needed(subject, option_value(words, "--weights", "--weights"))
    except (KmeshctlError, OSError):
        return command  # the run says what is wrong with the sandbox, or with --weights
    typed = option_value(words, "-c", "--requests")
    sent = int(typed) if typed is not None and typed.isdigit() else DEMO_REQUESTS
    return demo.with_option(command, "-c", "--requests", str(needed)) if needed > sent else command


def weights_needed(subject: demo.DemoSubject, weights: str | None) -> int:
    """The requests every phase of ``weights`` (--weights as typed; None: the
    VirtualService's own) on ``subject`` needs to be judged; a UsageError when they do not fit it."""
    return max(demo.phase_needed(subject, w) for w in demo.parse_weight_sets(weights, subject))


def requests_needed(name: str | None, weights: str | None) -> int:
    """The -c the demo with ``weights`` (as weights_needed) needs on sandbox ``name`` (None:
    the only one up; none, or one not ready: the demo's own manifests, which a new sandbox
    and a cluster get); 0 when the weights do not fit (their own check says so)."""
    from kmeshctl import sandboxes

    up = sandboxes.names()
    name = name or (up[0] if len(up) == 1 else None)
    try:
        subject = (measured_subject(name) if name else None) or demo.fortio_demo()[1]
        return weights_needed(subject, weights)
    except (KmeshctlError, OSError):
        return 0


def judged_again(command: str, name: str) -> str:
    """judged for a demo line on sandbox ``name`` (alone on its line), to paste as it is or
    once the sandbox is made again from the same manifests (a fix's `down && up && demo`):
    its -n, else the namespace the demo picks; a failed `up`'s kept manifests when only
    they are left; unchanged when neither is there (a new sandbox has the demo's manifests,
    judged at the default count)."""
    import shlex

    from kmeshctl.sandbox.state import failed_up_logs

    try:
        state = checked_record(name)
    except KmeshctlError:
        return command
    manifests = None
    if state is None:
        manifests = failed_up_logs(name) / "manifests.yaml"
        if not manifests.is_file():
            return command
        state = SandboxState(name=name)
    namespace = option_value(shlex.split(command), "-n", "--namespace")
    if namespace is None and manifests is None:
        namespace = next(iter(demo_namespaces(state)), None)
    return judged(command, state, namespace, manifests)


def remake_after_edit(name: str) -> str:
    """The line that makes sandbox ``name`` again from the manifests files it was made from,
    once they are edited (`down && up -f FILES`); '' when it came from stdin, or they
    changed since (the fix's copy of the record would be the one to edit)."""
    steps = sb.remake_steps(name)
    return "" if steps[0].startswith("cp ") else " && ".join(steps)


def judging(rerun: Rerun) -> Rerun:
    """``rerun`` whose demo lines on a sandbox are judged_again: a fix that repeats the
    demo on a sandbox carries the -c its weights need."""
    def line(command: str, flag: str, name: str, after: str = "") -> str:
        made = rerun(command, flag, name, after)
        if command.split()[1:3] != list(demo.DEMO_WORDS) or flag not in ("--sandbox", "--name"):
            return made
        return judged_again(made, name)
    return line


def option_value(words: list[str], short: str, long: str) -> str | None:
    """The value of the option typed in ``words`` in any form (`-c 5`, `-c5`, `-c=5`,
    `--requests 5`, `--requests=5`), the last one; None when not typed."""
    found = None
    for i, word in enumerate(words):
        if word in (short, long):
            found = words[i + 1] if i + 1 < len(words) else found
        elif word.startswith(f"{long}="):
            found = word[len(long) + 1:]
        elif len(short) == 2 and word.startswith(short) and not word.startswith("--"):
            found = word[2:].removeprefix("=")
    return found


def _listed(namespaces: list[str]) -> str:
    return f"namespace {namespaces[0]}" if len(namespaces) == 1 else f"namespaces {', '.join(namespaces)}"


def checked_record(name: str) -> SandboxState | None:
    """Sandbox ``name``'s record (None: no sandbox), checked as `status` and `dump` check
    it: a damaged one, or another version's, is that error with its fix (kmeshctl.sandboxes.load),
    not what of it reads (a dropped pod list would be `no netutils pod`)."""
    return sandboxes_load(name)


def check_demo_ready(state: SandboxState, rerun: Rerun = rerun_line, namespace: str = DEMO_NAMESPACE,
                     sandbox_flag: str = "--sandbox") -> None:
    """KmeshctlError (exit 1) unless sandbox ``state`` can run the demo: it has the fortio
    Service and the netutils client in ``namespace``, and every process of it still runs
    (the cheap, process-only part of `sandbox status`: no request is sent). A demo on a
    sandbox whose agent or waypoint died would measure nothing. ``rerun``: see
    demo.rerun_command; ``sandbox_flag``: the flag as typed (--sandbox or --name)."""
    name = state.name
    missing = demo_missing(state, namespace)
    scaled_down = _no_replicas(state, namespace) if missing == f"{CLIENT_DEPLOYMENT} pod" else ""
    if scaled_down:
        raise KmeshctlError(f"sandbox {name} has no {CLIENT_DEPLOYMENT} pod in namespace {namespace}: {scaled_down}; "
                            f"the demo sends its requests from that pod: make the sandbox again with replicas >= 1 "
                            f"for it, or run the demo in a new sandbox, `{demo.in_new_sandbox(name, rerun)}`")
    if missing:
        inside = f" in namespace {namespace}" if namespace != DEMO_NAMESPACE else ""
        if inside:  # a new sandbox has the demo's objects in default
            rerun = _in_default(rerun)
        why = "it was made without the fortio demo's manifests" if missing == f"{SERVICE} Service" else \
            "the demo sends its requests from that pod"
        raise KmeshctlError(f"sandbox {name} has no {missing}{inside} ({why}); run the demo in a new sandbox, "
                            f"`{demo.in_new_sandbox(name, rerun)}`, or pass {sandbox_flag} of a sandbox that has it")
    problems = sb.process_problems(state)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise KmeshctlError(f"sandbox {name} is not ready: {problems[0]}{more}; see "
                            f"`kmeshctl sandbox status --name {name}`, or make it again: "
                            f"`{sb.remake_line(name)} && {demo.rerun_command(name, rerun)}`")
    # as `sandbox list` sees it, from /proc: a stopped waypoint Envoy never answers the demo's admin
    # reads (it would wait 5-20 s); a stopped control plane is the demo's to meet and report (its document)
    stopped = sb.stopped_problems(state, ("waypoint",))
    if stopped:
        more = f" (and {len(stopped) - 1} more)" if len(stopped) > 1 else ""
        raise KmeshctlError(f"sandbox {name} is not ready: {stopped[0]}{more}, then "
                            f"`{demo.rerun_command(name, rerun)}`")


def _no_replicas(state: SandboxState, namespace: str) -> str:
    """`Deployment N/netutils has replicas 0` when the sandbox's manifests scale the client
    to nothing ('' otherwise: they lack it)."""
    try:
        deployments = load([state.manifests_file]).deployments
    except (KmeshctlError, OSError):
        return ""
    found = [d for d in deployments if d.namespace == namespace and d.name == CLIENT_DEPLOYMENT and not d.replicas]
    return f"Deployment {namespace}/{CLIENT_DEPLOYMENT} has replicas 0" if found else ""


def _in_default(rerun: Rerun) -> Rerun:
    def line(command: str, flag: str, name: str, after: str = "") -> str:
        return demo.with_namespace(rerun(command, flag, name, after), DEMO_NAMESPACE)
    return line


# ---------------------------------------------------------------- the VirtualService's own weights


def weights_record(state: SandboxState) -> Path:
    """Where a demo keeps the VirtualService's own weights while others are in force."""
    return state.dir / WEIGHTS_RECORD


@dataclass(frozen=True)
class LeftWeights:
    """A VirtualService's own weights, as a demo recorded them before changing them."""

    vs: tuple[str, str]  # (namespace, name)
    weights: list[int]
    problem: str = ""  # why they cannot be put back ('' when they can): the record is damaged

    @property
    def vs_text(self) -> str:
        return "/".join(self.vs)


def left_weights(state: SandboxState, subject: demo.DemoSubject) -> LeftWeights | None:
    """The weights a demo recorded in sandbox ``state`` and has not put back yet (None when
    there is no record), checked against the sandbox's VirtualService they belong to
    (``subject``'s, or another one of its manifests): one whole number >= 0 per
    destination, adding up to 100. A record that fails has its ``problem`` set."""
    path = weights_record(state)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        return LeftWeights(("", ""), [], f"{path} cannot be read ({err})")
    named = raw.get("virtualService") if isinstance(raw, dict) else None
    if not isinstance(named, str) or named.count("/") != 1:
        return LeftWeights(("", ""), [], f"{path} names no VirtualService (namespace/name)")
    found = LeftWeights(tuple(named.split("/")), raw.get("weights"))  # type: ignore[arg-type]
    problem = _weights_problem(state, subject, found)
    return found if not problem else LeftWeights(found.vs, [], f"{path}: {problem}")


def _weights_problem(state: SandboxState, subject: demo.DemoSubject, found: LeftWeights) -> str:
    weights = found.weights
    if not isinstance(weights, list) or \
            not all(isinstance(w, int) and not isinstance(w, bool) and w >= 0 for w in weights):
        return f"weights {json.dumps(weights)} are not a list of whole numbers >= 0"
    own = subject.virtual_service
    if found.vs == (own.namespace, own.name):
        count = len(subject.versions)
    else:
        vs = next((v for v in load([state.manifests_file]).virtual_services
                   if (v.namespace, v.name) == found.vs), None)
        if vs is None:
            return f"VirtualService {found.vs_text} is not in sandbox {state.name}"
        count = len(vs.http[_route_of(vs)].destinations)
    if len(weights) != count or sum(weights) != 100:
        return (f"weights {'/'.join(map(str, weights))} do not fit VirtualService {found.vs_text} "
                f"({count} destinations, weights adding up to 100)")
    return ""


def _route_of(vs: m.VirtualService) -> int:
    """The route of ``vs`` a demo measures (demo.root_route; the first when none takes /)."""
    return demo.root_route(vs) or 0


def _route_of_named(state: SandboxState, vs: tuple[str, str]) -> int:
    found = next((v for v in load([state.manifests_file]).virtual_services if (v.namespace, v.name) == vs), None)
    return _route_of(found) if found is not None else 0


def _push(sandbox: str, vs: tuple[str, str], weights: list[int], route: int) -> None:
    """Route ``vs``'s http route ``route`` with ``weights`` (sb.set_route_weights)."""
    sb.set_route_weights(sandbox, *vs, list(weights), route=route)


def _weights_in_force(state: SandboxState, vs: tuple[str, str], subject: demo.DemoSubject) -> list[int] | None:
    """The weights sandbox ``state``'s record routes VirtualService ``vs`` with now (of the
    route a demo measures; ``subject``: the demo's VirtualService as in force), None when
    it has no such VirtualService."""
    if vs == (subject.virtual_service.namespace, subject.virtual_service.name):
        return list(subject.default_weights)
    found = next((v for v in load([state.manifests_file]).virtual_services if (v.namespace, v.name) == vs), None)
    return None if found is None else [d.weight for d in found.http[_route_of(found)].destinations]


def _record_weights(state: SandboxState, vs: tuple[str, str], weights: list[int]) -> None:
    tmp = weights_record(state).with_suffix(".tmp")
    tmp.write_text(json.dumps({"virtualService": "/".join(vs), "weights": weights}))
    tmp.replace(weights_record(state))


def _in_force(state: SandboxState, namespace: str | None = None) -> demo.DemoSubject:
    """The sandbox's VirtualService (of ``namespace``, None: the first) as its record says
    now (the weights in force)."""
    return demo.demo_subject(load([state.manifests_file]), where=f"sandbox {state.name}", namespace=namespace)


def measured_subject(name: str, namespace: str | None = None) -> demo.DemoSubject | None:
    """What the demo measures in sandbox ``name`` (sandbox_subject) in ``namespace`` (None:
    demo_namespace's choice), or None when it would use the demo's manifests: no such
    sandbox, or one not ready or without the demo's objects there (prepare brings it up,
    or refuses it)."""
    state = checked_record(name)
    if state is None or state.phase != PHASE_READY or not state.manifests_file.exists():
        return None
    namespace = demo_namespace(state, namespace)
    if demo_missing(state, namespace):
        return None
    return sandbox_subject(state, namespace)


def sandbox_subject(state: SandboxState, namespace: str | None = None) -> demo.DemoSubject:
    """What the demo measures in sandbox ``state``: its own VirtualService for fortio (of
    ``namespace``; None: the first), with the weights a demo recorded in place of the ones
    it left in force."""
    subject = _in_force(state, namespace)
    left = left_weights(state, subject)
    own = (subject.virtual_service.namespace, subject.virtual_service.name)
    if left is not None and not left.problem and left.vs == own:
        return demo.with_weights(subject, left.weights)
    return subject


def _recorded_namespace(state: SandboxState) -> str | None:
    """The namespace of the VirtualService a demo's weights record names (None: unreadable)."""
    try:
        named = json.loads(weights_record(state).read_text()).get("virtualService")
    except (OSError, ValueError, AttributeError):
        return None
    return named.split("/", 1)[0] if isinstance(named, str) and "/" in named else None


def _shown(subject: demo.DemoSubject, weights: tuple[int, ...] | list[int], sep: str = ", ") -> str:
    return sep.join(f"{v.subset}={w}" for v, w in zip(subject.versions, weights))


def weights_note(state: SandboxState) -> str:
    """For `sandbox status` ('' when none): the weights in force while a demo has not put
    the VirtualService's own back, a demo running now or one killed before it could."""
    if not weights_record(state).exists() or not state.manifests_file.exists():
        return ""
    try:
        now = _in_force(state, _recorded_namespace(state))
        left = left_weights(state, now)
    except KmeshctlError:
        return ""
    own = (now.virtual_service.namespace, now.virtual_service.name)
    if left is None or left.problem or left.vs != own or list(left.weights) == list(now.default_weights):
        return ""  # nothing to put back: its own weights are in force (a restore whose Envoy did not answer)
    routes = f"VirtualService {left.vs_text} routes {_shown(now, now.default_weights)}"
    running = lock_mod.holder(state.name)
    if running is not None and running.command == lock_mod.DEMO:
        return (f"{routes} for demo pid {running.pid}, which puts back its own weights, {_shown(now, left.weights)}, "
                "at the end")
    return (f"{routes}, left by a demo that was stopped; its own weights, {_shown(now, left.weights)}, come back "
            f"with the next demo: `{judged_again(demo.rerun_command(state.name), state.name)}`")


# ---------------------------------------------------------------- the target


def _without_pointers(problem: str) -> str:
    """A problem of sb.process_problems without its `: see LOG` / `: run COMMAND`: a removed
    sandbox's logs went with it, and making it again is not the fix the demo gives."""
    return re.split(r": (?:see|run) ", problem, maxsplit=1)[0]


class LocalTarget:
    name = "local"

    def __init__(self, sandbox_name: str, subject_vs: tuple[str, str],
                 original_weights: list[int], rerun: Rerun = rerun_line, sandbox_flag: str = "--sandbox",
                 namespace: str | None = None) -> None:
        """``original_weights``: the VirtualService's own (put back by finish) for a sandbox
        the demo brings up; subject() reads them from a sandbox that is up. ``sandbox_flag``:
        the flag as typed (--sandbox or --name), for messages. ``namespace``: -n, where the
        demo's objects are (None: demo_namespace chooses; a sandbox the demo brings up gets
        them there)."""
        self.sandbox_name = sandbox_name
        self._rerun = rerun  # how a fix repeats the demo (see demo.rerun_command)
        self._flag = sandbox_flag
        self.description = f"local sandbox {sandbox_name}"
        self._vs = subject_vs
        self._original = list(original_weights)
        self._started_here = False
        self._ready = False  # prepared: the lock taken, the sandbox checked
        self._state: SandboxState | None = None
        self._asked = namespace
        self._namespace = namespace or subject_vs[0]
        self._route = 0  # the VirtualService's route measured (demo.root_route)
        self._port = 80  # the fortio Service port requests go to (the demo's manifests': 80)
        self._problems: list[str] | None = None  # its processes' problems as the run ended (finish)
        self._denied: tuple[dict[str, int], dict[str, int]] | None = None  # authz refusals before, after (finish)
        self._denied_before: dict[str, int] | None = None

    @staticmethod
    def manifests() -> Manifests:
        return load(default_files())

    def _choose_namespace(self, state: SandboxState | None) -> None:
        """The namespace measured in sandbox ``state`` (None: one the demo brings up)."""
        if state is not None and state.phase == PHASE_READY:
            self._namespace = demo_namespace(state, self._asked, self._rerun)
        self._vs = (self._namespace, self._vs[1])

    def subject(self, default: demo.DemoSubject) -> demo.DemoSubject:
        """What the demo measures here: the sandbox's own VirtualService (its subsets and
        weights); ``default``, the demo's manifests', for a sandbox the demo brings up from
        them, or one that prepare refuses (not ready, without the fortio Service)."""
        try:
            self._choose_namespace(checked_record(self.sandbox_name))
            subject = measured_subject(self.sandbox_name, self._namespace)
            if subject is None:
                return default
        except UsageError as error:  # the sandbox's manifests, not this command's input
            if isinstance(error, NamespaceChoice):
                raise  # -n: this command's input
            rerun = self._rerun if self._namespace == DEMO_NAMESPACE else _in_default(self._rerun)
            named = f"sandbox {self.sandbox_name}"
            said = str(error) if f"{named} " in f"{error} " else f"{named}: {error}"
            raise KmeshctlError(f"{said}; run the demo in a new sandbox, "
                                f"`{demo.in_new_sandbox(self.sandbox_name, rerun)}`") from None
        self._vs = (subject.virtual_service.namespace, subject.virtual_service.name)
        self._original = list(subject.default_weights)
        self._route, self._port = subject.route, subject.port
        return subject

    def prepare(self, progress: Callable[[str], None]) -> None:
        """Take the sandbox's lock (one demo at a time: two would change each other's
        weights; released by finish, or stale once this process is gone), then bring
        it up when it is not, or check it can run the demo, and put back the weights a
        demo killed before it could left in force."""
        sb.require_root()
        self._lock()
        state = checked_record(self.sandbox_name)
        self._choose_namespace(state)
        if state is None:
            progress(f"bringing up sandbox {self.sandbox_name} (it will be removed afterwards)")
            self._bring_up(progress)
        elif state.phase != PHASE_READY:
            raise KmeshctlError(sb.unfinished(state, demo.rerun_command(self.sandbox_name, self._rerun)))
        self._state = SandboxState.load(self.sandbox_name)
        if not self._started_here:
            check_demo_ready(self._state, self._rerun, self._namespace, self._flag)
        self._ready = True
        self._denied_before = self._denials()
        if not self._started_here:
            self._put_back_left_weights(progress)

    def _bring_up(self, progress: Callable[[str], None]) -> None:
        """The sandbox, from the demo's manifests moved to -n's namespace (as the cluster
        demo deploys them there)."""
        import tempfile

        from kmeshctl.demo_cluster import in_namespace

        with tempfile.TemporaryDirectory(prefix=f"kmeshctl-demo-{self.sandbox_name}-") as tmp:
            files = default_files()
            if self._namespace != DEMO_NAMESPACE:
                moved = in_namespace(load(files).documents, self._namespace)
                files = [Path(tmp) / "fortio.yaml"]
                files[0].write_text(yaml.safe_dump_all(moved, sort_keys=False))
            try:
                sb.up(self.sandbox_name, files, progress, keep_logs_if_interrupted=False)
            except KeyboardInterrupt:  # Ctrl-C, SIGTERM: finish removes it whole, the logs `up` keeps too
                self._started_here = True
                raise
            self._started_here = True

    def _lock(self) -> None:
        try:
            lock_mod.acquire(self.sandbox_name, lock_mod.DEMO)
        except lock_mod.InUse as error:
            if error.holder.command != lock_mod.DEMO:
                raise
            from kmeshctl.sandboxes import new_sandbox_weights_note

            other = self._other_that_fits()
            new = "" if other else demo.in_new_sandbox(self.sandbox_name, self._rerun)
            text = lock_mod.in_use_text(self.sandbox_name, error.holder, flag=self._flag, other=other, new=new)
            raise lock_mod.InUse(text + (new_sandbox_weights_note() if new else ""), error.holder) from None

    def _other_that_fits(self) -> str:
        """`kmeshctl demo traffic-shift --sandbox b ...` (the sandbox flag as typed): the demo
        on another sandbox it can use now (not held, ready, with the namespace typed, the
        --weights typed fitting its subsets), '' when none is."""
        from kmeshctl import sandboxes

        for name, phase in sandboxes.existing().items():
            if name != self.sandbox_name and phase == PHASE_READY and \
                    not sandboxes.unfit(name, phase, demo.DEMO_COMMAND):
                return self._rerun(demo.DEMO_COMMAND, self._flag, name, "")
        return ""

    def _put_back_left_weights(self, progress: Callable[[str], None]) -> None:
        """A record left by a demo that was killed (this one holds the lock now): its
        weights are the VirtualService's own."""
        assert self._state is not None
        now = _in_force(self._state, self._vs[0])
        left = left_weights(self._state, now)
        if left is None:
            return
        if not left.problem and list(left.weights) == _weights_in_force(self._state, left.vs, now):
            pass  # its own weights are in force already (a restore whose Envoy did not answer): nothing to put back
        elif left.problem:
            progress(f"removing the record of the weights a stopped demo left, which cannot be put back "
                     f"({left.problem}); the weights in force stay")
        elif left.vs == self._vs:
            self._original = left.weights
            progress(f"putting back the VirtualService's weights {'/'.join(map(str, self._original))} "
                     f"(a demo that was stopped left {'/'.join(map(str, now.default_weights))})")
            _push(self.sandbox_name, self._vs, self._original, self._route)
        else:
            progress(f"putting back VirtualService {left.vs_text}'s weights {'/'.join(map(str, left.weights))} "
                     "(a demo that was stopped changed them)")
            _push(self.sandbox_name, left.vs, left.weights, _route_of_named(self._state, left.vs))
        weights_record(self._state).unlink(missing_ok=True)

    def service_url(self) -> str:
        assert self._state is not None
        return f"http://{self._state.vips[f'{self._namespace}/{SERVICE}']}:{self._port}/"

    def run_loop(self, argv: list[str]) -> Iterator[str]:
        """The loop's output lines. Closed early (the demo interrupted), the loop's whole
        process group is killed before it is waited for: a loop left running would block
        writing to a pipe nobody reads, and the wait would never end."""
        assert self._state is not None
        client = sb.find_pod(self._state, CLIENT_DEPLOYMENT, self._namespace)
        process = client.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
        ended = False
        try:
            assert process.stdout is not None
            yield from process.stdout
            ended = True  # end of output: the loop has exited (it removed its stop file)
        finally:
            stop_loop(process, kill=not ended)

    def touch(self, path: str) -> None:
        Path(path).touch()  # pods share the host's filesystem

    def set_weights(self, weights: list[int]) -> None:
        """Route with ``weights`` once the waypoint's Envoy does; other than the
        VirtualService's own, recorded first (so a killed demo's are put back)."""
        assert self._state is not None
        if list(weights) != self._original and not weights_record(self._state).exists():
            _record_weights(self._state, self._vs, self._original)
        _push(self.sandbox_name, self._vs, list(weights), self._route)

    def ensure_weights(self, weights: list[int]) -> None:
        self.set_weights(weights)

    def lost(self) -> str:
        """Why the sandbox can no longer serve the demo ('' while it can): a `sandbox
        down` removes or removed it."""
        state = SandboxState.load(self.sandbox_name)
        remover = lock_mod.removed_by(self.sandbox_name)
        if remover is not None or state is None or state.phase != PHASE_READY:
            return f"sandbox {self.sandbox_name} went away during the demo"
        return ""

    def fail_reason(self, report: demo.DemoReport) -> str:
        """The likeliest reason requests failed or the split was off ('' when nothing
        tells): a process of the sandbox that ended during the run (a fortio server, the
        waypoint's Envoy, the agent), in the words of the pre-run check, and where to
        look; its processes as they were when the run ended (a sandbox the demo made is
        gone by now)."""
        problems, still_there = self._problems, False
        with contextlib.suppress(KmeshctlError, OSError):
            problems = problems if problems is not None else self._process_problems()
            still_there = SandboxState.load(self.sandbox_name) is not None
        if not problems:
            return self._denied_reason(still_there)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        if still_there:
            return f"likeliest reason: {problems[0]}{more}; see `kmeshctl sandbox status --name {self.sandbox_name}`"
        gone = "was the demo's own and is removed" if self._started_here else "was removed during the demo"
        return f"likeliest reason: {_without_pointers(problems[0])}{more}; sandbox {self.sandbox_name} {gone}"

    def _denials(self) -> dict[str, int] | None:
        """dump.denials of the sandbox's data path (None when it cannot be read)."""
        from kmeshctl.dump import denials

        try:
            state = self._state or SandboxState.load(self.sandbox_name)
            return denials(state.bpffs) if state is not None else None
        except (KmeshctlError, OSError):
            return None

    def _denied_reason(self, still_there: bool) -> str:
        """`likeliest reason: AuthorizationPolicy default/deny-v2 denied 8 connections during
        the run; see `kmeshctl dump maps ...``: what inbound authorization refused while the
        demo ran (compared with before it), '' when nothing."""
        if self._denied is None:
            return ""
        before, after = self._denied
        grown = {what: count - before.get(what, 0) for what, count in after.items() if count > before.get(what, 0)}
        if not grown:
            return ""
        what, count = max(grown.items(), key=lambda item: item[1])
        more = f" (and {len(grown) - 1} more)" if len(grown) > 1 else ""
        connections = f"{count} connection{'s' if count != 1 else ''}"
        said = f"{what} denied {connections}" if what.startswith("Authorization") else f"{connections} denied: {what}"
        if still_there:
            return (f"likeliest reason: {said} during the run{more}; see `kmeshctl dump maps --sandbox "
                    f"{self.sandbox_name} --map km_authz_stats`")
        gone = "was the demo's own and is removed" if self._started_here else "was removed during the demo"
        return f"likeliest reason: {said} during the run{more}; sandbox {self.sandbox_name} {gone}"

    def _process_problems(self) -> list[str]:
        """sb.process_problems of the sandbox when this run checked it ready ([] else)."""
        state = SandboxState.load(self.sandbox_name) if self._ready else None
        if state is None or state.phase != PHASE_READY:
            return []
        return sb.process_problems(state)

    def finish(self, progress: Callable[[str], None]) -> None:
        try:
            with contextlib.suppress(KmeshctlError, OSError):  # a reason is a help, never in the way
                self._problems = self._process_problems()  # before a sandbox made here is removed
            after = self._denials() if self._denied_before is not None else None
            self._denied = (self._denied_before, after) if self._denied_before is not None and after else None
            if self._started_here and not lock_mod.removed_by(self.sandbox_name):
                progress(f"removing sandbox {self.sandbox_name}")
                # a second signal waits for the removal; a third leaves it half-removed, said
                with stopping.finishing(f"removing sandbox {self.sandbox_name}", self._removal_left):
                    sb.down(self.sandbox_name)
                stopping.leaves(f"sandbox {self.sandbox_name} (the demo's own) was removed")  # a stop's line says so
            elif self._ready and self._state is not None and weights_record(self._state).exists() \
                    and not self.lost():
                progress("restoring the VirtualService's weights")
                # a second signal waits for the restore; a third leaves the weights, said
                with stopping.finishing("restoring the VirtualService's weights", self._weights_left):
                    self._restore()
        finally:
            lock_mod.release(self.sandbox_name)

    def _removal_left(self) -> str:
        """What a stopped removal of the demo's own sandbox left, and the line that ends it."""
        name = self.sandbox_name
        if not sb.leftovers(name):
            return f"sandbox {name} (the demo's own) is removed"
        return f"sandbox {name} (the demo's own) is half-removed; remove it with `kmeshctl sandbox down --name {name}`"

    def _restore(self) -> None:
        """Put back the VirtualService's own weights and remove the record. When its waypoint
        Envoy does not take them (not running, hung) but the sandbox's record has them again,
        the record goes too (nothing is left to put back) and demo.PartlyFinished says so;
        when they are not back, a KmeshctlError says what stays and what puts it back."""
        assert self._state is not None
        try:
            _push(self.sandbox_name, self._vs, self._original, self._route)
        except KmeshctlError as err:
            own = "/".join(map(str, self._original))
            try:
                back = list(_in_force(self._state, self._vs[0]).default_weights) == self._original
            except (KmeshctlError, OSError):
                back = False
            if not back:
                raise KmeshctlError(f"could not put back the weights of VirtualService {'/'.join(self._vs)} "
                                    f"({err.problem}): {self._weights_left()}") from None
            weights_record(self._state).unlink(missing_ok=True)
            raise demo.PartlyFinished(f"the VirtualService's weights {own} are back in sandbox {self.sandbox_name}'s "
                                      f"record, but {err.problem}", fix=err.fix) from None
        weights_record(self._state).unlink(missing_ok=True)

    def _weights_left(self) -> str:
        """What a stopped restore left in force, and what puts it back; when the stop came
        once the VirtualService's own weights were in force again, that (its record gone:
        nothing is left to put back)."""
        assert self._state is not None
        now = "/".join(map(str, _in_force(self._state, self._vs[0]).default_weights))
        if now == "/".join(map(str, self._original)):
            weights_record(self._state).unlink(missing_ok=True)
            return f"the VirtualService's own weights {now} were put back"
        return (f"the VirtualService's weights were left at {now}; the next demo puts back "
                f"{'/'.join(map(str, self._original))}: "
                f"`{demo.with_options(demo.rerun_command(self.sandbox_name, self._rerun), ran=True)}`")
