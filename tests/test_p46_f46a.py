"""Pass-46 fixer f46a (t45a 3, 4, 6, 7): the lines offered for bad input.

- a positional NS/NAME or TYPE/NAME beside another bad value: the mended line carries
  `--name NAME -n NS` on waypoint status too (its "without it" fallback is no mend), and
  NS/NAME beside another -n gets both lines;
- waypoint list's -n with -A is named at parse time, with the two lines (never both flags);
- a line that leaves out sandbox exec's POD or COMMAND, or a required flag of the command a
  typo meant (`rendr`, `instal`), says so: "(then give ... too: it is required)";
- checks a pasted line would meet are made at parse time, so no mended line fails on them:
  sandbox exec's POD name, dump's -n without --pod.

In-process through kmeshctl.cli.main (no cluster configured; no sandbox made).
"""

from __future__ import annotations

import shlex

import pytest

from kmeshctl.cli.badinput import line_problems, line_works
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p44_f44a import ROOT, _offered


def _mended(line: str) -> list[list[str]]:
    """The lines after "every value mended" in error ``line``."""
    assert "; every value mended" in line, line
    return _pasted_lines(line.partition("; every value mended")[2])


# ------------------------------------------------------------------ 3. NS/NAME beside another bad value


@pytest.mark.parametrize("words,mended", [
    ("waypoint status team-a/wp1 -o jsn", ["kmeshctl waypoint status --name wp1 -o json -n team-a"]),
    ("waypoint status team-a/wp1 -n team-a -o jsn", ["kmeshctl waypoint status --name wp1 -n team-a -o json"]),
    ("waypoint status gateway/wp1 -o jsn", ["kmeshctl waypoint status --name wp1 -o json"]),
    ("waypoint status Wp1 -o jsn", ["kmeshctl waypoint status --name wp1 -o json"]),
    ("waypoint delete team-a/wp1 -o jsn --dry-run",
     ["kmeshctl waypoint delete --name wp1 -o json --dry-run -n team-a"]),
    ("waypoint apply team-a/wp1 -o jsn --dry-run",
     ["kmeshctl waypoint apply --name wp1 -o json --dry-run -n team-a"]),
    ("waypoint delete team-a/wp1 -n team-b -o jsn --dry-run",
     ["kmeshctl waypoint delete --name wp1 -n team-a -o json --dry-run",
      "kmeshctl waypoint delete --name wp1 -n team-b -o json --dry-run"]),
    ("waypoint status team-a/wp1 -n team-b -o jsn",
     ["kmeshctl waypoint status --name wp1 -n team-a -o json",
      "kmeshctl waypoint status --name wp1 -n team-b -o json"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_namespaced_name_beside_another_bad_value_keeps_it(words, mended, capsys, stubbed,  # noqa: F811
                                                             state_root, offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, *shlex.split(words))
    assert _mended(line) == [shlex.split(each) for each in mended], line
    assert "without it: leave" not in line and "give one: wp1" not in line, line


# ------------------------------------------------------------------ 4. waypoint list -n with -A


@pytest.mark.parametrize("words,said,lines", [
    ("waypoint list -n Foo -o jsn -A=1", "also -n Foo and -A do not go together (-A lists every namespace)",
     ["kmeshctl waypoint list -n foo -o json", "kmeshctl waypoint list -o json -A"]),
    ("waypoint list -n Foo -A", "also -n Foo and -A do not go together",
     ["kmeshctl waypoint list -n foo", "kmeshctl waypoint list -A"]),
    ("waypoint list -n foo -A=1", "also -n foo and -A do not go together",
     ["kmeshctl waypoint list -n foo", "kmeshctl waypoint list -A"]),
], ids=lambda v: v if isinstance(v, str) and v.startswith("waypoint") else None)
def test_namespace_and_all_namespaces_named_with_the_other_bad_values(words, said, lines, capsys,
                                                                      offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, *shlex.split(words))
    assert said in line and _mended(line) == [shlex.split(each) for each in lines], line


def test_namespace_and_all_namespaces_alone_gives_both_lines(capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "waypoint", "list", "-n", "foo", "-o", "json", "-A")
    said = "Error: -n foo and -A do not go together (-A lists every namespace): give one of them: "
    assert line.startswith(said), line
    assert offered == [shlex.split("kmeshctl waypoint list -n foo -o json"),
                       shlex.split("kmeshctl waypoint list -o json -A")], line


# ------------------------------------------------------------------ 6. a required argument or flag left out


@pytest.mark.parametrize("words,offered,note", [
    ("sandbox exec -n Default -- true", "kmeshctl sandbox exec -n default -- true",
     "(then give POD (the pod to run in, before --) too: it is required)"),
    ("sandbox exec -n Default netutils", "kmeshctl sandbox exec -n default netutils",
     "(then give COMMAND (the command to run, after --) too: it is required)"),
    ("sandbox exec -it -n Default", "kmeshctl sandbox exec -i -t -n default",
     "(then give POD (the pod to run in, before --) and COMMAND (the command to run, after --) too: "
     "they are required)"),
    ("rendr --cluster-id c1", "kmeshctl render --cluster-id c1",
     "(then give --xds-address (istiod's xDS Service (HOST:PORT)) too: it is required)"),
    ("instal --cluster-id c1 --dry-run", "kmeshctl install --cluster-id c1 --dry-run",
     "(then give --xds-address (istiod's xDS Service (HOST:PORT)) too: it is required)"),
    ("sandbox exc -n Default -- true", "kmeshctl sandbox exec -n default -- true",
     "then give POD (the pod to run in, before --) too: it is required)"),
], ids=lambda v: v if isinstance(v, str) and not v.startswith(("kmeshctl", "(", "then")) else None)
def test_a_line_that_leaves_out_what_is_required_says_so(words, offered, note, capsys, state_root,  # noqa: F811
                                                        offline) -> None:  # noqa: F811
    line = _line(capsys, *shlex.split(words))
    assert f"`{offered}`" in line and note in line.partition(f"`{offered}`")[2].partition("`")[0], line
    given = shlex.split(offered)
    assert not line_problems(given, ROOT, given_only=True), line  # only what it leaves out is refused
    assert all(" is required (" in problem for problem in line_problems(given, ROOT)), line


def test_a_whole_exec_line_needs_no_note(capsys, state_root, offline) -> None:  # noqa: F811
    line = _line(capsys, "sandbox", "exec", "netutils", "-n", "Default", "--", "true")
    assert "`kmeshctl sandbox exec netutils -n default -- true`" in line and "then give" not in line, line
    assert line_works(shlex.split("kmeshctl sandbox exec netutils -n default -- true"), ROOT)


# ------------------------------------------------------------------ 7. checks a pasted line meets, at parse time


@pytest.mark.parametrize("words,mended", [
    ("sandbox exec Netutils_0 --name T45A -n Default -- true",
     "kmeshctl sandbox exec netutils-0 --name t45a -n default -- true"),
    ("sandbox exec Netutils_0 -n Default -- true", "kmeshctl sandbox exec netutils-0 -n default -- true"),
    ("dump config -n Kmesh_System -o jsn", "kmeshctl dump config -o json"),
    ("dump maps -n Kmesh_System --map km_fronted", "kmeshctl dump maps --map km_frontend"),
    ("dump config pod/kmesh-1 -n kmesh-system -o jsn", "kmeshctl dump config -o json"),
    ("dump config --namespace=kmesh-system -o jsn", "kmeshctl dump config -o json"),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("kmeshctl") else None)
def test_every_value_mended_line_is_not_refused_when_pasted(words, mended, capsys, state_root,  # noqa: F811
                                                            offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, *shlex.split(words))
    assert _mended(line) == [shlex.split(mended)], line


def test_a_pod_name_is_said_with_the_other_bad_values(capsys, state_root, offline) -> None:  # noqa: F811
    line = _line(capsys, "sandbox", "exec", "Netutils_0", "--name", "T45A", "-n", "Default", "--", "true")
    assert "; also POD Netutils_0: not a valid pod name" in line and "did you mean netutils-0?" in line, line


@pytest.mark.parametrize("words,flag", [
    ("dump config -n Kmesh_System", "-n"),
    ("dump maps --namespace Kmesh_System", "--namespace"),
    ("dump config -n kmesh-system", "-n"),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_dump_namespace_without_pod_is_refused_whatever_its_name(words, flag, capsys, state_root,  # noqa: F811
                                                                 offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(words))
    value = shlex.split(words)[-1]
    assert line.startswith(f"Error: {flag} {value}: {flag} is the namespace of the agent pod --pod names; "), line
    assert "not a valid namespace name" not in line and "e.g. -n kmesh-system" not in line, line
    assert offered == [["kmeshctl", *shlex.split(words)[:2]]], line


def test_dump_namespace_with_pod_is_still_mended(capsys, state_root, offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, "dump", "config", "--pod", "kmesh-1", "-n", "Kmesh_System", "-o", "jsn")
    assert _mended(line) == [shlex.split("kmeshctl dump config --pod kmesh-1 -n kmesh-system -o json")], line


def test_a_command_after_the_separator_is_not_checked_as_a_pod(capsys, state_root, offline) -> None:  # noqa: F811
    line = _line(capsys, "sandbox", "exec", "-n", "Default", "--", "Curl_X", "a")
    assert "POD Curl_X" not in line and "`kmeshctl sandbox exec -n default -- Curl_X a`" in line, line
    assert "(then give POD (the pod to run in, before --) too: it is required)" in line, line
