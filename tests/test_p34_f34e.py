"""CLI hints of pass 34 (issue 14, f34e): a hint never offers a flag of another meaning, and
every line it gives passes the check it is offered for.

1 another command's flag (`status --istio-namespace X`, `version --name x`) is never
  offered as a near flag of another meaning (--namespace: another target): the line without
  it; `waypoint list --name east` is `waypoint status --name east`;
2 the "--cluster-id is required" line carries an xDS address that passes (`istiod:15012`
  is refused offline: the line has istiod's Service DNS name);
3 a waypoint name in capitals gets the line with the name meant; a list of names a line for
  each, never the default waypoint's;
4 kubectl's `-v=6` / `-v6` on demo traffic-shift (whose -v is on/off) says -v takes no
  level, with the line;
5 `kmeshctl -o <TAB>` offers only the values the commands below share (never sandbox
  list's own `name`);
6 the .png path a --plot fix offers carries --force when that file exists;
7 `status WORD`: status takes no arguments; the line without the word, the word as
  --namespace only where kmesh is installed (a stand-in API server says).

In-process (kmeshctl.cli.main), HOME a temporary directory; a stand-in API server for 7."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, leaf_commands, no_env  # noqa: F401


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env) -> Path:  # noqa: F811
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _lines(err: str) -> list[str]:
    return re.findall(r"`(kmeshctl [^`]*)`", err)


# ------------------------------------------------------------------ 1. another command's flag

@pytest.mark.parametrize("typed,line", [
    (["status", "--istio-namespace", "X"], "kmeshctl status"),
    (["version", "--istio-namespace", "X"], "kmeshctl version"),
    (["waypoint", "apply", "--istio-namespace", "X"], "kmeshctl waypoint apply"),
    (["waypoint", "list", "--istio-namespace=X"], "kmeshctl waypoint list"),
    (["waypoint", "status", "--istio-namespace", "X"], "kmeshctl waypoint status"),
    (["waypoint", "delete", "-n", "a", "--istio-namespace", "X"], "kmeshctl waypoint delete -n a"),
    (["demo", "traffic-shift", "--istio-namespace", "X"], "kmeshctl demo traffic-shift"),
    (["uninstall", "--name", "kmesh"], "kmeshctl uninstall"),
    (["version", "--name", "x"], "kmeshctl version"),
    (["demo", "traffic-shift", "--port", "80"], "kmeshctl demo traffic-shift"),
    (["waypoint", "list", "--name", "east"], "kmeshctl waypoint status --name east"),
    (["waypoint", "list", "-A", "--name=East", "-o", "json"], "kmeshctl waypoint status -o json --name east"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_another_commands_flag_is_never_offered_as_one_of_another_meaning(typed, line, capsys, offline) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "did you mean" not in err and _lines(err) == [line], err


@pytest.mark.parametrize("typed,meant", [
    (["render", "--pod-namespace", "x"], "--namespace"),  # node run's: the agent's namespace, kmesh's; not Istio's
    (["node", "run", "--pod", "x"], "--pod-name"),  # dump's: an agent pod's name; not its namespace
    (["dump", "maps", "--pod-name", "x"], "--pod"),  # node run's: the same, spelled apart
    (["status", "--pod-namespace", "x"], "--namespace"),
    (["waypoint", "envoy", "--envoy-admin-port", "1"], "--admin-port"),  # Envoy's admin port both
    (["waypoint", "list", "--all"], "--all-namespaces"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_flag_of_the_same_meaning_is_offered_alone(typed, meant, capsys, offline) -> None:
    code, _, err = cli(capsys, *typed)
    # a line that still lacks a flag its command requires says so after it: "(then give --xds-address ... too: ...)"
    assert code == 2 and re.search(rf"; did you mean {meant}\? `kmeshctl [^`]*{meant}[^`]*` (\(then give [^`]*\) )?\(see",
                                   err), err


def test_every_flag_offered_for_another_commands_flag_names_the_same_thing(capsys, offline) -> None:
    """The kind: over every command and every flag some other command has, a "did you mean"
    names only flags of the same meaning (suggestions.flag_meaning)."""
    from kmeshctl.cli.option_hints import option_suggestions
    from kmeshctl.cli.suggestions import flag_meaning

    leaves = leaf_commands()
    owners: dict[str, list[tuple[str, ...]]] = {}
    for words, command in leaves:
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" and not param.hidden else ():
                if opt.startswith("--"):
                    owners.setdefault(opt, []).append(tuple(words))
    for words, command in leaves:
        own = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        for flag, where in owners.items():
            if flag in own or flag == "--timeout" or not option_suggestions(flag, command):
                continue  # --timeout: the request timeout, said as such; none near it: nothing offered
            _, _, err = cli(capsys, *words, flag, "x")
            offered = re.search(r"No such option: \S+; did you mean ((?:--[\w-]+(?:, | or )?)+)\?", err)
            for meant in re.findall(r"--[\w-]+", offered.group(1)) if offered else ():
                assert flag_meaning(words, meant) in {flag_meaning(w, flag) for w in where}, (words, flag, err)


# ------------------------------------------------------------------ 2. the xDS address of the required-flag line

@pytest.mark.parametrize("address", ["istiod:15012", "istiod.istio-system:15012",
                                     "istiod.istio-system.svc.cluster.local:15012"])
def test_the_cluster_id_line_carries_an_address_that_renders(address, capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", address)
    assert code == 2 and "--cluster-id is required" in err and f"--xds-address {address}:" in err, err
    [line] = _lines(err)
    assert line == "kmeshctl render --xds-address istiod.istio-system.svc:15012 --cluster-id c1", err
    code, out, err = cli(capsys, *shlex.split(line)[1:])
    assert code == 0 and "kind: DaemonSet" in out, err


def test_install_says_the_same(capsys, offline) -> None:
    code, _, err = cli(capsys, "install", "--xds-address=istiod:15012", "--dry-run")
    assert code == 2 and _lines(err) == [
        "kmeshctl install --xds-address istiod.istio-system.svc:15012 --dry-run --cluster-id c1"], err


def test_an_address_that_passes_is_kept(capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", "10.0.0.7:15012")
    assert code == 2 and _lines(err) == ["kmeshctl render --xds-address 10.0.0.7:15012 --cluster-id c1"], err


# ------------------------------------------------------------------ 3. waypoint names

@pytest.mark.parametrize("typed,line", [
    (["waypoint", "apply", "--name", "East"], "kmeshctl waypoint apply --name east"),
    (["waypoint", "status", "--name=Bad_W"], "kmeshctl waypoint status --name=bad-w"),
    (["demo", "traffic-shift", "--target", "cluster", "--waypoint", "Bad_W"],
     "kmeshctl demo traffic-shift --target cluster --waypoint bad-w"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_waypoint_name_in_capitals_gets_the_line_with_the_name_meant(typed, line, capsys, offline) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and "not a valid waypoint name" in err and _lines(err) == [line], err


@pytest.mark.parametrize("command", [["waypoint", "delete"], ["waypoint", "apply"]])
def test_a_list_of_waypoint_names_is_one_line_each(command, capsys, offline) -> None:
    code, _, err = cli(capsys, *command, "-n", "a", "--name", "east,West")
    assert code == 2 and "names several waypoints (--name takes one per run)" in err, err
    assert _lines(err) == [shlex.join(["kmeshctl", *command, "-n", "a", "--name", name]) for name in ("east", "west")]
    assert "--name waypoint" not in err, err  # the default waypoint: another target


# ------------------------------------------------------------------ 4. kubectl's -v=N on demo's on/off -v

@pytest.mark.parametrize("level", ["-v=6", "-v6"])
def test_a_log_level_on_demos_v_says_it_takes_none_with_the_line(level, capsys, offline) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "x", level)
    assert code == 2 and "demo traffic-shift's -v takes no level (kubectl's -v sets one)" in err, err
    assert _lines(err) == ["kmeshctl demo traffic-shift --sandbox x -v"], err


def test_level_zero_is_kubectls_default_the_line_leaves_v_out(capsys, offline) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "x", "-v=0")
    assert code == 2 and _lines(err) == ["kmeshctl demo traffic-shift --sandbox x"], err


# ------------------------------------------------------------------ 5. completion of -o before the command

def _complete(capsys, monkeypatch, line: str) -> list[str]:
    from test_cli_value_completion import completed_in_process

    return completed_in_process(capsys, monkeypatch, line)


@pytest.mark.parametrize("line", ["kmeshctl -o ", "kmeshctl -o=", "kmeshctl --output ", "kmeshctl sandbox -o "])
def test_output_before_the_command_offers_what_the_commands_share(line, capsys, monkeypatch, offline) -> None:
    assert _complete(capsys, monkeypatch, line) == ["table", "wide", "json", "yaml"]


def test_sandbox_lists_own_name_is_offered_on_it(capsys, monkeypatch, offline) -> None:
    assert "name" in _complete(capsys, monkeypatch, "kmeshctl sandbox list -o ")


# ------------------------------------------------------------------ 6. --plot's .png line and an existing file

@pytest.mark.parametrize("typed,meant", [("p.jpg", "p.png"), ("p", "p.png"), ("d/", "d/demo.png"),
                                         ("d", "d/demo.png")])
def test_the_png_offered_for_plot_is_a_free_name_when_it_exists(typed, meant, capsys, offline) -> None:
    """pass 44 (t43b 8): the .png meant exists: a free name like it, never a --force the user did
    not type (it would replace a file they never named)."""
    (offline / "d").mkdir()
    args = ["demo", "traffic-shift", "--sandbox", "x", "--plot", typed]
    code, _, err = cli(capsys, *args)
    assert code == 2 and f", e.g. --plot {meant}: `" in err, err
    assert _lines(err) == [shlex.join(["kmeshctl", *args[:-1], meant])], err
    (offline / meant).write_bytes(b"")
    free = meant.replace(".png", "-1.png")
    code, _, err = cli(capsys, *args)
    assert code == 2 and f", e.g. --plot {free} ({meant} exists): `" in err, err
    assert _lines(err) == [shlex.join(["kmeshctl", *args[:-1], free])], err
    code, _, err = cli(capsys, *args, "--force")  # typed: kept, on the free name
    assert code == 2 and _lines(err) == [shlex.join(["kmeshctl", *args[:-1], free, "--force"])], err


# ------------------------------------------------------------------ 7. status WORD

@pytest.mark.parametrize("command", ["status", "version"])
def test_a_word_after_status_offers_the_line_without_it_first(command, capsys, offline) -> None:
    code, _, err = cli(capsys, command, "pods")
    assert code == 2 and "this command takes no positional arguments" in err, err
    assert _lines(err) == [f"kmeshctl {command}", f"kmeshctl {command} --namespace pods"], err  # no cluster: both
    code, _, err = cli(capsys, command, "kmesh-system")
    assert code == 2 and _lines(err) == [f"kmeshctl {command}"], err  # its -n's default


def _install_in(cluster, namespace: str) -> None:  # noqa: F811
    from standin.fixtures import namespace as namespace_object

    from kmeshctl.render import DAEMONSET_NAME, MANAGED_BY_LABEL

    cluster.server.put(namespace_object(namespace))
    cluster.server.put({"apiVersion": "apps/v1", "kind": "DaemonSet",
                        "metadata": {"name": DAEMONSET_NAME, "namespace": namespace,
                                     "labels": {MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]}},
                        "spec": {"selector": {"matchLabels": {"app": "kmesh"}},
                                 "template": {"metadata": {"labels": {"app": "kmesh"}},
                                              "spec": {"containers": [{"name": "kmesh", "image": "kmesh"}]}}}})


def test_the_cluster_says_whether_the_word_is_where_kmesh_is_installed(cluster) -> None:  # noqa: F811
    _install_in(cluster, "kmesh-prod")
    kubeconfig = str(cluster.kubeconfig)
    result = cluster.kmeshctl("status", "pods")
    assert result.code == 2 and "namespace pods holds no kmesh install" in result.err, result.err
    assert _lines(result.err) == [f"kmeshctl --kubeconfig {kubeconfig} status"], result.err
    result = cluster.kmeshctl("status", "kmesh-prod")
    assert result.code == 2 and "kmesh is installed in namespace kmesh-prod" in result.err, result.err
    assert _lines(result.err) == [f"kmeshctl --kubeconfig {kubeconfig} status --namespace kmesh-prod"], result.err
