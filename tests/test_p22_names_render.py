"""Reviewer pass 22, fixer C.

1. A waypoint name is checked by one rule (kmeshctl.params.DNS1123_LABEL_RE through
   kmeshctl.namespaces.check_names, the check kmeshctl.cli.names.check_waypoint_name
   makes): `waypoint`'s check_params and the demo's --waypoint no longer keep a twin
   pattern ending in `$`, which let a trailing newline through ("wp\\n").
2. The offline render a dry run suggests says why istiod's address is a placeholder as
   it is: a configured cluster that does not answer "could not be reached"; "no cluster
   to look istiod up in" only when none is configured at all.

Real parts: the library functions, kmeshctl.cli.main in-process; the dead cluster is a
kubeconfig pointing at 127.0.0.1:1 (nothing listens there)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)
from test_p21_tester_fixes import UNREACHABLE_KUBECONFIG as DEAD_KUBECONFIG

from kmeshctl.errors import UsageError

GUESS = "istiod.istio-system.svc:15012 is istiod's Service without a revision"
REVISIONED = "; with a revisioned istiod, istiod-REVISION.istio-system.svc:15012)"
UNREACHABLE = f"({GUESS}, the cluster could not be reached to look istiod up{REVISIONED}"
NO_CLUSTER = f"({GUESS}, no cluster to look istiod up in{REVISIONED}"


# ------------------------------------------------------------------ 1. one waypoint-name rule


@pytest.mark.parametrize("name", ["wp\n", "waypoint\n", "Bad", "-wp", "a" * 64])
def test_check_params_refuses_a_bad_waypoint_name_a_trailing_newline_too(name: str) -> None:
    from kmeshctl.waypoint import deploy

    with pytest.raises(UsageError) as raised:
        deploy.check_params(deploy.WaypointParams(name=name))
    message = str(raised.value)
    assert "\n" not in message and message.startswith("--name "), message
    # pass 31: a name that means a valid one (trailing newline, upper case) gets it offered
    meant = {"wp\n": "wp", "waypoint\n": "waypoint", "Bad": "bad"}.get(name)
    fix = f"; did you mean --name {meant}?" if meant else "e.g. --name waypoint"
    assert ": not a valid waypoint name (an RFC 1123 label" in message and message.endswith(fix), message


def test_check_params_refuses_a_namespace_with_a_trailing_newline() -> None:
    from kmeshctl.waypoint import deploy

    with pytest.raises(UsageError) as raised:
        deploy.check_params(deploy.WaypointParams(namespace="default\n"))
    message = str(raised.value)
    assert message.startswith("--namespace 'default\\n': not a valid namespace name") and "\n" not in message
    assert message.endswith("; did you mean --namespace default?"), message  # pass 31: the name meant


@pytest.mark.parametrize("name", ["wp\n", "waypoint-demo\n", "Bad"])
def test_demo_waypoint_flag_refuses_a_bad_name_a_trailing_newline_too(name: str) -> None:
    from kmeshctl.demo_cluster import waypoint_flag_target

    with pytest.raises(UsageError) as raised:
        waypoint_flag_target(name, "auto", "")
    message = str(raised.value)
    assert message.startswith("--waypoint ") and ": not a valid waypoint name (an RFC 1123 label" in message
    meant = name.strip().lower()  # pass 31: the name meant is offered
    assert message.endswith(f"; did you mean --waypoint {meant}?") and "\n" not in message, message


def test_good_waypoint_names_still_pass_both_checks() -> None:
    from kmeshctl.demo_cluster import waypoint_flag_target
    from kmeshctl.waypoint import deploy

    deploy.check_params(deploy.WaypointParams(name="waypoint-demo", namespace="team-a"))
    assert waypoint_flag_target("waypoint-demo", "auto", "") == "cluster"
    assert waypoint_flag_target(None, "auto", "") == "auto"


def test_the_twin_pattern_is_gone() -> None:
    from kmeshctl.waypoint import deploy

    assert not hasattr(deploy, "_DNS_LABEL")


def test_demo_with_a_waypoint_name_ending_in_a_newline_is_refused_before_anything(capsys, no_env,  # noqa: F811
                                                                                   tmp_path: Path,
                                                                                   monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--waypoint", "wp\n")
    assert code == 2 and not out, (code, err)
    [line] = err.strip().splitlines()
    assert line.startswith("Error: --waypoint 'wp\\n': not a valid waypoint name"), line


# ------------------------------------------------------------------ 2. why the offline render has a placeholder


def _dead(tmp_path: Path) -> Path:
    config = tmp_path / "dead.yaml"
    config.write_text(DEAD_KUBECONFIG)
    return config


def test_dry_run_on_a_dead_cluster_says_it_could_not_be_reached(tmp_path: Path, capsys, no_env,  # noqa: F811
                                                                monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = cli(capsys, "install", "--kubeconfig", str(_dead(tmp_path)), "--cluster-id", "c1", "--dry-run")
    assert code == 1 and not out and len(err.strip().splitlines()) == 1, (code, err)
    assert err.rstrip().endswith("; to validate without a cluster: `kmeshctl render --cluster-id c1 --xds-address "
                                 f"istiod.istio-system.svc:15012` {UNREACHABLE}"), err
    assert "no cluster to look istiod up in" not in err, err


def test_dry_run_on_a_dead_cluster_with_a_typed_address_has_no_note(tmp_path: Path, capsys, no_env,  # noqa: F811
                                                                    monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    code, _, err = cli(capsys, "install", "--kubeconfig", str(_dead(tmp_path)), "--cluster-id", "c1", "--dry-run",
                       "--xds-address", "istiod.istio-system.svc:15012")
    assert code == 1 and err.rstrip().endswith("--xds-address istiod.istio-system.svc:15012 --cluster-id c1`"), err
    assert "without a revision" not in err, err


def test_kubectl_dry_run_client_on_a_dead_cluster_says_it_could_not_be_reached(  # noqa: F811
        tmp_path: Path, capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    dead = str(_dead(tmp_path))
    code, _, err = cli(capsys, "install", "--kubeconfig", dead, "--cluster-id", "c1", "--dry-run=client")
    assert code == 2 and UNREACHABLE in err and "no cluster to look" not in err, err
    monkeypatch.setenv("KUBECONFIG", dead)  # configured by the environment: the same
    code, _, err = cli(capsys, "install", "--cluster-id", "c1", "--dry-run=client")
    assert code == 2 and UNREACHABLE in err, err


def test_with_no_cluster_configured_the_note_still_says_there_is_none(tmp_path: Path, capsys, no_env,  # noqa: F811
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, _, err = cli(capsys, "install", "--cluster-id", "c1", "--dry-run=client")
    assert code == 2 and NO_CLUSTER in err and "could not be reached" not in err, err


def test_offline_render_hint_says_why_it_is_given(capsys) -> None:
    """The default (no cluster configured) and the reason a caller passes, in a parsed run."""
    import typer

    from kmeshctl.cli.render import CLUSTER_UNREACHABLE_FOR_ISTIOD, offline_render_hint

    hints: list[str] = []
    app = typer.Typer()

    @app.command()
    def render() -> None:  # a stand-in command named as the offline form's target
        hints.extend([offline_render_hint(), offline_render_hint(CLUSTER_UNREACHABLE_FOR_ISTIOD)])

    @app.command()
    def other() -> None:
        render()

    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["other"])
    assert result.exit_code == 0, result.output
    assert hints[0].endswith(NO_CLUSTER) and hints[1].endswith(UNREACHABLE), hints
