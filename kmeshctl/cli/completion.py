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

FILE, DIR = "file", "dir"
FILE_LINE, DIR_LINE = ":kmeshctl-complete-file:", ":kmeshctl-complete-directory:"

# One line per candidate as typer prints it (bash: the word; fish: word<TAB>help), or,
# for a path, the one line FILE_LINE or DIR_LINE: let the shell complete a file or a
# directory (no sandbox, context or other word kmeshctl offers can be spelled so).
BASH_SCRIPT = r"""
_kmeshctl_completion() {
    local IFS=$'\n' line cur="${COMP_WORDS[COMP_CWORD]}"
    COMPREPLY=()
    for line in $(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD %(var)s=complete_bash "$1"); do
        case "$line" in
            %(file)s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
            %(dir)s) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
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
    if string match -qr -- '^--[^=]+=' $token  # --bpf-fs=/sys/fs/b
        set prefix (string replace -r -- '=.*' '=' $token)
        set token (string replace -r -- '^--[^=]+=' '' $token)
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
            case '*'
                echo $line
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


class _PathAware:
    """Mixin: completes a path option's value as FILE or DIR, every other value as typer does."""

    def path_item(self, args: list[str], incomplete: str) -> Optional[str]:
        param = _option_before(self.cli, self.prog_name, args, incomplete)  # type: ignore[attr-defined]
        return path_kind(param) if param is not None else None

    def lines(self) -> list[str]:
        args, incomplete = self.get_completion_args()  # type: ignore[attr-defined]
        kind = self.path_item(args, incomplete)
        if kind is not None:
            return [DIR_LINE if kind == DIR else FILE_LINE]
        items: list[CompletionItem] = self.get_completions(args, incomplete)  # type: ignore[attr-defined]
        if any(item.type == FILE for item in items):
            return [FILE_LINE]
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
        kind = self.path_item(args, incomplete)
        if kind is not None:
            return "_files -/" if kind == DIR else "_files"
        return super().complete()


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
        return (BASH_SCRIPT % {"var": complete_var, "file": FILE_LINE, "dir": DIR_LINE}).strip()
    if shell == "fish":
        return (FISH_SCRIPT % {"var": complete_var, "file": FILE_LINE, "dir": DIR_LINE}).strip()
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="kmeshctl", complete_var=complete_var, shell=shell)
