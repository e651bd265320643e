"""Issue 14, fourth new-user pass, the sandbox and demo commands: which sandbox the demo
uses, its first line, `sandbox down` of a missing sandbox, `sandbox status`'s phase,
the exec usage line and completion, empty and contradicting values. The real typer
command tree in-process (kmeshctl.cli.main); sandbox records in a temporary state root
instead of /run/kmeshctl (the `state_root` fixture of test_cli_kinds), a kubeconfig whose
API server refuses connections where a cluster must not answer."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import _dead_kubeconfig, cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _complete, _record

PODS = (("waypoint", True), ("fortio-v1-0", False), ("fortio-v2-0", False), ("netutils-0", False))


def _first_line(err: str) -> str:
    return err.splitlines()[0] if err else ""


# ------------------------------------------------------------------ 4, 20: the demo's sandbox and first line


def test_the_demo_uses_the_only_sandbox_up_and_names_kubeconfig_and_context(tmp_path: Path, state_root, capsys,
                                                                          monkeypatch, no_env) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_dead_kubeconfig(tmp_path / "kc")))
    _record("solo")  # a record without a fortio Service: the demo stops right after its first line
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "1")
    line = _first_line(err)
    assert line.startswith("Target: local sandbox solo (auto: no reachable cluster: cannot reach the Kubernetes "
                           "API at https://127.0.0.1:1 ("), err
    assert f"kubeconfig {tmp_path / 'kc'}, context dead" in line, line
    assert "the only sandbox up, left up afterwards; --sandbox NAME chooses)" in line, line
    assert line.count("(") == line.count(")") and line.endswith(")"), line
    assert "bringing up" not in err and "sandbox solo has no fortio Service" in err and code == 1, err
    assert state_mod.SandboxState.load("solo") is not None  # not removed: the demo did not make it


def test_the_demo_with_several_sandboxes_and_no_name_lists_them(state_root, capsys, no_env) -> None:
    # both with the demo's objects: one without them is no example (tests/test_demo_p21.py)
    _record("alpha", PODS, vips={"default/fortio": "10.96.0.10"})
    _record("beta", PODS, vips={"default/fortio": "10.96.0.10"})
    code, out, err = cli(capsys, "demo", "traffic-shift", "--target", "local")
    assert code == 2 and not out and err.strip() == ("Error: several sandboxes exist (alpha ready, beta ready): pass "
                                                "--sandbox NAME, e.g. `kmeshctl demo traffic-shift --sandbox alpha --target "
                                                "local` (see 'kmeshctl demo traffic-shift --help')")


def test_the_demo_with_no_sandbox_names_the_one_it_makes(state_root, capsys, no_env) -> None:
    from kmeshctl import demo

    documents, subject = demo.fortio_demo()
    target, note = demo.choose_target("local", documents, subject)
    assert note == "Target: local sandbox kmesh" and target.sandbox_name == "kmesh"
    _record("beta")
    target, note = demo.choose_target("local", documents, subject, "beta")  # --name wins
    assert note == "Target: local sandbox beta"


def test_a_note_without_its_fix_keeps_its_parentheses_balanced() -> None:
    from kmeshctl.demo import without_fix

    assert without_fix("cannot reach X (refused; kubeconfig k, context c): check that it is up") == \
        "cannot reach X (refused; kubeconfig k, context c)"
    assert without_fix("cannot load kubeconfig k (bad); pass --kubeconfig PATH") == "cannot load kubeconfig k (bad)"
    assert without_fix("cut (inside; never closed") == "cut (inside; never closed)"


# ------------------------------------------------------------------ 19: -v and -q


def test_demo_verbose_and_quiet_together_is_a_usage_error(state_root, capsys, no_env) -> None:
    for args in (["-v", "-q"], ["--quiet", "--verbose"]):
        code, out, err = cli(capsys, "demo", "traffic-shift", "--target", "local", *args)
        assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
        assert "-v" in err and "-q" in err and "contradict" in err and "Target:" not in err, err


# ------------------------------------------------------------------ 21: down of a missing sandbox


def test_down_of_a_missing_sandbox_is_not_found_unless_ignore_not_found(state_root, capsys, no_env) -> None:
    _record("alpha")
    _record("beta")
    code, out, err = cli(capsys, "sandbox", "down", "--name", "h26none")
    assert code == 1 and not out, err
    assert err.strip() == "Error: sandbox h26none not found (sandboxes: alpha, beta); `kmeshctl sandbox down " \
                          "--name h26none --ignore-not-found` makes this exit 0", err
    code, out, err = cli(capsys, "sandbox", "down", "--name", "h26none", "--ignore-not-found")
    assert code == 0 and not out and not err, err
    assert state_mod.SandboxState.load("alpha") and state_mod.SandboxState.load("beta")  # untouched


# ------------------------------------------------------------------ 20: status of a missing sandbox, exec ''


def test_status_of_a_missing_sandbox_gives_the_fix_once(state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "status", "--name", "h26none")
    assert code == 1 and err.strip() == ("Error: sandbox h26none not found (no sandbox exists); make it: "
                                         "`kmeshctl sandbox up --name h26none && kmeshctl sandbox status --name "
                                         "h26none`"), err
    _record("alpha")
    code, _, err = cli(capsys, "sandbox", "status", "--name", "h26none")
    assert code == 1 and err.count("kmeshctl sandbox up --name h26none") == 1 and "(sandboxes: alpha);" in err, err


def test_exec_with_an_empty_pod_is_an_empty_value(state_root, capsys, no_env) -> None:
    _record("alpha", PODS)
    code, out, err = cli(capsys, "sandbox", "exec", "", "--", "true")
    assert code == 2 and not out and err.startswith("Error: POD '': empty value; give a pod name"), err
    assert "no pod" not in err


# ------------------------------------------------------------------ 2: one phase in list and status


def test_status_json_phase_is_the_phase_list_shows(state_root, capsys, no_env) -> None:
    dead = state_mod.ProcessRecord("container", 2 ** 22 + 1, "fortio-v1-0", "/dev/null",
                                   component="pod fortio-v1-0 (fortio)", cgroup="/nonexistent-cgroup")
    _record("sick", PODS, processes=[dead])
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    [row] = json.loads(out)
    for output in ("json", "yaml"):
        code, out, _ = cli(capsys, "sandbox", "status", "--name", "sick", "-o", output)
        report = yaml.safe_load(out)
        assert code == 1 and report["phase"] == row["phase"] == "not ready" and not report["ready"], report
    code, out, _ = cli(capsys, "sandbox", "status", "--name", "sick")
    assert code == 1 and out.startswith("Sandbox sick: NOT READY\n"), out  # no "(phase not ready)" added
    assert state_mod.shown_phase("creating", ["x"]) == "creating" and state_mod.shown_phase("ready", []) == "ready"


# ------------------------------------------------------------------ 16, 18: exec usage, completion


def test_exec_usage_line_is_kubectls(capsys, no_env) -> None:
    code, out, _ = cli(capsys, "sandbox", "exec", "--help")
    assert code == 0 and out.splitlines()[0] == "Usage: kmeshctl sandbox exec [OPTIONS] POD -- COMMAND [args...]"


def test_exec_completes_the_pods_and_up_offers_no_existing_name(state_root, capsys, monkeypatch, no_env) -> None:
    _record("alpha", PODS)
    code, words, err = _complete(capsys, monkeypatch, "kmeshctl sandbox exec ")
    assert code == 0 and not err and words == ["waypoint", "fortio-v1-0", "fortio-v2-0", "netutils-0",
                                               "fortio", "netutils"], (words, err)
    code, words, err = _complete(capsys, monkeypatch, "kmeshctl sandbox exec net")
    assert code == 0 and words == ["netutils-0", "netutils"], words
    _record("beta", (("other-0", False),))
    code, words, err = _complete(capsys, monkeypatch, "kmeshctl sandbox exec --name beta ")
    assert code == 0 and words == ["other-0", "other"], words
    code, words, err = _complete(capsys, monkeypatch, "kmeshctl sandbox up --name ")
    # a new name: nothing to offer, and the shell is told not to offer file names either
    assert code == 0 and not err and words == [":kmeshctl-complete-nothing:"], words
