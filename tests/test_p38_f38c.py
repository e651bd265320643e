"""Pass 38 finding 3 of tester t38a, fixed by f38c (issue 14: every bad value of a line said
in one error; a line to paste offered only when it works with every value mended).
kmeshctl.cli.main in-process (test_cli_kinds' cli); sandbox records in a temporary state
root, HOME without a kubeconfig: no cluster, no sandbox is touched, nothing runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p31_hints import offline  # noqa: F401 (fixture: no cluster, no sandbox)

SERVICE = "istiod.istio-system.svc:15012"


def _lines(err: str) -> list[str]:
    return re.findall(r"`(kmeshctl [^`]*)`", err)


def _said_in_order(err: str, said: list[str], problems: int = 0) -> None:
    """Each of ``said`` is in the one error line, in that order; ``problems`` (default: one
    per item said) joined by `; also`."""
    assert err.count("Error:") == 1 and err.count("; also ") == (problems or len(said)) - 1, err
    places = [err.find(s) for s in said]
    assert -1 not in places and places == sorted(places), err


# ---------------------------------------------------------------- every bad value in one error


def test_render_names_every_bad_value_with_no_line_when_one_cannot_be_mended(capsys, offline) -> None:
    code, out, err = cli(capsys, "render", "--xds-address", SERVICE, "--cluster-id", "c1", "-n", "Bad_NS",
                         "--mode", "kernel-native", "--kubernetes-version", "1.x", "--image", "UPPER:tag",
                         "--network", "a b", "-o", "xml")
    assert code == 2 and not out, err
    _said_in_order(err, ["-n Bad_NS: not a valid namespace name", "did you mean -n bad-ns?",
                         "--mode kernel-native: Kmesh's kernel-native mode, which kmeshctl does not run (it runs "
                         "dual-engine only)",
                         "--kubernetes-version 1.x: not an accepted value; use one of 1.",
                         "--image UPPER:tag: repository UPPER has capital letters", "--image upper:tag",
                         "--network 'a b': not a network name", "e.g. --network network1",
                         "-o xml: not an accepted value; use one of yaml, json"], problems=6)
    assert not _lines(err), err  # no value of --kubernetes-version is the one meant: no line that would fail


def test_render_offers_one_line_that_works_when_every_value_can_be_mended(capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", "istiod:15012", "--cluster-id", "c1", "-n", "Bad_NS",
                       "--mode", "kernel-native", "-o", "jsn")
    assert code == 2, err
    _said_in_order(err, ["--xds-address istiod:15012: a bare Service name", "-n Bad_NS:", "--mode kernel-native:",
                         "-o jsn: not an accepted value; did you mean json?"])
    lines = _lines(err)
    assert lines == [f"kmeshctl render --xds-address {SERVICE} --cluster-id c1 -n bad-ns --mode dual-engine "
                     "-o json"], err
    assert cli(capsys, *shlex.split(lines[0])[1:])[0] == 0


@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"]])
def test_a_bare_istiod_address_is_said_beside_the_other_bad_values(command, capsys, offline) -> None:
    code, _, err = cli(capsys, *command, "--xds-address", "istiod:15012", "--cluster-id", "c 1", "--image", "A B")
    assert code == 2, err
    _said_in_order(err, [f"--xds-address istiod:15012: a bare Service name resolves only in the agents' own "
                         f"namespace, not in istio-system where istiod runs (use --xds-address {SERVICE})",
                         "--cluster-id 'c 1': not a cluster id", "e.g. c1",
                         "--image 'A B': not an image reference"], problems=3)
    assert not _lines(err), err


def test_the_demo_names_every_bad_value(tmp_path: Path, capsys, offline) -> None:
    plot = tmp_path / "missing" / "x.png"
    code, out, err = cli(capsys, "demo", "traffic-shift", "--weights", "90/20", "-c", "0", "-o", "xml",
                         "--target", "nowhere", "--plot", str(plot), "-n", "Bad_NS")
    assert code == 2 and not out, err
    _said_in_order(err, ["--weights 90/20: weights add up to 110", "-c 0: out of range; use an integer from 1",
                         "-o xml: not an accepted value", "--target nowhere: not an accepted value; use one of auto",
                         f"--plot {plot}: directory", "-n Bad_NS: not a valid namespace name"])
    assert not _lines(err), err


def test_bench_names_every_bad_value(capsys, offline) -> None:
    code, _, err = cli(capsys, "bench", "dataplane", "--paths", "direct,nope", "--loads", "paced-9k", "--duration",
                       "0s", "--client-cpus", "9999")
    assert code == 2, err
    _said_in_order(err, ["--paths direct,nope: nope is not an accepted value", "--loads paced-9k:",
                         "--duration 0s: out of range", "--client-cpus 9999: CPU 9999 not on this machine"])


def test_sandbox_up_and_dump_maps_name_every_bad_value(tmp_path: Path, capsys, offline) -> None:
    missing = tmp_path / "nonexist"
    code, _, err = cli(capsys, "sandbox", "up", "--name", "Bad_X", "-f", str(missing))
    assert code == 2, err
    _said_in_order(err, ["--name Bad_X: not a sandbox name", f"-f {missing}: does not exist"])
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "Bad_X", "-o", "xml")
    assert code == 2, err
    _said_in_order(err, ["--sandbox Bad_X: not a sandbox name", "-o xml: not an accepted value"])


# ---------------------------------------------------------------- one bad value: as before


@pytest.mark.parametrize("words,said", [
    (["render", "--xds-address", SERVICE, "--cluster-id", "c1", "-o", "xml"],
     "Error: -o xml: not an accepted value; use one of yaml, json (see 'kmeshctl render --help')"),
    (["bench", "dataplane", "--duration", "0s"], "Error: --duration 0s: out of range; use a duration from 1s"),
    (["render", "--xds-address", SERVICE, "--cluster-id", "c1", "-n", "Bad_NS"],
     f"did you mean -n bad-ns? `kmeshctl render --xds-address {SERVICE} --cluster-id c1 -n bad-ns`"),
])
def test_one_bad_value_is_said_as_before(words, said, capsys, offline) -> None:
    code, _, err = cli(capsys, *words)
    assert code == 2 and said in err and "; also " not in err and "every value mended" not in err, err


def test_checking_a_line_leaves_the_line_being_run_as_it_was(capsys, offline) -> None:
    from kmeshctl.cli import cmdline

    code, _, err = cli(capsys, "render", "--xds-address", SERVICE, "--cluster-id", "c1", "-o", "jsn", "--mode", "x")
    assert code == 2 and "every value mended: `kmeshctl render" in err, err
    assert cmdline.ARGS[:2] == ["render", "--xds-address"], cmdline.ARGS  # not the mended line's words


def test_a_line_that_would_keep_a_bad_value_is_said_as_the_change_alone(capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", SERVICE, "--cluster-id", "c 1", "-n", "Bad_NS")
    assert code == 2 and "did you mean -n bad-ns?" in err and "also -n Bad_NS" in err, err
    assert not _lines(err), err  # the namespace's own line kept --cluster-id 'c 1': it would fail
    code, _, err = cli(capsys, "node", "run", "--xds-address", "a:15012 b:15012", "--mode", "x")
    assert code == 2 and "a list of addresses (use --xds-address a:15012); also --mode x" in err, err


def test_a_value_from_the_environment_is_said_beside_one_typed(capsys, offline, monkeypatch) -> None:
    monkeypatch.setenv("XDS_ADDRESS", "istiod")
    code, _, err = cli(capsys, "node", "run", "--mode", "x", "--cluster-id", "c1")
    assert code == 2 and "--mode x: not an accepted value" in err, err
    assert f"also $XDS_ADDRESS=istiod: missing port (use $XDS_ADDRESS={SERVICE})" in err, err


def test_a_mended_line_names_the_values_it_leaves_out(capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", SERVICE, "--cluster-id", "c1", "--network", "a b",
                       "-o", "xml")
    assert code == 2 and "every value mended, --network 'a b' and -o xml left out (the defaults): " \
        f"`kmeshctl render --xds-address {SERVICE} --cluster-id c1`" in err, err
