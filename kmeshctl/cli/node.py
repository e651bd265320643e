"""`kmeshctl node ...`: commands run on a node (as root) against its kernel data path."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from kmeshctl import nodecheck
from kmeshctl.node import loader
from kmeshctl.cli.common import (OutputFormat, app, is_data, output_option, print_data, require_root_with_line,
                                 run_options)
from kmeshctl.cli import cmdline
from kmeshctl.cli.option_hints import POSITIONAL_CHECKS, POSITIONAL_READERS
from kmeshctl.cli.suggestions import flag_as_typed, given_as, given_on_command_line
from kmeshctl.cli.outpaths import DIRECTORY, FILE, check_input_path, check_name_length, check_output_file
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.maps import DEFAULT_BPF_FS
from kmeshctl.params import TABLE_EMPTY as EMPTY, check_xds_address, counted, shown

if TYPE_CHECKING:
    from kmeshctl.sandbox.state import SandboxState

node_app = typer.Typer(help="Node-side commands: the eBPF data path of this machine. Run as root.\n\n"
                            "Examples:\n\n"
                            "  kmeshctl node preflight\n"
                            "  kmeshctl node run --xds-address istiod.istio-system.svc:15012\n"
                            "  kmeshctl node cleanup --ignore-not-found",
                       no_args_is_help=True)
app.add_typer(node_app, name="node")

BpfFsOption = Annotated[
    Path, typer.Option("--bpf-fs", metavar="DIR", help="bpffs directory of the pinned maps and programs.")
]
Cgroup2PathOption = Annotated[
    Optional[Path],
    typer.Option("--cgroup2-path", metavar="DIR",
                 help="cgroup v2 directory the programs are attached at (default: the cgroup v2 root)."),
]


PreflightOutputOption = output_option(None)  # -o wide: the same table, it has no detail columns


@node_app.command("preflight")
def preflight(
    no_mount: Annotated[bool, typer.Option("--no-mount", help="Report missing mounts instead of mounting them.")] = False,
    output: PreflightOutputOption = OutputFormat.table,
) -> None:
    """Check this node can run the data path (BPF, cgroup v2, bpffs, bcc, kernel headers).

    Examples:

      kmeshctl node preflight
      kmeshctl node preflight --no-mount
      kmeshctl node preflight -o json
    """
    from kmeshctl.cli.cluster import print_checks

    results = nodecheck.run_preflight(mount_missing=not no_mount)
    report = nodecheck.to_json(results)
    if is_data(output):
        print_data(report, output)
    else:
        print_checks(_cells(report["checks"]), output)
    failed = [r for r in results if not r.ok]
    if failed:
        checks = counted(len(failed), "preflight check")
        raise KmeshctlError(f"{checks} failed: fix the rows marked fail" if not is_data(output) else f"{checks} failed")


def _cells(rows: list[dict]) -> list[dict]:
    """The rows as table cells: an empty one reads <none>, as in every table (JSON keeps
    null); a column empty in every row (FIX when every check passed) stays empty, so the
    table leaves it out."""
    filled = {key for row in rows for key, value in row.items() if value not in (None, "")}
    return [{k: (EMPTY if k in filled else "") if v in (None, "") else v for k, v in row.items()} for row in rows]


CNI_CONF_DIR = Path("/etc/cni/net.d")  # where the DaemonSet's agents chain the plugin (`node run --cni-conf-dir`)
CNI_BIN_DIR = Path("/opt/cni/bin")


@node_app.command("cleanup")
def cleanup(
    bpf_fs: BpfFsOption = DEFAULT_BPF_FS,
    cgroup2_path: Cgroup2PathOption = None,
    ignore_not_found: Annotated[bool, typer.Option(
        "--ignore-not-found", help="A --bpf-fs that does not exist (already cleaned up) is not an error.")] = False,
    cni_conf_dir: Annotated[Path, typer.Option(
        "--cni-conf-dir", metavar="DIR", help="The node's CNI config dir the agent chained the kmesh CNI plugin "
        "into (`node run --cni-conf-dir`, the DaemonSet's).")] = CNI_CONF_DIR,
    cni_bin_dir: Annotated[Path, typer.Option(
        "--cni-bin-dir", metavar="DIR", help="Where the agent copied the plugin (`node run --cni-bin-dir`).")]
        = CNI_BIN_DIR,
    force: Annotated[bool, typer.Option(
        "--force", help="Clean a local sandbox's --bpf-fs whose agent has ended, leaving the rest of the "
        "sandbox (its network namespaces, processes and cgroup) for `kmeshctl sandbox down`.")] = False,
) -> None:
    """Remove what a node agent left on this node: detach and unpin every program and map
    under --bpf-fs, take the kmesh CNI plugin out of the CNI config lists in --cni-conf-dir
    (restoring a .conf it had converted) and delete its kubeconfig there and its files in
    --cni-bin-dir. Each thing removed is one line.

    A --bpf-fs that does not exist is an error (a typo must not look like success); with
    no --bpf-fs and nothing left at the default one nor of the CNI plugin, or an empty
    --bpf-fs directory, there is nothing to clean up (exit 1, as kubectl delete's NotFound
    and `sandbox down`); scripts that repeat the cleanup pass --ignore-not-found (exit 0). A
    local sandbox's directory is refused (`kmeshctl sandbox down` removes a sandbox whole);
    --force cleans it once its node agent has ended. Needs root.

    Examples:

      kmeshctl node cleanup
      kmeshctl node cleanup --bpf-fs /sys/fs/bpf/kmesh
      kmeshctl node cleanup --ignore-not-found
    """
    from kmeshctl.cni.install import plugin_leftovers, remove_plugin

    check_cleanup_paths(bpf_fs, cgroup2_path, cni_conf_dir, cni_bin_dir, ignore_not_found, bpf_fs_too=False)
    require_root_with_line("node cleanup", "the pinned data path, the CNI config")
    _refuse_live_sandbox_cni(cni_conf_dir)
    cni_left = bool(plugin_leftovers(cni_conf_dir, cni_bin_dir))
    _check_cleanup_dir(bpf_fs, ignore_not_found, given_on_command_line("bpf_fs"), cni_left)
    owner = _sandbox_bpffs(bpf_fs, force)
    try:
        done = loader.cleanup(bpf_fs, cgroup2_path)
    except loader.AttachedElsewhere as err:
        raise _attached_elsewhere(err) from None
    for line in done:
        typer.echo(line)
    if not done:
        typer.echo(f"nothing to clean up under {bpf_fs}")
    if owner is not None:
        typer.echo(f"that was the data path of sandbox {owner.name}; its network namespaces, processes and cgroup "
                   f"are left: `kmeshctl sandbox down --name {owner.name}` removes them", err=True)
    try:
        for line in remove_plugin(cni_conf_dir, cni_bin_dir):
            typer.echo(line)
    except (OSError, KmeshctlError) as err:
        raise KmeshctlError(f"could not remove the kmesh CNI plugin from {cni_conf_dir} / {cni_bin_dir}: {err}; "
                            "fix that, then re-run this command (it is safe to repeat)") from None


def check_cleanup_paths(bpf_fs: Path, cgroup2_path: Optional[Path], cni_conf_dir: Path, cni_bin_dir: Path,
                        ignore_not_found: bool, bpf_fs_too: bool = True) -> None:
    """The paths typed to `node cleanup` that cannot be what it cleans, each said in one
    UsageError (`...; also ...`): a --cgroup2-path, --cni-conf-dir or --cni-bin-dir that
    is no directory, and (``bpf_fs_too``) a --bpf-fs typed that does not exist (without
    --ignore-not-found). The parse-time check (value_checks.VALUE_CHECKS) and the body's."""
    import os

    checks = []
    if cgroup2_path is not None:
        checks.append(lambda: check_input_path(
            given_as("cgroup2_path"), cgroup2_path, DIRECTORY, "use the cgroup v2 directory the agent attached at, "
            f"or leave the flag out for the cgroup v2 root (the whole tree): `{_cleanup_without('cgroup2_path')}`"))
    for param, given, default in (("cni_conf_dir", cni_conf_dir, CNI_CONF_DIR), ("cni_bin_dir", cni_bin_dir,
                                                                                  CNI_BIN_DIR)):
        if given_on_command_line(param) and not given.is_dir():  # the defaults may well be absent
            checks.append(lambda param=param, given=given, default=default: check_input_path(
                given_as(param), given, DIRECTORY, _missing_cni_dir_fix(param, given, default)))
    if bpf_fs_too and given_on_command_line("bpf_fs") and not ignore_not_found and not os.path.lexists(bpf_fs):
        checks.append(lambda: _check_cleanup_dir(bpf_fs, ignore_not_found, True))
    elif bpf_fs_too and given_on_command_line("bpf_fs"):  # no bpffs, not our pins (`/sys/fs/bpf` itself)
        checks.append(lambda: loader.cleanup_dir(bpf_fs))
    _all_said(checks)


def _missing_cni_dir_fix(param: str, given: Path, default: Path) -> str:
    """What to do about a --cni-conf-dir / --cni-bin-dir that is no directory: the line
    without the flag only when the default is the directory asked for (leaving it out
    must not clean another directory than the one typed); else the words alone."""
    import os

    flag = flag_as_typed(param)
    told = f"use the directory the agent (kmeshctl node run) was given as {flag}"
    if os.path.realpath(given) != os.path.realpath(default):
        return f"{told} (left out, the flag would clean the default, {default}, instead)"
    return f"{told}, or leave the flag out (its default, {default}, may be absent): `{_cleanup_without(param)}`"


def _cleanup_without(param: str) -> str:
    """The `node cleanup` line typed, without the flag of ``param`` (its default then)."""
    import shlex

    from kmeshctl.cli.render import typed_flags_for

    flags = cmdline.without_flag(_in_typed_order(typed_flags_for(["node", "cleanup"])), flag_as_typed(param))
    return shlex.join(["kmeshctl", "node", "cleanup", *flags])


def _in_typed_order(flags: list[str]) -> list[str]:
    """``flags`` (`FLAG VALUE` / `FLAG` words) in the order they were typed: a line that
    leaves one out changes nothing else (badinput reads it as that change alone)."""
    groups: list[list[str]] = []
    for word in flags:
        if word.startswith("-") or not groups:
            groups.append([word])
        else:
            groups[-1].append(word)

    def typed_at(group: list[str]) -> int:
        spelled = group[0].partition("=")[0]
        return next((i for i, w in enumerate(cmdline.ARGS) if w.partition("=")[0] == spelled), len(cmdline.ARGS))

    return [word for group in sorted(groups, key=typed_at) for word in group]


def _sandbox_bpffs(bpf_fs: Path, force: bool) -> Optional["SandboxState"]:
    """The sandbox whose bpffs ``bpf_fs`` is (or is inside), its agent ended (a running one
    is refused before: _refuse_live_sandbox), or None: refused without --force, as another
    tool's object is (the sandbox is more than its data path: `sandbox down` removes it
    whole); with --force, the sandbox to name once its data path is cleaned."""
    from kmeshctl import sandboxes

    owner = sandboxes.owner_of_bpffs(bpf_fs, within=True)
    if owner is None or force:
        return owner
    raise KmeshctlError(f"{given_as('bpf_fs')} {bpf_fs}: the data path of sandbox {owner.name} (its node agent has "
                        f"ended); `kmeshctl sandbox down --name {owner.name}` removes the whole sandbox (network "
                        f"namespaces, processes, cgroup, this bpffs), or add --force to clean its data path alone: "
                        f"`{_cleanup_typed()} --force`")


def _cleanup_typed() -> str:
    """The `node cleanup` line as typed (its flags, in order)."""
    import shlex

    from kmeshctl.cli.render import typed_flags_for

    return shlex.join(["kmeshctl", "node", "cleanup", *typed_flags_for(["node", "cleanup"])])


def _refuse_live_sandbox_cni(cni_conf_dir: Path) -> None:
    """A running sandbox's CNI config is its agent's: refused, as its --bpf-fs is."""
    from kmeshctl import sandboxes

    state = sandboxes.owner_of_cni_conf_dir(cni_conf_dir)
    agent = _live_agent(state) if state is not None else None
    if state is not None and agent is not None:
        raise KmeshctlError(f"{given_as('cni_conf_dir')} {cni_conf_dir}: sandbox {state.name}'s CNI config, where "
                            f"its node agent (pid {agent}) chains its plugin: use `kmeshctl sandbox down --name "
                            f"{state.name}`")


def _attached_elsewhere(err: "loader.AttachedElsewhere") -> UsageError:
    """The refusal of a --cgroup2-path that misses where the data path is attached, with
    the cleanup lines that reach it, every other flag typed kept: without --cgroup2-path
    (the whole tree), and with the one cgroup it is attached at."""
    import shlex

    from kmeshctl.cli.render import typed_flags_for

    flag = flag_as_typed("cgroup2_path")
    without = ["kmeshctl", "node", "cleanup", *cmdline.without_flag(typed_flags_for(["node", "cleanup"]), flag)]
    problem = str(err).partition("; ")[0]
    lines = f"leave out {given_as('cgroup2_path')}: `{shlex.join(without)}`"
    if len(err.cgroups) == 1:
        lines += f", or pass the cgroup it is attached at: `{shlex.join([*without, flag, str(err.cgroups[0])])}`"
    return UsageError(f"{problem}; {lines}")


def _check_cleanup_dir(bpf_fs: Path, ignore_not_found: bool, typed: bool, cni_left: bool = False) -> None:
    """--bpf-fs as cleanup takes it (``typed``: the user gave it): a directory of our pins,
    no live sandbox's, that exists unless ``ignore_not_found``; empty or absent at the
    default is no error either when the CNI plugin is to be removed (``cni_left``)."""
    from kmeshctl.node.claim import check_unclaimed
    from kmeshctl.sandboxes import check_node_path_seen

    check_name_length(given_as("bpf_fs"), bpf_fs)
    check_node_path_seen(bpf_fs)  # hidden (`ip netns exec`) is neither "nothing to clean up" nor "does not exist"
    _refuse_live_sandbox(bpf_fs)
    check_unclaimed(bpf_fs, given_as("bpf_fs"))
    from kmeshctl.cli.common import ignore_not_found_fix

    resolved = loader.cleanup_dir(bpf_fs)
    if ignore_not_found:
        return
    if resolved.exists() and not loader.holds_our_pins(resolved) and not cni_left:  # empty: as one that does not exist
        another = " (another directory: --bpf-fs DIR)" if not typed else ""
        raise KmeshctlError(f"nothing to clean up: {bpf_fs} is an empty directory (no pin of kmesh's data path); "
                            f"{ignore_not_found_fix(['node', 'cleanup'])}{another}")
    if resolved.exists() or (cni_left and not typed):
        return
    if not typed:
        from kmeshctl.sandboxes import data_paths_note

        raise KmeshctlError(f"nothing to clean up: no kmesh data path at {bpf_fs}; "
                            f"{ignore_not_found_fix(['node', 'cleanup'])} (another directory: --bpf-fs DIR)"
                            f"{data_paths_note()}")
    raise UsageError(f"{given_as('bpf_fs')} {bpf_fs}: does not exist; use the directory the agent (kmeshctl node "
                     f"run) was given as --bpf-fs{loader.default_note(bpf_fs)}, or add --ignore-not-found when it "
                     "may be gone already")


def _refuse_live_sandbox(bpf_fs: Path, fix: str = "") -> None:
    """`node cleanup` (or another `node run`) on a local sandbox's bpffs directory while its
    node agent runs would cut its pods off behind its back: refused (exit 1), pointing at
    `sandbox down` (``fix``: what else to do). The sandbox's own agent is not refused."""
    from kmeshctl import sandboxes

    owner = sandboxes.owner_of_bpffs(bpf_fs, within=True)  # below it too: `sandbox down` would unpin it
    agent = _live_agent(owner) if owner is not None else None
    if owner is not None and agent is not None:
        where = "in use by" if bpf_fs.resolve() == owner.bpffs.resolve() else f"inside {owner.bpffs}, the bpffs of"
        raise KmeshctlError(f"{given_as('bpf_fs')} {bpf_fs}: {where} sandbox {owner.name} (agent pid "
                            f"{agent}): use `kmeshctl sandbox down --name {owner.name}`{fix}")


def _live_agent(state: "SandboxState") -> Optional[int]:
    """The pid of the sandbox's running node agent, unless it is this process (the
    sandbox starts its agent as `kmeshctl node run`); None when none runs."""
    import os

    from kmeshctl.sandbox.sandbox import process_alive

    agents = [r for r in state.processes_of("agent") if r.pid != os.getpid() and process_alive(state, r)]
    return agents[-1].pid if agents else None


def _refuse_taken(bpf_fs: Path, cgroup2_path: Optional[Path], cni_conf_dir: Optional[Path]) -> None:
    """What a running sandbox's agent holds, refused to `node run` before anything is
    loaded (exit 1): its --bpf-fs (the new agent would move its programs away from the
    sandbox's pods), its pods' cgroup (a second data path would run on them) and its CNI
    config (a second plugin would be chained for its pods). Another agent's --bpf-fs is
    refused by the agent's own lock (kmeshctl.node.claim)."""
    from kmeshctl import sandboxes

    _refuse_live_sandbox(bpf_fs, ", or give this agent its own --bpf-fs DIR")
    for param, path, owner_of, what in (
            ("cgroup2_path", cgroup2_path, lambda path: sandboxes.owner_of_cgroup(path, within=True),
             "the cgroup of sandbox {name}'s pods, where its node agent (pid {pid}) attaches its data path"),
            ("cni_conf_dir", cni_conf_dir, sandboxes.owner_of_cni_conf_dir,
             "sandbox {name}'s CNI config, where its node agent (pid {pid}) chains its plugin")):
        state = owner_of(path) if path is not None else None
        agent = _live_agent(state) if state is not None and state.bpffs.resolve() != bpf_fs.resolve() else None
        if state is not None and agent is not None:
            raise KmeshctlError(f"{given_as(param)} {path}: {what.format(name=state.name, pid=agent)}: give this "
                                f"agent another {flag_as_typed(param)}, or remove the sandbox first with `kmeshctl "
                                f"sandbox down --name {state.name}`")


def _check_socket_path(param: str, path: Path, shared_ok: bool) -> None:
    """A root-only socket the agent serves (--admin-socket, --cni-socket), checked before
    anything starts: the socket's own directory may be missing (made 0700, as the
    DaemonSet's /var/run/kmesh), its parents not (exit 2); an existing directory open to
    other users is refused (exit 2; ``shared_ok``: one of ours the CNI server tightens,
    never a shared one such as /tmp); a socket another agent answers on is refused (exit 1)."""
    import os
    import stat

    from kmeshctl.sandbox.health import unix_socket_accepts

    flag = flag_as_typed(param)
    check_output_file(flag, path, create_parents=path.parent.parent.is_dir(), probe_file=False)
    parent = path.parent
    if parent.is_dir():
        info = parent.stat()
        mode = stat.S_IMODE(info.st_mode)
        shared = mode & (stat.S_IWOTH | stat.S_ISVTX) if shared_ok else mode & 0o077
        if info.st_uid != os.geteuid() or shared:
            raise UsageError(f"{flag} {path}: its directory {parent} is open to other users (mode {mode:04o}, "
                             f"owner {info.st_uid}): use a directory only root can enter (mode 0700), e.g. "
                             f"{flag} {parent / 'kmeshctl-agent' / path.name}")
    if path.is_socket() and unix_socket_accepts(path):
        from kmeshctl import sandboxes
        from kmeshctl.node.claim import holder_text, socket_holder

        owner = sandboxes.owner_of_agent_socket(path)
        holder = socket_holder(path) if owner is None else None
        who = f"sandbox {owner.name}'s node agent answers on it" if owner else \
            holder_text(holder) if holder else "another process answers on it"
        stop = f"`kmeshctl sandbox down --name {owner.name}` first" if owner else \
            f"stop pid {holder[0]} first" if holder else "stop that process first (`ss -xlp` names it)"
        raise KmeshctlError(f"{flag} {path}: in use ({who}): pass another {flag}, or {stop}")


def _refuse_cni_only_flags() -> None:
    """Flags that only mean something with --cni-conf-dir: given without it, they would be
    silently ignored."""
    for param in ("cni_socket", "local_pods", "cni_bin_dir", "cni_fail_policy"):
        if given_on_command_line(param):
            raise UsageError(f"{given_as(param)} applies only with --cni-conf-dir (the kmesh CNI plugin): "
                             f"add --cni-conf-dir DIR, or leave {flag_as_typed(param)} out")


def _check_paths(bpf_fs: Path, proc_root: Path, local_pods: Optional[Path], used_proc_root: bool) -> None:
    """The paths `node run` reads, checked before anything starts (one line naming the
    flag, exit 2): --bpf-fs on a bpf filesystem; --proc-root a directory when it will be
    read (Kubernetes enrollment, the CNI plugin) or was given; --local-pods a directory
    when it exists (the sandbox makes it)."""
    nodecheck.check_bpffs_dir(bpf_fs, given_as("bpf_fs"))
    if used_proc_root or given_on_command_line("proc_root"):
        check_input_path(given_as("proc_root"), proc_root, DIRECTORY, "give the host's /proc (the DaemonSet "
                         f"mounts it at /host/proc; on the host itself: `{_on_host_proc()}`)")
    if local_pods is not None and local_pods.exists() and not local_pods.is_dir():
        raise UsageError(f"{given_as('local_pods')} {local_pods}: is not a directory; give the directory of "
                         "the pod and namespace objects")


def _on_host_proc() -> str:
    """The line typed with --proc-root /proc (run on the host, not in the DaemonSet's pod)."""
    import shlex

    from kmeshctl.cli import cmdline

    words = cmdline.without_flag(list(cmdline.ARGS), "--proc-root")
    end = cmdline.separator_at(words)
    return shlex.join(["kmeshctl", *words[:end], "--proc-root", "/proc", *words[end:]])


class LogLevel(str, Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class Enrollment(str, Enum):
    auto = "auto"
    kubernetes = "kubernetes"
    local = "local"


class FailPolicy(str, Enum):
    open = "open"
    closed = "closed"


@node_app.command("run")
def run(
    # Checked by the agent's config (one line naming the only mode); completes and shows as a choice.
    mode: Annotated[str, typer.Option("--mode", metavar="dual-engine", help="Data-plane mode (only dual-engine).",
                                      autocompletion=lambda incomplete: ["dual-engine"])] = "dual-engine",
    xds_address: Annotated[str, typer.Option("--xds-address", envvar="XDS_ADDRESS", metavar="HOST:PORT",
                                             help="istiod xDS address, or unix:/path.")] = "istiod.istio-system.svc:15012",
    cluster_id: Annotated[str, typer.Option("--cluster-id", envvar="CLUSTER_ID", metavar="ID",
                                            help="The mesh's cluster id, as istiod knows it.")] = "Kubernetes",
    network: Annotated[str, typer.Option("--network", envvar="NETWORK", metavar="NAME", help="This node's network, for "
                                         "the NETWORK routing preference (default: the default network).")] = "",
    enable_bypass: Annotated[bool, typer.Option("--enable-bypass/--no-enable-bypass",
                                                help="Never redirect pods labelled kmesh.net/bypass=enabled.")] = False,
    enable_bpf_log: Annotated[bool, typer.Option("--enable-bpf-log/--no-enable-bpf-log",
                                                 help="Log every connect decision of the data path.")] = False,
    bpf_fs: BpfFsOption = DEFAULT_BPF_FS,
    cgroup2_path: Cgroup2PathOption = None,
    admin_port: Annotated[int, typer.Option("--admin-port", min=1, max=65535, metavar="PORT",
                                            help="Admin HTTP port on 127.0.0.1.")] = 15200,
    metrics_port: Annotated[int, typer.Option("--metrics-port", min=1, max=65535, metavar="PORT",
                                              help="Prometheus port (/status/metric).")] = 15020,
    admin_socket: Annotated[Optional[Path], typer.Option(
        "--admin-socket", metavar="PATH", help="Root-only unix socket (0600) serving the state-changing admin "
        "actions (logger levels, local enrollment); the admin port is read-only.")] = None,
    xds_insecure: Annotated[bool, typer.Option("--xds-insecure", help="Plaintext xDS without token "
                                               "(local sandbox only; never against a real istiod).")] = False,
    xds_root_cert: Annotated[Path, typer.Option("--xds-root-cert", metavar="PATH", help="PEM file of the "
                                                "CA istiod's serving certificate is checked against.")] = Path(
        "/var/run/secrets/istio/root-cert.pem"),
    xds_token: Annotated[Path, typer.Option("--xds-token", metavar="PATH", help="File of the projected "
                                            "service-account token (audience istio-ca) sent to istiod.")] = Path(
        "/var/run/secrets/tokens/istio-token"),
    xds_tls_server_name: Annotated[Optional[str], typer.Option(
        "--xds-tls-server-name", metavar="NAME", help="Name istiod's certificate is checked against "
        "(default: the host of --xds-address; set it when that is an IP, e.g. istiod.istio-system.svc).")] = None,
    enrollment: Annotated[Enrollment, typer.Option("--enrollment", metavar="auto|kubernetes|local", help="auto "
                                                   "(Kubernetes when reachable), kubernetes, or local (admin POST "
                                                   "/enroll).")] = Enrollment.auto,
    proc_root: Annotated[Path, typer.Option("--proc-root", metavar="PATH",
                                            help="The host's /proc, to find pod netns.")] = Path(
        "/host/proc"),
    pod_name: Annotated[str, typer.Option("--pod-name", envvar="POD_NAME", metavar="NAME",
                                          help="This agent's pod (default: the host name).")] = "",
    pod_namespace: Annotated[str, typer.Option("--pod-namespace", envvar="POD_NAMESPACE", metavar="NAME",
                                               help="This agent's namespace.")] = "kmesh-system",
    instance_ip: Annotated[str, typer.Option("--instance-ip", envvar="INSTANCE_IP", metavar="ADDRESS",
                                             help="This agent's IP, in its xDS node identity.")] = "127.0.0.1",
    node_name: Annotated[str, typer.Option("--node-name", envvar="NODE_NAME", metavar="NAME",
                                           help="The Kubernetes node this agent runs on (its pods are "
                                                "enrolled).")] = "",
    service_account: Annotated[str, typer.Option("--service-account", envvar="SERVICE_ACCOUNT", metavar="NAME",
                                                 help="This agent's service account, in its xDS node "
                                                      "identity.")] = "",
    log_level: Annotated[LogLevel, typer.Option("--log-level", metavar="debug|info|warning|error",
                                                help="Log level.")] = LogLevel.info,
    cni_conf_dir: Annotated[Optional[Path], typer.Option(
        "--cni-conf-dir", envvar="CNI_CONF_DIR", metavar="DIR", help="Chain the kmesh CNI plugin into the node's CNI config "
        "here (e.g. /etc/cni/net.d); unset: the pod watch alone enrolls.")] = None,
    cni_bin_dir: Annotated[Path, typer.Option("--cni-bin-dir", envvar="CNI_BIN_DIR", metavar="DIR",
                                              help="Where the kmesh CNI plugin binary is installed, next to "
                                                   "the node's other plugins.")] = Path("/opt/cni/bin"),
    cni_fail_policy: Annotated[FailPolicy, typer.Option("--cni-fail-policy", metavar="open|closed", help="open: a "
                                                        "pod starts unenrolled when the agent cannot answer; "
                                                        "closed: it waits.")] = FailPolicy.open,
    cni_socket: Annotated[Path, typer.Option("--cni-socket", metavar="PATH", help="The socket the CNI plugin "
                                             "asks (root only).")] = Path("/var/run/kmesh-cni/cni.sock"),
    local_pods: Annotated[Optional[Path], typer.Option(
        "--local-pods", metavar="DIR", help="Local enrollment with --cni-conf-dir: the pod and namespace objects "
        "(JSON) the CNI plugin's requests are decided from; the sandbox writes them.")] = None,
) -> None:
    """Run the node agent: load the data path, follow istiod's workload xDS, enroll pods.

    The DaemonSet `kmeshctl install` makes runs this on every node, as root.

    Examples:

      # in the DaemonSet's pod (the host's /proc mounted at /host/proc)
      kmeshctl node run --xds-address istiod.istio-system.svc:15012
      # on a node's host, outside a pod
      kmeshctl node run --cluster-id c1 --enrollment kubernetes --proc-root /proc
    """
    import socket

    _check_xds_address(xds_address)
    check_identity_flags(instance_ip, xds_tls_server_name)
    # before the checks of paths it would create: as another user those say "not writable", not why
    if not _may_load_bpf():
        require_root_with_line("node run", "it loads, pins and attaches BPF programs")
    if admin_socket is not None:
        _check_socket_path("admin_socket", admin_socket, shared_ok=False)
    if cni_conf_dir is not None:
        _check_socket_path("cni_socket", cni_socket, shared_ok=True)
    else:
        _refuse_cni_only_flags()

    _check_given_secrets(xds_insecure, xds_root_cert, xds_token)
    # before logging is set up: a refused path changes nothing, not even the log handlers
    _check_paths(bpf_fs, proc_root, local_pods, used_proc_root=enrollment is Enrollment.kubernetes or
                 cni_conf_dir is not None)
    _refuse_taken(bpf_fs, cgroup2_path, cni_conf_dir)  # then the agent's own checks (--cgroup2-path: validate)

    from kmeshctl.node.agent import Agent, AgentConfig, PlaintextToIstiod, configure_logging
    from kmeshctl.xds.client import Identity

    identity = Identity(instance_ip=instance_ip, pod_name=pod_name or socket.gethostname(),
                        pod_namespace=pod_namespace, cluster_id=cluster_id, node_name=node_name,
                        service_account=service_account)
    config = AgentConfig(
        xds_address=xds_address, identity=identity, mode=mode, xds_insecure=xds_insecure,
        root_cert=xds_root_cert, token_path=None if xds_insecure and not xds_token.exists() else xds_token,
        xds_tls_server_name=xds_tls_server_name,
        enable_bypass=enable_bypass, enable_bpf_log=enable_bpf_log, bpf_fs=bpf_fs,
        cgroup2_path=cgroup2_path, admin_port=admin_port, admin_socket=admin_socket, metrics_port=metrics_port,
        enrollment=enrollment.value, proc_root=proc_root, network=network, cni_conf_dir=cni_conf_dir,
        cni_bin_dir=cni_bin_dir, cni_fail_policy=cni_fail_policy.value, cni_socket=cni_socket, local_pods=local_pods, kube_target=run_options())
    configure_logging(log_level.value)
    try:
        code = Agent(config).run_until_signalled()
    except PlaintextToIstiod:
        raise _plaintext_to_istiod() from None
    raise typer.Exit(code)


def _may_load_bpf() -> bool:
    """Whether this process holds CAP_SYS_ADMIN or CAP_BPF (bits 21, 39 of CapEff): a user
    other than root given them (a unit's AmbientCapabilities) may run the agent."""
    try:
        status = Path("/proc/self/status").read_text()
        effective = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), 16)
    except (OSError, StopIteration, ValueError):
        return False
    return bool(effective & (1 << 21 | 1 << 39))


def _check_xds_address(address: str) -> None:
    """params.check_xds_address for node run; a bad form whose meaning is clear (`istiod`,
    a list, a scheme) is refused with this line to paste, --xds-address the address meant
    and every other flag typed kept (given from $XDS_ADDRESS: the flag on the line wins)."""
    from kmeshctl.cli.cluster import command_with
    from kmeshctl.params import BadXdsAddress

    try:
        check_xds_address(address, given_as("xds_address"), allow_unix=True)
    except BadXdsAddress as err:
        raise UsageError(f"{err.problem}; use `{command_with(['node', 'run'], 'xds_address', err.meant)}`") from None


def _plaintext_to_istiod() -> UsageError:
    """The agent's refusal of --xds-insecure toward istiod's TLS port (the default address),
    with the line that talks TLS to istiod instead, every other flag typed kept."""
    import shlex

    from kmeshctl.cli.render import typed_flags_for
    from kmeshctl.node.agent import DEFAULT_XDS_ADDRESS

    insecure = flag_as_typed("xds_insecure")
    secure = cmdline.without_flag(typed_flags_for(["node", "run"]), insecure, valued=False)
    address = f"{given_as('xds_address')} {DEFAULT_XDS_ADDRESS}" if given_on_command_line("xds_address") else \
        f"no --xds-address (default {DEFAULT_XDS_ADDRESS})"
    return UsageError(f"{insecure} with {address}: plaintext to istiod's TLS port is never answered, and the "
                      "agent would load the data path and wait; pass --xds-address of the local xDS server "
                      f"(unix:/PATH or HOST:PORT), or leave out {insecure} for TLS to istiod: "
                      f"`{shlex.join(['kmeshctl', 'node', 'run', *secure])}`")


def _check_given_secrets(xds_insecure: bool, root_cert: Path, token: Path) -> None:
    """A --xds-root-cert / --xds-token the user gave must exist; the fix is another file (the
    agent's own check, of the defaults, suggests passing the flag). Both bad: both said."""
    if xds_insecure:
        return
    checks = []
    if given_on_command_line("xds_root_cert"):
        checks.append(lambda: check_input_path(
            given_as("xds_root_cert"), root_cert, FILE, "use the PEM file of istiod's root CA (the "
            "istio-ca-root-cert ConfigMap's root-cert.pem), or --xds-insecure for a plaintext local istiod"))
    if given_on_command_line("xds_token"):
        checks.append(lambda: check_input_path(
            given_as("xds_token"), token, FILE, "use the projected ServiceAccount token file (audience istio-ca), "
            "or --xds-insecure for a plaintext local istiod"))
    _all_said(checks)


def _all_said(checks: list) -> None:
    """Run each of ``checks``; one UsageError saying every refusal (`...; also ...`)."""
    problems: list[str] = []
    for check in checks:
        try:
            check()
        except UsageError as err:
            problems.append(str(err))
    if problems:
        raise UsageError("; also ".join(problems))


EXAMPLE_TLS_SERVER_NAME = "istiod.istio-system.svc"


def check_identity_flags(instance_ip: Optional[str], tls_server_name: Optional[str]) -> None:
    """--instance-ip an IP address (the agent's own check) and --xds-tls-server-name a host
    name or IP (what a certificate names), both said when both are bad; refused before
    anything loads."""
    checks = []
    if isinstance(instance_ip, str):
        checks.append(lambda: _check_instance_ip(given_as("instance_ip"), instance_ip))
    if isinstance(tls_server_name, str):
        checks.append(lambda: _check_tls_server_name(given_as("xds_tls_server_name"), tls_server_name))
    _all_said(checks)


def _check_instance_ip(flag: str, value: str) -> None:
    """The agent's own --instance-ip check (agent._check_ip), its example as the value was
    given (`$INSTANCE_IP=10.0.0.7` from the environment)."""
    from kmeshctl.node.agent import EXAMPLE_INSTANCE_IP, _check_ip
    from kmeshctl.params import given_text

    try:
        _check_ip(flag, value)
    except UsageError as err:
        message = str(err)
        raise UsageError(message.replace(f"e.g. {flag} {EXAMPLE_INSTANCE_IP}",
                                         f"e.g. {given_text(flag, EXAMPLE_INSTANCE_IP)}")) from None


_HOST_NAME = re.compile(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?\Z",
                        re.IGNORECASE)


def _check_tls_server_name(flag: str, value: str) -> None:
    """A name a server certificate can be checked against: a DNS name or an IP address."""
    import ipaddress

    from kmeshctl.params import given_text

    if _HOST_NAME.match(value):
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise UsageError(f"{given_text(flag, value)}: not a host name; give the name istiod's certificate is "
                         f"issued for, e.g. {given_text(flag, EXAMPLE_TLS_SERVER_NAME)}") from None


def check_cgroup2_path(path: Path) -> None:
    """--cgroup2-path a cgroup v2 directory (nodecheck.resolve_cgroup2_dir), named as typed."""
    try:
        nodecheck.resolve_cgroup2_dir(path)
    except UsageError as err:
        message = str(err)
        flag = given_as("cgroup2_path")
        raise UsageError(flag + message[len("--cgroup2-path"):] if message.startswith("--cgroup2-path") else
                         message) from None


def _ignore_not_found_typed(args: list[str]) -> bool:
    return "--ignore-not-found" in args


def _stray_cleanup_dir(words: list[str], args: list[str]) -> str:
    """What `node cleanup DIR` most likely meant, read on this machine ("" to leave it to the
    generic reading: --bpf-fs DIR when cleanup takes it, else its refusal and the default's
    line): a DIR cleanup refuses while its default is refused too, or with a fix of its own
    (a sandbox's directory: `sandbox down`), is that refusal alone; another cleanup after it
    would fail when pasted, or contradict it."""
    from kmeshctl.cli.option_hints import plainly

    if len(words) != 1:
        return ""
    ignore = _ignore_not_found_typed(args)
    try:
        POSITIONAL_CHECKS[("node", "cleanup", "bpf_fs")]("--bpf-fs", words[0])  # --bpf-fs's own, as refused
        return ""
    except KmeshctlError as err:
        head, sep, reason = " ".join(str(err).split()).partition(": ")
        reason = reason if sep and head.startswith("--bpf-fs") else f"{head}{sep}{reason}"
    except Exception:  # noqa: BLE001 - this runs inside an error message: a lookup gone wrong is no hint
        return ""
    try:  # its refusal says what to do: the directory typed, or --ignore-not-found
        missing = not Path(words[0]).exists()
    except OSError:  # a name too long, a loop: not there as typed
        missing = True
    if "`" not in reason and not missing and _cleanup_takes(Path(DEFAULT_BPF_FS), ignore):
        return ""
    return f"; this command takes no positional arguments, and {plainly(words[0], reason)}"


def _cleanup_takes(bpf_fs: Path, ignore_not_found: bool) -> bool:
    try:
        _check_cleanup_dir(bpf_fs, ignore_not_found, True)
    except (KmeshctlError, RuntimeError):  # RuntimeError: a refusal's fix wording needs the command's context
        return False
    return True


# `node cleanup DIR`: offered as --bpf-fs DIR only when cleanup takes it (--ignore-not-found typed too)
POSITIONAL_CHECKS[("node", "cleanup", "bpf_fs")] = lambda flag, value: _check_cleanup_dir(
    Path(value), _ignore_not_found_typed(cmdline.ARGS), True)
POSITIONAL_READERS[("node", "cleanup")] = _stray_cleanup_dir
