"""Pass-29 new-user findings on flags and list output (fixer F29-O), in-process through
kmeshctl.cli.main (sandbox records in a temporary state root; no cluster configured; the
commands' own work stubbed to exit 7 where a pasted line is checked):

- A: another tool's spelling of a kmeshctl flag (istioctl's -i/--istioNamespace, istiod's
  --clusterID, cilium's --cluster-name, istioctl version's --remote=false), a flag of
  another kmeshctl command (precheck --xds-address, uninstall --cluster-id), kubectl
  label's -l/--selector and --overwrite, --no-wait, helm's --create-namespace and kubectl's
  --no-headers each say kmeshctl's way, with a line that pastes when there is one;
- B: `sandbox list --name X` (or --sandbox) offers sandbox status for X, the name typed;
- C: `sandbox list -o name` and `--no-headers`; other table commands point at -o json;
- D: an empty --weights gets an example of a good value (one from the flag's help).
"""

from __future__ import annotations

import pytest

from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _assert_pastable, _line, _pasted_lines, stubbed  # noqa: F401
from test_p26_habits import kubeconfig, offline  # noqa: F401 (fixtures)
from test_p27_flag_hints import BARE, NEEDS, _leaves, one_tree, refused_with_lines_that_paste  # noqa: F401

SANDBOX = "f29o-a"  # recorded by the tests that need a sandbox to exist
RENDER = ["--xds-address", "istiod.istio-system.svc:15012"]


# ------------------------------------------------------------------ A. other tools' and other commands' flags


@pytest.mark.parametrize("words,said,pasted", [
    (["render", "-i", "istio-system", *RENDER], "did you mean --istio-namespace (istioctl's -i)?",
     ["render", "--istio-namespace", "istio-system", *RENDER]),
    (["render", "--istioNamespace=istio-system", *RENDER], "did you mean --istio-namespace (istioctl's "
     "--istioNamespace)?", ["render", "--istio-namespace=istio-system", *RENDER]),
    (["render", "--clusterID", "c1", *RENDER], "did you mean --cluster-id (istiod's --clusterID)?",
     ["render", "--cluster-id", "c1", *RENDER]),
    (["render", "--cluster-name", "c1", *RENDER], "did you mean --cluster-id (cilium's --cluster-name)?",
     ["render", "--cluster-id", "c1", *RENDER]),
    (["status", "-i", "istio-system"], "status does not need -i (istioctl's -i is --istio-namespace here, a flag "
     "of ", ["status"]),
    (["version", "--remote=false"], "did you mean --client (istioctl's --remote=false", ["version", "--client"]),
    (["version", "--remote", "false", "-o", "json"], "did you mean --client",
     ["version", "-o", "json", "--client"]),
    (["version", "--remote"], "version asks the cluster by itself when one answers", ["version"]),
    (["precheck", "--xds-address", "istiod.istio-system.svc:15012"], "precheck does not need --xds-address (a flag "
     "of render, install and node run): leave it out", ["precheck"]),
    (["uninstall", "--cluster-id", "c1"], "uninstall does not need --cluster-id (a flag of ", ["uninstall"]),
    (["disable-ns", "foo", "--overwrite"], "disable-ns needs no --overwrite (kubectl label's; enable-ns's moves a "
     "namespace from another data plane): it removes only kmesh's label", ["disable-ns", "foo"]),
    (["uninstall", "--no-wait"], "uninstall has no --no-wait (kubectl's --wait=false): it waits for each object to "
     "go by itself", ["uninstall"]),
    (["render", "--create-namespace", *RENDER], "render prints the Namespace kmesh-system (its -n) first",
     ["render", *RENDER]),
    (["install", "-n", "kmesh-x", "--create-namespace", "--cluster-id", "c1"],
     "install creates the namespace kmesh-x (its -n) itself (helm's --create-namespace)",
     ["install", "-n", "kmesh-x", "--cluster-id", "c1"]),
    (["waypoint", "list", "-o", "wide", "--no-headers"], "waypoint list has no --no-headers (kubectl's): for "
     "scripts, read its -o json", ["waypoint", "list", "-o", "json"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_another_tools_flag_says_kmeshctls_way_with_a_line_that_pastes(words, said, pasted, stubbed, capsys,
                                                                      offline) -> None:
    line = _line(capsys, *words)
    assert not BARE.fullmatch(line) and said in line, line
    assert _pasted_lines(line)[:1] == [["kmeshctl", *pasted]], line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("flag", ["-l", "--selector"])
def test_a_label_selector_on_enable_ns_gives_the_kubectl_line_that_lists_the_names(flag: str, stubbed, capsys,
                                                                                   offline, kubeconfig) -> None:
    line = _line(capsys, "enable-ns", "foo", flag, "app=x", "--kubeconfig", kubeconfig)
    assert "enable-ns takes namespace names, not a label selector (kubectl label's" in line, line
    assert f"`kubectl get namespaces -l app=x -o 'jsonpath={{.items[*].metadata.name}}' --kubeconfig {kubeconfig}`" \
        in line, line
    assert not _pasted_lines(line), line  # no kmeshctl line: enabling fewer namespaces is not what was asked


def test_a_jq_line_for_the_names_of_a_table_that_has_no_no_headers(stubbed, capsys, offline) -> None:
    line = _line(capsys, "sandbox", "status", "--name", SANDBOX, "-o", "wide", "--no-headers")
    assert f"`kmeshctl sandbox status --name {SANDBOX} -o json`, piped to `jq -r '.pods[].name'` for the names " \
        "alone" in line, line


# kmeshctl's own flags another command has, and other tools' spellings of them
NEW_FLAGS = [["-i", "istio-system"], ["--istioNamespace", "istio-system"], ["--clusterID", "c1"],
             ["--cluster-name", "c1"], ["--no-wait"], ["--xds-address", "istiod.istio-system.svc:15012"],
             ["--cluster-id", "c2"], ["--pod-namespace", "kmesh-system"]]


@pytest.mark.parametrize("words", _leaves(), ids=" ".join)
def test_no_flag_of_another_command_gets_a_bare_no_such_option(words: list[str], state_root, one_tree,  # noqa: F811
                                                              capsys, offline, kubeconfig: str) -> None:
    _record(SANDBOX)
    needs = [SANDBOX if w == "f273a" else w for w in NEEDS.get(tuple(words), [])]
    refused_with_lines_that_paste(capsys, words, needs, NEW_FLAGS, kubeconfig)


# ------------------------------------------------------------------ B. sandbox list --name X


@pytest.mark.parametrize("flag", ["--name", "--sandbox"])
def test_sandbox_list_with_a_sandboxs_name_offers_its_status(flag: str, state_root, capsys, no_env) -> None:
    _record(SANDBOX)
    for typed in ([flag, SANDBOX, "-o", "wide"], [f"{flag}={SANDBOX}", "-o", "wide"]):
        code, _, err = cli(capsys, "sandbox", "list", *typed)
        assert code == 2 and "NAME`" not in err, err
        assert f"sandbox list has no {flag} (it lists every sandbox); did you mean `kmeshctl sandbox status -o " \
               f"wide {flag} {SANDBOX}`?" in err, err


def test_sandbox_list_with_an_unknown_name_says_so(state_root, capsys, no_env) -> None:
    _record(SANDBOX)
    code, _, err = cli(capsys, "sandbox", "list", "--name", "zz9")
    assert code == 2 and "and no sandbox is named zz9 (sandboxes: " in err and \
        "without it: `kmeshctl sandbox list`" in err, err


# ------------------------------------------------------------------ C. -o name, --no-headers


def test_sandbox_list_o_name_prints_the_names_alone(state_root, capsys, no_env) -> None:
    _record(SANDBOX)
    _record("f29o-b")
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "name")
    assert code == 0 and sorted(out.splitlines()) == sorted([SANDBOX, "f29o-b"]), out


@pytest.mark.parametrize("output", [[], ["-o", "wide"]])
def test_sandbox_list_no_headers_prints_the_rows_alone(output: list[str], state_root, capsys, no_env) -> None:
    _record(SANDBOX)
    code, out, _ = cli(capsys, "sandbox", "list", "--no-headers", *output)
    assert code == 0 and "NAME" not in out and out.split()[0] == SANDBOX, out
    code, out, _ = cli(capsys, "sandbox", "list", *output)
    assert code == 0 and out.split()[0] == "NAME", out


@pytest.mark.parametrize("words,read", [
    (["waypoint", "list", "-n", "team", "-o", "name"], "`kmeshctl waypoint list -n team -o json`, piped to "
     "`jq -r '.[].name'` for the names alone"),
    (["status", "--output=name"], "`kmeshctl status -o json` ("),
])
def test_o_name_on_a_command_without_it_points_at_its_json(words, read, stubbed, capsys, offline) -> None:
    line = _line(capsys, *words)
    assert "not an accepted value; use one of table, wide, json, yaml; it has no name form (kubectl's -o name): for " \
        "scripts, read its -o json, " + read in line, line
    _assert_pastable(capsys, line)


# ------------------------------------------------------------------ D. an empty value's example


def test_an_empty_weights_gets_an_accepted_example(capsys, no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", "")
    assert code == 2 and err.startswith("Error: --weights '': empty value; give V1/V2,..., e.g. --weights 90/10 "), err
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights")
    assert code == 2 and ", e.g. --weights 90/10 " in err, err
