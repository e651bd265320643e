"""Pass 31 (issue 14): completion of values bash splits or the shell must read back, zsh's
`$fpath` install completing on the first TAB, and --crd-file read from a pipe.

- bash splits a word at `:` (COMP_WORDBREAKS): an EKS context `arn:aws:eks:...:cluster/prod`
  completes whole, with `--context=` too, and a path holding `:` as well;
- a candidate with a space or a quote is inserted as the shell reads it back (`my\\ ctx`,
  `it\\'s`; in an opened quote, that quote's way), in bash and zsh;
- `kmeshctl completion zsh > "${fpath[1]}/_kmeshctl"` then compinit: the first TAB completes
  (the file, autoloaded, completes rather than only registering itself); `source <(...)` too;
- `--crd-file <(cat crds.yaml)` (render, install --dry-run) is read, once, like a file.

The shells are the real ones in a pseudo-terminal; a completed line is then run (Enter), with
`kmeshctl` a shell function printing each argument it got, so the test sees the words the
shell parsed from what completion inserted. Kubeconfigs and files are the test's own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import shell_pty
from test_cli_kinds import KMESHCTL

EKS_PROD = "arn:aws:eks:us-west-2:123456789012:cluster/prod"
EKS_DEV = "arn:aws:eks:us-west-2:123456789012:cluster/dev"
CONTEXTS = [EKS_PROD, EKS_DEV, "my ctx", "it's", "kind-p31"]
# After sourcing the script: `kmeshctl` the shell runs on Enter prints its arguments (completion
# still runs the kmeshctl on PATH: the script calls it through env).
PRINT_ARGS = "kmeshctl() { printf 'ARG<%s>\\n' \"$@\"; }"

zsh_installed = pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """tmp_path: a home, kc.yaml with CONTEXTS, a directory whose name holds `:`."""
    (tmp_path / "home").mkdir()
    (tmp_path / "p31-d:x" / "sub").mkdir(parents=True)
    (tmp_path / "kc.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-p31",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}} for name in CONTEXTS]}))
    return tmp_path


def _env(tree: Path) -> dict[str, str]:
    left_out = ("KUBECONFIG", "COLUMNS", "KMESHCTL_SANDBOX_NAME", "_KMESHCTL_COMPLETE", "COMP_WORDS", "COMP_CWORD")
    env = {k: v for k, v in os.environ.items() if k not in left_out}
    return {**env, "PATH": f"{Path(KMESHCTL).parent}:{env['PATH']}", "TERM": "dumb", "HOME": str(tree / "home")}


def bash_args(line: str, tree: Path) -> list[str]:
    """The arguments `line` + TAB + Enter runs kmeshctl with, in the real interactive bash."""
    setup = ["source <(kmeshctl completion bash)", PRINT_ARGS]
    shown = shell_pty.type_tab(["bash", "--norc", "--noprofile", "-i"], setup, line + "\t\n", tree, _env(tree),
                               tabs=0)
    return re.findall(r"ARG<(.*?)>\r?\n", shown)


def zsh_args(line: str, tree: Path, fpath: bool = False) -> list[str]:
    """As bash_args, in zsh: the script sourced, or (``fpath``) installed as the help says."""
    if fpath:
        (tree / "zfunc").mkdir(exist_ok=True)
        (tree / "zfunc" / "_kmeshctl").write_text(subprocess.run(
            [KMESHCTL, "completion", "zsh"], capture_output=True, text=True, check=True).stdout)
        setup = [f"fpath=({tree / 'zfunc'} $fpath)", "autoload -U compinit && compinit -u", PRINT_ARGS]
    else:
        setup = ["autoload -U compinit && compinit -u", "source <(kmeshctl completion zsh)", PRINT_ARGS]
    shown = shell_pty.type_tab(["zsh", "-f", "-i"], setup, line + "\t\n", tree, _env(tree), tabs=0)
    return re.findall(r"ARG<(.*?)>\r?\n", shown)


# ------------------------------------------------------------------ 1. `:` in a value (bash)

def test_bash_completes_an_eks_context_whole(tree: Path) -> None:
    kc = "kmeshctl --kubeconfig kc.yaml"
    assert bash_args(f"{kc} --context arn:aws:eks:us-west-2:123456789012:cluster/p", tree)[-1] == EKS_PROD
    assert bash_args(f"{kc} status --context {EKS_DEV[:-2]}", tree)[-1] == EKS_DEV  # after the command
    assert bash_args(f"{kc} --context=arn:aws:eks:us-west-2:123456789012:cluster/d", tree)[-1] == \
        f"--context={EKS_DEV}"
    # right after a `:`: the common part of both is inserted
    assert bash_args(f"{kc} --context arn:", tree)[-1] == "arn:aws:eks:us-west-2:123456789012:cluster/"


def test_bash_completes_a_path_holding_a_colon(tree: Path) -> None:
    assert bash_args("kmeshctl --kubeconfig p31-d:x/s", tree)[-1] == "p31-d:x/sub/"
    assert bash_args("kmeshctl --kubeconfig p31-d:", tree)[-1] == "p31-d:x/"


def test_bash_completion_by_hand_set_words_still_joins_flag_values(tree: Path) -> None:
    """Without COMP_LINE (words set by hand, as the older tests do), `-o=js` is still one word."""
    script = ("source <(kmeshctl completion bash); COMP_WORDS=(kmeshctl -o = js); COMP_CWORD=3; "
              "_kmeshctl_completion kmeshctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=tree, text=True, capture_output=True,
                          env=_env(tree), timeout=60)
    assert done.returncode == 0 and not done.stderr and done.stdout.split() == ["json"], done


# ------------------------------------------------------------------ 2. candidates read back as typed

@pytest.mark.parametrize(("typed", "meant"), [
    ("my", "my ctx"), ("it", "it's"), ("'my", "my ctx"), ("'it", "it's"), ('"it', "it's"), ("kind", "kind-p31")])
def test_bash_inserts_a_context_as_the_shell_reads_it_back(tree: Path, typed: str, meant: str) -> None:
    assert bash_args(f"kmeshctl --kubeconfig kc.yaml --context {typed}", tree)[-1] == meant


@zsh_installed
@pytest.mark.parametrize(("typed", "meant"), [("my", "my ctx"), ("it", "it's"), ("'it", "it's")])
def test_zsh_inserts_a_context_as_the_shell_reads_it_back(tree: Path, typed: str, meant: str) -> None:
    assert zsh_args(f"kmeshctl --kubeconfig kc.yaml --context {typed}", tree)[-1] == meant


# ------------------------------------------------------------------ 3. zsh from $fpath

@zsh_installed
def test_zsh_installed_in_fpath_completes_on_the_first_tab(tree: Path) -> None:
    assert zsh_args("kmeshctl sta", tree, fpath=True) == ["status"]
    assert zsh_args(f"kmeshctl --kubeconfig kc.yaml --context {EKS_PROD[:-2]}", tree, fpath=True)[-1] == EKS_PROD
    assert zsh_args("kmeshctl sta", tree) == ["status"]  # sourced, as before


def test_zsh_script_completes_when_autoloaded_and_registers_when_sourced() -> None:
    text = subprocess.run([KMESHCTL, "completion", "zsh"], capture_output=True, text=True, check=True).stdout
    assert text.startswith("#compdef kmeshctl\n")
    assert "if [[ ${funcstack[1]} == _kmeshctl ]]; then" in text and "compdef _kmeshctl_completion kmeshctl" in text


# ------------------------------------------------------------------ 4. --crd-file from a pipe

def _crd(kind: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{kind.lower()}s.example.istio.io"},
            "spec": {"group": "example.istio.io", "names": {"kind": kind, "plural": f"{kind.lower()}s"},
                     "scope": "Namespaced", "versions": [{"name": "v1", "served": True, "storage": True,
                                                          "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


@pytest.mark.parametrize("words", [
    ["render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012"],
    ["--kubeconfig", "kc.yaml", "install", "--dry-run", "--cluster-id", "c1", "--xds-address",
     "istiod.istio-system.svc:15012"]])
def test_crd_file_is_read_from_a_pipe(tree: Path, words: list[str]) -> None:
    (tree / "notcrds.yaml").write_text("kind: ConfigMap\n")
    (tree / "crds.yaml").write_text(yaml.safe_dump(_crd("Widget")))
    for name, said in (("notcrds.yaml", "holds no CustomResourceDefinition"), ("crds.yaml", None)):
        command = " ".join(f"'{w}'" for w in [KMESHCTL, *words]) + f" --crd-file <(cat {name})"
        done = subprocess.run(["bash", "--norc", "--noprofile", "-c", command], cwd=tree, text=True,
                              capture_output=True, env=_env(tree), timeout=120)
        assert "is not a file" not in done.stderr, done.stderr
        if said is not None:  # its content was read: what it holds is the complaint
            assert done.returncode == 2 and said in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


def test_crd_file_still_refuses_a_device_and_a_directory(tree: Path) -> None:
    from kmeshctl.cli.outpaths import FILE_OR_PIPE, input_path_problem

    assert input_path_problem(Path("/dev/null"), FILE_OR_PIPE) == "is not a file"
    assert input_path_problem(tree, FILE_OR_PIPE) == "is not a file"
    fifo = tree / "p31.fifo"
    os.mkfifo(fifo)
    assert input_path_problem(fifo, FILE_OR_PIPE) is None
