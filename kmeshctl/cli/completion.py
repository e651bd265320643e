"""Shell completion of paths: an option that takes a path (`-f FILE`, `--kubeconfig`,
`--plot FILE.png`, `--bpf-fs DIR`) completes file names (directories only for a DIR),
in bash, zsh and fish. typer's completion classes answer such an option with nothing,
which bash (`complete -o default`) and zsh (`_files`) take for "any file" but never
"directories only"; these classes answer `file` or `dir` instead, and the scripts of
`kmeshctl completion SHELL` turn that into the shell's own file or directory completion.

Every other word with no candidate (`enable-ns <TAB>` with no cluster answering, a
command that takes no argument, `status -- <TAB>`) completes nothing, never file names:
only after the `--` of a command taking a command there (`sandbox exec POD -- COMMAND`)
does the shell's own completion apply. The values of
the parameters declared without a completer are completed by the rules of value_rule
(namespaces, pods and waypoints from the cluster, within COMPLETION_LOOKUP_TIMEOUT_S,
the accepted Kubernetes versions, ...), so every command taking such a value offers them."""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from typer._click.shell_completion import CompletionItem, _resolve_context, add_completion_class
from typer._completion_classes import BashComplete, FishComplete, ZshComplete

if TYPE_CHECKING:
    from kmeshctl.kube import KubeTarget

FILE, DIR, NOTHING, COMMAND = "file", "dir", "nothing", "command"
FILE_LINE, DIR_LINE = ":kmeshctl-complete-file:", ":kmeshctl-complete-directory:"
# The first word after `--` (`sandbox exec POD -- cu<TAB>`): a command name of this
# host, as bash completes `kubectl exec POD -- cu<TAB>`; the words after it: files.
COMMAND_LINE = ":kmeshctl-complete-command:"
# An option's value with nothing to offer (`-n <TAB>`, `--context <TAB>` without a
# kubeconfig): no candidates, never file names or command names (kubectl's NoFileComp).
NOTHING_LINE = ":kmeshctl-complete-nothing:"
# Flags kubectl users give before the command (`kmeshctl -o json status`; see
# kmeshctl.cli.cmdline.LEADING_FLAGS): their value completes there too.
NAMESPACE_FLAGS = ("-n", "--namespace")
LEADING_VALUE_FLAGS = ("-o", "--output", *NAMESPACE_FLAGS)
# The order -o values are offered in, as the help lists them.
OUTPUT_ORDER = ("table", "wide", "json", "yaml")

# One line per candidate as typer prints it (bash: the word; fish: word<TAB>help), or,
# for a path, the one line FILE_LINE or DIR_LINE: let the shell complete a file or a
# directory (no sandbox, context or other word kmeshctl offers can be spelled so).
BASH_SCRIPT = r"""
_kmeshctl_completion() {
    local IFS=$'\n' line cur typed rest="${COMP_LINE:0:COMP_POINT}" word glued i words=() found=()
    COMPREPLY=()
    # bash splits words at `=` and `:` (COMP_WORDBREAKS: `-o=js` is `-o` `=` `js`, an EKS context
    # `arn:aws:eks:...` nine words): give kmeshctl each word as typed, joined where the line has no blank
    for ((i = 0; i <= COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        glued=""  # unknown without COMP_LINE (the words were set by hand)
        if [[ -n $rest ]]; then
            glued=1
            [[ $rest == [[:space:]]* ]] && glued=0
            rest=${rest#"${rest%%%%[![:space:]]*}"}
            rest=${rest:${#word}}
        fi
        if [[ ${#words[@]} -gt 1 && $glued != 0 && ( $word == "=" || ${words[-1]} == -*= ) && ${words[-1]} == -* ]] ||
            [[ ${#words[@]} -gt 1 && $glued == 1 && ( $word =~ ^:+$ || ${words[-1]} == *: ) ]]; then
            words[-1]+="$word"
        else
            words+=("$word")
        fi
    done
    typed=${words[-1]}
    [[ $typed == -*=* ]] && typed=${typed#*=}  # `-o=js`: the value
    # bash replaces only the text after the last break (`arn:aws:eks:us-` -> `us-`): the rest is cut
    # from each candidate, as bash-completion's __ltrim_colon_completions does
    word=${COMP_WORDS[COMP_CWORD]}
    [[ $word =~ ^[:=]+$ ]] && word=""
    cur=$typed
    local cut="" sq="'\\''" paths=0
    [[ $typed == *"$word" ]] && cut=${typed%%"$word"}
    for line in $(env COMP_WORDS="${words[*]}" COMP_CWORD=$((${#words[@]} - 1)) %(var)s=complete_bash "$1"); do
        case "$line" in
            %(file)s) compopt -o filenames 2>/dev/null; found=($(compgen -f -- "$cur")); paths=1; break ;;
            %(dir)s) compopt -o filenames 2>/dev/null; found=($(compgen -d -- "$cur")); paths=1; break ;;
            %(command)s) found=($(compgen -c -- "$cur")); break ;;
            %(nothing)s) compopt +o default 2>/dev/null; return 0 ;;
            # a candidate as the shell reads it back (`my\ ctx`, `it\'s`; in an open quote its own way)
            *) case "$typed" in
                   \'*) line=${line//\'/$sq} ;;
                   \"*) line=${line//\\/\\\\}; line=${line//\"/\\\"}; line=${line//\$/\\\$}; line=${line//\`/\\\`} ;;
                   *) [[ $line == *[!A-Za-z0-9_./:=,@%%+-]* ]] && printf -v line '%%q' "$line" ;;  # not `direct\,l4`
               esac
               found+=("$line") ;;
        esac
    done
    for line in "${found[@]}"; do
        [[ -n $cut && $line != "$cut"* ]] && continue
        if [[ -n $cut && $paths == 1 && -d $line ]]; then  # `d:x/s` -> `sub`: bash cannot tell it a directory
            line+=/
            compopt -o nospace 2>/dev/null
        fi
        COMPREPLY+=("${line#"$cut"}")
    done
    return 0
}
complete -o default -F _kmeshctl_completion kmeshctl
"""

# typer's zsh script, which completes on the first TAB when zsh autoloads it from $fpath
# (`kmeshctl completion zsh > "${fpath[1]}/_kmeshctl"`): the file is then the body of the
# function _kmeshctl, run for that TAB; sourced (`source <(kmeshctl completion zsh)`), it
# only registers the completion function.
ZSH_SCRIPT = r"""
#compdef kmeshctl

_kmeshctl_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" %(var)s=complete_zsh kmeshctl)
}

if [[ ${funcstack[1]} == _kmeshctl ]]; then
  _kmeshctl_completion "$@"
else
  compdef _kmeshctl_completion kmeshctl
fi
"""

FISH_SCRIPT = r"""
function __kmeshctl_complete
    set -l token (commandline -ct)
    set -l prefix ''
    if string match -qr -- '^-[^=]+=' $token  # --bpf-fs=/sys/fs/b, -o=js
        set prefix (string replace -r -- '=.*' '=' $token)
        set token (string replace -r -- '^-[^=]+=' '' $token)
    end
    for line in (env %(var)s=complete_fish _TYPER_COMPLETE_ARGS=(commandline -cp) kmeshctl)
        switch $line
            case '%(file)s'
                for path in (__fish_complete_path $token)
                    echo $prefix$path
                end
            case '%(dir)s'
                for path in (__fish_complete_directories $token '')
                    echo $prefix$path
                end
            case '%(command)s'
                __fish_complete_command $token
            case '%(nothing)s'
                return
            case '*'
                echo $prefix$line
        end
    end
end
complete --command kmeshctl --no-files --arguments '(__kmeshctl_complete)'
"""


def path_kind(param: Any) -> Optional[str]:
    """FILE or DIR for an option that takes a path (its metavar says DIR, PATH or FILE,
    or its type is a pathlib.Path), None for any other parameter."""
    if getattr(param, "param_type_name", "") != "option" or getattr(param, "is_flag", False):
        return None
    metavar = (param.metavar or "").upper()
    if "DIR" in metavar:
        return DIR
    descriptor = getattr(param, "type_descriptor", None)
    if "PATH" in metavar or "FILE" in metavar or getattr(descriptor, "is_path", False):
        return FILE
    return None


def _option_before(cli: Any, prog_name: str, args: list[str], incomplete: str) -> Optional[Any]:
    """The option whose value is being typed (`--bpf-fs <TAB>`, `--bpf-fs=/s<TAB>`),
    looked up in the command being typed, then among the global options; None when the
    word is not an option's value."""
    if "--" in args:
        return None
    if incomplete.startswith("--") and "=" in incomplete:
        flag, before = incomplete.partition("=")[0], args
    elif args and args[-1].startswith("-"):
        flag, before = args[-1], args[:-1]
    else:
        return None
    try:
        commands = [_resolve_context(cli, {}, prog_name, list(before)).command, cli]
    except Exception:  # a half-typed line click cannot parse: only the global options
        commands = [cli]
    for command in commands:
        for param in command.params:
            if flag in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())):
                return param
    return None


def _option_of(command: Any, flag: str) -> Optional[Any]:
    return next((p for p in command.params if p.param_type_name == "option"
                 and flag in (*p.opts, *p.secondary_opts)), None)


def _commands_below(command: Any) -> list[Any]:
    found = [command]
    for sub in getattr(command, "commands", {}).values():
        found += _commands_below(sub)
    return found


def leading_flag_value(cli: Any, prog_name: str, args: list[str], incomplete: str) -> Optional[list[CompletionItem]]:
    """`kmeshctl -o <TAB>` (or `kmeshctl sandbox -o <TAB>`, `-o=<TAB>`): the value of a
    LEADING_VALUE_FLAGS flag typed where no command has it yet, as click would never
    complete it (it offers command names): the values that flag takes on the commands
    below (`table wide json yaml`; not one only a single command of several takes, sandbox
    list's `name`), for -n the cluster's namespaces (none without a cluster
    answering, whatever sandboxes are up). None when the word is no such value."""
    if "--" in args:
        return None
    flag, equals, value = incomplete.partition("=")
    if equals and flag in LEADING_VALUE_FLAGS:
        before, incomplete = list(args), value
    elif args and args[-1] in LEADING_VALUE_FLAGS:
        flag, before = args[-1], list(args[:-1])
    else:
        return None
    try:
        ctx = _resolve_context(cli, {}, prog_name, before)
    except Exception:  # a half-typed line click cannot parse: the root
        ctx = cli.make_context(prog_name, [], resilient_parsing=True)
    if _option_of(ctx.command, flag) is not None:
        return None  # the command's own option: click completes it
    params = [p for p in (_option_of(command, flag) for command in _commands_below(ctx.command)) if p is not None]
    if flag in NAMESPACE_FLAGS:
        # kubectl's -n: the cluster's namespaces only, for the commands below taking one (a
        # sandbox's are for sandbox exec's and demo's own -n: `kmeshctl sandbox -n <TAB>` offers none)
        cluster = [p for p in params if getattr(p, "_custom_shell_complete", None) is complete_namespaces]
        return complete_namespaces(ctx, cluster[0], incomplete) if cluster else []
    taken = [[item.value for item in param.shell_complete(ctx, incomplete)] for param in params]
    values = list(dict.fromkeys(value for each in taken for value in each))
    if len(taken) > 1:  # a value one command alone takes (sandbox list's -o name) is refused before the others
        values = [value for value in values if sum(value in each for each in taken) > 1]
    order = {name: i for i, name in enumerate(OUTPUT_ORDER)}
    return [CompletionItem(v) for v in sorted(values, key=lambda v: order.get(v, len(order)))]


def takes_command(cli: Any, prog_name: str, args: list[str]) -> bool:
    """Whether the command typed before the `--` in ``args`` takes a command after it (an
    argument `-- COMMAND...`: `sandbox exec POD -- cmd`); `status -- <TAB>` offers nothing."""
    try:
        command = _resolve_context(cli, {}, prog_name, args[:args.index("--")]).command
    except Exception:  # a half-typed line click cannot parse
        return False
    return any(p.param_type_name == "argument" and str(p.metavar or "").startswith("-- ") for p in command.params)


# ------------------------------------------------------------------ values by rule

Completer = Callable[[Any, Any, str], list[CompletionItem]]
# Parameters naming a namespace of the cluster (-n of every cluster command, enable-ns's
# NAMESPACE..., --istio-namespace, node run's --pod-namespace).
NAMESPACE_PARAMS = ("namespace", "namespaces", "istio_namespace", "pod_namespace")


def _offered(words: Iterable[str], incomplete: str, skip: Iterable[str] = ()) -> list[CompletionItem]:
    """The words starting with ``incomplete``, each once, in their order, but ``skip``."""
    left = set(skip)
    return [CompletionItem(w) for w in dict.fromkeys(words) if w.startswith(incomplete) and w not in left]


def _typed(ctx: Any, param: Any) -> list[str]:
    """The values of an argument taking several (NAMESPACE...) already on the line."""
    if param.param_type_name != "argument":
        return []
    value = ctx.params.get(param.name)
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def complete_namespaces(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """The namespaces of the cluster the line names (--kubeconfig / --context / KUBECONFIG),
    when it answers within COMPLETION_LOOKUP_TIMEOUT_S; none otherwise. Not those the
    command refuses: enable-ns and waypoint apply never take Kubernetes', Istio's or kmesh's."""
    return _offered(_cluster_names(ctx, "/api/v1/namespaces"), incomplete, [*_typed(ctx, param), *_refused(ctx)])


def _refused(ctx: Any) -> list[str]:
    """The namespaces ctx's command refuses whatever the cluster holds (system_namespaces)."""
    from kmeshctl.namespaces import system_namespaces

    path = ctx.command_path.split()[1:]
    return list(system_namespaces()) if path in (["enable-ns"], ["waypoint", "apply"]) else []


def complete_pods(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`dump config --pod`: the pods of -n (kmesh's namespace: its node agents)."""
    namespace = ctx.params.get("namespace")
    return _offered(_cluster_names(ctx, f"/api/v1/namespaces/{namespace}/pods"), incomplete) if namespace else []


def complete_waypoints(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`waypoint status --name`: the waypoints (Gateways of the waypoint class) of -n, else
    of the namespace kubectl would use."""
    from kmeshctl.waypoint.deploy import GATEWAY_API, GATEWAY_CLASS

    namespace = ctx.params.get("namespace") or _default_namespace(ctx)
    path = f"/apis/{GATEWAY_API}/namespaces/{namespace}/gateways"
    return _offered(_cluster_names(ctx, path, GATEWAY_CLASS), incomplete)


def _cluster_names(ctx: Any, path: str, gateway_class: Optional[str] = None) -> tuple[str, ...]:
    root = ctx.find_root().params
    return cluster_names(root.get("kubeconfig"), root.get("context"), path, gateway_class)


def _default_namespace(ctx: Any) -> str:
    from kmeshctl import kube

    root = ctx.find_root().params
    try:
        return kube.default_namespace(_target(root.get("kubeconfig"), root.get("context")))
    except Exception:  # a context's namespace that is no name: the command will say so
        return kube.DEFAULT_OBJECT_NAMESPACE


@functools.lru_cache(maxsize=None)
def cluster_names(kubeconfig: Optional[str], context: Optional[str], path: str,
                  gateway_class: Optional[str] = None) -> tuple[str, ...]:
    """The names of the objects of the collection at ``path`` (those of ``gateway_class``
    when given), sorted; () when the cluster does not answer in time (the lookup runs in a
    thread left behind: a TAB never waits longer). Cached: `-n <TAB>` before the command
    asks once for all the commands below."""
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S

    found: list[tuple[str, ...]] = []
    saved_stdin = sys.stdin
    sys.stdin = None  # type: ignore[assignment]  # a credential plugin must not prompt on a TAB
    try:
        worker = threading.Thread(daemon=True, target=lambda: found.append(
            _list_names(kubeconfig, context, path, gateway_class)))
        worker.start()
        worker.join(COMPLETION_LOOKUP_TIMEOUT_S)
    finally:
        sys.stdin = saved_stdin
    return found[0] if found else ()


def _target(kubeconfig: Optional[str], context: Optional[str]) -> "KubeTarget":
    """The cluster of the line's --kubeconfig / --context (the global options' callback,
    which builds the run's target, does not run while completing)."""
    from kmeshctl.kube import KubeTarget

    return KubeTarget(kubeconfig, context)


def _list_names(kubeconfig: Optional[str], context: Optional[str], path: str,
                gateway_class: Optional[str]) -> tuple[str, ...]:
    from kmeshctl import kube
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S

    try:
        config = kube.load_configuration(_target(kubeconfig, context))
        config.retries = 0  # one try: urllib3 would log each retry on stderr, into the user's line
        # The raw call: importing the typed CoreV1Api alone takes over a second.
        api = kube.api_client(config)  # with the user's impersonation headers
        _, url, headers, _, _ = api.param_serialize("GET", path, auth_settings=["BearerToken"],
                                                    header_params={"Accept": "application/json"})
        answer = api.call_api("GET", url, header_params=headers, _request_timeout=COMPLETION_LOOKUP_TIMEOUT_S)
        answer.read()
        items = (json.loads(answer.data).get("items") or []) if answer.status == 200 else []
        return tuple(sorted(str(i["metadata"]["name"]) for i in items
                            if gateway_class is None or (i.get("spec") or {}).get("gatewayClassName") == gateway_class))
    except Exception:  # no kubeconfig, a cluster that refuses, does not answer or lacks the kind: nothing
        return ()


def sandbox_exec_states(ctx: Any) -> list[Any]:
    """The sandboxes `sandbox exec` could run in for this line: the one --name (or
    $KMESHCTL_SANDBOX_NAME) names, else every sandbox (exec picks the one with the pod)."""
    from kmeshctl import sandboxes
    from kmeshctl.errors import UsageError
    from kmeshctl.sandbox.state import check_name

    try:
        name = ctx.params.get("name") or os.environ.get(sandboxes.NAME_ENV)
        states = [sandboxes.load(check_name(n)) for n in ([name] if name else sandboxes.names())]
    except (OSError, UsageError, sandboxes.OtherVersion):
        return []
    return [s for s in states if s is not None]


def complete_sandbox_namespaces(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`sandbox exec [POD] -n <TAB>`: the namespaces of the pods of the sandbox (--name), else
    of every sandbox; with POD typed, the namespaces that have it (a pod or a Deployment)."""
    from kmeshctl.cli.sandbox import POD_WORDS

    if not ctx.command_path.endswith("sandbox exec"):
        return []  # `kmeshctl -n <TAB>` asks every command's -n: a sandbox pod's namespace is no cluster's
    pods = [p for state in sandbox_exec_states(ctx) for p in state.pods]
    typed = ctx.params.get("pod") or next(iter(ctx.meta.get(POD_WORDS, [])), None)  # `POD -n <TAB>`: not parsed
    holding = [p for p in pods if typed in (p.name, p.deployment)] if typed else []
    return _offered(sorted({p.namespace for p in holding or pods}), incomplete)


def complete_demo_namespaces(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`demo traffic-shift -n <TAB>`: with --target cluster, the cluster's namespaces; else
    the namespaces of the sandbox (--sandbox/--name, else every sandbox) that have the demo's
    objects, and, for --target auto with none, the cluster's."""
    from kmeshctl.sandbox.demo_target import demo_namespaces

    target = str(getattr(ctx.params.get("target"), "value", ctx.params.get("target") or "auto"))
    if target == "cluster":
        return complete_namespaces(ctx, param, incomplete)
    found = sorted({ns for state in sandbox_exec_states(ctx) for ns in demo_namespaces(state)})
    if found or target == "local" or ctx.params.get("name"):
        return _offered(found, incomplete)
    return complete_namespaces(ctx, param, incomplete)


def complete_kubernetes_versions(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """--kubernetes-version: the MAJOR.MINOR versions it accepts (params.check_kubernetes_version)."""
    from kmeshctl.validate import supported_kubernetes_versions

    return _offered(supported_kubernetes_versions(), incomplete.removeprefix("v"))


def comma_list(choices: Callable[[], Iterable[str]]) -> Completer:
    """A `--paths a,b,c` value: the choices for the word after the last comma, the ones
    given before it left out, each offered with what is typed before it."""
    def complete(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
        done, comma, last = incomplete.rpartition(",")
        given = done.split(",") if comma else []
        return [CompletionItem(done + comma + item.value) for item in _offered(choices(), last, given)]
    return complete


def _bench_paths() -> list[str]:
    from kmeshctl.bench.topology import PATHS

    return list(PATHS)


def _bench_loads() -> list[str]:
    from kmeshctl.bench.wrk import LOADS

    return list(LOADS)


def complete_run_ids(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """`bench cleanup --run-id`: the runs that left something behind."""
    from kmeshctl.bench.topology import leftover_run_ids

    try:
        return _offered(leftover_run_ids(), incomplete)
    except OSError:
        return []


def value_rule(path: tuple[str, ...], param: Any) -> Optional[Completer]:
    """The completer of the parameter ``param`` of the command ``path`` (`("sandbox",
    "exec")`) declared without one, by its name (as kmeshctl.cli.names checks them); None:
    no rule (a free-form value: a count, an address, an image)."""
    if param.name == "namespace" and path == ("sandbox", "exec"):
        return complete_sandbox_namespaces  # a sandbox pod's namespace, not the cluster's
    if param.name == "namespace" and path == ("demo", "traffic-shift"):
        return complete_demo_namespaces  # a sandbox's or the cluster's, as the target
    if param.name in NAMESPACE_PARAMS:
        return complete_namespaces
    if param.name == "kubernetes_version":
        return complete_kubernetes_versions
    if path == ("bench", "dataplane") and param.name in ("paths", "loads"):
        return comma_list(_bench_paths if param.name == "paths" else _bench_loads)
    if path == ("bench", "cleanup") and param.name == "run_id":
        return complete_run_ids
    if path[:1] == ("dump",) and param.name == "pod":
        return complete_pods
    if path in (("waypoint", "status"), ("waypoint", "delete")) and param.name == "name":
        return complete_waypoints
    return None


def _commands_with_paths(command: Any, path: tuple[str, ...]) -> Iterable[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands_with_paths(sub, (*path, name))


def attach_value_completers(cli: Any) -> None:
    """Give each parameter of ``cli``'s commands without a completer the one of its rule."""
    if getattr(cli, "_kmeshctl_values_attached", False):
        return
    for path, command in _commands_with_paths(cli, ()):
        for param in command.params:
            if getattr(param, "_custom_shell_complete", True) is None and path_kind(param) is None:
                param._custom_shell_complete = value_rule(path, param)
    cli._kmeshctl_values_attached = True


class _PathAware:
    """Mixin: completes a path option's value as FILE or DIR, a leading flag's value
    (`kmeshctl -o <TAB>`) with that flag's values, the values of value_rule's parameters,
    a word with nothing to offer as nothing (but after sandbox exec's `--`), every other word as typer does."""

    def get_completion_args(self) -> tuple[list[str], str]:
        """The words before the cursor as a run reads them: short flags combined spelled
        apart (`status -qo <TAB>` completes -o's values, as `-q -o <TAB>`)."""
        from kmeshctl.cli.conventions import split_glued_shorts

        args, incomplete = super().get_completion_args()  # type: ignore[misc]
        return split_glued_shorts(args, self.cli), incomplete  # type: ignore[attr-defined]

    def path_item(self, args: list[str], incomplete: str) -> Optional[str]:
        param = _option_before(self.cli, self.prog_name, args, incomplete)  # type: ignore[attr-defined]
        return path_kind(param) if param is not None else None

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        attach_value_completers(self.cli)  # type: ignore[attr-defined]
        found = leading_flag_value(self.cli, self.prog_name, args, incomplete)  # type: ignore[attr-defined]
        if found is not None:
            return found
        return super().get_completions(args, incomplete)  # type: ignore[misc]

    def kind(self, args: list[str], incomplete: str, items: list[CompletionItem]) -> Optional[str]:
        """FILE, DIR, NOTHING (no candidates: never file names, but after the `--` of a
        command taking a command there), COMMAND (the first word after that `--`), or None:
        the items as they are."""
        if "--" in args and takes_command(self.cli, self.prog_name, args):  # type: ignore[attr-defined]
            return COMMAND if args[-1] == "--" else FILE
        path = self.path_item(args, incomplete)
        if path is not None:
            return path
        if any(item.type == FILE for item in items):
            return FILE
        if not items:
            return NOTHING
        return None

    def lines(self) -> list[str]:
        args, incomplete = self.get_completion_args()  # type: ignore[attr-defined]
        items: list[CompletionItem] = [] if self.path_item(args, incomplete) else \
            self.get_completions(args, incomplete)  # type: ignore[attr-defined]
        kind = self.kind(args, incomplete, items)
        if kind is not None:
            return [{FILE: FILE_LINE, DIR: DIR_LINE, NOTHING: NOTHING_LINE, COMMAND: COMMAND_LINE}[kind]]
        return [self.shown(item) for item in items]

    def shown(self, item: CompletionItem) -> str:
        return item.value


class PathBashComplete(_PathAware, BashComplete):
    def complete(self) -> str:
        return "\n".join(self.lines())


class PathFishComplete(_PathAware, FishComplete):
    def shown(self, item: CompletionItem) -> str:
        return self.format_completion(item)  # fish shows `value<TAB>help`

    def complete(self) -> str:
        return "\n".join(self.lines())


class PathZshComplete(_PathAware, ZshComplete):
    """typer's zsh protocol (the output is eval'ed): `_files` for a file, `_files -/` for
    a directory, typer's own `_arguments` list otherwise."""

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        items = [] if self.path_item(args, incomplete) else self.get_completions(args, incomplete)
        kind = self.kind(args, incomplete, items)
        if kind == NOTHING:
            return "return 1"  # no candidates (typer's answer to none is _files)
        if kind == COMMAND:
            return "_command_names -e"
        if kind is not None:
            return "_files -/" if kind == DIR else "_files"
        if not items:
            return "_files"
        flag, equals, _ = incomplete.partition("=")
        if equals and flag.startswith("-"):  # zsh keeps `-o=js` one word: offer `-o=json`
            items = [CompletionItem(f"{flag}={item.value}", help=item.help) for item in items]
        return "_arguments '*: :((" + "\n".join(self.format_completion(item) for item in items) + "))'"

    def format_completion(self, item: CompletionItem) -> str:
        """typer's `"value":"help"`, each `'` of which it doubles (`''`, a quote only with
        zsh's RC_QUOTES): closed and reopened instead, as inside the `'...'` it is eval'ed
        in (a context `it's` completes as `it\\'s`, not `its`)."""
        return super().format_completion(item).replace("''", "'\\''")


def install() -> None:
    """Register the path-aware classes (after typer's completion_init, before anything
    wraps the registered classes)."""
    add_completion_class(PathBashComplete, "bash")
    add_completion_class(PathZshComplete, "zsh")
    add_completion_class(PathFishComplete, "fish")


def script(shell: str, complete_var: str) -> str:
    """The script `kmeshctl completion SHELL` prints (zsh: typer's protocol, which these
    classes keep)."""
    if shell == "bash":
        return (BASH_SCRIPT % {"var": complete_var, "file": FILE_LINE, "dir": DIR_LINE,
                               "nothing": NOTHING_LINE, "command": COMMAND_LINE}).strip()
    if shell == "fish":
        return (FISH_SCRIPT % {"var": complete_var, "file": FILE_LINE, "dir": DIR_LINE,
                               "nothing": NOTHING_LINE, "command": COMMAND_LINE}).strip()
    if shell == "zsh":
        return (ZSH_SCRIPT % {"var": complete_var}).strip()
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="kmeshctl", complete_var=complete_var, shell=shell)
