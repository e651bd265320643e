"""Issue 14, sixth new-user pass, the local tools (sandbox, demo, dump, completion, path
flags), one test per kind: hints that name the sandbox, the demo's fix for a sandbox
without the fortio manifests, the demo refusing a sandbox that is not ready, path
completion in the real shells, one wording for path errors, `dump maps` tables as
kubectl prints them.

Sandbox records live in a temporary state root (the `state_root` fixture of
test_cli_kinds), not /run/kmeshctl; the shells are the real bash, zsh and fish (a test
is skipped only when its shell is not installed)."""

from __future__ import annotations

import io
import ipaddress
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console

from kmeshctl import dump, sandboxes
from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import BACKEND, MANAGE, BackendKey, BackendValue, ManageKey, ManageValue
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.demo_target import check_demo_ready
import shell_pty
from test_cli_kinds import KMESHCTL, cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _record

FORTIO_PODS = (("waypoint", True), ("fortio-v1-0", False), ("fortio-v2-0", False), ("netutils-0", False))
SUGGESTED = re.compile(r"`(kmeshctl [^`]*)`|Try: (.*)$")


def _fortio_record(name: str, **fields) -> state_mod.SandboxState:  # type: ignore[no-untyped-def]
    return _record(name, FORTIO_PODS, vips={"default/fortio": "10.96.0.10"}, **fields)


def _suggested(message: str) -> list[str]:
    """The kmeshctl commands a message suggests (backticked, or after `Try:`)."""
    found = []
    for match in SUGGESTED.finditer(message):
        if match.group(1):
            found.append(match.group(1))
        else:
            found += [c.strip() for c in match.group(2).split(";") if c.strip()]
    return [c for part in found for c in part.split(" && ")]


def _names_sandbox(command: str, name: str) -> bool:
    words = command.split()
    return any(words[i] in ("--name", "--sandbox") and words[i + 1] == name for i in range(len(words) - 1))


# ------------------------------------------------------------------ 1. hints name the sandbox


def test_a_hint_names_the_sandbox_when_the_bare_command_would_pick_another(state_root, monkeypatch,
                                                                          no_env) -> None:
    _fortio_record("kmesh")
    assert sandboxes.for_sandbox("kmeshctl sandbox status", "kmesh") == "kmeshctl sandbox status"  # the only one
    _fortio_record("alpha")
    assert sandboxes.for_sandbox("kmeshctl sandbox status", "kmesh") == "kmeshctl sandbox status --name kmesh"
    assert sandboxes.for_sandbox("kmeshctl sandbox status --name kmesh", "kmesh").count("--name") == 1
    assert sandboxes.for_sandbox("kmeshctl dump maps", "alpha", "--sandbox") == "kmeshctl dump maps --sandbox alpha"
    monkeypatch.setenv(state_mod.NAME_ENV, "beta")  # the bare command would take $KMESHCTL_SANDBOX_NAME
    assert not sandboxes.picks_alone("kmesh")


def test_every_sandbox_and_demo_message_names_the_sandbox_it_means(state_root, tmp_path: Path, no_env) -> None:
    """`sandbox up` of `kmesh` while `alpha` is up: each suggested command, pasted, acts on
    `kmesh` (a bare `kmeshctl sandbox status` would refuse as ambiguous)."""
    from kmeshctl.cli.sandbox import up_hint

    _fortio_record("alpha")
    kmesh = _fortio_record("kmesh")
    messages = [up_hint("kmesh")]
    with pytest.raises(KmeshctlError) as refused:
        sandbox_mod._refuse_existing("kmesh", sandbox_mod.up_line("kmesh", []))  # `sandbox up` of one that is up
    messages.append(str(refused.value))
    kmesh.phase = "creating"
    kmesh.save()
    with pytest.raises(KmeshctlError) as half:
        sandbox_mod._refuse_existing("kmesh", sandbox_mod.up_line("kmesh", []))
    messages.append(str(half.value))
    messages += sandbox_mod.process_problems(kmesh)
    lacking = _record("bare", (("netutils-0", False),))
    with pytest.raises(KmeshctlError) as no_fortio:
        check_demo_ready(lacking)  # the demo goes to a new sandbox, never the user's (h62)
    assert all(_names_sandbox(c, "bare-demo") for c in _suggested(str(no_fortio.value))), no_fortio.value
    for message in messages:
        commands = _suggested(message)
        assert commands, message
        for command in commands:
            assert _names_sandbox(command, "kmesh"), (command, message)


def test_the_try_line_of_sandbox_up_is_short_for_the_only_sandbox(state_root, no_env) -> None:
    from kmeshctl.cli.sandbox import up_hint

    _fortio_record("kmesh")
    assert up_hint("kmesh") == "Sandbox kmesh is up. Try: kmeshctl sandbox status; kmeshctl demo traffic-shift"


# ------------------------------------------------------------------ 2. the demo's fix for a sandbox without fortio


def test_the_demo_on_a_sandbox_without_fortio_suggests_a_new_sandbox_not_a_down(state_root, capsys,
                                                                                no_env) -> None:
    """(h62: `down && up -f` of the user's sandbox deleted their workload and dropped -c.)"""
    _record("plain", (("netutils-0", False),))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--name", "plain", "-c", "1")
    lines = err.strip().splitlines()
    assert code == 1 and not out and lines[0] == "Target: local sandbox plain" and len(lines) == 2, err
    fix = "kmeshctl sandbox up --name plain-demo && kmeshctl demo traffic-shift --name plain-demo -c 1"  # as typed
    assert f"`{fix}`" in lines[1] and "has no fortio Service" in lines[1], lines[1]
    # made again from what it was made from (h88): a record without manifests gets the plain `up`
    assert sandbox_mod.remake_line("plain") == "kmeshctl sandbox down --name plain && kmeshctl sandbox up --name plain"


# ------------------------------------------------------------------ 3. the demo refuses a sandbox that is not ready


def _agent_record(state_dir: Path, pid: int, cgroup_procs: str) -> state_mod.ProcessRecord:
    """The agent's process record; its cgroup is a stand-in directory whose cgroup.procs
    lists the pids the test says (a real cgroup needs root and a cgroup2 mount)."""
    cgroup = state_dir / "stand-in-cgroup"
    cgroup.mkdir(exist_ok=True)
    (cgroup / "cgroup.procs").write_text(cgroup_procs)
    return state_mod.ProcessRecord(role="agent", pid=pid, component="the node agent", log=str(state_dir / "a.log"),
                                   exit_file=str(state_dir / "agent.exit"), cgroup=str(cgroup))


def test_the_demo_refuses_a_sandbox_whose_process_ended_in_one_line_and_cheaply(state_root, tmp_path: Path,
                                                                                capsys, no_env) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = _fortio_record("live", processes=[_agent_record(tmp_path, sleeper.pid, f"{sleeper.pid}\n")])
        pin = live.bpffs / sandbox_mod.PINNED_MAP  # the data path's pin (a stand-in file: bpffs needs root)
        pin.parent.mkdir(parents=True, exist_ok=True)
        pin.write_text("")
        check_demo_ready(state_mod.SandboxState.load("live"))  # a running agent with its data path passes
        _fortio_record("dead", processes=[_agent_record(tmp_path, sleeper.pid, "")])
    finally:
        sleeper.kill()
        sleeper.wait()
    started = time.monotonic()
    code, out, err = cli(capsys, "demo", "traffic-shift", "--name", "dead", "-c", "1")
    lines = err.strip().splitlines()
    assert code == 1 and not out and len(lines) == 2 and lines[0] == "Target: local sandbox dead", err
    assert lines[1].startswith(f"Error: sandbox dead is not ready: the node agent (pid {sleeper.pid}) "), lines[1]
    assert "`kmeshctl sandbox status --name dead`" in lines[1]
    assert f"`{sandbox_mod.remake_line('dead')} && kmeshctl demo traffic-shift --name dead -c 1`" in lines[1], lines[1]
    assert "Sending" not in err and time.monotonic() - started < 5


# ------------------------------------------------------------------ 4. paths complete in bash, zsh and fish


def _shell_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(KMESHCTL).parent}:{os.environ['PATH']}", "TERM": "dumb"}


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "fortio.yaml").write_text("")
    (tmp_path / "mapsdir").mkdir()
    (tmp_path / "mapsfile").write_text("")
    return tmp_path


def _bash_candidates(words: list[str], cwd: Path) -> list[str]:
    """COMPREPLY of the real bash running `kmeshctl completion bash`'s function."""
    script = ("source <(kmeshctl completion bash); COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); "
              "_kmeshctl_completion kmeshctl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", *words], cwd=cwd, text=True,
                          capture_output=True, env=_shell_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_files_for_path_flags_and_directories_for_dir_flags(tree: Path) -> None:
    assert _bash_candidates(["kmeshctl", "sandbox", "up", "-f", "manifests/"], tree) == ["manifests/fortio.yaml"]
    assert _bash_candidates(["kmeshctl", "status", "--kubeconfig", "manifests/f"], tree) == ["manifests/fortio.yaml"]
    assert sorted(_bash_candidates(["kmeshctl", "demo", "traffic-shift", "--plot", "maps"], tree)) == ["mapsdir", "mapsfile"]
    assert _bash_candidates(["kmeshctl", "node", "cleanup", "--bpf-fs", "maps"], tree) == ["mapsdir"]  # dirs only
    assert _bash_candidates(["kmeshctl", "sandb"], tree) == ["sandbox"]  # words as before


def _type_tab(argv: list[str], setup: list[str], line: str, cwd: Path) -> str:
    return shell_pty.type_tab(argv, setup, line, cwd, {**_shell_env(), "HOME": str(cwd)})


def test_bash_interactive_tab_completes_a_path_flag(tree: Path) -> None:
    shown = _type_tab(["bash", "--norc", "--noprofile", "-i"], ["source <(kmeshctl completion bash)"],
                      "kmeshctl sandbox up -f manifests/fo", tree)
    assert "manifests/fortio.yaml" in shown, shown


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_interactive_tab_completes_path_flags(tree: Path) -> None:
    setup = ["autoload -U compinit && compinit -u", "source <(kmeshctl completion zsh)"]
    shown = _type_tab(["zsh", "-f", "-i"], setup, "kmeshctl sandbox up -f manifests/fo", tree)
    assert "manifests/fortio.yaml" in shown, shown
    shown = _type_tab(["zsh", "-f", "-i"], setup, "kmeshctl node cleanup --bpf-fs maps", tree)
    assert "mapsdir/" in shown and "mapsfile" not in shown, shown


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_path_flags_and_keeps_word_completion(tree: Path) -> None:
    def complete(line: str) -> list[str]:
        done = subprocess.run(["fish", "--no-config", "-c", f"kmeshctl completion fish | source; complete -C '{line}'"],
                              cwd=tree, text=True, capture_output=True, env=_shell_env(), timeout=60)
        assert done.returncode == 0, done.stderr
        return [w.split("\t")[0] for w in done.stdout.splitlines()]

    assert complete("kmeshctl sandbox up -f manifests/") == ["manifests/fortio.yaml"]
    assert complete("kmeshctl --kubeconfig manifests/f") == ["manifests/fortio.yaml"]
    assert complete("kmeshctl status --kubeconfig manifests/f") == ["manifests/fortio.yaml"]
    assert complete("kmeshctl demo traffic-shift --plot maps") == ["mapsdir/", "mapsfile"]
    assert complete("kmeshctl node cleanup --bpf-fs maps") == ["mapsdir/"]
    assert complete("kmeshctl dump maps --bpf-fs=maps") == ["--bpf-fs=mapsdir/"]
    assert complete("kmeshctl sandb") == ["sandbox"]
    assert "--filename" in complete("kmeshctl sandbox up --")


# ------------------------------------------------------------------ 5. one wording for path errors


PATH_FLAGS = [
    (["sandbox", "up", "-f", "{missing}"], "-f"),
    (["sandbox", "up", "--filename", "{missing}"], "--filename"),
    (["render", "--crd-file", "{missing}"], "--crd-file"),
    (["dump", "maps", "--bpf-fs", "{missing}"], "--bpf-fs"),
    (["node", "cleanup", "--bpf-fs", "{missing}"], "--bpf-fs"),
    (["node", "cleanup", "--cgroup2-path", "{missing}"], "--cgroup2-path"),
    (["node", "run", "--proc-root", "{missing}"], "--proc-root"),
    (["node", "run", "--xds-root-cert", "{missing}"], "--xds-root-cert"),
    (["node", "run", "--xds-token", "{missing}"], "--xds-token"),
]


@pytest.mark.parametrize("args,flag", PATH_FLAGS, ids=[" ".join(a[:-1]) for a, _ in PATH_FLAGS])
def test_a_missing_path_says_does_not_exist_on_every_path_flag(args: list[str], flag: str, tmp_path: Path,
                                                              capsys, no_env, state_root) -> None:
    missing = tmp_path / "missing"
    code, out, err = cli(capsys, *[a.replace("{missing}", str(missing)) for a in args])
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"Error: {flag} {missing}: does not exist; "), err


def test_a_path_of_the_wrong_kind_says_so_in_the_same_words(tmp_path: Path, capsys, no_env, state_root) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    code, _, err = cli(capsys, "node", "run", "--proc-root", str(a_file))
    assert code == 2 and f"--proc-root {a_file}: is not a directory; " in err, err
    code, _, err = cli(capsys, "bench", "dataplane", "--out", str(a_file))
    assert code == 2 and f"--out {a_file}: is not a directory; " in err, err
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "--plot", str(tmp_path / "no" / "x.png"))
    assert code == 2 and f"directory {tmp_path / 'no'} does not exist; " in err, err


def test_no_path_error_of_kmeshctl_uses_other_words() -> None:
    source = Path(dump.__file__).parent
    offenders = [f"{path}:{n}" for path in source.rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"no such (file|directory)|a file is there", line, re.I)]
    assert not offenders, offenders


# ------------------------------------------------------------------ 6. dump maps tables as kubectl prints them


class _Ids:
    def name_of(self, _id: int) -> None:
        return None

    def kind_of(self, _id: int) -> None:
        return None


def test_dump_tables_have_a_title_upper_case_headers_and_a_blank_line_between_maps() -> None:
    dumps = [dump.MapDump(MANAGE, [(ManageKey(44180), ManageValue(True))]),
             dump.MapDump(BACKEND, [(BackendKey(7), BackendValue((ipaddress.ip_address("10.244.0.3"),)))])]
    out = io.StringIO()
    dump.render_tables(dumps, _Ids(), Console(file=out, width=200), pods={44180: "default/fortio-v1-0"})  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[0] == "km_manage: enrolled network namespaces (1 of 8192 entries)", lines
    header = next(line for line in lines if "COOKIE" in line)
    assert re.split(r"\s{2,}", header.strip())[:3] == ["NETNS COOKIE", "POD", "MANAGED"]
    second = lines.index(next(line for line in lines if line.startswith("km_backend:")))
    assert lines[second - 1].strip() == "" and lines[second - 2].strip() != "", lines
    assert not any(h.islower() for h in re.findall(r"\b[a-z]+ uid\b|\bnetns cookie\b", out.getvalue()))
