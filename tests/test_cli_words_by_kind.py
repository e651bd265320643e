"""Issue 14, ninth new-user pass: one test per kind of fault, across every command it
reaches, without a real sandbox (kmeshctl.cli.main in-process; sandbox records in a
temporary state root instead of /run/kmeshctl, so no real sandbox is touched). The
real-sandbox side of these kinds is tests/test_cli_sandbox_lifecycle_words.py.

1 the sandbox name rule (hyphens) stated and applied alike; 2 `sandbox up`'s Try line
only offers what works; 3 half-created / half-removed sandboxes named with a pasteable
fix by every command; 5 -n on a local dump refused; 6 `sandbox up -f` messages and
stdin; 7 deletes of a missing named object; 8 failed-up leftovers; 10 terminal lines
never end in spaces and never split a path; 11 no spaces in number lists; 12 "did you
mean" for values and flag synonyms; 13 no sandbox at all; 14 `sandbox list -o json`."""

from __future__ import annotations

import io
import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import typer
from rich.table import Table

from kmeshctl import sandboxes
from kmeshctl.cli import app
from kmeshctl.cli.tables import cli_console
from kmeshctl.sandbox import manifests as manifests_mod
from kmeshctl.sandbox.state import NAME_RULE, PHASE_REMOVING, SandboxState, check_name, failed_up_logs
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_newuser import _record

ROOT = typer.main.get_command(app)
FORTIO_PODS = (("waypoint", True), ("fortio-v1-0", False), ("fortio-v2-0", False), ("netutils-0", False))


def _fortio(name: str, phase: str = "ready") -> SandboxState:
    state = _record(name, FORTIO_PODS)
    state.vips = {"default/fortio": "10.96.0.10"}
    state.phase = phase
    state.save()
    return state


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------ 1. sandbox names


@pytest.mark.parametrize("name", ["a", "team-a", "a-b-c", "x" * 16, "9-9"])
def test_a_sandbox_name_takes_hyphens_inside(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["-a", "a-", "x" * 17, "A", "a_b", "a.b", ""])
def test_every_flag_naming_a_sandbox_states_the_one_rule(name: str, state_root, capsys, no_env) -> None:
    for args, flag in ((["sandbox", "up", "--name", name], "--name"), (["sandbox", "status", "--name", name], "--name"),
                       (["dump", "maps", "--sandbox", name], "--sandbox")):
        code, out, err = cli(capsys, *args)
        if not name:
            continue  # an empty name means "the default" for these commands
        line = _one_error_line(err)
        assert code == 2 and not out and "not a sandbox name" in line and NAME_RULE in line, err
        assert line.startswith(f"Error: {flag} "), err


def test_the_name_rule_is_in_the_help_of_every_flag_that_names_a_sandbox() -> None:
    found = []
    for words in (["sandbox", "up"], ["sandbox", "down"], ["sandbox", "status"], ["sandbox", "exec"],
                  ["demo", "traffic-shift"], ["dump", "maps"], ["dump", "config"]):
        command = ROOT
        for word in words:
            command = command.commands[word]
        option = next(p for p in command.params if p.name in ("name", "sandbox"))
        assert NAME_RULE in " ".join(option.help.split()), (words, option.help)
        found.append(words)
    assert len(found) == 7
    docs = " ".join((Path(__file__).resolve().parent.parent / "docs" / "sandbox.md").read_text().split())
    assert "1-16 lowercase letters, digits or `-`, starting and ending with a letter or digit" in docs


def test_a_hyphen_is_spelled_apart_in_the_netns_prefix_so_no_prefix_owns_another_sandbox() -> None:
    names = ["a", "a-b", "ab", "a-bc", "a-b-c"]
    prefixes = {n: SandboxState(name=n).netns_prefix for n in names}
    assert prefixes["a"] == "ksba" and prefixes["a-b"] == "ksba_b"  # unchanged for names without '-'
    for one in names:
        for other in names:
            if one != other:
                netns = f"{prefixes[other]}-net"
                assert not netns.startswith(f"{prefixes[one]}-"), (one, other)


# ------------------------------------------------------------------ 2. the Try line of `up`


def test_the_try_line_offers_the_demo_only_to_a_sandbox_that_can_run_it(state_root, no_env) -> None:
    from kmeshctl.cli.sandbox import up_hint

    bare = _record("bare")  # a Namespace only: no fortio Service, no netutils pod
    fortio = _fortio("demo")
    assert up_hint("bare", bare) == ("Sandbox bare is up. Try: kmeshctl sandbox status --name bare; "
                                     "kmeshctl dump maps --sandbox bare")
    assert "kmeshctl demo traffic-shift --sandbox demo" in up_hint("demo", fortio)


# ------------------------------------------------------------------ 3. half-created / half-removed


@pytest.mark.parametrize("phase,word", [("creating", "half-created"), (PHASE_REMOVING, "half-removed")])
def test_every_command_names_an_unfinished_sandbox_with_a_fix_that_works_pasted(phase: str, word: str, state_root,
                                                                                 capsys, no_env) -> None:
    _fortio("nu9b", phase)  # `up` killed (no pid runs it) / `down` interrupted
    fix = "kmeshctl sandbox down --name nu9b && kmeshctl sandbox up --name nu9b"
    cases = [
        (["demo", "traffic-shift", "--name", "nu9b", "--target", "local"], f"{fix} && kmeshctl demo traffic-shift "
                                                                           "--name nu9b --target local"),  # h62; the flag as typed
        (["dump", "maps", "--sandbox", "nu9b"], f"{fix} && kmeshctl dump maps --sandbox nu9b"),
        (["dump", "config", "--sandbox", "nu9b"], f"{fix} && kmeshctl dump config --sandbox nu9b"),
        (["sandbox", "exec", "netutils", "--name", "nu9b", "--", "true"],
         f"{fix} && kmeshctl sandbox exec netutils --name nu9b -- true"),  # made again, then the exec
        (["sandbox", "up", "--name", "nu9b"], fix),
    ]
    for args, command in cases:
        code, out, err = cli(capsys, *args)
        line = _one_error_line(err.replace("Target: local sandbox nu9b\n", ""))  # the demo's first line
        assert code == 1 and not out, (args, err)
        assert f"sandbox nu9b is {word} (a `sandbox {'up' if word == 'half-created' else 'down'}` did not finish): " \
               f"run `{command}`" in line, (args, err)
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    assert json.loads(out)[0]["problems"][0].startswith(f"{word}: "), out


# ------------------------------------------------------------------ 5. -n on a local dump


@pytest.mark.parametrize("args", [["dump", "maps", "-n", "foo", "--sandbox", "nu9a"],
                                  ["dump", "config", "-n", "foo", "--sandbox", "nu9a"],
                                  ["dump", "maps", "--namespace", "foo"], ["dump", "config", "--namespace=foo"]])
def test_a_namespace_on_a_local_dump_is_refused_not_ignored(args: list[str], state_root, capsys, no_env) -> None:
    _fortio("nu9a")
    code, out, err = cli(capsys, *args)
    flag = "-n" if "-n" in args else "--namespace"
    line = _one_error_line(err)
    assert code == 2 and not out, err
    assert line.startswith(f"Error: {flag} foo: {flag} is the namespace of the agent pod --pod names; the local "
                           f"data path is shown whole, not by namespace: leave out {flag}"), err


# ------------------------------------------------------------------ 6. `sandbox up -f`


def test_up_f_messages_start_with_the_flag_and_the_path(tmp_path: Path, state_root, capsys, no_env) -> None:
    empty = tmp_path / "emptydir"
    empty.mkdir()
    secret = tmp_path / "secret.yaml"
    secret.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    code, out, err = cli(capsys, "sandbox", "up", "--name", "s41f", "-f", f"{empty}/")
    assert code == 2 and not out and _one_error_line(err).startswith(
        f"Error: -f {empty}/: no YAML manifests in this directory (no *.yaml or *.yml file)"), err
    code, out, err = cli(capsys, "sandbox", "up", "--name", "s41f", "--filename", str(secret))
    assert code == 2 and _one_error_line(err).startswith(f"Error: --filename {secret}: document 1: kind Secret is "
                                                         "not supported in the sandbox"), err
    assert sandboxes.names() == []


def test_up_reads_stdin_for_f_dash_as_kubectl(monkeypatch, state_root, capsys, no_env) -> None:
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n"
    monkeypatch.setattr(manifests_mod, "_stdin_text", [])
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    loaded = manifests_mod.load([Path("-"), Path("-")])  # read once, as kubectl reads stdin once
    assert [d["metadata"]["name"] for d in loaded.documents] == ["team-a", "team-a"]
    monkeypatch.setattr(manifests_mod, "_stdin_text", [])
    monkeypatch.setattr(sys, "stdin", io.StringIO("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"))
    code, out, err = cli(capsys, "sandbox", "up", "--name", "s41f", "-f", "-")
    assert code == 2 and _one_error_line(err).startswith("Error: -f -: document 1: kind Secret is not supported"), err


def test_the_kinds_of_the_help_are_the_kinds_of_the_error(tmp_path: Path, state_root, capsys, no_env) -> None:
    kinds = ", ".join(manifests_mod.SUPPORTED_KINDS)
    help_text = " ".join(ROOT.commands["sandbox"].commands["up"].help.split())
    assert f"Create the sandbox from Kubernetes YAML ({kinds})." in help_text
    other = tmp_path / "cm.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    _, _, err = cli(capsys, "sandbox", "up", "--name", "s41f", "-f", str(other))
    assert f"(supported: {kinds})" in err, err


# ------------------------------------------------------------------ 7. deletes of a missing object


def test_bench_cleanup_of_a_run_that_left_nothing_is_not_found_like_every_delete(capsys, no_env) -> None:
    code, out, err = cli(capsys, "bench", "cleanup", "--run-id", "abcdef")
    assert code == 1 and not out, err
    assert _one_error_line(err).startswith("Error: benchmark run abcdef not found (") and \
        err.rstrip().endswith("; `kmeshctl bench cleanup --run-id abcdef --ignore-not-found` makes this exit 0"), err
    code, out, err = cli(capsys, "bench", "cleanup", "--run-id", "abcdef", "--ignore-not-found")
    assert code == 0 and not out and not err
    help_text = " ".join(ROOT.commands["bench"].commands["cleanup"].help.split())
    for touched in ("kmdpID-*", "<cgroup v2>/kmdp-ID", "/sys/fs/bpf/kmdp-ID", "$TMPDIR/kmdp-ID-*",
                    "cleanup stops it"):
        assert touched in help_text, help_text


# ------------------------------------------------------------------ 8. failed-up leftovers


def test_a_failed_ups_logs_are_listed_and_down_says_it_removed_them(state_root, capsys, no_env) -> None:
    logs = failed_up_logs("nu9c")
    logs.mkdir(parents=True)
    (logs / "controlplane.log").write_text("Killed\n")
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    row = json.loads(out)[0]
    assert code == 0 and row["name"] == "nu9c" and row["phase"] == "failed" and not row["ready"], out
    assert f"only its logs are left, in {logs}: `kmeshctl sandbox down --name nu9c` removes them" in row["problems"][0]
    code, out, _ = cli(capsys, "sandbox", "list")
    assert re.search(r"^nu9c\s+failed\s+0\s", out, re.MULTILINE), out
    code, out, err = cli(capsys, "sandbox", "down", "--name", "nu9c")
    assert code == 0 and out.strip() == (f"Sandbox nu9c did not exist; removed the logs its failed `sandbox up` left "
                                         f"in {logs}."), (out, err)
    assert not logs.exists()
    code, out, err = cli(capsys, "sandbox", "down", "--name", "nu9c")
    assert code == 1 and "sandbox nu9c not found" in err


# ------------------------------------------------------------------ 10. terminal lines


def test_terminal_text_wraps_between_words_keeps_paths_whole_and_ends_no_line_in_spaces() -> None:
    out = io.StringIO()
    console = cli_console(file=out, width=60, force_terminal=True)
    path = "unix:/run/kmeshctl/sandbox-nu9a/envoy-admin-default-waypoint.sock"
    console.print(f"Waypoint default/waypoint (pod waypoint, 10.244.0.2:15008): ready, 1 listener(s); admin {path}")
    console.print("Split check (binomial test): p = 1, [green]consistent with the weights[/].")
    console.print("enrolled locally: default/fortio-v1-0, default/fortio-v2-0, default/netutils-0")
    table = Table("VERSION", "SERVER", "CONFIGURED", "OBSERVED", "SHARE", title="Phase 1: 20 requests, 0 failed",
                  title_justify="left")  # the demo's: wider than its title
    table.add_row("v1", "1", "90%", "18", "90.0%")
    console.print(table)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    lines = plain.split("\n")
    assert path in lines, plain  # whole, on a line of its own (the terminal folds it)
    assert "Phase 1: 20 requests, 0 failed" in lines, plain  # the title is not padded
    assert not [line for line in lines if line != line.rstrip()], plain
    assert all(len(line) <= 60 for line in lines if path not in line), plain


# ------------------------------------------------------------------ 11. spaces in numbers


@pytest.mark.parametrize("args,meant", [
    (["demo", "traffic-shift", "--weights", " 50/50"], "--weights 50/50"),
    (["demo", "traffic-shift", "--weights", "50/50 "], "--weights 50/50"),
    (["demo", "traffic-shift", "--weights", "50 /50"], "--weights 50/50"),
    (["demo", "traffic-shift", "--weights", "90/10, 0/100"], "--weights 90/10,0/100"),
    (["bench", "dataplane", "--client-cpus", "0, 1"], "--client-cpus 0,1"),
    (["bench", "dataplane", "--mesh-cpus", " 1"], "--mesh-cpus 1"),
])
def test_a_number_list_with_spaces_is_refused_with_the_value_meant(args: list[str], meant: str, capsys,
                                                                   no_env) -> None:
    code, out, err = cli(capsys, *args)
    line = _one_error_line(err)
    said = ": contains spaces; use the numbers without spaces: `kmeshctl " + " ".join(args[:2]) + " " + meant + "`"
    assert code == 2 and not out and said in line, err  # a whole line since pass 39 (t39b 4)


# ------------------------------------------------------------------ 12. did you mean


@pytest.mark.parametrize("typed,meant", [("backend", "km_backend"), ("KM_SERVICE", "km_service"),
                                         ("km_servce", "km_service"), ("manage", "km_manage")])
def test_an_unknown_map_name_gets_the_closest_names(typed: str, meant: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, "dump", "maps", "--map", typed)
    assert code == 2 and not out and f"did you mean {meant}?" in _one_error_line(err), err


@pytest.mark.parametrize("args,hint", [
    (["demo", "traffic-shift", "--count", "5"], "did you mean -c/--requests?"),
    (["demo", "traffic-shift", "--num=5"], "did you mean -c/--requests?"),
    (["demo", "traffic-shift", "--number", "5"], "did you mean -c/--requests?"),
    (["bench", "dataplane", "--runs", "1"], "did you mean --repeats?"),
    (["sandbox", "up", "--file", "x.yaml"], "did you mean -f/--filename?"),
])
def test_a_flag_other_tools_spell_so_gets_the_one_kmeshctl_has(args: list[str], hint: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, *args)
    line = _one_error_line(err)
    assert code == 2 and not out and hint in line and line.count("did you mean") == 1, err


# ------------------------------------------------------------------ 13. no sandbox at all


@pytest.mark.parametrize("args", [["sandbox", "status"], ["sandbox", "exec", "netutils", "--", "true"],
                                  ["sandbox", "down"]])
def test_with_no_sandbox_a_command_says_none_is_up_not_a_default_name(args: list[str], state_root, capsys,
                                                                      no_env) -> None:
    code, out, err = cli(capsys, *args)
    line = _one_error_line(err)
    assert code == 1 and not out and line.startswith("Error: no sandbox is up") and "sandbox kmesh" not in line, err
    assert ("nothing to remove; `kmeshctl sandbox down --ignore-not-found` makes this exit 0" if "down" in args
            else "start one with `kmeshctl sandbox up`") in line, err


# ------------------------------------------------------------------ 14. sandbox list -o json


def test_sandbox_list_json_has_an_rfc3339_creation_time_beside_the_age(state_root, capsys, no_env) -> None:
    state = _fortio("nu9a")
    state.created_at = time.time() - 90
    state.save()
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    row = json.loads(out)[0]
    created = datetime.strptime(row["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert code == 0 and abs(created.timestamp() - state.created_at) < 1 and row["age"] == "1m", row
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "yaml")
    assert f"created: '{row['created']}'" in out or f"created: {row['created']}" in out, out
