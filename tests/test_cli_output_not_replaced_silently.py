"""Helper h109, kind "output replaced silently": `kmeshctl bench dataplane --out DIR` wrote
its dataplane.md / .json / .png over an earlier run's without a word. Now a folder
holding any of them is refused before any work, one line naming the path and the fix
(`pass --force to replace them, or another --out`), exit 2; --force replaces them. The
one check of output paths (kmeshctl.cli.outpaths) refuses an existing file the same way
for a file flag, unless force (a socket, which its writer replaces, is never refused).

Real parts: kmeshctl.cli.main in-process with the real typer tree and the real checks;
the benchmark run itself replaced by a stand-in that records it was reached (no root)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kmeshctl.bench import dataplane as dataplane_mod
from kmeshctl.bench import report
from kmeshctl.cli.outpaths import check_output_dir, check_output_file
from kmeshctl.errors import KmeshctlError, UsageError
from test_cli_kinds import cli, no_env  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


class RunReached(KmeshctlError):
    """Raised by the stand-in run: the command got past its checks."""


@pytest.fixture
def runs(monkeypatch) -> list[object]:
    """The benchmark run replaced: each call is recorded, then ends the command (exit 1)."""
    calls: list[object] = []

    def run_dataplane(config: object, *_args: object, **_kwargs: object) -> None:
        calls.append(config)
        raise RunReached("h109: the run started")

    monkeypatch.setattr(dataplane_mod, "run_dataplane", run_dataplane)
    return calls


def _earlier_results(folder: Path, names: tuple[str, ...] = tuple(report.RESULT_FILES.values())) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(f"h109 earlier {name}".encode())
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("spelling", ["separate", "equals"])
def test_a_folder_of_earlier_results_is_refused_before_the_run(tmp_path: Path, capsys, no_env, runs,  # noqa: F811
                                                               spelling: str) -> None:
    out = tmp_path / "h109-results"
    before = _earlier_results(out)
    args = ["--out", str(out)] if spelling == "separate" else [f"--out={out}"]
    code, stdout, err = cli(capsys, "bench", "dataplane", *args)
    assert code == 2 and not stdout and len(err.strip().splitlines()) == 1, (code, err)
    assert err.startswith(f"Error: --out {out}: holds dataplane.md, dataplane.json, dataplane.png from an earlier "
                          f"run; pass --force to replace them: `kmeshctl bench dataplane --out {out} --force`, or "
                          "another --out"), err
    assert runs == [] and {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_one_earlier_file_is_enough_and_is_named(tmp_path: Path, capsys, no_env, runs) -> None:  # noqa: F811
    out = tmp_path / "h109-one"
    _earlier_results(out, ("dataplane.png",))
    code, _, err = cli(capsys, "bench", "dataplane", "--out", str(out))
    assert code == 2 and runs == [], err
    assert f"--out {out}: holds dataplane.png from an earlier run; pass --force to replace it: " \
           f"`kmeshctl bench dataplane --out {out} --force`, or another --out" in err, err


def test_a_dangling_link_where_a_result_goes_is_refused_too(tmp_path: Path, capsys, no_env, runs) -> None:  # noqa: F811
    out = tmp_path / "h109-link"
    out.mkdir()
    (out / "dataplane.json").symlink_to(tmp_path / "h109-nowhere.json")  # writing would follow it
    code, _, err = cli(capsys, "bench", "dataplane", "--out", str(out))
    assert code == 2 and runs == [] and "holds dataplane.json from an earlier run" in err, err


def test_force_lets_the_run_start(tmp_path: Path, capsys, no_env, runs) -> None:  # noqa: F811
    out = tmp_path / "h109-forced"
    _earlier_results(out)
    code, _, err = cli(capsys, "bench", "dataplane", "--out", str(out), "--force", "--repeats", "1")
    assert code == 1 and "h109: the run started" in err and len(runs) == 1, err


@pytest.mark.parametrize("contents", [(), ("notes.txt", "dataplane.md.bak")])
def test_a_new_empty_or_unrelated_folder_is_not_refused(tmp_path: Path, capsys, no_env, runs,  # noqa: F811
                                                        contents: tuple[str, ...]) -> None:
    out = tmp_path / "h109-fresh" / "deeper"
    out.parent.mkdir()  # --out makes its folder, never a missing parent (tests/test_p38_f38d.py)
    if contents:
        _earlier_results(out, contents)
    code, _, err = cli(capsys, "bench", "dataplane", "--out", str(out))
    assert code == 1 and len(runs) == 1, err
    assert not contents or sorted(p.name for p in out.iterdir()) == sorted(contents)


def test_the_default_folder_is_checked_the_same_way(tmp_path: Path, capsys, no_env, runs,  # noqa: F811
                                                    monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = Path("benchmarks") / "results" / date.today().isoformat()
    _earlier_results(tmp_path / default, ("dataplane.md",))
    code, _, err = cli(capsys, "bench", "dataplane")
    assert code == 2 and runs == [], err
    assert f"--out {default}: holds dataplane.md from an earlier run; pass --force to replace it" in err, err


def test_bad_flags_are_said_before_the_folder(tmp_path: Path, capsys, no_env, runs) -> None:  # noqa: F811
    """A typo in --loads is the error, whatever the folder holds (the default folder of a
    checkout may hold today's results)."""
    out = tmp_path / "h109-typo"
    _earlier_results(out)
    code, _, err = cli(capsys, "bench", "dataplane", "--out", str(out), "--loads", "huge")
    assert code == 2 and "--loads huge: huge is not an accepted value" in err and "--out" not in err, err


def test_an_unwritable_folder_is_still_said_first(tmp_path: Path, capsys, no_env, runs) -> None:  # noqa: F811
    code, _, err = cli(capsys, "bench", "dataplane", "--out", "/proc", "--force")
    assert code == 2 and "--out /proc: is not writable (a kernel filesystem, proc)" in err and runs == [], err


# ------------------------------------------------------------------ the one check, files and folders alike


def test_an_existing_output_file_is_refused_in_the_same_words(tmp_path: Path) -> None:
    plot = tmp_path / "h109.png"
    plot.write_bytes(b"earlier")
    with pytest.raises(UsageError) as caught:
        check_output_file("--plot", plot, force=False)
    assert str(caught.value) == f"--plot {plot}: exists; pass --force to replace it, or another --plot"
    assert caught.value.exit_code == 2 and plot.read_bytes() == b"earlier"
    check_output_file("--plot", plot, force=True)
    check_output_file("--plot", tmp_path / "h109-new.png", force=False)


def test_a_socket_path_is_never_refused_for_existing(tmp_path: Path) -> None:
    """force None: a path its writer always replaces (the agent's sockets)."""
    socket = tmp_path / "h109.sock"
    socket.write_text("")
    check_output_file("--admin-socket", socket, create_parents=True, probe_file=False)


def test_a_folder_check_without_file_names_refuses_nothing(tmp_path: Path) -> None:
    _earlier_results(tmp_path / "h109-any")
    check_output_dir("--out", tmp_path / "h109-any")


def test_help_and_docs_say_force(capsys, no_env) -> None:  # noqa: F811
    code, out, _ = cli(capsys, "bench", "dataplane", "--help")
    assert code == 0 and "--force" in out and "refused" in out, out
    docs = " ".join((REPO / "docs" / "usage.md").read_text().split())
    assert "from an earlier run; pass --force to replace them: `kmeshctl bench dataplane --out DIR --force`, or " \
           "another --out``" in docs
