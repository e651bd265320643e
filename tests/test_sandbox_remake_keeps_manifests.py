"""M2 (h88): every "make it again" fix (`sandbox down && sandbox up`) rebuilds the sandbox
from the manifests it was made from: its -f files while they still hold the same objects,
else (stdin, files changed or gone) a copy of the record's manifests.yaml made before
`down` removes the record. Each fix is pasted here: cp run by a shell, `down` and `up`
through the real command line (their work faked), and the objects `up` reads compared
with the record's."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
FORTIO = REPO / "examples" / "fortio"


def _made(name: str, files: list[Path], stdin_text: str = "") -> state_mod.SandboxState:
    """A record as `up` leaves it: manifests.yaml and the sources it was given."""
    if stdin_text:
        documents = [d for d in yaml.safe_load_all(stdin_text) if d]
    else:
        documents = manifests_mod.load(files or manifests_mod.default_files()).documents
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY)
    state.save()
    state.manifests_file.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    sb._write_sources(state, files or manifests_mod.default_files())
    return state


def _recorded(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(state_mod.state_dir(name).joinpath("manifests.yaml").read_text()) if d]


def _paste(line: str, capsys, monkeypatch) -> list[dict]:
    """Run the fix ``line``: `cp` in a shell, `sandbox down` / `sandbox up` through the CLI
    (down removes the record, up only reads its -f files); the objects `up` read."""
    read: list[dict] = []
    monkeypatch.setattr(sb, "require_root", lambda: None)
    monkeypatch.setattr(sb, "down", lambda name, progress, force=False: shutil.rmtree(
        state_mod.state_dir(name)) or True)

    def check_up(name: str, files: list[Path]) -> None:
        read.extend(manifests_mod.load(files).documents)

    monkeypatch.setattr(sb, "check_up", check_up)
    monkeypatch.setattr(sb, "up", lambda name, files, progress, plan: state_mod.SandboxState(name=name))
    monkeypatch.setattr(sb, "unenrolled_note", lambda state: "")
    for step in line.split(" && "):
        words = shlex.split(step)
        if words[0] == "cp":
            subprocess.run(words, check=True)
            continue
        assert words[:2] == ["kmeshctl", "sandbox"], step
        code, _, err = cli(capsys, *words[1:])
        assert code == 0, (step, err)
    return read


def _copy_of_examples(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "x"
    folder.mkdir()
    for name in ("fortio-route.yaml", "netutils.yaml"):
        shutil.copy(FORTIO / name, folder / name)
    return [folder / "fortio-route.yaml", folder / "netutils.yaml"]


def test_the_default_manifests_need_no_f(state_root, no_env) -> None:
    _made("h88d", [])
    assert sb.remake_steps("h88d") == ["kmeshctl sandbox down --name h88d", "kmeshctl sandbox up --name h88d"]


def test_files_that_still_hold_the_objects_are_given_again(state_root, tmp_path, capsys, monkeypatch,
                                                           no_env) -> None:
    files = _copy_of_examples(tmp_path)
    _made("h88c", files)
    line = sb.remake_line("h88c")
    assert line == (f"kmeshctl sandbox down --name h88c && kmeshctl sandbox up --name h88c -f {files[0]} "
                    f"-f {files[1]}"), line
    recorded = _recorded("h88c")
    assert _paste(line, capsys, monkeypatch) == recorded


def test_a_relative_path_is_kept_absolute(state_root, tmp_path, monkeypatch, no_env) -> None:
    files = _copy_of_examples(tmp_path)
    monkeypatch.chdir(tmp_path)
    files[1].unlink()
    (tmp_path / "y").mkdir()
    shutil.copy(FORTIO / "netutils.yaml", tmp_path / "y" / "netutils.yaml")
    _made("h88r", [Path("x/fortio-route.yaml"), Path("y")])
    assert sb.remake_line("h88r").endswith(f"-f {files[0]} -f {tmp_path / 'y'}")


@pytest.mark.parametrize("change", ["edited", "removed", "weights changed live"])
def test_changed_or_gone_files_give_the_records_copy(change: str, state_root, tmp_path, capsys, monkeypatch,
                                                     no_env) -> None:
    files = _copy_of_examples(tmp_path)
    state = _made("h88e", files)
    if change == "edited":
        files[0].write_text(files[0].read_text().replace("weight: 90", "weight: 80").replace("weight: 10",
                                                                                                "weight: 20"))
    elif change == "removed":
        files[1].unlink()
    else:  # what `demo traffic-shift` does to the record while it runs
        text = state.manifests_file.read_text()
        state.manifests_file.write_text(text.replace("weight: 90", "weight: 50").replace("weight: 10", "weight: 50"))
    recorded = _recorded("h88e")
    line = sb.remake_line("h88e")
    kept = state_root / "manifests-h88e.yaml"
    assert line == (f"cp {state.manifests_file} {kept} && kmeshctl sandbox down --name h88e && "
                    f"kmeshctl sandbox up --name h88e -f {kept}"), line
    assert _paste(line, capsys, monkeypatch) == recorded


def test_stdin_manifests_are_made_again_from_the_records_copy_and_said_so(state_root, capsys, monkeypatch,
                                                                          no_env) -> None:
    text = (FORTIO / "fortio-route.yaml").read_text() + "\n---\n" + (FORTIO / "netutils.yaml").read_text()
    _made("h88s", [Path("-")], stdin_text=text)
    fix = sb.remake_text("h88s")
    assert fix.endswith("(its manifests came from stdin: this uses the copy its record keeps)"), fix
    line = fix.split("`")[1]
    assert line.startswith("cp ") and "-f -" not in line, line
    recorded = _recorded("h88s")
    assert _paste(line, capsys, monkeypatch) == recorded


def test_a_half_created_sandbox_and_its_status_fix_keep_the_files(state_root, tmp_path, capsys, monkeypatch,
                                                                  no_env) -> None:
    files = _copy_of_examples(tmp_path)
    state = _made("h88h", files)
    state.phase = state_mod.PHASE_CREATING
    state.save()
    problems = sb.process_problems(state)
    assert any(f"kmeshctl sandbox up --name h88h -f {files[0]} -f {files[1]}`" in p for p in problems), problems
    unfinished = sb.unfinished(state, "kmeshctl sandbox exec netutils --name h88h -- true")
    assert f"kmeshctl sandbox up --name h88h -f {files[0]} -f {files[1]} && kmeshctl sandbox exec" in unfinished
    own = sb.unfinished(state, f"kmeshctl sandbox up --name h88h -f {files[0]}")  # the user's own `up`: as typed
    assert own.endswith(f"`kmeshctl sandbox down --name h88h && kmeshctl sandbox up --name h88h -f {files[0]}`")


def test_without_kept_manifests_the_fix_is_the_plain_one(state_root, no_env) -> None:
    state_mod.SandboxState(name="h88n").save()
    assert sb.remake_line("h88n") == "kmeshctl sandbox down --name h88n && kmeshctl sandbox up --name h88n"
