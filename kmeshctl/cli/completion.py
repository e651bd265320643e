"""Shell completion of paths: an option that takes a path (`-f FILE`, `--kubeconfig`,
`--plot FILE.png`, `--bpf-fs DIR`) completes file names (directories only for a DIR),
in bash, zsh and fish. typer's completion classes answer such an option with nothing,
which bash (`complete -o default`) and zsh (`_files`) take for "any file" but never
"directories only"; these classes answer `file` or `dir` instead, and the scripts of
`kmeshctl completion SHELL` turn that into the shell's own file or directory completion."""

from __future__ import annotations

from typing import Any, Optional

from typer._click.shell_completion import CompletionItem, _resolve_context, add_completion_class
from typer._completion_classes import BashComplete, FishComplete, ZshComplete

FILE, DIR, NOTHING = "file", "dir", "nothing"
FILE_LINE, DIR_LINE = ":kmeshctl-complete-file:", ":kmeshctl-complete-directory:"
# An option's value with nothing to offer (`-n <TAB>`, `--context <TAB>` without a
# kubeconfig): no candidates, never file names or command names (kubectl's NoFileComp).
NOTHING_LINE = ":kmeshctl-complete-nothing:"
# Flags kubectl users give before the command (`kmeshctl -o json status`; see
# kmeshctl.cli.conventions.LEADING_FLAGS): their value completes there too.
LEADING_VALUE_FLAGS = ("-o", "--output", "-n", "--namespace")
# The order -o values are offered in, as the help lists them.
OUTPUT_ORDER = ("table", "wide", "json", "yaml")

# One line per candidate as typer prints it (bash: the word; fish: word<TAB>help), or,
# for a path, the one line FILE_LINE or DIR_LINE: let the shell complete a file or a
# directory (no sandbox, context or other word kmeshctl offers can be spelled so).
BASH_SCRIPT = r"""
_kmeshctl_completion() {
    local IFS=$'\n' line cur="${COMP_WORDS[COMP_CWORD]}" i words=()
    COMPREPLY=()
    # bash splits `-o=js` into `-o` `=` `js`: give kmeshctl the word as typed (`-o=js`)
    for ((i = 0; i <= COMP_CWORD; i++)); do
        if [[ ${#words[@]} -gt 1 && ( ${COMP_WORDS[i]} == "=" || ${words[-1]} == -*= ) && ${words[-1]} == -* ]]; then
            words[-1]+="${COMP_WORDS[i]}"
        else
            words+=("${COMP_WORDS[i]}")
        fi
    done
    [[ $cur == "=" ]] && cur=""
    for line in $(env COMP_WORDS="${words[*]}" COMP_CWORD=$((${#words[@]} - 1)) %(var)s=complete_bash "$1"); do
        case "$line" in
            %(file)s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
            %(dir)s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
            %(nothing)s) compopt +o default 2>/dev/null; COMPREPLY=(); return 0 ;;
            *) COMPREPLY+=("$line") ;;
        esac
    done
    return 0
}
complete -o default -F _kmeshctl_completion kmeshctl
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
    below (`table wide json yaml`; none for -n). None when the word is no such value."""
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
    values: list[str] = []
    for command in _commands_below(ctx.command):
        param = _option_of(command, flag)
        if param is not None:
            values += [item.value for item in param.shell_complete(ctx, incomplete) if item.value not in values]
    order = {name: i for i, name in enumerate(OUTPUT_ORDER)}
    return [CompletionItem(v) for v in sorted(values, key=lambda v: order.get(v, len(order)))]


def completing_a_value(cli: Any, prog_name: str, args: list[str], incomplete: str) -> bool:
    """The word being completed is the value of an option (not a command, argument or flag)."""
    if leading_flag_value(cli, prog_name, args, incomplete) is not None:
        return True
    param = _option_before(cli, prog_name, args, incomplete)
    return param is not None and not getattr(param, "is_flag", False) and param.param_type_name == "option"


class _PathAware:
    """Mixin: completes a path option's value as FILE or DIR, a leading flag's value
    (`kmeshctl -o <TAB>`) with that flag's values, an option's value with nothing to
    offer as nothing, every other word as typer does."""

    def path_item(self, args: list[str], incomplete: str) -> Optional[str]:
        param = _option_before(self.cli, self.prog_name, args, incomplete)  # type: ignore[attr-defined]
        return path_kind(param) if param is not None else None

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        found = leading_flag_value(self.cli, self.prog_name, args, incomplete)  # type: ignore[attr-defined]
        if found is not None:
            return found
        return super().get_completions(args, incomplete)  # type: ignore[misc]

    def kind(self, args: list[str], incomplete: str, items: list[CompletionItem]) -> Optional[str]:
        """FILE, DIR, NOTHING (a value with no candidates), or None: the items as they are."""
        path = self.path_item(args, incomplete)
        if path is not None:
            return path
        if any(item.type == FILE for item in items):
            return FILE
        if not items and completing_a_value(self.cli, self.prog_name, args, incomplete):  # type: ignore[attr-defined]
            return NOTHING
        return None

    def lines(self) -> list[str]:
        args, incomplete = self.get_completion_args()  # type: ignore[attr-defined]
        items: list[CompletionItem] = [] if self.path_item(args, incomplete) else \
            self.get_completions(args, incomplete)  # type: ignore[attr-defined]
        kind = self.kind(args, incomplete, items)
        if kind is not None:
            return [{FILE: FILE_LINE, DIR: DIR_LINE, NOTHING: NOTHING_LINE}[kind]]
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
        if kind is not None:
            return "_files -/" if kind == DIR else "_files"
        if not items:
            return "_files"
        flag, equals, _ = incomplete.partition("=")
        if equals and flag.startswith("-"):  # zsh keeps `-o=js` one word: offer `-o=json`
            items = [CompletionItem(f"{flag}={item.value}", help=item.help) for item in items]
        return "_arguments '*: :((" + "\n".join(self.format_completion(item) for item in items) + "))'"


def install() -> None:
    """Register the path-aware classes (after typer's completion_init, before anything
    wraps the registered classes)."""
    add_completion_class(PathBashComplete, "bash")
    add_completion_class(PathZshComplete, "zsh")
    add_completion_class(PathFishComplete, "fish")


def script(shell: str, complete_var: str) -> str:
    """The script `kmeshctl completion SHELL` prints (zsh: typer's, whose protocol these
    classes keep)."""
    if shell == "bash":
        return (BASH_SCRIPT % {"var": complete_var, "file": FILE_LINE, "dir": DIR_LINE,
                               "nothing": NOTHING_LINE}).strip()
    if shell == "fish":
        return (FISH_SCRIPT % {"var": complete_var, "file": FILE_LINE, "dir": DIR_LINE,
                               "nothing": NOTHING_LINE}).strip()
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="kmeshctl", complete_var=complete_var, shell=shell)
