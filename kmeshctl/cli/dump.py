"""`kmeshctl dump ...`: show data-path state. `dump maps` reads the pinned BPF maps of this
node (or of a local sandbox) directly; run it on the node, as root."""

from __future__ import annotations

import contextlib
import os
import shlex
from pathlib import Path
from typing import Annotated, Callable, Iterator, Mapping, Optional

import typer
from rich.console import Console
from typer._click.core import ParameterSource
from typer._click.globals import get_current_context

from kmeshctl.cli.common import SandboxFlagCommand
from kmeshctl.cli.option_hints import PLACED_LINES, POSITIONAL_CHECKS, POSITIONAL_READERS
from kmeshctl.cli.names import NAME_ERROR_READERS
from kmeshctl.cli.suggestions import flag_as_typed
from kmeshctl.cli.outpaths import DIRECTORY, check_input_path
from kmeshctl.cli.tables import cli_console

from kmeshctl import config_dump, sandboxes
from kmeshctl import dump as dumper
from kmeshctl.config_dump import AGENT_NAMESPACE
from kmeshctl.cli.common import (OutputFormat, app, check_namespace_flags, complete_sandbox_names, completer, is_data,
                                 output_option, print_data, run_options)
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import connect_reachable
from kmeshctl.maps import DEFAULT_BPF_FS, MAP_NAMES, MapError, MapMissingError
from kmeshctl.params import shown
from kmeshctl.sandbox.state import NAME_ENV, NAME_RULE

dump_app = typer.Typer(
    help="Show data-path state (BPF maps, agent config).\n\n"
         "Examples:\n\n"
         "  # This node's maps (or the only sandbox's)\n"
         "  kmeshctl dump maps\n"
         "  kmeshctl dump maps --sandbox demo --map km_backend -o wide\n"
         "  kmeshctl dump config --pod kmesh-5jnht -n kmesh-system",
    no_args_is_help=True)
app.add_typer(dump_app, name="dump")

ADMIN_PORT = 15200
WIDE_WIDTH = 10_000

BpfFsOption = Annotated[
    Optional[Path], typer.Option("--bpf-fs", metavar="DIR", help=f"bpffs directory holding the pinned maps "
                                 f"(default: {DEFAULT_BPF_FS}, or the only sandbox's when that has none).")
]
SandboxOption = Annotated[
    Optional[str], typer.Option("--sandbox", "--name", metavar="NAME", envvar=NAME_ENV,
                                help="A local sandbox (also --name NAME; see `kmeshctl sandbox list`); default: "
                                     f"this node's data path, else the only sandbox up. A name is {NAME_RULE}.",
                                autocompletion=complete_sandbox_names)
]


def _pod_reference(ctx: typer.Context, param: typer.CallbackParam, value: Optional[str]) -> Optional[str]:
    """--pod's value read (see _pod_name): the pod's name; the namespace of a NAMESPACE/NAME
    is kept for _pod_namespace. A value it cannot read is bad input naming an agent pod."""
    if value is None or ctx.resilient_parsing:  # shell completion parses half-typed lines
        return value
    try:
        namespace, name = _pod_name(flag_as_typed("pod"), value)
    except UsageError as err:
        raise _pod_refusal(str(err), value) from None
    if namespace is not None:
        ctx.meta[_POD_NAMESPACE] = namespace
    return name


PodOption = Annotated[
    Optional[str], typer.Option("--pod", metavar="NAME", callback=_pod_reference,
                                help="Node agent pod to ask (port-forward): NAME, NAMESPACE/NAME (then no -n) or "
                                     "kubectl's pod/NAME.")
]
NamespaceOption = Annotated[str, typer.Option("-n", "--namespace", help="Namespace of the agent pod (with --pod "
                                              "only: a local data path is shown whole).")]
# -o's help names what -o wide adds to each command's own tables
MapsOutputOption = output_option(dumper.WIDE_ADDS)
ConfigOutputOption = output_option(f"the services' {', '.join(config_dump.SERVICE_DETAIL)} and the workloads' "
                                   f"{', '.join(config_dump.WORKLOAD_DETAIL)} columns")
AdminPortOption = Annotated[
    Optional[int], typer.Option("--admin-port", min=1, max=65535, metavar="PORT",
                                help=f"The agent's admin port (default: {ADMIN_PORT}, or the sandbox agent's).")
]


def _note(line: str) -> None:
    from kmeshctl.cli.progress import note

    note(line, run_options().quiet)  # silenced by -q


def _typed_place_wins(sandbox: Optional[str], **typed: object) -> Optional[str]:
    """--sandbox, or $KMESHCTL_SANDBOX_NAME unless a place was typed (--pod, --bpf-fs,
    --admin-port: a flag on the line says more than the environment of the shell)."""
    source = get_current_context().get_parameter_source("sandbox")
    from_env = sandbox is not None and source == ParameterSource.ENVIRONMENT
    if from_env and any(value is not None for value in typed.values()):
        return None
    return sandboxes.checked_env_name(sandbox) if from_env else sandbox  # type: ignore[arg-type]


def _on_sandbox(name: str) -> str:
    """The dump command being run again on sandbox ``name`` (`NAME`: a placeholder), see _rerun."""
    return _rerun(get_current_context().command_path, "--sandbox", name)


def _on_each(found: list[str], line: Optional[Callable[[str], str]] = None) -> str:
    """`` `kmeshctl dump config --sandbox a` or `kmeshctl dump config --sandbox b` ``: a
    line to paste for each sandbox of ``found`` (``line``: name -> command; default
    _on_sandbox), never a NAME placeholder to fill in."""
    return " or ".join(f"`{(line or _on_sandbox)(name)}`" for name in found)


def _rerun(command: str, flag: str, name: str, after: str = "") -> str:
    """The command being run again on sandbox ``name`` (kmeshctl.cli.render.rerun_line:
    every flag typed kept) without --bpf-fs and --admin-port: the sandbox names its own
    (with --sandbox they are refused), so a pasted fix is accepted."""
    from kmeshctl.cli.render import rerun_line

    return shlex.join(_without_place_flags(shlex.split(rerun_line(command, flag, name, after))))


def _without_place_flags(words: list[str]) -> list[str]:
    """``words`` (a command line) without --bpf-fs and --admin-port and their values."""
    from kmeshctl.cli.cmdline import without_flag

    for param in ("bpf_fs", "admin_port"):
        words = without_flag(words, flag_as_typed(param))
    return words


def _sandbox_of_port(sandbox: Optional[str], admin_port: Optional[int],
                     bpf_fs: Optional[Path] = None) -> tuple[Optional[str], Optional[int]]:
    """(sandbox, admin port) to resolve: an --admin-port (no --bpf-fs) that is a sandbox
    agent's names that sandbox, as --sandbox does (its maps, its agent); given with
    --sandbox of the same sandbox it says nothing more. Otherwise both as typed."""
    if admin_port is None or bpf_fs is not None:
        return sandbox, admin_port
    found = sandboxes.owner_of_admin_port(admin_port)
    owner = found.name if found is not None else None
    if owner is None or sandbox not in (None, owner):
        return sandbox, admin_port  # another place beside --sandbox: sandboxes.check_same_place refuses it
    if sandbox is None:
        _note(f"Using sandbox {owner} ({flag_as_typed('admin_port')} {admin_port} is its node agent's admin port)")
    return owner, None


def _check_same_sandbox(bpf_fs: Path, admin_port: Optional[int]) -> None:
    """--bpf-fs of one sandbox and --admin-port of another's agent: that agent names the
    pods of other netns cookies, so it is refused (exit 2) as --sandbox A --admin-port
    <B's> is (kmeshctl.sandboxes.check_same_place), with each sandbox's line to paste.
    A directory or a port of no sandbox is taken as typed."""
    if admin_port is None:
        return
    maps, agent = sandboxes.owner_of_bpffs(bpf_fs), sandboxes.owner_of_admin_port(admin_port)
    if maps is None or agent is None or maps.name == agent.name:
        return
    port_flag, dir_flag = flag_as_typed("admin_port"), flag_as_typed("bpf_fs")
    raise UsageError(f"{dir_flag} {shown(bpf_fs)} {port_flag} {admin_port}: the directory is sandbox {maps.name}'s "
                     f"bpffs, the port sandbox {agent.name}'s node agent admin port; give one: "
                     f"{_on_each([maps.name, agent.name])}")


def _agent_gone(state: sandboxes.SandboxState) -> str:
    """How ready sandbox ``state``'s node agent ended (`pid N was killed by SIGKILL (exit
    status 137), its log is LOG`); '' while it runs (or before it started, or when the
    sandbox is not ready: _check_finished says that)."""
    from kmeshctl.sandbox import health
    from kmeshctl.sandbox.sandbox import PHASE_READY, process_alive

    agents = state.processes_of("agent")
    if state.phase != PHASE_READY or not agents or process_alive(state, agents[-1]):
        return ""
    agent = agents[-1]
    recorded = health.read_exit_status(agent.exit_file)
    how = health.exit_text(recorded[0]) if recorded else "has exited"
    return f"pid {agent.pid} {how}" + (f", its log is {agent.log}" if agent.log else "")


def _agent_gone_text(state: sandboxes.SandboxState, gone: str) -> str:
    """`the node agent of sandbox X is not running: HOW; make the sandbox again: `DOWN &&
    UP && THIS COMMAND`` (the demo's fix for a dead agent: only `up` starts one)."""
    from kmeshctl.sandbox.sandbox import remake_line

    again = _rerun(get_current_context().command_path, flag_as_typed("sandbox"), state.name)
    return (f"the node agent of sandbox {state.name} is not running: {gone}; make the sandbox again: "
            f"`{remake_line(state.name)} && {again}`")


def _local(bpf_fs: Optional[Path], admin_port: Optional[int], sandbox: Optional[str],
           own_flag: str = "--bpf-fs DIR") -> sandboxes.LocalTarget:
    """The one resolver of both dump commands (see kmeshctl.sandboxes.local_target). When
    nothing local was named and this node has no data path, a configured cluster (see
    _cluster_configured) is offered beside the sandboxes: an error names its agent pods
    (see _with_cluster_agents), the note of the only sandbox, picked, says --pod."""
    picking = bpf_fs is None and admin_port is None and sandbox is None and not sandboxes.DEFAULT_BPF_FS.exists()
    try:
        target = sandboxes.local_target(bpf_fs, admin_port, sandbox, own_flag, flag_as_typed("sandbox"), _rerun)
    except KmeshctlError as err:
        if picking and str(err).startswith(_NOTHING_PICKED):
            raise _as_root(_with_cluster_agents(err)) from None
        raise
    if target.sandbox is not None:
        _check_finished(target.sandbox, named=sandbox is not None or bpf_fs is not None)
        _check_pinned(target.sandbox)
    if target.note:
        cluster = picking and _cluster_configured(_typed_words())
        _note(target.note + (f"; for the agents of {_cluster_source()}, pass --pod POD" if cluster else ""))
    return target


# The lines of kmeshctl.sandboxes.local_target when no data path is here and no one sandbox
# can be picked (none is up, or several are)
_NOTHING_PICKED = ("this node has no data path of its own", "no data path here")


def _with_cluster_agents(err: KmeshctlError) -> KmeshctlError:
    """``err`` (no local data path picked) with the configured cluster's agent pods too:
    `; for the maps of the cluster $KUBECONFIG names, pass --pod with one of its kmesh agent
    pods (...): `COMMAND --pod POD -n NS``, the kubectl command that lists them when it
    cannot be asked; ``err`` as it is with no cluster configured, or one without kmesh."""
    if not _cluster_configured(_typed_words()):
        return err
    agents = _cluster_agents()
    if agents == []:
        return err
    head = (f"{err}; for the {get_current_context().info_name} of {_cluster_source()}, pass --pod with one of its "
            "kmesh agent pods")
    if agents:
        agent_ns, _, agent = agents[0].partition("/")
        line = f"{head} ({config_dump.named_pods(agents)}): `{_with_pod(agent, agent_ns)}`"
    else:
        line = f"{head}: `kubectl get pods -n {_agent_namespace()} -l {config_dump.agent_selector()}` lists them"
    return UsageError(line) if isinstance(err, UsageError) else KmeshctlError(line, err.exit_code)


def _as_root(err: KmeshctlError) -> KmeshctlError:
    """``err`` offering a sandbox's line to a user other than root: said to run as root (a
    sandbox's pins are root's: the line pasted as this user would only say so)."""
    if os.geteuid() == 0 or "--sandbox" not in str(err):
        return err
    line = f"{err} (as root: a sandbox's maps and agent are root's)"
    return UsageError(line) if isinstance(err, UsageError) else KmeshctlError(line, err.exit_code)


def _cluster_source() -> str:
    """`the cluster $KUBECONFIG names`: what configures the cluster when no flag names it
    ($KUBECONFIG, else the pod kmeshctl runs in, else ~/.kube/config: kmeshctl.kube's order)."""
    from kmeshctl.kube import running_in_cluster

    if run_options().kubeconfig is not None:
        return "the cluster $KUBECONFIG names"
    return "this pod's cluster" if running_in_cluster() else "the cluster ~/.kube/config names"


def _typed_words() -> list[str]:
    """The words of the command line being run, as typed (global flags where they were)."""
    from kmeshctl.cli import cmdline

    return list(cmdline.ARGS)


def _check_finished(state: sandboxes.SandboxState, named: bool = True) -> None:
    """A sandbox whose `up` or `down` did not finish has maps half-filled or half-removed:
    say so (exit 1) instead of printing them as if they were the data path. One still being
    created that the user did not name (the only sandbox here, maybe another user's) is
    waited for, never stopped: no `sandbox down` is suggested for it."""
    from kmeshctl.sandbox import lock as lock_mod
    from kmeshctl.sandbox import state as state_mod
    from kmeshctl.sandbox.sandbox import unfinished

    rerun = _rerun(get_current_context().command_path, "--sandbox", state.name)
    if not named and state.phase != state_mod.PHASE_REMOVING and state.up_is_running() \
            and lock_mod.removed_by(state.name) is None:
        running = state_mod.kmeshctl_command(state.up_pid, f"kmeshctl sandbox up --name {state.name}")
        raise KmeshctlError(f"sandbox {state.name}, the only sandbox here (you did not name it), is being created by "
                            f"pid {state.up_pid} (not ready yet): wait for that `{running}` to finish (`kmeshctl "
                            f"sandbox status --name {state.name}` shows how far it is), then run `{rerun}`")
    problem = unfinished(state, rerun)
    if problem:
        raise KmeshctlError(problem)


def _check_pinned(state: sandboxes.SandboxState) -> None:
    """A ready sandbox whose pins are gone (`node cleanup` run on its directory) has no data
    path, whether its agent still runs or ended too (sandboxes.check_data_path says so only
    while it runs): exit 1 naming the sandbox, never an error about a --bpf-fs nobody typed."""
    from kmeshctl.sandbox.sandbox import PHASE_READY, PINNED_MAP, process_alive, remake_text

    agents = state.processes_of("agent")
    if state.phase != PHASE_READY or not agents or process_alive(state, agents[-1]):
        return  # not ready (maps_of_other_version says what it is), or its agent runs (check_data_path's)
    try:
        (state.bpffs / PINNED_MAP).stat()
    except FileNotFoundError:
        raise KmeshctlError(f"sandbox {state.name} has no data path: nothing is pinned in {state.bpffs} (was "
                            f"`kmeshctl node cleanup` run on it?), and its node agent has exited (`kmeshctl "
                            f"sandbox status --name {state.name}`): run {remake_text(state.name)}") from None
    except OSError:
        return  # bpffs is root's: the read says so


def _refuse_namespace_without_pod() -> None:
    """-n/--namespace is where --pod's agent pod is; a local data path (a sandbox, --bpf-fs,
    this node) is read whole, so a namespace there would be silently ignored: refused."""
    ctx = get_current_context()
    if ctx.get_parameter_source("namespace") in (None, ParameterSource.DEFAULT):
        return
    raise namespace_without_pod(ctx.params["namespace"])


def namespace_without_pod(namespace: str) -> UsageError:
    """The error of -n ``namespace`` typed without --pod (badinput's parse-time check says it too)."""
    flag = flag_as_typed("namespace")
    return UsageError(f"{flag} {namespace}: {flag} is the namespace of the agent pod --pod names; "
                      f"the local data path is shown whole, not by namespace: leave out {flag} (or add --pod POD "
                      f"to ask a cluster's agent): `{_typed_with(('-n', '--namespace'))}`")


def _pod_flags(pod: str, namespace: str, **local: object) -> None:
    """--pod asks a cluster's agent: the local flags make no sense with it; the namespace
    must be a valid name before anything connects. Then the cluster must answer (so an
    API server that is down is named as such, not blamed on the pod name), and the pod
    must be a kmesh agent's (an app's pod is named as such, not port-forwarded to)."""
    given = [flag_as_typed(name) for name, value in local.items() if value is not None]
    if given:
        cluster = _typed_with(tuple(spelling for name, value in local.items() if value is not None
                                    for spelling in _LOCAL_SPELLINGS[name]))
        here = _typed_with(("--pod", "-n", "--namespace"))
        raise UsageError(f"--pod asks a cluster's agent, {' and '.join(given)} this machine's data path: give one, "
                         f"`{cluster}` (the cluster's agent) or `{here}` (the local one)")
    check_namespace_flags()
    client = connect_reachable(run_options())
    config_dump.check_agent_pod(client, pod, namespace, _typed_with(("--pod", "-n", "--namespace")))


# The spellings of the flags that name a local data path (a line without one leaves them all out)
_LOCAL_SPELLINGS = {"sandbox": ("--sandbox", "--name"), "bpf_fs": ("--bpf-fs",), "admin_port": ("--admin-port",)}
_POD_NAMESPACE = "kmeshctl.dump.pod_namespace"  # ctx.meta: the NAMESPACE of a --pod NAMESPACE/NAME


def _pod_name(flag: str, value: str) -> tuple[Optional[str], str]:
    """(namespace or None, name) of ``flag`` (--pod) ``value``: NAME; kubectl's pod/NAME
    (pods/, po/); NAMESPACE/NAME, as errors list agent pods. A UsageError for another kind
    (ds/kmesh: each node's agent has its own data path, one is asked), or a namespace or
    pod name Kubernetes refuses."""
    from kmeshctl.cli.names import SUBDOMAIN_RULE, meant_spelling, meant_value_hint, split_exec_target
    from kmeshctl.namespaces import DNS1123_RULE
    from kmeshctl.params import DNS1123_LABEL_RE, DNS1123_SUBDOMAIN_RE, given_text, meant_namespace

    kind, head = split_exec_target(value)
    name = value.partition("/")[2] if kind else value
    given = given_text(flag, value)
    if kind in ("deploy", "other"):
        raise UsageError(f"{given}: {flag} takes one pod, not a {value.partition('/')[0]}'s (each node has its own "
                         "agent, one is asked)")
    namespace = head if kind == "namespace" else None
    if namespace is not None and not DNS1123_LABEL_RE.match(namespace):
        meant_namespace_ = meant_namespace(namespace)  # `Team-A/kmesh-1`: team-a/kmesh-1, its pod name mended too
        pod = name if DNS1123_SUBDOMAIN_RE.match(name) else meant_spelling(name, DNS1123_SUBDOMAIN_RE)
        meant = f"{meant_namespace_}/{pod}" if meant_namespace_ and pod and len(pod) <= 253 else None
        raise UsageError(f"{given}: {shown(namespace)} is not a valid namespace name ({DNS1123_RULE})"
                         + (meant_value_hint(flag, value, meant) if meant else ""))
    if len(name) > 253 or not DNS1123_SUBDOMAIN_RE.match(name):
        what = f"{shown(name)} is not" if kind else "not"
        meant = meant_spelling(name, DNS1123_SUBDOMAIN_RE)  # `KMESH`: kmesh; `pod/Kmesh_1`: pod/kmesh-1
        meant = f"{value.partition('/')[0]}/{meant}" if meant and kind else meant
        raise UsageError(f"{given}: {what} a valid pod name ({SUBDOMAIN_RULE})"
                         + (meant_value_hint(flag, value, meant) if meant else ""))
    return namespace, name


def _check_pod(flag: str, value: str) -> None:
    """``flag`` (--pod) ``value`` as _pod_name reads it: a UsageError when it cannot."""
    _pod_name(flag, value)


def _pod_refusal(said: str, value: str) -> UsageError:
    """--pod ``value`` refused (``said``, its `did you mean --pod kmesh-x?` when _pod_name
    has one): the name meant is offered when it is an agent pod of the cluster or the
    cluster cannot be asked; else the cluster's agent pods are (see _pod_example)."""
    from kmeshctl.cli.names import meant_spelling
    from kmeshctl.params import DNS1123_SUBDOMAIN_RE

    problem, meant, _ = said.partition("; did you mean ")
    agents = _cluster_agents()
    name = meant_spelling(value, DNS1123_SUBDOMAIN_RE)
    if meant and (not agents or any(agent.endswith(f"/{name}") for agent in agents)):
        return _pod_without_cluster(UsageError(said))
    return UsageError(f"{problem}; {_pod_example(agents)}")


def _pod_example(agents: Optional[list[str]]) -> str:
    """`pass an agent pod (NS/A, NS/B), e.g. `THIS COMMAND --pod A -n NS``, the cluster's
    first agent pod of ``agents`` (_cluster_agents); when the cluster cannot be asked or
    has none, the kubectl command that lists them, the example a name of that shape (no
    command to paste: no pod name is known)."""
    if agents:
        agent_ns, _, agent = agents[0].partition("/")
        return f"pass an agent pod ({config_dump.named_pods(agents)}), e.g. `{_with_pod(agent, agent_ns)}`"
    from kmeshctl.cli.names import POD_NAME_EXAMPLE

    return (f"pass an agent pod's name, e.g. --pod {POD_NAME_EXAMPLE} (`kubectl get pods -A -l "
            f"{config_dump.agent_selector()}` lists them)")


def _with_pod(pod: str, namespace: str) -> str:
    """The command being run with `--pod POD -n NAMESPACE` instead of the --pod and -n typed."""
    return _typed_with(("--pod", "-n", "--namespace"), "--pod", pod, "-n", namespace)


def _typed_with(dropped: tuple[str, ...], *added: str) -> str:
    """The command being run as typed (every flag kept, in its place) without the flags
    ``dropped`` (with their values), then ``added``. Read from the words typed, so that it
    holds in --pod's own parsing too, before the values of the flags after it are known."""
    from kmeshctl.cli.cmdline import without_flag

    words = _typed_words()
    for spelling in dropped:
        while (fewer := without_flag(words, spelling)) != words:
            words = fewer
    return shlex.join(["kmeshctl", *words, *added])


def _pod_namespace(pod: str, namespace: str) -> str:
    """The namespace of agent pod ``pod``: a --pod NAMESPACE/NAME's, else -n's. Both typed,
    naming two namespaces: bad input, with each command to paste."""
    ctx = get_current_context()
    given = ctx.meta.get(_POD_NAMESPACE)
    if given is None or given == namespace:
        return namespace
    if ctx.get_parameter_source("namespace") in (None, ParameterSource.DEFAULT):
        return given
    flag = flag_as_typed("namespace")
    raise UsageError(f"{flag_as_typed('pod')} {given}/{pod} and {flag} {namespace} name two namespaces; give one: "
                     f"`{_with_pod(pod, given)}` or `{_with_pod(pod, namespace)}`")


def _command_typed() -> str:
    """The running `kmeshctl dump ...` with the --map / -o the user typed (a suggested --pod
    command reads the same map, in the same format)."""
    ctx = get_current_context()
    words = [ctx.command_path]
    for name in ("map_name", "output"):
        value = ctx.params.get(name)
        if value is not None and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            words += [flag_as_typed(name), shlex.quote(getattr(value, "value", value))]
    return " ".join(words)


def _refuse_cluster_without_pod(what: str, **local: object) -> None:
    """--kubeconfig / --context typed and no --pod, nor a local place (``local``: --sandbox,
    --bpf-fs, --admin-port as typed): the user means a cluster, whose maps and config are
    read only through an agent pod; a local sandbox (maybe another user's) or this node's
    data path is never picked silently instead (exit 2, naming the agent pods)."""
    root = get_current_context().find_root()
    typed = [f"--{name}" for name in ("kubeconfig", "context")
             if root.get_parameter_source(name) == ParameterSource.COMMANDLINE]
    ctx = get_current_context()
    if not typed or any(value is not None and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
                        for name, value in local.items()):
        return
    places = " or ".join(flag_as_typed(name) + (" NAME" if name == "sandbox" else " DIR" if name == "bpf_fs" else
                                                  " PORT") for name in local)
    flags = " and ".join(typed)
    head = f"{flags} {'names' if len(typed) == 1 else 'name'} a cluster: --pod names one of its kmesh agent pods"
    tail = (f"; without --pod, dump {what} reads this machine's {what}, not the cluster's (for them leave out "
            f"{flags}, or pass {places})")
    agents = _cluster_agents()
    if agents:
        agent_ns, _, agent = agents[0].partition("/")
        raise UsageError(f"{head} (agent pods: {config_dump.named_pods(agents)}): `{_command_typed()} --pod {agent} "
                         f"-n {agent_ns}`{tail}")
    raise UsageError(f"{head}: `kubectl get pods -n {_agent_namespace()} -l {config_dump.agent_selector()}` lists "
                     f"them{tail}")


def _agent_namespace() -> str:
    """The namespace of the agent pods a kubectl line lists: the -n typed, else kmesh's default."""
    ctx = get_current_context()
    typed = ctx.get_parameter_source("namespace") == ParameterSource.COMMANDLINE and ctx.params.get("namespace")
    return shlex.quote(typed) if typed else AGENT_NAMESPACE


def _cluster_agents() -> Optional[list[str]]:
    """`namespace/name` of the cluster's agent pods ([] when it has none); None when it
    cannot be asked."""
    try:
        client = connect_reachable(run_options())
        return config_dump.agent_pod_refs(client)
    except KmeshctlError:
        return None


@contextlib.contextmanager
def _maps_of(target: sandboxes.LocalTarget) -> Iterator[None]:
    """A sandbox's maps this version cannot read: say the sandbox is another version's
    (or not ready yet) instead of suggesting `node cleanup` on this node."""
    try:
        yield
    except MapError as err:
        layout = isinstance(err, MapMissingError) or "key/value sizes" in str(err)
        if target.sandbox is None and isinstance(err, MapMissingError) and sandboxes.names():
            raise _point_at_sandboxes(err) from err
        if target.sandbox is None and isinstance(err, MapMissingError) and _is_bpffs_root(target.bpffs):
            raise _point_below_root(err, target.bpffs) from err
        if target.sandbox is None or not layout:
            raise
        raise sandboxes.maps_of_other_version(target.sandbox, err) from err


def _point_at_sandboxes(err: MapMissingError) -> KmeshctlError:
    """No maps in a directory that is no sandbox's while sandboxes are up: the maps the user
    wants are most likely a sandbox's (loading a data path here would make another one)."""
    problem = str(err).split(": load the data path first")[0]
    found = sandboxes.names()
    if len(found) == 1:
        up = f"sandbox {found[0]} is up: `{_on_sandbox(found[0])}` reads its maps"
    else:
        up = f"sandboxes {', '.join(found)} are up: {_on_each(found)} reads one's maps"
    return KmeshctlError(f"{problem}; {up} (their bpffs directories: `kmeshctl sandbox list -o wide`)")


def _is_bpffs_root(bpf_fs: Path) -> bool:
    """Whether ``bpf_fs`` is a bpffs mount itself (/sys/fs/bpf), not a directory in one."""
    from kmeshctl.nodecheck import bpffs_mounted

    path = Path(bpf_fs).resolve()
    return path != DEFAULT_BPF_FS and bpffs_mounted(path) and (path.parent == path or not bpffs_mounted(path.parent))


def _point_below_root(err: MapMissingError, bpf_fs: Path) -> KmeshctlError:
    """No maps at a bpffs root: the agent pins in a directory of its own there (loading a
    data path at the root, shared with other tools, is no fix): the default one's lines."""
    problem = str(err).split(": load the data path first")[0]
    own = shlex.quote(str(DEFAULT_BPF_FS))
    if DEFAULT_BPF_FS.is_dir():
        fix = f"`{_typed_with(('--bpf-fs',), '--bpf-fs', str(DEFAULT_BPF_FS))}` reads them"
    else:
        fix = (f"none is there either: load the data path first (`kmeshctl node run --bpf-fs {own}`), then "
               f"`{_typed_with(('--bpf-fs',), '--bpf-fs', str(DEFAULT_BPF_FS))}`")
    return KmeshctlError(f"{problem}; {shown(bpf_fs)} is the bpffs root, shared with other tools: the agent pins its "
                         f"maps in a directory of its own, {own} by default: {fix}")


CONFIG_SECTIONS = ("services", "workloads", "policies")  # the sections `dump config` prints


def _cluster_configured(args: list[str]) -> bool:
    """A cluster --pod could be asked on, named by the typed line ``args`` (it did not
    parse: run_options() is not set yet) or $KUBECONFIG: kmeshctl.kube.cluster_configured."""
    from kmeshctl import kube
    from kmeshctl.cli.badinput import typed_target

    return kube.cluster_configured(typed_target(args))


def _stray_word(command: str, words: list[str], args: list[str]) -> str:
    """What `dump maps|config WORD` most likely meant, read on this machine ("" to leave it
    to the generic --map / --pod reading): an existing sandbox's name; a section of the
    config; with no cluster configured, not a --pod (it needs one) but what works here. For
    maps, a word that is no map name (nor close to one) is read as a sandbox's name too, as
    config reads it: with a cluster, the line making that sandbox and reading it."""
    if len(words) != 1:
        return ""
    word = words[0]
    typed = _without_place_flags([w for w in args if w != word])
    if word in sandboxes.names():
        return f"; give the sandbox with --sandbox: `{shlex.join(['kmeshctl', *typed, '--sandbox', word])}`"
    meant = sandboxes.meant_name(word)  # `My_Box` for sandbox my-box, as --sandbox My_Box is mended
    if meant in sandboxes.names():
        return f"; did you mean --sandbox {meant}? `{shlex.join(['kmeshctl', *typed, '--sandbox', meant])}`"
    sandbox = sandboxes.name_read(word)
    if command == "maps" and (word in MAP_NAMES or dumper.close_map_names(word) or sandbox is None
                              or word.lower().startswith("km_")):  # every map's prefix: a map meant
        return ""  # --map WORD: a wrong map name is then named with the maps there are
    if word in CONFIG_SECTIONS:
        from kmeshctl.rollout import set_flag

        rest = [w for w in args if w != word]
        output = "--output" if any(w == "--output" or w.startswith("--output=") for w in rest) else "-o"
        lines = " or ".join(f"`{shlex.join(['kmeshctl', *line])}`"
                            for line in _placed_lines(set_flag(rest, output, "json")))
        return (f"; `kmeshctl dump config` prints every section ({', '.join(CONFIG_SECTIONS)}); its "
                f"`-o json` holds each under its own key: {lines}")
    no_map = f"{shown(word)} is no map name ({', '.join(MAP_NAMES)}), and " if command == "maps" else ""
    without = [w for w in args if w != word]  # every flag typed kept (`--sandbox S -o yaml`)
    local = " or ".join(f"`{shlex.join(['kmeshctl', *line])}`" for line in _placed_lines(without))
    if _cluster_configured(args):
        return _maps_word_as_sandbox(no_map, sandbox, typed, local) if command == "maps" and sandbox else ""
    if not sandboxes.names() and not _names_place(without):
        maker = shlex.join(["kmeshctl", "sandbox", "up", *(["--name", sandbox] if sandbox else [])])
        local += f" (this node's agent; `{maker}` starts a local one)"
    what = f"{word} is no map ({', '.join(MAP_NAMES)}), names no sandbox here" if command == "maps" else \
        f"{word} names no sandbox here"  # as dump config reads it: a map, a sandbox or a pod, none of them
    return (f"; {what}, and --pod {word} (a cluster's agent pod) needs a cluster, none is "
            f"configured; on this machine, {local}")


def _maps_word_as_sandbox(no_map: str, sandbox: str, typed: list[str], local: str) -> str:
    """`dump maps t47-x` with a cluster configured (t47-x no map, no sandbox there): the line
    that makes sandbox ``sandbox`` and reads it, ``typed``'s flags kept, and ``local``, the
    line without the word."""
    maker = shlex.join(["kmeshctl", "sandbox", "up", "--name", sandbox])
    line = shlex.join(["kmeshctl", *_values_mended(typed), "--sandbox", sandbox])
    return (f"; this command takes no positional arguments, {no_map}no sandbox is named {sandbox} "
            f"({sandboxes.known_text()}): for that sandbox, `{maker} && {line}`; without it: {local}")


def _values_mended(words: list[str]) -> list[str]:
    """The dump line ``words`` (less `kmeshctl`) with each bad value its checks mend (`-o
    jsn`: json) mended, as one line pasted after `&&` must be (parseable leaves a pipeline
    as it is); as they are when no one line is."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.badinput import mended_lines

    found = mended_lines(["kmeshctl", *words], cmdline.INVOKED[0].command) if cmdline.INVOKED else []
    return found[0][1:] if len(found) == 1 else words


def _check_map_flag(name: Optional[str]) -> None:
    """--map NAME (dumper.check_map_name), the line with each name meant (`KM_BACKEND`: km_backend)."""
    from kmeshctl.cli.badinput import meant_lines

    try:
        dumper.check_map_name(name)
    except UsageError as err:
        said, meant, rest = str(err).partition("? (")
        if not meant or name is None:
            raise
        raise UsageError(f"{said}?{meant_lines(name, dumper.close_map_names(name))} ({rest}") from None


_PLACE_FLAGS = {"--sandbox", "--name", "--pod", "--bpf-fs", "--admin-port"}


def _names_place(words: list[str]) -> bool:
    """Whether the dump line ``words`` says where to read: a place flag typed, or $KMESHCTL_SANDBOX_NAME."""
    from kmeshctl.cli.cmdline import separator_at, spelled

    return bool(os.environ.get(NAME_ENV)) or any(spelled(w, _PLACE_FLAGS) for w in words[:separator_at(words)])


def _placed_lines(words: list[str]) -> list[list[str]]:
    """The dump line ``words`` (less `kmeshctl`) as it is accepted pasted here: as it is when
    it names a place, this node has its own data path or at most one sandbox is up; else
    once for each sandbox up with --sandbox NAME (dump never picks one of several)."""
    if _names_place(words) or DEFAULT_BPF_FS.exists():
        return [words]
    found = {n: phase for n, phase in sandboxes.existing().items() if phase != sandboxes.PHASE_FAILED}
    if len(found) < 2:
        return [words]
    return [[*words, "--sandbox", name] for name in sandboxes.in_pick_order(found, " ".join(["kmeshctl", *words]))]


def _console(output: OutputFormat) -> Console:
    return cli_console(wide=output is OutputFormat.wide)


@dump_app.command("maps", cls=SandboxFlagCommand)
def dump_maps(
    map_name: Annotated[
        Optional[str],
        typer.Option("--map", metavar="NAME", help=f"Only this map: {', '.join(MAP_NAMES)}.",
                     autocompletion=completer(MAP_NAMES)),
    ] = None,
    output: MapsOutputOption = OutputFormat.table,
    bpf_fs: BpfFsOption = None,
    sandbox: SandboxOption = None,
    pod: PodOption = None,
    namespace: NamespaceOption = AGENT_NAMESPACE,
    admin_port: AdminPortOption = None,
) -> None:
    """Decode the pinned data-path maps (no agent needed): ids resolved to names, and
    km_manage's netns cookies to pods when the agent answers. With --pod, ask that node
    agent pod (port-forward to its admin port).

    In a terminal the id and name columns (km_endpoint's BACKEND and km_frontend's
    UPSTREAM too) are never cut: the other columns wrap between words (a name is never
    split), then are left out from the right, named on a line under the table; a
    terminal narrower than the id and name columns gets lines wider than it.
    -o wide adds the id, cookie and tunnel columns and cuts none.

    Examples:

      kmeshctl dump maps
      kmeshctl dump maps --sandbox demo --map km_manage
      kmeshctl dump maps -o wide
      kmeshctl dump maps --pod kmesh-5jnht -n kmesh-system -o json
    """
    _check_map_flag(map_name)
    sandbox = _typed_place_wins(sandbox, pod=pod, bpf_fs=bpf_fs, admin_port=admin_port)
    if pod:
        namespace = _pod_namespace(pod, namespace)
        _pod_flags(pod, namespace, bpf_fs=bpf_fs, sandbox=sandbox)
        _print_agent_maps(pod, namespace, admin_port or ADMIN_PORT, map_name, output)
        return
    _refuse_cluster_without_pod("maps", sandbox=sandbox, bpf_fs=bpf_fs)
    _refuse_namespace_without_pod()
    if bpf_fs is not None:
        _check_bpf_fs(bpf_fs)
        _check_same_sandbox(bpf_fs, admin_port)
    sandbox, admin_port = _sandbox_of_port(sandbox, admin_port, bpf_fs)
    # --admin-port of no sandbox's agent only says where to ask for pod names: alone it chooses no data path
    chooses = bpf_fs is not None or sandbox is not None
    target = _local(bpf_fs, admin_port if chooses else None, sandbox)
    if target.sandbox is not None:  # its pins are root's: said as up/down/exec say it
        from kmeshctl.sandbox.sandbox import require_root

        require_root()
    port = admin_port or target.admin_port or ADMIN_PORT
    own_agent = target.sandbox if admin_port is None else None  # --admin-port may name another sandbox's agent
    pods = _local_pods(target, admin_port, own_agent) if map_name in (None, "km_manage") else {}
    with _maps_of(target):
        if is_data(output):
            data = dumper.dump_json(target.bpffs, map_name, pods)
            print_data(dumper.maps_output(data), output)
            cookies = dumper.json_manage_cookies(data)
        else:
            cookies = dumper.print_tables(target.bpffs, map_name, _console(output), pods=pods,
                                          wide=output is OutputFormat.wide)
    if (admin_port is not None or target.sandbox is not None) and not isinstance(pods, dumper.NoAnswer):
        _say_unknown_cookies(cookies, pods, port, own_agent.name if own_agent else None)


def _local_pods(target: sandboxes.LocalTarget, admin_port: Optional[int],
                own_agent: Optional[sandboxes.SandboxState]) -> dict[int, str]:
    """netns cookie -> pod from the agent of the local data path ``target`` (see _pod_names):
    the sandbox's own agent (``own_agent``) is not asked when its process is known to have
    ended: a note says so with the fix that starts it again (`sandbox up`)."""
    port = admin_port or target.admin_port or ADMIN_PORT
    named = own_agent.name if own_agent else None
    gone = _agent_gone(own_agent) if own_agent else ""
    if own_agent and gone:
        _note(f"Pods not named: {_agent_gone_text(own_agent, gone)}")
        return dumper.NoAnswer(gone, running=False)
    asked = admin_port is not None or target.sandbox is not None
    fix = config_dump.agent_check(named) if named else _admin_port_fix(admin_port, target.sandbox is not None)
    return _pod_names(lambda: config_dump.fetch_local(config_dump.CACHE_PATH, port, run_options().quiet, named),
                      f"at 127.0.0.1:{port}", asked, fix)


def _admin_port_fix(admin_port: Optional[int], sandbox: bool) -> str:
    """What to do when the agent at the --admin-port the user typed does not answer ('' when
    none was typed)."""
    if admin_port is None:
        return ""
    asked = "the sandbox's own agent is asked then" if sandbox else f"port {ADMIN_PORT} is asked then"
    return (f"{flag_as_typed('admin_port')} {admin_port} names no agent that answers: leave it out ({asked}) or "
            "give an agent's port (`kmeshctl sandbox list -o wide`)")


def _check_bpf_fs(bpf_fs: Path) -> None:
    """--bpf-fs is a directory on a bpf filesystem (where pinned maps can be), before
    anything is read: a file or a plain directory is named as such, and no hint then
    suggests a command with it."""
    from kmeshctl.nodecheck import bpffs_mounted

    sandboxes.check_node_path_seen(bpf_fs)  # exit 1, not "does not exist": `ip netns exec` hides the bpffs
    fix = (f"pass the directory the agent pins its maps in (default {DEFAULT_BPF_FS}; a sandbox's: "
           "`kmeshctl sandbox list -o wide`)")
    flag = flag_as_typed("bpf_fs")
    check_input_path(flag, bpf_fs, DIRECTORY, fix)
    if not bpffs_mounted(bpf_fs):
        raise UsageError(f"{flag} {shown(bpf_fs)}: is not on a bpf filesystem; {fix}")


def _print_agent_maps(pod: str, namespace: str, port: int, map_name: Optional[str], output: OutputFormat) -> None:
    whole = config_dump.fetch(config_dump.BPF_PATH, pod, namespace, port, run_options())
    sizes = whole.get(dumper.SIZES)
    data = {k: v for k, v in whole.items() if map_name in (None, k)}
    if map_name is not None and isinstance(sizes, dict):  # --map of an agent's whole dump
        data[dumper.SIZES] = {k: v for k, v in sizes.items() if k == map_name}
    pods = _pod_names(lambda: config_dump.fetch(config_dump.CACHE_PATH, pod, namespace, port, run_options()), f"pod {pod}") \
        if map_name in (None, "km_manage") else {}
    if is_data(output):
        print_data(dumper.maps_output(dumper.with_pods(data, pods)), output)
    else:
        config_dump.print_maps_json_as_tables(whole, map_name, _console(output), pods=pods,
                                              wide=output is OutputFormat.wide)


def _pod_names(fetch, where: str, named: bool = True, fix: str = "") -> dict[int, str]:
    """netns cookie -> pod, from the agent's cache dump; dumper.NoAnswer when the agent does
    not answer (the table then says so in its pod column; with ``named``, an agent the user
    pointed at, a line on stderr says why, ending `; FIX` when ``fix`` is given)."""
    try:
        return dumper.pods_by_cookie(fetch())
    except Exception as err:  # noqa: BLE001 - best effort: the maps are shown either way
        reason = " ".join(str(err).split())
        if named:
            _note(_unnamed_line(err, reason, where, fix))
        return dumper.NoAnswer(reason)


def _unnamed_line(err: Exception, reason: str, where: str, fix: str = "") -> str:
    """Why the pods are not named: the agent's timeout as it is; a port that answered as no
    agent does, named so (it answered); else that the agent did not answer, and ``fix``."""
    if isinstance(err, config_dump.AgentTimeout):
        return f"Pods not named: {reason}"
    if isinstance(err, config_dump.NotAnAgent):
        return f"Pods not named: {err.problem}"
    ending = f"; {fix}" if fix else ""
    return f"Pods not named: the node agent {where} did not answer{_first_clause(reason)}{ending}"


_NO_ENDPOINT = "no node agent admin endpoint at "


def _first_clause(reason: str) -> str:
    """` (connection refused)`-like: the cause without the message's own hint, nor its
    `no node agent admin endpoint at ADDR (...)` wrapping (the line names the address)."""
    cause = reason.split(": ")[0]
    if cause.startswith(_NO_ENDPOINT) and cause.endswith(")") and " (" in cause:
        cause = cause.partition(" (")[2][:-1]
    return f" ({cause})" if cause else ""


def _say_unknown_cookies(cookies: set[int], pods: dict[int, str], port: int, sandbox: Optional[str]) -> None:
    """A note when the agent asked answered and lists none of km_manage's ``cookies`` (its
    POD column, all `<none>`, is left out): most likely another data path's agent."""
    if cookies and not cookies & pods.keys():
        _note(unknown_cookies_line(len(cookies), port, sandbox))


def unknown_cookies_line(count: int, port: int, sandbox: Optional[str]) -> str:
    """`Pods not named: the node agent at ADDR lists none of these N netns cookies; ...`."""
    cookies = "this netns cookie" if count == 1 else f"these {count} netns cookies"
    if sandbox:
        fix = config_dump.agent_check(sandbox)
    else:
        fix = (f"it may be another data path's agent: pass {flag_as_typed('admin_port')} of this data path's agent "
               "(sandbox agents' addresses: `kmeshctl sandbox list -o wide`)")
    return f"Pods not named: the node agent at 127.0.0.1:{port} lists none of {cookies}; {fix}"


@dump_app.command("config", cls=SandboxFlagCommand)
def dump_config(
    pod: PodOption = None,
    namespace: NamespaceOption = AGENT_NAMESPACE,
    admin_port: AdminPortOption = None,
    sandbox: SandboxOption = None,
    output: ConfigOutputOption = OutputFormat.table,
) -> None:
    """Show a node agent's workload cache (services, workloads, policies): the local agent
    (127.0.0.1, --admin-port; a sandbox's agent is found by itself), or with --pod the
    agent pod through a port-forward.

    Examples:

      # This node's agent, or the only sandbox's
      kmeshctl dump config
      kmeshctl dump config --sandbox demo -o json
      kmeshctl dump config --pod kmesh-5jnht -n kmesh-system
    """
    sandbox = _typed_place_wins(sandbox, pod=pod, admin_port=admin_port)
    if pod:
        namespace = _pod_namespace(pod, namespace)
        _pod_flags(pod, namespace, sandbox=sandbox)
        data = config_dump.fetch_from_pod(config_dump.CACHE_PATH, pod, namespace, admin_port or ADMIN_PORT, run_options())
    else:
        _refuse_cluster_without_pod("config", sandbox=sandbox, admin_port=admin_port)
        _refuse_namespace_without_pod()
        sandbox, admin_port = _sandbox_of_port(sandbox, admin_port)
        data = _local_cache(_local(None, admin_port, sandbox, "--admin-port PORT"), admin_port is not None)
    _warn_not_synced(data, pod, sandbox)
    if is_data(output):
        print_data(config_dump.cache_output(data), output)
    else:
        config_dump.print_cache_tables(data, _console(output), wide=output is OutputFormat.wide,
                                       quiet=run_options().quiet)


def _warn_not_synced(data: dict, pod: Optional[str], sandbox: Optional[str]) -> None:
    """A warning on stderr (also under -q: it has a fix) when the agent has had no first
    xDS sync: what it shows is not the mesh's, as istioctl's proxy-status says NOT SENT."""
    why = config_dump.not_synced(data)
    if not why:
        return
    from kmeshctl.cli.common import fix_hint
    from kmeshctl.cli.progress import echo_coloured

    check = f"`kmeshctl sandbox status --name {sandbox}`" if sandbox else "`kmeshctl status`" if pod else \
        "its admin port's /debug/xds says more"
    echo_coloured(fix_hint(f"Warning: the agent has had no xDS sync yet ({why}): its cache is not the mesh's "
                           f"state; check its xDS server ({check})"), typer.colors.YELLOW)


def _with_sandboxes_named(err: KmeshctlError, port: int) -> KmeshctlError:
    """No agent at ``port`` while sandboxes are up: point at their agents (starting an
    agent, `sandbox up`, would make one more sandbox), as `dump maps --bpf-fs` does."""
    found = sandboxes.names()
    if not found or "no node agent admin endpoint" not in str(err):
        return err
    problem = str(err).split(": start the agent")[0]
    if len(found) == 1:
        up, ask = f"sandbox {found[0]} is up: ask its agent", f"`{_on_sandbox(found[0])}`"
    else:
        up, ask = f"sandboxes {', '.join(found)} are up: ask the agent of one", _on_each(found)
    return KmeshctlError(f"{problem}; {up} with {ask} (agent addresses: `kmeshctl sandbox list -o wide`)")


def _nothing_at_given_port(err: KmeshctlError, port: int) -> KmeshctlError:
    """--admin-port named an address where no agent answers: the message is about that
    address (starting an agent would not help); sandboxes that are up are named too."""
    # `ip netns exec`: 127.0.0.1 is that namespace's, the host's agents and sandboxes are hidden, not absent
    sandboxes.check_node_path_seen(subject=f"this node's agents (127.0.0.1:{port} here is another network "
                                           "namespace's loopback) and sandboxes", hidden="they are")
    why = str(err).partition("(")[2].partition(")")[0] or "no answer"
    flag = flag_as_typed("admin_port")
    found = sandboxes.names()
    # without it: $KMESHCTL_SANDBOX_NAME's agent, else this node's at the default port when it has
    # a data path, else the only sandbox's
    leave_out = os.environ.get(NAME_ENV) in found or (
        port != ADMIN_PORT if sandboxes.DEFAULT_BPF_FS.exists() else len(found) == 1)
    message = (f"nothing answers at 127.0.0.1:{port} ({why}), the address {flag} {port} names: check the port"
               + (f", or leave out {flag} to find the agent automatically" if leave_out else ""))
    if len(found) == 1:
        message += f"; sandbox {found[0]} is up: ask its agent with `{_on_sandbox(found[0])}`"
    elif found:
        message += f"; sandboxes {', '.join(found)} are up: ask the agent of one with {_on_each(found)}"
    return KmeshctlError(message + (" (agent addresses: `kmeshctl sandbox list -o wide`)" if found else ""))


def _local_cache(target: sandboxes.LocalTarget, port_given: bool = False) -> dict:
    """The cache of this node's agent, or of the sandbox's (whose failure points at
    `sandbox status`, not at starting an agent on this node); with ``port_given`` (the
    user typed --admin-port) a failure is about that address, not about starting an agent."""
    if target.sandbox is None:
        port = target.admin_port or ADMIN_PORT
        try:
            return config_dump.fetch_local(config_dump.CACHE_PATH, port, run_options().quiet)
        except config_dump.AgentTimeout:
            raise  # an agent is there and did not answer: nothing to start, nothing else to ask
        except KmeshctlError as err:
            if port_given and "no node agent admin endpoint" in str(err):
                raise _nothing_at_given_port(err, port) from err
            raise _with_sandboxes_named(err, port) from err
    name = target.sandbox.name
    gone = _agent_gone(target.sandbox)
    if gone:
        raise KmeshctlError(_agent_gone_text(target.sandbox, gone))
    port = sandboxes.admin_port(target.sandbox)
    try:
        return config_dump.fetch_local(config_dump.CACHE_PATH, port, run_options().quiet, name)
    except (config_dump.AgentTimeout, config_dump.NotAnAgent):
        raise  # it answered, or took the request: "does not answer" would be untrue
    except KmeshctlError as err:
        raise KmeshctlError(f"the node agent of sandbox {name} does not answer at 127.0.0.1:{port}: see "
                            f"`kmeshctl sandbox status --name {name}`") from err


POSITIONAL_READERS[("dump", "maps")] = lambda words, args: _stray_word("maps", words, args)
POSITIONAL_READERS[("dump", "config")] = lambda words, args: _stray_word("config", words, args)
PLACED_LINES[("dump", "maps")] = PLACED_LINES[("dump", "config")] = _placed_lines
# `dump maps DIR`: offered as --bpf-fs DIR only when the command takes it
POSITIONAL_CHECKS[("dump", "maps", "bpf_fs")] = lambda flag, value: _check_bpf_fs(Path(value))
# `dump config kmesh-system/kmesh-h9rc2`: offered as --pod as typed (--pod takes that form)
POSITIONAL_CHECKS[("dump", "maps", "pod")] = _check_pod
POSITIONAL_CHECKS[("dump", "config", "pod")] = _check_pod


def _namespace_read(error: UsageError, values: Mapping[str, object]) -> UsageError:
    """`dump config -n Bad_NS` without --pod: -n itself is refused there (any name)."""
    flag = flag_as_typed("namespace")
    if values.get("pod") or "; also " in str(error) or not str(error).startswith(f"{flag} "):
        return error
    return namespace_without_pod(str(values.get("namespace")))


def _pod_without_cluster(error: UsageError) -> UsageError:
    """`--pod KMESH: ...; did you mean --pod kmesh? `LINE`` with no cluster configured: the
    line offered would stop there next, so the message says the cluster it needs too."""
    from kmeshctl.cli import cmdline
    from kmeshctl.kube import DEFAULT_KUBECONFIG, NO_CLUSTER_FIX

    text = str(error)
    if not text.startswith(f"{flag_as_typed('pod')} ") or "`kmeshctl " not in text or "; also " in text or \
            _cluster_configured(list(cmdline.ARGS)):
        return error
    missing = os.path.expanduser(DEFAULT_KUBECONFIG)
    return UsageError(f"{text} (a cluster's agent pod: none is configured, {missing} does not exist; "
                      f"{NO_CLUSTER_FIX} too)")


# -n's name refused without --pod: the namespace is refused whatever its name (as the body does)
NAME_ERROR_READERS[("dump", "maps")] = NAME_ERROR_READERS[("dump", "config")] = _namespace_read
