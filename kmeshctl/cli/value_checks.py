"""The checks a command's body makes of its values, made at parse time too (VALUE_CHECKS):
so that one error names every bad value of a line (badinput.every_bad_value) and a mended
line is checked before it is offered (badinput.line_works). Each check takes the command's
parsed values (a value click refused is None) and raises UsageError for one bad value."""

from __future__ import annotations

import os
import re
from typing import Any, Optional

from kmeshctl.cli.badinput import typed_target, typed_value

def _kubernetes_version(values: Any) -> None:
    from kmeshctl.params import check_kubernetes_version

    if isinstance(values.get("kubernetes_version"), str) and values["kubernetes_version"]:
        check_kubernetes_version(values["kubernetes_version"])


def _bench_list(name: str, flag: str, known: Any) -> Any:
    def check(values: Any) -> None:
        from kmeshctl.cli.names import check_choice_list

        if isinstance(values.get(name), str):
            check_choice_list(flag, values[name], known())
    return check


def _bench_paths() -> Any:
    from kmeshctl.bench.topology import PATHS

    return PATHS


def _bench_loads() -> Any:
    from kmeshctl.bench.wrk import LOADS

    return LOADS


def _bench_cpus(name: str, flag: str) -> Any:
    def check(values: Any) -> None:
        from kmeshctl.cli.bench import _cpus

        if isinstance(values.get(name), str):
            _cpus(values[name], flag, "0")
    return check


def _demo_weights(values: Any) -> None:
    from kmeshctl import demo

    if isinstance(values.get("weights"), str):  # what holds whatever the target's subsets (its body checks the count)
        demo.parse_weight_sets(values["weights"], demo.fortio_demo()[1], check_count=False)


def _demo_plot(values: Any) -> None:
    from pathlib import Path

    from kmeshctl.cli.suggestions import flag_as_typed
    from kmeshctl.demo_plot import check_plot_path

    if isinstance(values.get("plot"), Path):
        check_plot_path(values["plot"], flag_as_typed("plot") or "--plot", bool(values.get("force")))


def _dump_map(values: Any) -> None:
    """dump maps' --map as its body checks it (one map's name), beside a bad -o."""
    from kmeshctl.cli.dump import _check_map_flag

    if isinstance(values.get("map_name"), str):
        _check_map_flag(values["map_name"])


def _dump_bpf_fs(values: Any) -> None:
    """dump maps' --bpf-fs typed, as its body checks it (a directory on a bpf filesystem)."""
    from kmeshctl.cli.dump import _check_bpf_fs
    from kmeshctl.cli.suggestions import given_on_command_line

    if values.get("bpf_fs") is not None and given_on_command_line("bpf_fs") and not values.get("pod"):
        _check_bpf_fs(values["bpf_fs"])


def _dump_pod_place(*local: str) -> Any:
    """dump's --pod beside what its body refuses with it before connecting: a -n naming
    another namespace than --pod NAMESPACE/NAME, a local data path typed too (``local``:
    the parameter names of dump's local flags)."""
    def check(values: Any) -> None:
        from kmeshctl.cli import dump
        from kmeshctl.cli.suggestions import given_on_command_line

        pod, namespace = values.get("pod"), values.get("namespace")
        if not isinstance(pod, str) or not pod:
            return
        if isinstance(namespace, str):
            dump._pod_namespace(pod, namespace)
        typed = {name: values.get(name) for name in local if given_on_command_line(name)}
        if any(value is not None for value in typed.values()):  # it refuses them before it connects
            dump._pod_flags(pod, namespace or "", **typed)
    return check


def _dump_namespace_alone(values: Any) -> None:
    """dump's -n typed without --pod, as its body refuses it (a local data path is shown whole)."""
    from kmeshctl.cli.dump import namespace_without_pod
    from kmeshctl.cli.suggestions import given_on_command_line

    if values.get("pod") is None and not given_on_command_line("pod") and given_on_command_line("namespace"):
        raise namespace_without_pod(str(values.get("namespace")))


def _dump_env_sandbox(*places: str) -> Any:
    """dump's $KMESHCTL_SANDBOX_NAME, checked as its body checks it when no place is typed
    (``places``: the parameter names of the flags that name one)."""
    def check(values: Any) -> None:
        from kmeshctl.cli import dump

        if isinstance(values.get("sandbox"), str) and values["sandbox"]:
            dump._typed_place_wins(values["sandbox"], **{name: values.get(name) for name in places})
    return check


def _bench_run_id(values: Any) -> None:
    """bench cleanup's --run-id, as its body checks it."""
    from kmeshctl.cli import names
    from kmeshctl.cli.suggestions import flag_as_typed

    if isinstance(values.get("run_id"), str):
        names.check_run_id(flag_as_typed("run_id") or "--run-id", values["run_id"])


def _demo_sandbox(values: Any) -> None:
    """The demo's --sandbox NAME by the sandbox name rule, as its body checks it."""
    from kmeshctl import sandboxes
    from kmeshctl.cli.suggestions import flag_as_typed, given_on_command_line

    if isinstance(values.get("name"), str) and values["name"] and given_on_command_line("name"):
        sandboxes.checked_name(values["name"], flag_as_typed("name"))


def _demo_target(values: Any) -> None:
    """The demo's sandbox named beside a cluster, as its body refuses it."""
    from kmeshctl.cli.demo import check_sandbox_beside_cluster

    check_sandbox_beside_cluster(values)


def _demo_waypoint(values: Any) -> None:
    """The demo's --waypoint, as its body checks it (the waypoint commands' rule) once its
    place is right (no sandbox, no --target local: the body says that first)."""
    from kmeshctl.cli.names import check_waypoint_name
    from kmeshctl.params import DEMO_WAYPOINT  # not demo_cluster's import: a stop in that is the demo's to report

    from kmeshctl.cli.demo import beside_cluster  # a sandbox beside a cluster: --waypoint is on the cluster's line

    waypoint = values.get("waypoint")
    if isinstance(waypoint, str) and (values.get("name") is None and getattr(
            values.get("target"), "value", values.get("target")) != "local" or
            beside_cluster(values.get("name"), values.get("target"))):
        check_waypoint_name("--waypoint", waypoint, DEMO_WAYPOINT)


def _offline_xds_address(values: Any) -> None:
    """render's --xds-address (and an offline install --dry-run's) as istiod's offline check
    refuses it, with the address to use; one of a bad form is left to the name checks."""
    from kmeshctl.cli.names import line_namespace
    from kmeshctl.cli.suggestions import flag_as_typed
    from kmeshctl.errors import UsageError
    from kmeshctl.istiod import XdsAddressRefused, check_xds_address_offline
    from kmeshctl.params import check_xds_address

    address = values.get("xds_address")
    if not isinstance(address, str) or not address or ("dry_run" in values and not _offline_dry_run(values)):
        return  # install with a cluster: the cluster judges it
    try:
        check_xds_address(address)
    except UsageError:
        return
    flag = flag_as_typed("xds_address") or "--xds-address"
    try:
        check_xds_address_offline(address, line_namespace(values.get("istio_namespace")), flag)
    except XdsAddressRefused as err:
        raise UsageError(f"{err} (use {flag} {err.found[0]})" if len(err.found) == 1 else str(err)) from None


def _offline_dry_run(values: Any) -> bool:
    from kmeshctl.cli.common import run_options
    from kmeshctl.kube import cluster_configured

    return bool(values["dry_run"]) and not cluster_configured(run_options())


def _sandbox_name(values: Any) -> None:
    from kmeshctl.cli.sandbox import _checked_name

    if isinstance(values.get("name"), str) and values["name"]:
        _checked_name(values["name"])


def _exec_pod(values: Any) -> None:
    """sandbox exec's POD (a bare name, or kubectl's pod/NAME, deploy/NAME) as its body
    checks the name, before a sandbox is looked up."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.names import check_pod_word, split_exec_target
    from kmeshctl.cli.sandbox import POD_MISSING

    pod = values.get("pod")
    if cmdline.INVOKED and cmdline.INVOKED[-1].meta.get(POD_MISSING):
        return  # no POD before `--`: click took the command's first word for it (said as POD missing)
    kind, name = split_exec_target(pod) if isinstance(pod, str) else ("", "")
    if name and kind in ("", "pod", "deploy"):  # NS/NAME and other kinds: the body says them, with their line
        check_pod_word("POD", name, pod)


def _sandbox_files(values: Any) -> None:
    from kmeshctl.cli.outpaths import FILE_OR_DIRECTORY, check_input_path
    from kmeshctl.cli.suggestions import flag_as_typed
    from kmeshctl.sandbox.manifests import STDIN, is_url

    for path in values.get("files") or ():
        if str(path) != STDIN and not is_url(str(path)) and "," not in str(path):  # a list or a URL: up says it
            check_input_path(flag_as_typed("files") or "-f", path, FILE_OR_DIRECTORY,
                             "give a Kubernetes YAML file or a directory of them (or - for stdin)")


def _node_run_flags(values: Any) -> None:
    """node run's flags that apply only with --cni-conf-dir, given without it."""
    from kmeshctl.cli.node import _refuse_cni_only_flags

    if values.get("cni_conf_dir") is None:
        _refuse_cni_only_flags()


def _node_run_paths(values: Any) -> None:
    """node run's --bpf-fs, --proc-root and --local-pods, as its body checks them."""
    from kmeshctl.cli.node import Enrollment, _check_paths

    if any(values.get(name) is None for name in ("bpf_fs", "proc_root", "enrollment")):
        return  # click refused one: said already
    _check_paths(values["bpf_fs"], values["proc_root"], values.get("local_pods"),
                 used_proc_root=values["enrollment"] is Enrollment.kubernetes or values.get("cni_conf_dir") is not None)


def _node_run_sockets(values: Any) -> None:
    """node run's --admin-socket (and --cni-socket with --cni-conf-dir), as its body checks
    them once it may load BPF (as another user the body says that first)."""
    from kmeshctl.cli.node import _check_socket_path, _may_load_bpf

    if not _may_load_bpf():
        return
    if values.get("admin_socket") is not None:
        _check_socket_path("admin_socket", values["admin_socket"], shared_ok=False)
    if values.get("cni_conf_dir") is not None and values.get("cni_socket") is not None:
        _check_socket_path("cni_socket", values["cni_socket"], shared_ok=True)


def _node_run_secrets(values: Any) -> None:
    from kmeshctl.cli.node import _check_given_secrets

    if values.get("xds_root_cert") is not None and values.get("xds_token") is not None:
        _check_given_secrets(bool(values.get("xds_insecure")), values["xds_root_cert"], values["xds_token"])


def _node_run_identity(values: Any) -> None:
    """node run's --instance-ip and --xds-tls-server-name, as its body checks them."""
    from kmeshctl.cli.node import check_identity_flags

    check_identity_flags(values.get("instance_ip"), values.get("xds_tls_server_name"))


def _node_run_cgroup(values: Any) -> None:
    from kmeshctl.cli.node import check_cgroup2_path

    if values.get("cgroup2_path") is not None:
        check_cgroup2_path(values["cgroup2_path"])


def _node_cleanup_paths(values: Any) -> None:
    """node cleanup's --cgroup2-path, --cni-conf-dir, --cni-bin-dir and a typed --bpf-fs
    that does not exist, each said (its body checks them in turn)."""
    from kmeshctl.cli.node import check_cleanup_paths

    if any(values.get(name) is None for name in ("bpf_fs", "cni_conf_dir", "cni_bin_dir")):
        return  # click refused one: said already
    check_cleanup_paths(values["bpf_fs"], values.get("cgroup2_path"), values["cni_conf_dir"],
                        values["cni_bin_dir"], bool(values.get("ignore_not_found")))


def _waypoint_name(values: Any) -> None:
    """The waypoint commands' --name, as their bodies check it (names.check_waypoint_name)."""
    from kmeshctl.cli.names import check_waypoint_name
    from kmeshctl.cli.suggestions import flag_as_typed

    if isinstance(values.get("name"), str):
        check_waypoint_name(flag_as_typed("name"), values["name"])


def _waypoint_wait(values: Any) -> None:
    """waypoint apply's `--wait --replicas 0` (no pod to wait for), as its body refuses it."""
    from kmeshctl.cli.waypoint import _namespace, _no_pods_to_wait_for

    if not (values.get("wait") and values.get("replicas") == 0 and not values.get("dry_run")):
        return
    try:
        namespace = _namespace(values.get("namespace"))
    except Exception:  # noqa: BLE001 - a line only checked (no root callback ran): its words are not shown
        namespace = "default"
    raise _no_pods_to_wait_for(namespace)


def _namespace_and_all(values: Any) -> None:
    """waypoint list's -n typed with -A, as its body refuses it."""
    from kmeshctl.cli.waypoint import namespace_and_all

    if values.get("all_namespaces") and isinstance(values.get("namespace"), str):
        raise namespace_and_all(values["namespace"])


def _install_namespace(values: Any) -> None:
    """-n of render, install, uninstall and precheck as their bodies refuse it (Kubernetes'
    own, Istio's); a namespace that is no name is said by the name checks."""
    from kmeshctl.cli.suggestions import flag_as_typed
    from kmeshctl.params import DNS1123_LABEL_RE, check_install_namespace

    namespace, istio = values.get("namespace"), values.get("istio_namespace")
    if not isinstance(namespace, str) or not DNS1123_LABEL_RE.match(namespace):
        return
    # an --istio-namespace that is no name (said by the name checks) is no other namespace: -n's own rule stands
    istio = istio if isinstance(istio, str) and DNS1123_LABEL_RE.match(istio) else ""
    check_install_namespace(namespace, istio, flag_as_typed("namespace"))


def _crd_files(values: Any) -> None:
    """render's and install's --crd-file, each an existing file, as their bodies check it."""
    from kmeshctl.cli.render import check_crd_files

    if values.get("crd_file"):
        check_crd_files(values["crd_file"])


def _waypoint_revision(values: Any) -> None:
    """waypoint apply's --revision, a label as its params' check refuses it (deploy.check_params)."""
    from kmeshctl.cli.suggestions import flag_as_typed
    from kmeshctl.namespaces import check_names

    revision = values.get("revision")
    if isinstance(revision, str) and revision:
        flag = flag_as_typed("revision") or "--revision"
        check_names(flag, [revision], kind="revision", example=f"{flag} 1-22-6")


def _waypoint_namespace(values: Any) -> None:
    """waypoint apply's -n as its body refuses it before connecting (kube-system, Istio's, kmesh's)."""
    from kmeshctl.params import DNS1123_LABEL_RE
    from kmeshctl.waypoint.deploy import WaypointParams, check_apply_namespace

    namespace, origin = values.get("namespace"), ""
    if namespace is None and "namespace" in values:  # the kubeconfig context's (read, not connected to)
        namespace, origin = _context_namespace_said(), _context_origin()
    if isinstance(namespace, str) and DNS1123_LABEL_RE.match(namespace):
        check_apply_namespace(WaypointParams(namespace=namespace), None, origin, _namespace_given_line)


def _waypoint_context_namespace(values: Any) -> None:
    """waypoint list / status / delete given no -n (nor -A): the kubeconfig context's
    namespace, refused as their bodies refuse it before connecting when it is no name."""
    if values.get("namespace") is None and "namespace" in values and not values.get("all_namespaces"):
        _context_namespace_said()


def _context_namespace_said() -> Optional[str]:
    """_context_namespace, its refusal's `pass -n team-b` followed by the line typed with that
    -n (_namespace_given_line), with which the line's other bad values are mended (all_said)."""
    from kmeshctl.cli.suggestions import _PASS_NAMESPACE
    from kmeshctl.errors import UsageError

    try:
        return _context_namespace()
    except UsageError as err:
        said = str(err)
        found = _PASS_NAMESPACE.search(said)
        if found is None:
            raise
        said = f"{said[:found.end()]}{_namespace_given_line(found['value'])}{said[found.end():]}"
        raise UsageError(_KUBECTL_LINE.sub(_with_typed_kubeconfig, said)) from None


_KUBECTL_LINE = re.compile(r"`(kubectl [^`]*)`")


def _with_typed_kubeconfig(line: re.Match[str]) -> str:
    """A `kubectl ...` line with the --kubeconfig typed (suggestions.kubectl_line), which the
    line's own flags cannot carry when its error comes before the command parses."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.cli.suggestions import kubectl_line

    kubeconfig, words = typed_value(cmdline.ARGS, "--kubeconfig"), shlex.split(line.group(1))
    if kubeconfig is None or typed_value(words, "--kubeconfig") is not None:
        return line.group()
    return f"`{kubectl_line(words[1:], kubeconfig, None)}`"


def _namespace_given_line(namespace: str) -> str:
    """`: `kmeshctl ... -n NAMESPACE``, the line typed with -n set to ``namespace`` (added when
    none was typed); its other bad values are mended with it (all_said), or said after it."""
    import shlex

    from kmeshctl.cli import cmdline

    args = list(cmdline.ARGS)
    end = cmdline.separator_at(args)
    typed = typed_value(args[:end], "-n", "--namespace")
    words = cmdline.with_value_replaced(args, typed, namespace) if typed else [*args[:end], "-n", namespace,
                                                                               *args[end:]]
    return f": `{shlex.join(['kmeshctl', *words])}`"


def _context_origin() -> str:
    """`from context dev`: the context the line names (--context, else the kubeconfig's current one)."""
    from kmeshctl.cli import cmdline
    from kmeshctl.kube import check_kubeconfig

    target = typed_target(cmdline.ARGS)
    context = target.context
    if context is None:
        try:
            context = check_kubeconfig(target.kubeconfig or os.path.expanduser("~/.kube/config"), None, False).current
        except Exception:  # noqa: BLE001 - unreadable: said by the cluster flags' check
            return "from the kubeconfig context"
    return f"from context {context}"


def _context_namespace() -> Optional[str]:
    """The namespace a line given no -n acts on (kube.default_namespace of the cluster it
    names: its context's); its UsageError when that is no namespace name; None when the
    kubeconfig does not load (the cluster flags' check says it)."""
    from kmeshctl.cli import cmdline
    from kmeshctl.errors import UsageError
    from kmeshctl.kube import default_namespace

    try:
        return default_namespace(typed_target(cmdline.ARGS))
    except UsageError:
        raise
    except Exception:  # noqa: BLE001 - an unreadable kubeconfig: said by the cluster flags' check
        return None


def _namespace_words(values: Any) -> None:
    """enable-ns / disable-ns's NAMESPACE... as their bodies check the names."""
    from kmeshctl.cli.names import check_namespace_words

    if values.get("namespaces"):
        check_namespace_words("namespace", [str(name) for name in values["namespaces"]])


def _not_system_namespaces(values: Any) -> None:
    """enable-ns of a system namespace (kube-system, istio's, kmesh's), refused before
    connecting as its body does; the names that are no name are said by _namespace_words."""
    from kmeshctl.cli.cluster import _checked_namespaces
    from kmeshctl.params import DNS1123_LABEL_RE

    names = [str(name) for name in values.get("namespaces") or ()]
    if any(DNS1123_LABEL_RE.match(name) for name in names):
        _checked_namespaces(None, names, True, bool(values.get("overwrite")))


def _split_namespace_words(values: Any) -> None:
    """`enable-ns foo --timeout 5 m`: m is the unit of --timeout the shell split off, not a namespace."""
    from kmeshctl.cli.splitvalues import check_split_arguments

    check_split_arguments([str(name) for name in values.get("namespaces") or ()], "a namespace")


NODE_PORTS = (15020, 15021)  # a metrics port to offer when --admin-port took the default one


def _node_run_ports(values: Any) -> None:
    """--admin-port and --metrics-port the same: the line with a metrics port of its own,
    the problem said of the flag typed (--admin-port 15020 clashes with metrics' default)."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.badinput import typed_value
    from kmeshctl.cli.suggestions import flag_as_typed
    from kmeshctl.errors import UsageError

    admin, metrics = values.get("admin_port"), values.get("metrics_port")
    if admin is None or admin != metrics:
        return
    flag = flag_as_typed("metrics_port") or "--metrics-port"
    other = next(p for p in NODE_PORTS if p != admin)
    said = f"{flag} {metrics}: the same port as --admin-port"
    if typed_value(cmdline.ARGS, "--metrics-port") is None:  # only --admin-port typed: metrics' default it took
        said = f"{flag_as_typed('admin_port') or '--admin-port'} {admin}: the same port as --metrics-port's default"
    raise UsageError(f"{said}; give each its own (defaults: admin 15200, metrics 15020): {flag} {other}")


# The checks a command's body makes of its values before anything runs (command path ->
# functions of its parsed values, each raising UsageError for one bad value), made beside
# click's own (a bad -o, -c) and the name checks (kmeshctl.cli.names), so that one error
# names every bad value of a line. A value click refused is None here.
VALUE_CHECKS: dict[str, tuple[Any, ...]] = {
    "render": (_offline_xds_address, _kubernetes_version, _install_namespace, _crd_files),
    "install": (_offline_xds_address, _kubernetes_version, _install_namespace, _crd_files),
    "uninstall": (_install_namespace,),
    "precheck": (_install_namespace,),
    "sandbox up": (_sandbox_name, _sandbox_files),
    "bench dataplane": (_bench_list("paths", "--paths", _bench_paths), _bench_list("loads", "--loads", _bench_loads),
                        _bench_cpus("client_cpus", "--client-cpus"), _bench_cpus("mesh_cpus", "--mesh-cpus")),
    "demo traffic-shift": (_demo_weights, _demo_plot, _demo_sandbox, _demo_target, _demo_waypoint),
    "dump maps": (_dump_map, _dump_bpf_fs, _dump_pod_place("bpf_fs", "sandbox"), _dump_namespace_alone,
                  _dump_env_sandbox("pod", "bpf_fs", "admin_port")),
    "dump config": (_dump_pod_place("sandbox",), _dump_namespace_alone, _dump_env_sandbox("pod", "admin_port")),
    "sandbox down": (_sandbox_name,),
    "sandbox status": (_sandbox_name,),
    "sandbox exec": (_sandbox_name, _exec_pod),
    "bench cleanup": (_bench_run_id,),
    "node run": (_node_run_flags, _node_run_ports, _node_run_sockets, _node_run_secrets, _node_run_paths,
                 _node_run_identity, _node_run_cgroup),
    "node cleanup": (_node_cleanup_paths,),
    "waypoint apply": (_waypoint_name, _waypoint_wait, _waypoint_namespace, _waypoint_revision),
    "waypoint list": (_namespace_and_all, _waypoint_context_namespace),
    "waypoint status": (_waypoint_name, _waypoint_context_namespace),
    "waypoint delete": (_waypoint_name, _waypoint_context_namespace),
    "enable-ns": (_split_namespace_words, _namespace_words, _not_system_namespaces),
    "disable-ns": (_split_namespace_words, _namespace_words),
}
