"""Pass-46 fixer f46b (t45a 5, 12, 13): kubeconfig problems said with the flag problems of the
same line, each with a whole line that works when pasted.

- a context namespace that is no namespace name (kc4: Team_B) is named with the other bad
  values of waypoint list / status / delete (as of apply), and the line mended carries the
  -n it means;
- an on/off flag given a value beside a current-context that is none of the kubeconfig's
  (kc5), or a --context typed in the wrong case: the did-you-mean line is the whole command
  with the flag mended ($KUBECONFIG and --kubeconfig alike);
- enable-ns / disable-ns --dry-run beside a --context slip: the "has no dry run" words stay,
  the context is named, and the read-only line offered has the context meant.

In-process through kmeshctl.cli.main, every command's own work stubbed. The kubeconfigs
point at https://127.0.0.1:1 and are only read.
"""

from __future__ import annotations

import shlex

import pytest

from test_cli_kinds import no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import _offered
from test_p44_f44b import kubeconfigs  # noqa: F401

# ------------------------------------------------------------------ 5. a context namespace that is no name


@pytest.mark.parametrize("words,line", [
    (["--kubeconfig", "kc4.yaml", "waypoint", "list", "-o", "jsn"],
     "kmeshctl --kubeconfig kc4.yaml waypoint list -o json -n team-b"),
    (["--kubeconfig", "kc4.yaml", "waypoint", "status", "-o", "jsn"],
     "kmeshctl --kubeconfig kc4.yaml waypoint status -o json -n team-b"),
    (["--kubeconfig", "kc4.yaml", "waypoint", "delete", "--name", "Wp", "--dry-run"],
     "kmeshctl --kubeconfig kc4.yaml waypoint delete --name wp --dry-run -n team-b"),
    (["--kubeconfig", "kc4.yaml", "waypoint", "delete", "--name", "wp", "--ignore-not-found=yes", "--dry-run"],
     "kmeshctl --kubeconfig kc4.yaml waypoint delete --name wp --ignore-not-found --dry-run -n team-b"),
    (["--kubeconfig", "kc4.yaml", "waypoint", "apply", "--name", "wp", "--dry-run", "-o", "yml"],
     "kmeshctl --kubeconfig kc4.yaml waypoint apply --name wp --dry-run -o yaml -n team-b"),
], ids=["list", "status", "delete-name", "delete-on-off", "apply"])
def test_a_context_namespace_that_is_no_name_is_said_with_the_flags_and_mended(
        words, line, kubeconfigs, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    said, offered = _offered(capsys, *words)
    assert "namespace Team_B of context team-b in kubeconfig kc4.yaml: not a valid namespace name" in said, said
    assert "pass -n team-b, or correct the context: `kubectl config set-context team-b --namespace=team-b " \
           "--kubeconfig kc4.yaml`" in said, said
    assert offered == [shlex.split(line)], said


def test_all_namespaces_reads_no_context_namespace(kubeconfigs, state_root, stubbed, capsys,  # noqa: F811
                                                   offline) -> None:  # noqa: F811
    said, offered = _offered(capsys, "--kubeconfig", "kc4.yaml", "waypoint", "list", "-A", "-o", "jsn")
    assert "Team_B" not in said and offered == [shlex.split("kmeshctl --kubeconfig kc4.yaml waypoint list -A -o json")]


# ------------------------------------------------------------------ 12. a current-context that is none, on/off values


@pytest.mark.parametrize("words,line", [
    (["status", "-q=1"], "kmeshctl --context prod status -q"),
    (["waypoint", "delete", "--name", "wp", "--ignore-not-found=1"],
     "kmeshctl --context prod waypoint delete --name wp --ignore-not-found"),
], ids=["status", "waypoint-delete"])
def test_kubeconfig_env_current_context_gets_the_whole_line(words, line, kubeconfigs, state_root, stubbed,  # noqa
                                                            capsys, offline, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("KUBECONFIG", "kc5.yaml")
    said, offered = _offered(capsys, *words)
    assert "current-context Prod is not one of its contexts (contexts: 'Prod Cluster', prod, dev); " \
           f"did you mean prod? `{line}`, or fix current-context" in said, said
    assert offered == [shlex.split(line)], said


def test_kubeconfig_flag_current_context_gets_the_same_line(kubeconfigs, state_root, stubbed, capsys,  # noqa: F811
                                                            offline) -> None:  # noqa: F811
    said, offered = _offered(capsys, "--kubeconfig", "kc5.yaml", "status", "-q=1")
    assert "did you mean prod? `kmeshctl --kubeconfig kc5.yaml --context prod status -q`, or fix current-context" \
           in said, said
    assert offered == [shlex.split("kmeshctl --kubeconfig kc5.yaml --context prod status -q")], said


def test_an_ns_name_word_beside_it_is_kept_and_said(kubeconfigs, state_root, stubbed, capsys, offline,  # noqa: F811
                                                    monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "kc5.yaml")
    said = _line(capsys, "waypoint", "delete", "team-a/wp1", "--ignore-not-found=1")
    assert "did you mean --name wp1 -n team-a?" in said, said
    # pass 47 (t47a 6): the word's own mend, never the word kept with "(then fix ...)" nor `--context prod` alone
    assert "did you mean prod? `kmeshctl --context prod waypoint delete --name wp1 -n team-a --ignore-not-found` " \
           "(team-a/wp1 given as --name wp1 -n team-a)" in said, said


# ------------------------------------------------------------------ 13. a --context slip beside other mistakes


@pytest.mark.parametrize("words,line", [
    (["waypoint", "delete", "--name", "wp", "--dry-run=yes"],
     "kmeshctl --kubeconfig kc1.yaml --context dev waypoint delete --name wp --dry-run"),
    (["uninstall", "--dry-run=1", "-o", "yml"],
     "kmeshctl --kubeconfig kc1.yaml --context dev uninstall --dry-run -o yaml"),
    (["waypoint", "delete", "--name", "wp", "--dry-run=yes", "-n", "Default"],
     "kmeshctl --kubeconfig kc1.yaml --context dev waypoint delete --name wp --dry-run -n default"),
], ids=["dry-run", "with-output", "with-namespace"])
def test_a_context_slip_keeps_its_did_you_mean_beside_an_on_off_value(words, line, kubeconfigs, state_root,  # noqa
                                                                      stubbed, capsys, offline) -> None:  # noqa
    said, offered = _offered(capsys, "--kubeconfig", "kc1.yaml", "--context", "Dev", *words)
    assert "--context Dev: no such context in kc1.yaml (contexts: prod, dev); did you mean dev? `" in said, said
    assert offered == [shlex.split(line)], said


@pytest.mark.parametrize("words", [["disable-ns", "default", "--dry-run", "-q=1"],
                                   ["enable-ns", "Default", "--dry-run"]], ids=["disable-on-off", "enable"])
def test_no_dry_run_is_explained_beside_a_context_slip(words, kubeconfigs, state_root, stubbed, capsys,  # noqa
                                                       offline) -> None:  # noqa: F811
    said, offered = _offered(capsys, "--kubeconfig", "kc1.yaml", "--context", "Dev", *words)
    assert f"{words[0]} has no dry run (kubectl's --dry-run)" in said, said
    assert "--context Dev" in said, said
    assert offered == [shlex.split("kmeshctl --kubeconfig kc1.yaml --context dev status")], said


def test_no_dry_run_line_keeps_the_kubeconfig_typed(kubeconfigs, state_root, stubbed, capsys,  # noqa: F811
                                                    offline) -> None:  # noqa: F811
    said, offered = _offered(capsys, "--kubeconfig", "kc1.yaml", "disable-ns", "default", "--dry-run", "-q=1")
    assert "disable-ns has no dry run (kubectl's --dry-run)" in said, said
    assert offered == [shlex.split("kmeshctl --kubeconfig kc1.yaml status")], said
