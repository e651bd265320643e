"""Which local sandboxes exist, for the tools that work on this machine (`sandbox list`,
`dump maps`, `dump config`, `demo traffic-shift`): find one by name, or the only one up,
say which exist when a name is wrong, and tell a sandbox another kmeshctl version made
(its record or its maps have another layout) from one this version can read."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.maps import DEFAULT_BPF_FS
from kmeshctl.params import shown
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.state import (NAME_ENV, PHASE_NOT_READY, PHASE_READY, PHASE_REMOVING, ProcessRecord, PodRecord,  # noqa: F401
                                    SandboxState, check_name, shown_phase)


def names() -> list[str]:
    """Names of the sandboxes with a record on this machine (up, or half-made), sorted."""
    root = state_mod.STATE_ROOT
    if not root.is_dir():
        return []
    return sorted(d.name[len("sandbox-"):] for d in root.glob("sandbox-*") if (d / "state.json").exists())


FAILED_UP_PREFIX = "failed-up-"
PHASE_FAILED = "failed"  # `sandbox list`: only the logs of a failed `sandbox up` are left
PHASE_UNKNOWN = "unknown"  # `sandbox list`: this command's namespaces hide it (kmeshctl.sandbox.view)


def failed_up_names() -> list[str]:
    """Names whose failed `sandbox up` left its logs (/run/kmeshctl/failed-up-NAME) and no
    sandbox: `sandbox list` shows them, `sandbox down --name NAME` removes them."""
    root = state_mod.STATE_ROOT
    if not root.is_dir():
        return []
    have = set(names())
    found = (d.name[len(FAILED_UP_PREFIX):] for d in root.glob(f"{FAILED_UP_PREFIX}*") if d.is_dir())
    return sorted(n for n in found if n not in have)


def none_up() -> "NotFound":
    """A command that needs a sandbox, given no name, with none on this machine."""
    failed = failed_up_names()
    left = (f" (the logs of a failed `sandbox up` are kept for {', '.join(failed)}: see `kmeshctl sandbox list`)"
            if failed else "")
    return NotFound(f"no sandbox is up{left}; start one with `kmeshctl sandbox up`")


def check_node_path_seen(bpf_fs: Path = DEFAULT_BPF_FS, subject: str = "",
                         hidden: str = "it and every sandbox's pins are") -> None:
    """nodecheck.MountHidden (exit 1) when ``bpf_fs`` (this node's data path, or a place under
    /sys/fs/bpf) lies on the host's bpffs, which this mount namespace cannot see (`ip netns
    exec`): it, and every sandbox's pins, are "cannot see" then, never "gone" nor "none
    here" (a line offered for a sandbox would only say "cannot be seen" too). ``subject``:
    what is hidden, in words (default: the path); ``hidden``: `they are`... (see
    nodecheck.hidden_problem)."""
    from kmeshctl import nodecheck
    from kmeshctl.sandbox.view import check_seen

    if nodecheck.BPFFS_MOUNT not in Path(os.path.abspath(bpf_fs)).parents:
        return
    owner = owner_of_bpffs(bpf_fs, within=True)
    if owner is not None:  # a sandbox's: said of the sandbox
        check_seen(owner)
        return
    subject = subject or (f"this node's data path ({bpf_fs})" if bpf_fs == DEFAULT_BPF_FS else shown(bpf_fs))
    nodecheck.check_host_mounts_seen(subject, [nodecheck.BPFFS_WANTED], hidden=hidden)


def data_paths_note() -> str:
    """`; sandboxes a, b are up: each one's data path goes with it, `kmeshctl sandbox down
    --name a``: for `node cleanup`, which never removes a sandbox's ("" when none is up)."""
    found = names()
    if not found:
        return ""
    up = f"sandbox {found[0]} is up" if len(found) == 1 else f"sandboxes {', '.join(found)} are up"
    return f"; {up}: each one's data path goes with it, `kmeshctl sandbox down --name {found[0]}`"


def known_text() -> str:
    """`sandboxes: a, b, c failed` (a failed `up`'s logs listed too, as `sandbox list`
    lists them) or `no sandbox exists`, for error messages."""
    found = names() + [f"{n} {PHASE_FAILED}" for n in failed_up_names()]
    return f"sandboxes: {', '.join(found)}" if found else "no sandbox exists"


# ------------------------------------------------------------------ names


def picks_alone(name: str) -> bool:
    """Whether a sandbox command given no --name would act on sandbox ``name``: no other
    sandbox exists and $KMESHCTL_SANDBOX_NAME names no other one."""
    env = os.environ.get(NAME_ENV)
    return set(names()) <= {name} and env in (None, "", name)


# The flag that picks a sandbox, in two spellings of one meaning: every command that picks
# one takes both; help shows --name in the `sandbox` group, --sandbox on demo and dump.
SANDBOX_FLAGS = ("--sandbox", "--name")


def sandbox_flag(command: str) -> str:
    """The spelling of the sandbox flag help shows for ``command`` (`kmeshctl sandbox
    status` -> --name, `kmeshctl dump maps` -> --sandbox): suggestions use it."""
    return "--name" if command.split()[1:2] == ["sandbox"] else "--sandbox"


def for_sandbox(command: str, name: str, flag: Optional[str] = None) -> str:
    """``command`` (a `kmeshctl sandbox|demo|dump ...` hint, no backticks) as it must be
    pasted to act on sandbox ``name``: with ``flag NAME`` (default: the command's own
    spelling, see sandbox_flag) unless the command alone picks it (see picks_alone); a
    command already naming one is left as it is. `dump` reads this node's own data path
    before any sandbox, so it always names it."""
    words = command.split()
    if any(w.partition("=")[0] in SANDBOX_FLAGS for w in words):
        return command
    if words[1:2] != ["dump"] and picks_alone(name):
        return command
    return f"{command} {flag or sandbox_flag(command)} {name}"


# The commands that read one sandbox, picked by itself when none is named (`dump`: when
# this node has no data path of its own).
_PICKING = (["sandbox", "status"], ["dump", "maps"], ["dump", "config"])


def naming_one(line: str) -> str:
    """``line`` (a `kmeshctl sandbox status ...` / `kmeshctl dump maps|config ...` line to
    paste, as typed but for a flag) with the sandbox flag naming the one the command's own
    `several sandboxes` refusal offers first (see several), when it names no place and
    would be refused so; unchanged when it names a sandbox, --bpf-fs, --admin-port or
    --pod (a cluster's agent: --sandbox beside it is refused), picks one alone, or reads
    this node's own data path."""
    words = line.split()
    if words[1:3] not in _PICKING or any(w.partition("=")[0] in (*SANDBOX_FLAGS, "--bpf-fs", "--admin-port", "--pod")
                                         for w in words):
        return line
    if (words[1:2] == ["dump"] and DEFAULT_BPF_FS.exists()) or os.environ.get(NAME_ENV):
        return line
    command = " ".join(words[:3])
    try:
        pick(command)
        return line
    except UsageError:
        found = {n: phase for n, phase in existing().items() if phase != PHASE_FAILED} or existing()
    chosen = fitting(found, command) or in_pick_order(found, command)
    return f"{line} {sandbox_flag(command)} {chosen[0]}" if chosen else line


def name_from_env() -> Optional[str]:
    """$KMESHCTL_SANDBOX_NAME when set, checked; the message names the variable, not --name."""
    value = os.environ.get(NAME_ENV)
    return checked_env_name(value) if value else None


def checked_name(value: str, flag: str = "--name") -> str:
    """``value`` of ``flag`` (--name or --sandbox, as typed: both spellings name a sandbox
    on every command that picks one) checked, the message naming that flag; one that is a
    sandbox's name in other case (`T32A-B`) offers it (see meant_name), with the command
    being run again on it."""
    try:
        return check_name(value, flag)
    except UsageError:
        meant = meant_name(value)
        typed = typed_now()
        if meant is None:
            raise UsageError(_rule_broken_text(value, flag, typed)) from None
        line = f" `{typed.rerun(typed.command, flag, meant, '')}`" if typed is not None else ""
        raise UsageError(f"{flag} {shown(value)}: {not_a_name_text(meant, flag)}{line}") from None


def _rule_broken_text(value: str, flag: str, typed: Optional[Typed]) -> str:
    """`--name T40A-1: not a sandbox name; use RULE (it has upper-case letters); did you
    mean --name t40a-1? `LINE``: the name fitted to the rule offered where it makes a
    sandbox (`sandbox up`) or names one there is; else an example."""
    fitted = fitted_name(value)
    # `sandbox up` makes it; so does the demo with no sandbox up
    making = typed is not None and (typed.command.split()[1:3] == ["sandbox", "up"] or
                                    typed.command.split()[1:3] == ["demo", "traffic-shift"] and not names())
    said = f"{flag} {shown(value)}: not a sandbox name; use {state_mod.NAME_RULE} ({broken_name_rule(value)})"
    if fitted is None or not (making or fitted in names()):
        return f"{said}, e.g. {flag} demo"
    line = f" `{typed.rerun(typed.command, flag, fitted, '')}`" if typed is not None else ""
    return f"{said}; did you mean {flag} {fitted}?{line}"


def broken_name_rule(value: str) -> str:
    """Which part of the sandbox-name rule ``value`` breaks, first the one most likely meant."""
    import re

    if not value:
        return "it is empty"
    if len(value) > state_mod.NAME_MAX:
        return f"it has {len(value)} characters, at most {state_mod.NAME_MAX}"
    if any(c.isupper() for c in value):
        return "it has upper-case letters"
    others = sorted(set(re.sub(r"[-a-z0-9]", "", value)))
    if others:
        return f"it has {' '.join(repr(c) for c in others)}"
    return "it starts or ends with '-'"


def fitted_name(value: str) -> Optional[str]:
    """``value`` made a sandbox name: lower-cased, '_' '.' and ' ' as '-', anything else
    left out, cut to NAME_MAX; None when nothing of it is left."""
    import re

    lowered = re.sub(r"[_. ]", "-", value.strip().lower())
    fitted = re.sub(r"[^-a-z0-9]", "", lowered).strip("-")[:state_mod.NAME_MAX].strip("-")
    return fitted if fitted and fitted != value and state_mod._NAME.match(fitted) else None


def name_read(word: str) -> Optional[str]:
    """The sandbox name a word typed would be: itself when it is one, else fitted to the rule
    (`T47_x`: t47-x); None when it cannot be one (nothing fits, or the fit is cut short)."""
    if state_mod._NAME.match(word):
        return word
    return fitted_name(word) if len(word.strip()) <= state_mod.NAME_MAX else None


def meant_name(value: str) -> Optional[str]:
    """The sandbox (or a failed `up`'s leftovers) ``value`` most likely means when it is no
    sandbox name: the one named so lower-cased, '_' and '.' as '-'; None when none is."""
    lowered = value.strip().lower().replace("_", "-").replace(".", "-")
    return lowered if lowered != value and lowered in {*names(), *failed_up_names()} else None


def not_a_name_text(meant: str, flag: str) -> str:
    """`not a sandbox name (RULE); did you mean --sandbox t32a-b?`."""
    return f"not a sandbox name ({state_mod.NAME_RULE}); did you mean {flag} {meant}?"


def checked_env_name(value: str) -> str:
    """``value`` (of $KMESHCTL_SANDBOX_NAME) checked: the one wording of every command that
    uses a sandbox, naming the variable and a valid example (checked only where used)."""
    try:
        return check_name(value)
    except UsageError:
        meant = meant_name(value)
        if meant is not None:
            raise UsageError(f"${NAME_ENV}={shown(value)}: not a sandbox name ({state_mod.NAME_RULE}); did you "
                             f"mean sandbox {meant}? `export {NAME_ENV}={meant}`") from None
        fitted = fitted_name(value) if len(value.strip()) <= state_mod.NAME_MAX else None  # cut: maybe another's
        if fitted is not None:  # as --name and --sandbox: the name fitted to the rule
            raise UsageError(f"${NAME_ENV}={shown(value)}: not a sandbox name; use {state_mod.NAME_RULE} "
                             f"({broken_name_rule(value)}); did you mean ${NAME_ENV}={fitted}? "
                             f"`export {NAME_ENV}={fitted}`") from None
        raise UsageError(f"${NAME_ENV}={shown(value)}: not a sandbox name; use {state_mod.NAME_RULE} "
                         f"(e.g. export {NAME_ENV}=demo), or unset it") from None


# ------------------------------------------------------------------ records of another version


class OtherVersion(KmeshctlError):
    """The sandbox's record is another kmeshctl version's: remove it and make it again.
    DamagedRecord is one too (the fix is the same), so catching this catches both."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"sandbox {name} was made by another kmeshctl version ({why}): run {_remake_fix(name)}")
        self.name = name


class DamagedRecord(OtherVersion):
    """The sandbox's record is damaged (no version wrote it so): `sandbox down` removes it
    all the same, finding what to remove by the sandbox's name."""

    def __init__(self, name: str, why: str) -> None:
        KmeshctlError.__init__(self, f"sandbox {name}'s record is damaged ({why}): run {_remake_fix(name)}")
        self.name = name


def _remake_fix(name: str) -> str:
    """`` `kmeshctl sandbox down --name NAME`, then `kmeshctl sandbox up --name NAME ...` ``:
    the up with the manifests the sandbox was made from (kmeshctl.sandbox.sandbox.remake_steps)."""
    from kmeshctl.sandbox.sandbox import remake_steps

    return ", then ".join(f"`{step}`" for step in remake_steps(name))


def check_version(name: str) -> None:
    """Raise OtherVersion (DamagedRecord for a damaged one) unless sandbox ``name``'s
    record, if any, is this version's."""
    load(name)


def load(name: str) -> Optional[SandboxState]:
    """The record of sandbox ``name``, checked (None when there is none); OtherVersion when
    another kmeshctl version wrote it, DamagedRecord when it is damaged."""
    try:
        return SandboxState.read(name)
    except state_mod.RecordError as err:
        raise (DamagedRecord if err.damaged else OtherVersion)(name, str(err)) from None


class NotFound(KmeshctlError):
    """A sandbox named (by a flag or $KMESHCTL_SANDBOX_NAME) that does not exist: exit 1,
    as kubectl's NotFound; a name that cannot be a sandbox's is bad input (exit 2)."""


def not_found(name: str, fix: str = "") -> NotFound:
    """The one wording, on every command, of sandbox ``name`` (named by a flag or
    $KMESHCTL_SANDBOX_NAME) that does not exist: `sandbox NAME not found (sandboxes: a, b);
    pass one of them, or make it: `kmeshctl sandbox up --name NAME``, or `(no sandbox
    exists); make it: ...`. ``fix`` replaces the fix (`sandbox down`: --ignore-not-found)."""
    if name in failed_up_names():
        return failed(name)
    make = f"`kmeshctl sandbox up --name {name}{_then_again(name)}`"
    default = f"pass one of them, or make it: {make}" if names() else f"make it: {make}"
    return NotFound(f"sandbox {name} not found ({known_text()}){_near_miss(name)}; {fix or default}")


def _near_miss(name: str) -> str:
    """`; did you mean t41a-3s? `THIS COMMAND --name t41a-3s`` for a name one letter or so
    off an existing sandbox's (`t41a-3`), the running command again on it; "" otherwise."""
    import difflib

    close = difflib.get_close_matches(name, names(), n=1, cutoff=0.8)
    typed = typed_now()
    if not close or typed is None or typed.command.split()[1:3] in _MAKING_OR_REMOVING:
        return ""
    from kmeshctl.sandbox.demo_target import judging  # a demo line carries the -c the sandbox needs

    line = judging(typed.rerun)(typed.command, sandbox_flag(typed.command), close[0], "")
    return f"; did you mean {close[0]}? `{line}`"


# Commands whose not-found fix is the `sandbox up` alone: they make or remove the sandbox.
_MAKING_OR_REMOVING = (["sandbox", "up"], ["sandbox", "down"])


def _then_again(name: str) -> str:
    """` && kmeshctl dump maps --sandbox NAME ...`: the running command again, as typed,
    after the `sandbox up` that makes sandbox ``name`` ("" outside a command, or for one
    that makes or removes sandboxes)."""
    typed = typed_now()
    if typed is None or typed.command.split()[1:3] in _MAKING_OR_REMOVING:
        return ""
    return " && " + typed.rerun(typed.command, sandbox_flag(typed.command), name, "")


def require(name: str, flag: str = "--sandbox") -> SandboxState:
    """The record of sandbox ``name`` (checked: a bad name is a UsageError naming
    ``flag``); NotFound listing the existing ones when there is none."""
    state = load(checked_name(name, flag))
    if state is None:
        raise not_found(name)
    return state


def existing() -> dict[str, str]:
    """Every sandbox on this machine, a failed `sandbox up`'s leftovers too, by name, with
    the phase `sandbox list` shows (`ready`, `failed`, `not-ready`...)."""
    return {row["name"]: _short_phase(row["phase"]) for row in list_all()}


def _short_phase(phase: str) -> str:
    return "other version" if phase.startswith("other version") else phase


PHASE_DAMAGED = "damaged"  # `sandbox list`: a record no version wrote so; `sandbox down` removes it


# ``command`` run again on sandbox ``name``: (command, flag, name, after) -> the line to
# paste. A library only knows the bare one (rerun_line); the CLI passes one that keeps
# every flag and argument the user typed (kmeshctl.cli.render.rerun_line).
Rerun = Callable[[str, str, str, str], str]


def rerun_line(command: str, flag: str, name: str, after: str = "") -> str:
    """``command flag name after``: ``command`` (`kmeshctl dump maps`) again on sandbox
    ``name``, `-- COMMAND` (``after``) last; the Rerun outside a run of the command."""
    return f"{command} {flag} {name}" + (f" {after}" if after else "")


# The commands that remove the sandbox they are given: a fix never picks one for them.
_REMOVING = (["sandbox", "down"],)


def several(found: dict[str, str], command: str, after: str = "", why: str = "",
            rerun: Rerun = rerun_line) -> UsageError:
    """The one wording of a command given no name while several sandboxes could be the one:
    each with its phase, and the command being run as it must be pasted for one of them
    that fits (see unfit: for `down` a failed one first, else a ready one; never one the
    command would refuse), or, when none does, why each does not. ``command`` (`kmeshctl
    sandbox down`) and ``after`` (`-- COMMAND` of `sandbox exec`) spell it outside a run;
    ``why`` says why these (`have pod web`); ``rerun``: see Rerun. A command that removes
    (`sandbox down`) picks none, as `kubectl delete` with no name (on a shared machine the
    first name may be another user's sandbox): it gets a line for each it can remove."""
    flag = sandbox_flag(command)
    order = in_pick_order(found, command)
    reasons = {n: unfit(n, phase, command) for n, phase in found.items()}
    fitting = [n for n in order if not reasons[n]]
    listed = ", ".join(f"{n} {phase}" for n, phase in found.items())
    what = f"several sandboxes {why}" if why else "several sandboxes exist"
    if fitting and command.split()[1:3] in _REMOVING:
        held = "".join(f"; {n}: {reasons[n]}" for n in order if reasons[n])  # `t1: in use by demo pid 42`
        lines = " or ".join(f"`{rerun(command, flag, n, after)}`" for n in fitting)
        return UsageError(f"{what} ({listed}): pass {flag} NAME with the one to remove, {lines}{held}")
    if fitting:
        return UsageError(f"{what} ({listed}): pass {flag} NAME, e.g. `{rerun(command, flag, fitting[0], after)}`")
    unfitting = "; ".join(f"{n}: {reasons[n]}" for n in order)
    return UsageError(f"{what} ({listed}) and none can be used now ({unfitting}): {_none_fits_fix(command, rerun)}")


def in_pick_order(found: dict[str, str], command: str) -> list[str]:
    """The names of ``found`` (name -> phase) in the order a fix offers them for
    ``command``: for `sandbox down` those not ready first (a failed up's leftovers), else
    the ready ones first."""
    ready = [n for n, phase in found.items() if phase == PHASE_READY]
    others = [n for n in found if n not in ready]
    return others + ready if command.split()[1:3] == ["sandbox", "down"] else ready + others


def fitting(found: dict[str, str], command: str) -> list[str]:
    """The sandboxes of ``found`` that ``command`` would take (see unfit), in pick order."""
    return [n for n in in_pick_order(found, command) if not unfit(n, found[n], command)]


def _none_fits_fix(command: str, rerun: Rerun) -> str:
    """What to do when no sandbox fits ``command``: the demo in a sandbox of its own, else wait."""
    if command.split()[1:3] == ["demo", "traffic-shift"]:
        from kmeshctl import demo
        from kmeshctl.sandbox.demo_target import DEMO_NAMESPACE

        def in_default(command: str, flag: str, name: str, after: str = "") -> str:
            # a new sandbox has the demo's objects in the default namespace
            line = rerun(command, flag, name, after)
            return demo.with_namespace(line, DEMO_NAMESPACE) if _demo_namespace_typed() else line

        return f"run it in a new sandbox, `{demo.in_new_sandbox('kmesh', in_default)}`{new_sandbox_weights_note()}"
    return "wait for one, or pass the name of one anyway"


def new_sandbox_weights_note() -> str:
    """` (then fix --weights 30/30/40: a new sandbox has the demo's 2 subsets, v1/v2)` when
    the --weights typed do not fit the demo's own manifests, which a new sandbox is made
    from; '' otherwise."""
    import shlex

    from kmeshctl import demo
    from kmeshctl.sandbox.demo_target import option_value

    typed = typed_now()
    weights = option_value(shlex.split(typed.line), "--weights", "--weights") if typed and typed.line else None
    if weights is None:
        return ""
    subject = demo.fortio_demo()[1]
    try:
        demo.parse_weight_sets(weights, subject)
    except UsageError:
        subsets = "/".join(v.subset for v in subject.versions)
        return f" (then fix --weights {weights}: a new sandbox has the demo's {len(subject.versions)} subsets, {subsets})"
    return ""


# The commands a sandbox another demo holds refuses: a fix must not suggest such a one.
_LOCKING = (["demo", "traffic-shift"], ["sandbox", "down"])


def unfit(name: str, phase: str, command: str) -> str:
    """Why ``command`` (given sandbox ``name``, in ``phase``) would refuse it: held by
    another demo (the demo, `down` without --force), without the demo's objects in the
    namespace asked for, or in any namespace when no -n was typed (the demo: it refuses
    such a sandbox); '' when it fits. One not ready fits (the command says what is wrong
    and how to make it again), after those that are ready (see several)."""
    words = command.split()[1:3]
    if phase == PHASE_FAILED and words != ["sandbox", "down"]:
        return "its `sandbox up` failed"
    if words in _LOCKING:
        from kmeshctl.sandbox import lock as lock_mod

        holder = lock_mod.holder(name)
        if holder is not None and not holder.ours and holder.command == lock_mod.DEMO:
            return f"in use by demo pid {holder.pid}"
    return _demo_missing_in(name, _demo_namespace_typed()) if words == ["demo", "traffic-shift"] else ""


def _demo_missing_in(name: str, namespace: Optional[str]) -> str:
    """`no fortio Service in namespace team-a`: what sandbox ``name`` lacks for the demo in
    ``namespace`` (None: in every namespace); '' when it has it."""
    from kmeshctl.sandbox.demo_target import demo_missing, demo_namespaces

    try:
        state = load(name)
    except DamagedRecord:
        return "its record is damaged"
    except OtherVersion:
        return "made by another kmeshctl version"
    if state is None:
        return "no record"
    if namespace is None:
        found = demo_namespaces(state)
        return _refused_as_typed(state, found[0]) if found else \
            "no fortio Service with a netutils pod in any namespace"
    missing = demo_missing(state, namespace)
    return f"no {missing} in namespace {namespace}" if missing else _refused_as_typed(state, namespace)


def _refused_as_typed(state: SandboxState, namespace: str) -> str:
    """Why the demo as typed would refuse ``namespace`` of sandbox ``state`` before any
    request: its --weights (else the VirtualService's own) do not fit the subsets, or give
    weight to a subset without a pod; '' otherwise (or when the run must say what is wrong)."""
    import shlex

    from kmeshctl import demo
    from kmeshctl.sandbox.demo_target import option_value, sandbox_subject

    typed = typed_now()
    weights = option_value(shlex.split(typed.line), "--weights", "--weights") if typed and typed.line else None
    try:
        subject = sandbox_subject(state, namespace)
    except (KmeshctlError, OSError):
        return ""
    subsets = "/".join(v.subset for v in subject.versions)
    try:
        sets = demo.parse_weight_sets(weights, subject)
    except UsageError:
        return f"--weights {weights} does not fit its {len(subject.versions)} subsets ({subsets})"
    podless = [v.subset for i, v in enumerate(subject.versions) if not v.pods and any(w[i] for w in sets)]
    return f"subset {podless[0]} has no pod (replicas 0)" if podless else ""


@dataclass(frozen=True)
class Typed:
    """What the running command typed, as the CLI reads it: its path (`kmeshctl demo
    traffic-shift`), its -n/--namespace when typed (None: not typed), its Rerun, and the
    whole line as typed (`kmeshctl sandbox list -o wide`; "" when unknown)."""

    command: str
    namespace: Optional[str]
    rerun: "Rerun"
    line: str = ""


# Only kmeshctl/cli/ reads the command line: it registers its reader here when it is
# imported (kmeshctl.cli.render.typed_now); a library caller typed nothing.
_typed_readers: list[Callable[[], Optional[Typed]]] = []


def read_typed_with(reader: Callable[[], Optional[Typed]]) -> None:
    """Register the CLI's reader of what the running command typed."""
    _typed_readers[:] = [reader]


def typed_now() -> Optional[Typed]:
    """What the running command typed (None: no command runs, or no CLI)."""
    return _typed_readers[0]() if _typed_readers else None


def _demo_namespace_typed() -> Optional[str]:
    """The demo's -n as typed on the running command (None: not typed, or not the demo):
    the sandbox a fix suggests must have the namespace asked for."""
    typed = typed_now()
    if typed is None or typed.command.split()[-2:] != ["demo", "traffic-shift"]:
        return None
    return typed.namespace


def namespaces_for(command: str, name: str) -> Optional[list[str]]:
    """The namespaces of sandbox ``name`` that ``command`` (`kmeshctl demo traffic-shift`,
    `kmeshctl sandbox exec`) can work in: the demo's, those with its objects
    (demo_namespaces), else every namespace with a pod; None when there is no such
    sandbox (or its record is unreadable)."""
    state = _loaded(name)
    if state is None:
        return None
    if command.split()[1:3] == ["demo", "traffic-shift"]:
        from kmeshctl.sandbox.demo_target import demo_namespaces

        if found := demo_namespaces(state):
            return found
    return list(dict.fromkeys(pod.namespace for pod in state.pods))


def _loaded(name: str) -> Optional[SandboxState]:
    """Sandbox ``name``'s record; None when there is none or it cannot be read."""
    try:
        return load(name)
    except KmeshctlError:
        return None


def pick(command: str, after: str = "", has: Optional[Callable[[str], bool]] = None, what: str = "",
         rerun: Rerun = rerun_line) -> Optional[str]:
    """The sandbox ``command`` (`kmeshctl sandbox status`, `kmeshctl demo traffic-shift`),
    given no name, works on: the only one up (a failed `up`'s leftovers do not count, see
    failed_note; when nothing else is there, the only failed one, which the command then
    reports as failed; `sandbox down` counts them: removing the wrong one would lose work);
    None when none exists; several: a UsageError listing them (see several). ``has``: only
    the sandboxes it holds true of count (`sandbox exec POD`: those with the pod, ``what``
    saying so, e.g. `have pod web`; ``rerun``: see several). Every command that picks a
    sandbox by itself decides here."""
    found = every = existing()
    if command.split()[1:3] != ["sandbox", "down"]:
        up = {n: phase for n, phase in found.items() if phase != PHASE_FAILED}
        found = up or found
    failed_too = {n: phase for n, phase in every.items() if n not in found}  # listed, never picked (unfit)
    if has is not None and len(found) > 1:
        holding = {n: phase for n, phase in found.items() if has(n)}
        if len(holding) > 1:
            raise _all_hidden(holding) or several(holding, command, after, what, rerun)
        if holding:
            return next(iter(holding))
    if len(found) > 1:
        raise _all_hidden({**found, **failed_too}) or several({**found, **failed_too}, command, after, rerun=rerun)
    return next(iter(found), None)


def _all_hidden(found: dict[str, str]) -> Optional[KmeshctlError]:
    """When this command can see none of ``found`` (name -> phase; `ip netns exec`), that,
    in one line with the command typed run in the host's namespaces (view.hidden_lines):
    a line naming one of them would only say it cannot be seen either. None otherwise."""
    if not found or any(phase != PHASE_UNKNOWN for phase in found.values()):
        return None
    from kmeshctl.sandbox.view import Unseen, hidden_lines

    states = [_loaded(name) for name in found]
    if None in states:
        return None
    lines = [line for line in hidden_lines(states) if line]  # type: ignore[arg-type]
    return Unseen(lines[0], name=states[0].name) if len(lines) == 1 else None


def failed_note(chosen: str) -> str:
    """`; h61c failed; remove it with ...`: the failed `up`s left beside the sandbox
    ``chosen`` a command picked by itself ('' when none): said, never in the way."""
    left = [n for n in failed_up_names() if n != chosen]
    return "".join(f"; {n} failed; remove it with `kmeshctl sandbox down --name {n}`" for n in left)


def failed(name: str) -> NotFound:
    """Sandbox ``name`` is only the logs of a failed (or interrupted) `sandbox up`: nothing
    to work on; the fix, one line, removes them, makes it again from the manifests that
    `up` was given and runs the command being run again (``down`` alone would leave a
    name that is not found)."""
    from kmeshctl.sandbox.sandbox import failed_up_remake_steps

    how = "was interrupted" if up_ended(name) == "interrupted" else "did not finish"
    steps = failed_up_remake_steps(name) + [step for step in [rerun_here(name)] if step]
    return NotFound(f"sandbox {name} failed (its up {how}); make it again: `{' && '.join(steps)}`")


def rerun_here(name: str) -> str:
    """The command being run, again, on sandbox ``name``, every flag typed kept ('' when
    none runs, or it is one that makes or removes sandboxes)."""
    typed = typed_now()
    if typed is None:
        return ""
    command = typed.command
    if command.split()[1:3] in (["sandbox", "up"], ["sandbox", "down"], ["sandbox", "list"]):
        return ""
    from kmeshctl.sandbox.demo_target import judging

    return judging(typed.rerun)(command, sandbox_flag(command), name, "")


def only_one() -> Optional[SandboxState]:
    """The sandbox when exactly one exists, else None."""
    found = names()
    return load(found[0]) if len(found) == 1 else None


def maps_of_other_version(state: SandboxState, err: Exception) -> KmeshctlError:
    """The error for a sandbox whose pinned maps this version cannot read: still being
    made (not ready yet), or made by another version (other layout, maps missing)."""
    if state.phase == PHASE_REMOVING:
        return KmeshctlError(f"sandbox {state.name} is being removed (a `sandbox down` started): run "
                             f"`kmeshctl sandbox down --name {state.name}` to finish")
    if state.phase != PHASE_READY:
        return KmeshctlError(f"sandbox {state.name} is not ready yet (phase {state.phase}): wait for "
                             f"`kmeshctl sandbox up --name {state.name}` to finish, or see "
                             f"`kmeshctl sandbox status --name {state.name}`")
    why = " ".join(str(err).split(":")[0].split())
    return OtherVersion(state.name, why if str(state.bpffs) in why else f"{why} under {state.bpffs}")


# ------------------------------------------------------------------ which data path


@dataclass(frozen=True)
class LocalTarget:
    """The data path a local tool reads: a bpffs directory and its agent's admin port
    (None: the agent's default port), with the sandbox it belongs to and a note to print."""

    bpffs: Path
    admin_port: Optional[int]
    sandbox: Optional[SandboxState] = None
    note: str = ""


def local_target(bpf_fs: Optional[Path], admin_port: Optional[int], sandbox: Optional[str],
                 own_flag: str = "--bpf-fs DIR", sandbox_flag: str = "--sandbox",
                 rerun: Rerun = rerun_line) -> LocalTarget:
    """What `dump maps` and `dump config` read on this machine: --sandbox NAME; else
    --bpf-fs / --admin-port as given (a --bpf-fs that is a sandbox's: that sandbox, its
    agent's port); else this node's data path when it has one; else the only sandbox
    (with a note); several sandboxes: a UsageError listing them; none: an error saying
    what to start (``own_flag``: the command's flag for a place of its own; ``sandbox_flag``:
    the sandbox flag as typed, --sandbox or --name; ``rerun``: see several). --bpf-fs /
    --admin-port given with --sandbox: see check_same_place."""
    command = _dump_command(own_flag)
    if sandbox is not None:
        state = require(sandbox, sandbox_flag)
        check_same_place(state, bpf_fs, admin_port, sandbox_flag, command, rerun)
        check_data_path(state)
        return LocalTarget(state.bpffs, agent_port(state), state)
    if bpf_fs is not None:
        owner = owner_of_bpffs(bpf_fs)
        if owner is not None:
            check_data_path(owner)
            return LocalTarget(bpf_fs, admin_port or agent_port(owner), owner)
        check_node_path_seen(bpf_fs)
    elif admin_port is None and not DEFAULT_BPF_FS.exists():
        check_node_path_seen()  # before a sandbox is offered: `ip netns exec` hides those too
    if bpf_fs is not None or admin_port is not None or DEFAULT_BPF_FS.exists():
        return LocalTarget(bpf_fs or DEFAULT_BPF_FS, admin_port)
    try:
        only = pick(command, rerun=rerun)
    except UsageError as err:
        raise UsageError(f"this node has no data path of its own ({DEFAULT_BPF_FS}) and {err}") from None
    if only is None:
        raise KmeshctlError(f"no data path here: {DEFAULT_BPF_FS} does not exist and no sandbox is up; start one "
                            f"(`kmeshctl sandbox up`, or `kmeshctl node run` on a node), or pass {own_flag}")
    state = require(only)
    check_data_path(state)
    return LocalTarget(state.bpffs, agent_port(state), state,
                       f"Using sandbox {state.name} (the only one up; this node has no data path of its own); "
                       f"pass --sandbox NAME or {own_flag} to choose{failed_note(state.name)}")


def _dump_command(own_flag: str) -> str:
    """The dump command whose own place flag is ``own_flag`` (see local_target)."""
    return "kmeshctl dump maps" if own_flag.startswith("--bpf-fs") else "kmeshctl dump config"


def check_same_place(state: SandboxState, bpf_fs: Optional[Path], admin_port: Optional[int],
                     typed_flag: str, command: str, rerun: Rerun = rerun_line) -> None:
    """--bpf-fs / --admin-port typed beside ``typed_flag`` NAME (sandbox ``state``): its
    own bpffs directory or agent port is the same place said twice, accepted; any other
    place a UsageError echoing both, naming the sandbox whose place it is (when one's),
    with the line to paste (``command`` on the sandbox, no place flag: see Rerun)."""
    typed = f"{typed_flag} {shown(state.name)}"
    if bpf_fs is not None and not _same_directory(bpf_fs, state.bpffs):
        raise _other_place(f"{typed} --bpf-fs {shown(bpf_fs)}", "bpffs directory", state, str(state.bpffs),
                           owner_of_bpffs(bpf_fs), f"read {shown(bpf_fs)}", command, rerun)
    own_port = agent_port(state)
    if admin_port is not None and admin_port != own_port:
        owner = owner_of_admin_port(admin_port)
        # alone, --admin-port leaves dump maps reading this node's data path: offered only where there is one
        alone = command.endswith("dump config") or DEFAULT_BPF_FS.exists()
        raise _other_place(f"{typed} --admin-port {admin_port}", "node agent admin port", state,
                           str(own_port or "none yet"), owner, f"ask 127.0.0.1:{admin_port}" if alone else "",
                           command, rerun)


def _same_directory(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False


def _other_place(given: str, what: str, state: SandboxState, own: str, owner: Optional[SandboxState],
                 instead: str, command: str, rerun: Rerun) -> UsageError:
    """`--sandbox a --bpf-fs DIR: that is sandbox b's bpffs directory, not a's; give one:
    `... --sandbox a` or `... --sandbox b``; of no sandbox: `not sandbox a's bpffs
    directory (its own: DIR); ...`."""
    flag = sandbox_flag(command)
    ours = f"`{rerun(command, flag, state.name, '')}`"
    if owner is not None and owner.name != state.name:
        return UsageError(f"{given}: that is sandbox {owner.name}'s {what}, not {state.name}'s; give one: "
                          f"{ours} or `{rerun(command, flag, owner.name, '')}`")
    alone = f", or leave out {given.split()[0]} to {instead}" if instead else ""  # "": that would not resolve
    return UsageError(f"{given}: not sandbox {state.name}'s {what} (its own: {own}); give one: {ours} "
                      f"(its own {what}){alone}")


def check_data_path(state: SandboxState) -> None:
    """A state failure (exit 1, naming the sandbox) when ready sandbox ``state`` lost its
    pinned data path (e.g. `node cleanup` run on its directory): never a --bpf-fs error,
    a flag the user did not type. A sandbox not ready is left to maps_of_other_version."""
    from kmeshctl.sandbox.sandbox import data_path_gone, remake_text

    if data_path_gone(state):
        raise KmeshctlError(f"sandbox {state.name} has no data path: nothing is pinned in {state.bpffs} (was "
                            f"`kmeshctl node cleanup` run on it?): run {remake_text(state.name, rerun_here(state.name))}")


def owner_of_bpffs(bpf_fs: Path, within: bool = False) -> Optional[SandboxState]:
    """The sandbox whose bpffs directory ``bpf_fs`` is (the same directory, however it
    is spelled; ``within``: or one below it), or None; a record another version wrote is skipped."""
    try:
        wanted = bpf_fs.resolve()  # a symlink loop raises even with no sandbox (node cleanup's reading)
    except OSError:
        return None
    return next((state for state in _readable() if _at_or_below(wanted, state.bpffs.resolve(), within)), None)


def _at_or_below(path: Path, directory: Path, within: bool) -> bool:
    return path == directory or (within and path.is_relative_to(directory))


def owner_of_cgroup(cgroup: Path, within: bool = False) -> Optional[SandboxState]:
    """The sandbox whose pods' cgroup ``cgroup`` is (however it is spelled; ``within``: or
    one below it), or None."""
    return _owner_of_dir(cgroup, lambda state: state.cgroup, within)


def owner_of_cni_conf_dir(conf_dir: Path) -> Optional[SandboxState]:
    """The sandbox whose CNI config directory ``conf_dir`` is, or None."""
    return _owner_of_dir(conf_dir, lambda state: state.cni_conf_dir)


def _owner_of_dir(path: Path, of: Callable[[SandboxState], Path], within: bool = False) -> Optional[SandboxState]:
    try:
        wanted = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: no sandbox's (the flag's own check says so)
        return None
    return next((state for state in _readable() if _at_or_below(wanted, of(state).resolve(), within)), None)


def owner_of_admin_port(port: int) -> Optional[SandboxState]:
    """The sandbox whose node agent serves admin ``port``, or None; a record another
    version wrote is skipped."""
    return next((state for state in _readable() if agent_port(state) == port), None)


def owner_of_agent_port(port: int) -> Optional[SandboxState]:
    """The sandbox whose node agent serves admin or metrics ``port`` on 127.0.0.1, or None."""
    def ports(state: SandboxState) -> set[str]:
        return {str(state.agent.get(key) or "").rpartition(":")[2] for key in ("admin", "metrics")}
    return next((state for state in _readable() if str(port) in ports(state)), None)


def owner_of_agent_socket(path: Path) -> Optional[SandboxState]:
    """The sandbox whose node agent serves the admin or CNI socket ``path``, or None."""
    from kmeshctl.sandbox.agent import admin_socket

    wanted = os.path.realpath(path)
    return next((state for state in _readable() if wanted in
                 (os.path.realpath(admin_socket(state)), os.path.realpath(state.cni_socket))), None)


def _readable() -> Iterator[SandboxState]:
    """The records of this machine's sandboxes this version can read."""
    for name in names():
        try:
            state = load(name)
        except OtherVersion:
            continue
        if state is not None:
            yield state


def stopped_agent_fix(name: str) -> str:
    """`it is: the node agent of sandbox NAME (pid N) is stopped (SIGSTOP): resume it with
    `kill -CONT N`` when sandbox ``name``'s node agent is stopped, else '' (for a command
    its agent did not answer)."""
    from kmeshctl.sandbox import health

    try:
        state = load(name)
    except KmeshctlError:
        return ""
    agents = state.processes_of("agent") if state is not None else []
    if not agents or not health.process_stopped(agents[-1].pid):
        return ""
    return f"it is: the node agent of sandbox {name} (pid {agents[-1].pid}) {health.stopped_text(agents[-1].pid)}"


def agent_port(state: SandboxState) -> Optional[int]:
    """The sandbox agent's admin port (it listens on 127.0.0.1); None before it started."""
    address = state.agent.get("admin") or ""
    port = address.rpartition(":")[2]
    return int(port) if port.isdigit() else None


def admin_port(state: SandboxState) -> int:
    """The sandbox agent's admin port; a UsageError while the agent has not started yet."""
    port = agent_port(state)
    if port is None:
        raise UsageError(f"sandbox {state.name} has no node agent admin address yet: wait for "
                         f"`kmeshctl sandbox up --name {state.name}` to finish")
    return port


# ------------------------------------------------------------------ sandbox list


def summary(state: SandboxState) -> dict:
    """One row of `sandbox list`: `phase` is `ready` only when `up` finished, every
    process still runs and is not stopped (the process part of `sandbox status`'s check,
    which also asks the daemons), and the waypoints route with the record's weights (the
    control plane pushed its last change); `problems` says what is wrong; `pods` counts every pod, the waypoints' too,
    as `sandbox status` lists them."""
    from kmeshctl.sandbox.sandbox import process_problems, pushed_problems, stopped_problems
    from kmeshctl.sandbox.view import Unseen

    try:
        problems = (process_problems(state) + stopped_problems(state)) or pushed_problems(state)
        phase = shown_phase(state.phase, problems, not state.up_is_running())
    except Unseen as err:  # its processes and pins are hidden from here: neither ready nor not
        problems, phase = [str(err)], PHASE_UNKNOWN
    bpffs = str(state.bpffs) if phase == PHASE_UNKNOWN else bpffs_if_there(state.bpffs)
    return {
        "name": state.name,
        "phase": phase,
        "ready": not problems,
        "problems": problems,
        "pods": len(state.pods),
        "waypoints": len(state.waypoints),
        "agentAdmin": state.agent.get("admin"),
        "bpffs": bpffs,
        "created": created_text(state.created_at),
        "age": _age(state.created_at),
    }


def created_text(created_at: float) -> Optional[str]:
    """RFC 3339 UTC (`2026-12-01T06:30:00Z`), as Kubernetes' creationTimestamp; None when unknown."""
    if not created_at:
        return None
    return datetime.fromtimestamp(created_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _other_version_row(name: str, err: OtherVersion) -> dict:
    """The row of a record this version cannot use: `damaged` or `other version`, the
    error (why, and the fix) its one problem."""
    state = SandboxState(name=name)
    phase = PHASE_DAMAGED if isinstance(err, DamagedRecord) else "other version (sandbox down, then up)"
    when = _record_created(name)
    return {"name": name, "phase": phase, "ready": False, "problems": [str(err)], "pods": 0, "waypoints": 0,
            "agentAdmin": None, "bpffs": bpffs_if_there(state.bpffs), "created": created_text(when),
            "age": _age(when)}


def _record_created(name: str) -> float:
    """When a record this version cannot use was made: its created_at when that reads,
    else when its `up` wrote it (`sandbox list` keeps its AGE column for it)."""
    salvaged = SandboxState.load(name)
    if salvaged is not None and salvaged.created_at:
        return salvaged.created_at
    directory = state_mod.state_dir(name)
    for path in (directory / "sources.json", directory):  # the first written once, by its `up`
        try:
            return path.stat().st_mtime
        except OSError:
            pass
    return 0.0


def up_ended(name: str) -> str:
    """How the last `sandbox up` of ``name`` that left only logs ended: `interrupted`
    (Ctrl-C, SIGTERM, a `sandbox down`) or `failed`."""
    from kmeshctl.sandbox.sandbox import UP_END_FILE

    try:
        how = (state_mod.failed_up_logs(name) / UP_END_FILE).read_text().strip()
    except OSError:
        return "failed"
    return how if how in ("failed", "interrupted") else "failed"


def failed_up_problem(name: str) -> str:
    """The one problem of a failed-up name (`sandbox list`, `sandbox status`), with the fix;
    what else of the sandbox is left named (its removal cut short by a further signal)."""
    logs = state_mod.failed_up_logs(name)
    how = "was interrupted" if up_ended(name) == "interrupted" else "failed"
    left = _left_of_failed_up(name)
    if left:
        return (f"`sandbox up` {how} and not all it made was removed ({', '.join(left)}); its logs are in {logs}: "
                f"`kmeshctl sandbox down --name {name}` removes it all")
    return (f"`sandbox up` {how}; only its logs are left, in {logs}: `kmeshctl sandbox down --name {name}` "
            "removes them")


def _left_of_failed_up(name: str) -> list[str]:
    """What of sandbox ``name`` is on this machine besides its logs ([] when this user
    cannot look: bpffs and the cgroups are root's)."""
    from kmeshctl.sandbox.sandbox import leftovers

    try:
        return leftovers(name)
    except OSError:
        return []


def failed_up_status(name: str) -> dict:
    """`sandbox status` of a name whose failed `up` left only logs (exit 1): the phase
    `sandbox list` shows, the problem, and the fix that makes it again."""
    from kmeshctl.sandbox.sandbox import failed_up_remake_steps

    row = _failed_up_row(name)
    empty: dict = {"running": False, "ready": False}
    return {"name": name, "phase": row["phase"], "ready": False, "problems": row["problems"],
            "fix": " && ".join(failed_up_remake_steps(name)), "pods": [], "services": [], "notes": [],
            "waypoints": [], "controlplane": empty, "agent": dict(empty)}


def _failed_up_row(name: str) -> dict:
    when = up_started(name)
    return {"name": name, "phase": PHASE_FAILED, "ready": False,
            "problems": [failed_up_problem(name)],
            "pods": 0, "waypoints": 0, "agentAdmin": None, "bpffs": bpffs_if_there(SandboxState(name=name).bpffs),
            "created": created_text(when), "age": _age(when)}


def up_started(name: str) -> float:
    """When the failed `sandbox up` of ``name`` started (its record's creation time, kept
    with its logs); the logs' time when an older version kept them without it."""
    from kmeshctl.sandbox.sandbox import UP_START_FILE

    logs = state_mod.failed_up_logs(name)
    try:
        return float((logs / UP_START_FILE).read_text().strip())
    except (OSError, ValueError):
        pass
    try:
        return logs.stat().st_mtime
    except OSError:
        return 0.0


def bpffs_if_there(path: Path) -> Optional[str]:
    """``path`` (a sandbox's bpffs directory) when it exists, None when it is gone; kept
    when this user may not look (bpffs is root's): the record says it is there."""
    try:
        path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        pass
    return str(path)


def list_all() -> list[dict]:
    """One row per sandbox (see summary), and one per failed `sandbox up` whose logs are
    all that is left (phase `failed`), by name."""
    rows = []
    for name in names():
        try:
            state = load(name)
        except OtherVersion as err:
            rows.append(_other_version_row(name, err))
            continue
        if state is not None:
            rows.append(summary(state))
    rows += [_failed_up_row(name) for name in failed_up_names()]
    return sorted(rows, key=lambda row: row["name"])


def list_warnings(rows: list[dict]) -> list[str]:
    """What `sandbox list` warns of its ``rows``: each damaged record's problem (and its
    fix), then the sandboxes this command cannot see, together (see view.hidden_lines):
    one namespace hides them all, so one line and one command to run say it."""
    from kmeshctl.sandbox.view import hidden_lines

    lines = [row["problems"][0] for row in rows if row["phase"] == PHASE_DAMAGED and row["problems"]]
    unseen = []
    for row in rows:
        if row["phase"] == PHASE_UNKNOWN:
            try:
                state = load(row["name"])
            except KmeshctlError:
                state = None
            if state is None:  # gone meanwhile, or unreadable now: its row's own words
                lines += row["problems"][:1]
            else:
                unseen.append(state)
    return lines + [line for line in hidden_lines(unseen) if line]


def bpffs_of(state: SandboxState) -> Path:
    return state.bpffs


def _age(created_at: float) -> str:
    if not created_at:
        return "-"
    seconds = int(time.time() - created_at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
