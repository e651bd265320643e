"""Did-you-mean lines work when pasted (pass 36, issue 14, f36d; t36a's findings 4-7, 9):
a subcommand's typo or case (`sandbox lst -o json`, `sandbox LIST`) and an option's
(`dump maps --maps`, `demo traffic-shift --count 12`) get the whole line with every flag
typed, as the top level's `sanbox list`; near-miss values (`sandbox exec Netutils`,
`dump config --pod KMESH`, `bench dataplane --paths kmesh_l4`, `--request-timeout 10S`,
`-o JSON`) get the value meant and its line; `sandbox up` takes kubectl's comma list
for -f and answers -R/--recursive and -k/--kustomize with a line; a dump's stray word
offers a line that keeps the flags typed (-o yaml, --sandbox S) and names a sandbox when
several are up (dump picks none of several).

In-process (test_cli_kinds.cli), HOME a temporary directory: nothing reaches a cluster;
the sandboxes "up" are records in a temporary state directory (nothing is started)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_demo_auto_says_why import sandbox_records
from test_p34_hints import no_cluster  # noqa: F401 (fixture)


def _lines(err: str) -> list[list[str]]:
    return [shlex.split(line) for line in re.findall(r"`(kmeshctl [^`]*)`", err)]


def _refused(capsys, *typed: str) -> str:
    code, out, err = cli(capsys, *typed)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err, err
    return err


# ------------------------------------------------------------------ 6. subcommands: the line, flags kept

@pytest.mark.parametrize("typed,meant", [
    (["sandbox", "lst", "-o", "json"], ["kmeshctl", "sandbox", "list", "-o", "json"]),
    (["demo", "trafficshift", "--sandbox", "s1", "-c", "12"],
     ["kmeshctl", "demo", "traffic-shift", "--sandbox", "s1", "-c", "12"]),
    (["dump", "map"], ["kmeshctl", "dump", "maps"]),
    (["sandbox", "LIST"], ["kmeshctl", "sandbox", "list"]),
    (["SANDBOX", "list", "-o", "json"], ["kmeshctl", "sandbox", "list", "-o", "json"]),
    (["-o", "json", "sandbox", "lst"], ["kmeshctl", "-o", "json", "sandbox", "list"]),
])
def test_a_subcommand_typo_gets_the_line_with_every_flag(typed, meant, capsys, no_cluster) -> None:
    err = _refused(capsys, *typed)
    assert "did you mean" in err and _lines(err) == [meant], err


def test_help_of_a_typo_offers_the_name_alone(capsys, no_cluster) -> None:
    err = _refused(capsys, "help", "sandbox", "lst")
    assert "did you mean list?" in err and _lines(err) == [["kmeshctl", "help", "sandbox", "list"]], err  # t48a 11


# ------------------------------------------------------------------ 6. options: the line, flags kept

@pytest.mark.parametrize("typed,meant", [
    (["dump", "maps", "--maps", "km_manage", "--sandbox", "s1"],
     ["kmeshctl", "dump", "maps", "--map", "km_manage", "--sandbox", "s1"]),
    (["demo", "traffic-shift", "--count", "12"], ["kmeshctl", "demo", "traffic-shift", "--requests", "12"]),
    (["demo", "traffic-shift", "--count=12", "-q"], ["kmeshctl", "demo", "traffic-shift", "--requests=12", "-q"]),
    (["status", "--outptu", "json"], ["kmeshctl", "status", "--output", "json"]),
    (["dump", "maps", "--MAP", "km_manage"], ["kmeshctl", "dump", "maps", "--map", "km_manage"]),  # case only
])
def test_an_option_typo_gets_the_line_with_every_flag(typed, meant, capsys, tmp_path, monkeypatch,
                                                      no_cluster) -> None:
    from kmeshctl.sandbox import state as state_mod

    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path / "state")  # the pasted line runs on no real sandbox
    err = _refused(capsys, *typed)
    assert "No such option" in err and "did you mean" in err and _lines(err) == [meant], err
    _, _, again = cli(capsys, *meant[1:])  # pasted: past the flags (a value may still be refused)
    assert "No such option" not in again, again


def test_an_option_typo_without_the_value_it_needs_gets_no_line(capsys, no_cluster) -> None:
    err = _refused(capsys, "dump", "maps", "--maps")
    assert "did you mean --map?" in err and not _lines(err), err  # `dump maps --map` would be refused


# ------------------------------------------------------------------ 9. near-miss values

@pytest.mark.parametrize("typed,said,meant", [
    (["sandbox", "exec", "Netutils"], "did you mean netutils?", ["kmeshctl", "sandbox", "exec", "netutils"]),
    (["sandbox", "exec", "Netutils", "--", "ping", "-c1", "x"], "did you mean netutils?",
     ["kmeshctl", "sandbox", "exec", "netutils", "--", "ping", "-c1", "x"]),
    (["dump", "config", "--pod", "KMESH"], "did you mean --pod kmesh?",
     ["kmeshctl", "dump", "config", "--pod", "kmesh"]),
    (["bench", "dataplane", "--paths", "kmesh_l4"], "did you mean --paths kmesh-l4?",
     ["kmeshctl", "bench", "dataplane", "--paths", "kmesh-l4"]),
    (["bench", "dataplane", "--paths", "direct,Kmesh_L4", "-o", "json"], "did you mean --paths direct,kmesh-l4?",
     ["kmeshctl", "bench", "dataplane", "--paths", "direct,kmesh-l4", "-o", "json"]),
    (["--request-timeout", "10S", "status"], "did you mean --request-timeout 10s?",
     ["kmeshctl", "--request-timeout", "10s", "status"]),
    (["status", "-o", "JSON"], "did you mean json?", ["kmeshctl", "status", "-o", "json"]),
    (["node", "run", "--log-level", "INFO"], "did you mean info?", ["kmeshctl", "node", "run", "--log-level", "info"]),
    (["dump", "maps", "--map", "KM_BACKEND", "-o", "json"], "did you mean km_backend?",
     ["kmeshctl", "dump", "maps", "--map", "km_backend", "-o", "json"]),
])
def test_a_near_miss_value_gets_the_value_meant_and_its_line(typed, said, meant, capsys, no_cluster) -> None:
    err = _refused(capsys, *typed)
    assert said in err and _lines(err) == [meant], err


def test_a_value_meaning_nothing_gets_no_guess(capsys, no_cluster) -> None:
    for typed in (["bench", "dataplane", "--paths", "foo"], ["--request-timeout", "10x", "status"],
                  ["dump", "config", "--pod", "KM@"]):
        err = _refused(capsys, *typed)
        assert "did you mean" not in err, err


# ------------------------------------------------------------------ 7. sandbox up: kubectl's -f habits

def test_up_takes_a_comma_list_of_files(tmp_path, capsys, monkeypatch, no_cluster) -> None:
    """kubectl's -f a.yaml,b.yaml: both read (a bad document in the second says its file)."""
    from kmeshctl.sandbox import state as state_mod

    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path / "state")
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: f36d-a\n")
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: Nonsense\nmetadata:\n  name: x\n")
    monkeypatch.chdir(tmp_path)
    err = _refused(capsys, "sandbox", "up", "--name", "f36d-t", "-f", "a.yaml,b.yaml")
    assert "does not exist" not in err and "b.yaml" in err and "Nonsense" in err, err
    err = _refused(capsys, "sandbox", "up", "--name", "f36d-t", "-f", "a.yaml,c.yaml")
    assert "c.yaml: does not exist" in err and "a.yaml,c.yaml" not in err, err


def test_up_recursive_offers_each_subdirectory(tmp_path, capsys, monkeypatch, no_cluster) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.yaml").write_text("{}\n")
    (tmp_path / "d" / "sub" / "b.yaml").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    err = _refused(capsys, "sandbox", "up", "--name", "f36d-t", "-R", "-f", "d", "-q")
    assert "not its subdirectories" in err, err
    assert _lines(err) == [["kmeshctl", "sandbox", "up", "--name", "f36d-t", "-f", "d", "-q", "-f", "d/sub"]], err
    err = _refused(capsys, "sandbox", "up", "--recursive", "-f", "d/a.yaml")
    assert "leave --recursive out" in err and _lines(err) == [["kmeshctl", "sandbox", "up", "-f", "d/a.yaml"]], err


@pytest.mark.parametrize("typed,directory", [
    (["-k", "overlay/"], "overlay/"), (["--kustomize=overlay/", "-f", "x.yaml"], "overlay/"), (["-k"], "DIR")])
def test_up_kustomize_offers_kubectl_kustomize_piped(typed, directory, capsys, no_cluster) -> None:
    err = _refused(capsys, "sandbox", "up", "--name", "f36d-t", *typed, "-q")
    assert f"`kubectl kustomize {directory} | kmeshctl sandbox up --name f36d-t -q -f -`" in err, err


# ------------------------------------------------------------------ 4, 5. a dump's stray word

@pytest.fixture
def several(tmp_path: Path, monkeypatch, no_cluster) -> list[str]:
    """Two sandboxes up (records only), no data path of the node's own."""
    import kmeshctl.cli.dump as dump_cli

    names = sandbox_records(tmp_path, monkeypatch, ["f36d-a", "f36d-b"])
    monkeypatch.setattr(dump_cli, "DEFAULT_BPF_FS", tmp_path / "no-bpf")
    return names


def test_dump_config_stray_word_keeps_the_flags_and_the_sandbox_typed(several, capsys) -> None:
    err = _refused(capsys, "dump", "config", "--sandbox", "f36d-b", "-o", "yaml", "stray")
    assert _lines(err) == [["kmeshctl", "dump", "config", "--sandbox", "f36d-b", "-o", "yaml"]], err


@pytest.mark.parametrize("command", ["maps", "config"])
def test_dump_stray_word_with_several_sandboxes_names_each(command, several, capsys) -> None:
    err = _refused(capsys, "dump", command, "-o", "json", "stray")
    assert _lines(err) == [["kmeshctl", "dump", command, "-o", "json", "--sandbox", name] for name in several], err


def test_dump_config_section_word_names_each_sandbox(several, capsys) -> None:
    err = _refused(capsys, "dump", "config", "-o", "yaml", "services")
    assert _lines(err)[-2:] == [["kmeshctl", "dump", "config", "-o", "json", "--sandbox", name]
                                for name in several], err


def test_dump_stray_word_with_the_sandbox_in_the_environment_keeps_the_line(several, capsys, monkeypatch) -> None:
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "f36d-a")
    err = _refused(capsys, "dump", "maps", "-o", "json", "stray")
    assert _lines(err) == [["kmeshctl", "dump", "maps", "-o", "json"]], err
