"""Issue 14, fifth new-user pass: every message is one line in the one form
`FLAG VALUE: PROBLEM; use WHAT`, names the flag as typed (`-n`, not `--namespace`, also
when a check outside the CLI words it) and never echoes a long value whole. The real
command tree through kmeshctl.cli.main, in-process; each case is refused before any work
(no cluster, sandbox or data path is touched); the node cleanup cases use real paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kmeshctl.cli.badinput import bounded_line, takes_value
from kmeshctl.params import MAX_SHOWN, shown
from test_cli_kinds import REQUIRED_ARGS, cli, leaf_commands, no_env  # noqa: F401

ONE_FORM = re.compile(r"^Error: (\S+) (\S+|'[^']*'): [^;]+; use \S")
BAD = {"namespace": "BAD_NS", "output": "xml-nope", "requests": "abc", "files": "/nonexistent-qa5/x.yaml",
       "revision": "1.22!"}


def _short_options() -> list[tuple[list[str], str, str]]:
    found = []
    for words, command in leaf_commands():
        for param in command.params:
            if param.param_type_name == "option" and takes_value(param):
                found += [(words, opt, param.name) for opt in param.opts if len(opt) == 2]
    return found


@pytest.mark.parametrize("words,short,name", _short_options(), ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_a_short_flag_is_named_as_typed(words: list[str], short: str, name: str, tmp_path: Path, capsys,
                                        no_env) -> None:
    args = [*words, *REQUIRED_ARGS.get(tuple(words), []), short, BAD[name]]
    # a kubeconfig that loads (a typed one that does not is refused on every command) of
    # a cluster never asked: the bad flag is refused first
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: "
                          "{server: 'https://127.0.0.1:9'}}]\ncontexts: [{name: c, context: {cluster: c}}]\n")
    code, out, err = cli(capsys, "--kubeconfig", str(kubeconfig), *args, *(["--", "true"] if "exec" in words
                                                                          else []))
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"Error: {short} "), err


@pytest.mark.parametrize("words", [["render", "--xds-address", "a:1"], ["install", "--xds-address", "a:1",
                                                                      "--dry-run"]])
def test_the_install_namespace_checks_name_the_flag_as_typed(words: list[str], capsys, no_env) -> None:
    for short in ("-n", "--namespace"):
        code, _, err = cli(capsys, *words, "--cluster-id", "c1", short, "kube-system")
        assert code == 2 and ONE_FORM.match(err), err
        assert err.startswith(f"Error: {short} kube-system: reserved for Kubernetes (default, kube-*)"), err


# ------------------------------------------------------------------ the one form


@pytest.mark.parametrize("args,start", [
    (["render", "--cluster-id", "c1", "--xds-address", "unix:/run/xds.sock"],
     "--xds-address unix:/run/xds.sock: a unix socket is only for `kmeshctl node run`"),
    (["install", "--cluster-id", "c1", "--xds-address", "unix:/run/xds.sock", "--dry-run"],
     "--xds-address unix:/run/xds.sock: a unix socket is only for"),
    (["render", "--cluster-id", "c1", "--xds-address", "a:1", "--image", "Bad!"], "--image 'Bad!': not an image"),
    (["install", "--cluster-id", "c1", "--xds-address", "a:1", "--image", "a b", "--dry-run"],
     "--image 'a b': not an image reference"),
    (["waypoint", "apply", "--dry-run", "--image", "X!"], "--image 'X!': not an image reference"),
    (["render", "--cluster-id", "c1", "--xds-address", "a:1", "--image", "nginx:v\uff11"], "--image "),
    (["render", "--cluster-id", "c 1", "--xds-address", "a:1"], "--cluster-id 'c 1': not a cluster id"),
    (["render", "--cluster-id", "c1\n", "--xds-address", "a:1"], "--cluster-id 'c1\\n': not a cluster id"),
    (["render", "--cluster-id", "c1", "--xds-address", "fd00::1:15012"], "--xds-address fd00::1:15012: "),
    (["bench", "cleanup", "--run-id", "xyz"], "--run-id xyz: not a run id"),
])
def test_messages_read_in_the_one_form(args: list[str], start: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"Error: {start}") and ONE_FORM.match(err), err


def test_a_run_id_is_taken_in_either_case(capsys, no_env) -> None:
    code, out, err = cli(capsys, "bench", "cleanup", "--run-id", "3F9A1C")
    assert code == 1 and not out and "benchmark run 3f9a1c not found" in err, err  # no such run: NotFound


@pytest.mark.parametrize("args,problem", [
    (["--bpf-fs", "{tmp}/none"], "--bpf-fs {tmp}/none: does not exist; use the directory"),
    (["--bpf-fs", "{file}"], "--bpf-fs {file}: is not a directory; use the directory"),
    (["--bpf-fs", "{tmp}"], "--bpf-fs {tmp}: is not on a bpf filesystem; use the bpffs directory"),
    (["--cgroup2-path", "{tmp}/none"], "--cgroup2-path {tmp}/none: does not exist; use the cgroup v2 directory"),
    (["--cgroup2-path", "{file}"], "--cgroup2-path {file}: is not a directory; use the cgroup v2 directory"),
    (["--cgroup2-path", "{tmp}", "--ignore-not-found", "--bpf-fs", "{tmp}/none"],
     "--cgroup2-path {tmp}: is not a cgroup v2 directory; use a directory of the cgroup v2 tree"),
])
def test_node_cleanup_path_messages_read_in_the_one_form(args: list[str], problem: str, tmp_path: Path, capsys,
                                                        no_env) -> None:
    (tmp_path / "f").write_text("")
    fill = {"tmp": tmp_path, "file": tmp_path / "f"}
    code, _, err = cli(capsys, "node", "cleanup", *[a.format(**fill) for a in args])
    assert code == 2 and err.startswith("Error: " + problem.format(**fill)) and ONE_FORM.match(err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # nothing touched


@pytest.mark.parametrize("text,where", [("a: [\n  - b\n", "{path}:2:3"), ("a: b\n  c: d\n", "{path}:2:4")])
@pytest.mark.parametrize("words,flag", [(["render", "--cluster-id", "c1", "--xds-address", "a:1", "--crd-file"],
                                         "--crd-file"),
                                        (["sandbox", "up", "--name", "qa5yaml", "-f"], "-f")])
def test_a_yaml_file_that_does_not_parse_is_one_line_with_its_line(words: list[str], flag: str, text: str,
                                                                   where: str, tmp_path: Path, capsys,
                                                                   no_env) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = cli(capsys, *words, str(path))
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"Error: {flag} {path}: not valid YAML at {where.format(path=path)} ("), err
    assert ONE_FORM.match(err) and "<unicode string>" not in err, err


def test_a_kubeconfig_that_does_not_parse_names_its_line(tmp_path: Path, capsys, no_env) -> None:
    path = tmp_path / "kc"
    path.write_text("apiVersion: v1\nclusters: [\n")
    code, _, err = cli(capsys, "--kubeconfig", str(path), "status")
    assert code == 2 and f"cannot load kubeconfig {path}: not valid YAML at {path}:3:1 (" in err, err


# ------------------------------------------------------------------ long values


LONG = "x" * 10_000


@pytest.mark.parametrize("args", [
    ["status", "-n", LONG], ["status", "-n", "a " * 5_000], ["status", "--context", LONG],
    ["--kubeconfig", "/" + LONG, "status"], ["status", "--" + LONG], ["status", "-o", LONG],
    ["render", "--cluster-id", LONG, "--xds-address", "a:1"], ["render", "--cluster-id", "c1", "--xds-address", LONG],
    ["render", "--cluster-id", "c1", "--xds-address", "a:1", "--image", LONG],
    ["dump", "config", "--admin-port", LONG], ["dump", "maps", "--sandbox", LONG], ["sandbox", "status", "--name",
                                                                                     LONG],
    ["demo", "traffic-shift", "--weights", LONG], ["bench", "cleanup", "--run-id", LONG],
    ["node", "cleanup", "--bpf-fs", "/tmp/" + "d" * 250], ["enable-ns", LONG],
])
def test_a_long_value_is_cut_in_the_message(args: list[str], capsys, no_env) -> None:
    code, _, err = cli(capsys, *args)
    assert code in (1, 2) and len(err.strip().splitlines()) == 1, err[:500]
    assert len(err) <= 1_100 and "characters" in err, (len(err), err[:300])


def test_shown_values_are_cut_once_with_their_length() -> None:
    assert shown("a" * MAX_SHOWN) == "a" * MAX_SHOWN
    cut = shown("a" * 5_000)
    assert cut.endswith("... (5000 characters)") and len(cut) < 2 * MAX_SHOWN
    assert shown("c1\n") == "'c1\\n'"  # a newline never breaks the line
    line = bounded_line("Error: --x " + "y" * 300 + ": bad; use z")
    assert line.startswith("Error: --x yyy") and line.endswith("(300 characters): bad; use z"), line
    spaced = bounded_line("Error: --x '" + "a " * 2_000 + "': bad; use z")
    assert len(spaced) <= 1_100 and spaced.endswith("': bad; use z"), spaced
