"""Pass 30 (issue 14), new-user tester t30b, fixer F30-H: bad input is named before any
sandbox or cluster is looked up, and every suggested line runs when pasted.

1. Every --weights rule that holds whatever the target is checked first (exit 2): `90,10`,
   a set of one weight that is not 100, sets of different sizes; a sandbox not made yet is
   judged by the manifests it would be made from.
2. A suggested render/install with no istiod found carries istiod's unrevisioned Service in
   the --istio-namespace typed (it renders), never a placeholder that is refused.
3. --xds-address: a list or a second port is one address HOST:PORT; loopback and 0.0.0.0
   are refused (the agents run on the node's network) before connecting; a bare istiod name
   is refused offline; a fix goes to the form that passes in one step.
4. enable-ns refuses a system namespace before connecting.
5-7. kubectl's list flags, -c/--container on an agent-pod command, and `waypoint list NAME`
   get a hint naming what kmeshctl does instead.

Real parts: kmeshctl.cli.main in-process, no cluster (or one that does not answer)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401 (fixtures)
from test_p21_tester_fixes import UNREACHABLE_KUBECONFIG

DEMO = ["demo", "traffic-shift"]
RENDER = ["render", "--cluster-id", "c1"]


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env) -> Path:  # noqa: F811
    """No cluster configured: HOME without a kubeconfig, not in a pod."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return home


def _dead(tmp_path: Path) -> str:
    config = tmp_path / "dead.yaml"
    config.write_text(UNREACHABLE_KUBECONFIG)
    return str(config)


def _backticked(err: str) -> list[list[str]]:
    return [shlex.split(part) for part in err.split("`")[1::2]]


# ------------------------------------------------------------------ 1. --weights first


@pytest.mark.parametrize("extra,weights,problem", [
    (["--sandbox", "t30h-nosuch"], "90,10", "did you mean --weights 90/10?"),
    (["--target", "cluster"], "90,10", "did you mean --weights 90/10?"),
    ([], "50", "--weights 50: one weight, 50; use weights that add up to 100"),
    ([], "90/10,5", "--weights 90/10,5: set 2 (5): one weight, 5"),
    ([], "90/10,100", "--weights 90/10,100: sets of 1 and 2 weights; use the same number of weights in every set"),
    (["--sandbox", "t30h-nosuch"], "100,100", "2 weight sets of 1 weight each"),
])
def test_weights_are_refused_before_the_sandbox_or_cluster_is_looked_up(extra, weights, problem, capsys, offline,
                                                                         state_root) -> None:  # noqa: F811
    _record("t30h-other")  # a sandbox up: --sandbox of another is taken for a typo after the weights
    code, out, err = cli(capsys, *DEMO, "--weights", weights, *extra)
    assert code == 2 and not out and err.count("\n") == 1, (code, err)
    prose = " ".join(err.split("(see")[0].split("`")[::2])  # t39b 4: its line keeps the --target typed
    assert problem in err and "not found" not in err and "cluster" not in prose, err
    from kmeshctl import demo

    # whatever the target: only a sandbox of one subset takes sets of one weight, each 100
    assert demo.parse_weight_sets("100,100", demo.fortio_demo()[1], check_count=False) == [[100], [100]]


# ------------------------------------------------------------------ 2. no placeholder


def test_the_offline_render_of_an_unreachable_install_renders_when_pasted(tmp_path: Path, capsys,
                                                                          offline) -> None:
    code, _, err = cli(capsys, "install", "--dry-run", "--cluster-id", "c1", "-n", "foo", "--istio-namespace",
                       "istio-x", "--kubeconfig", _dead(tmp_path))
    assert code == 1 and "ISTIOD_HOST" not in err, err
    [render] = [words for words in _backticked(err) if words[1:2] == ["render"]]
    assert ["--xds-address", "istiod.istio-x.svc:15012"] == render[render.index("--xds-address"):][:2], err
    assert "with a revisioned istiod, istiod-REVISION.istio-x.svc:15012" in err, err
    code, out, pasted = cli(capsys, *render[1:])
    assert code == 0 and "kind: DaemonSet" in out, pasted


def test_an_install_read_back_without_its_address_gets_istiods_service() -> None:
    from kmeshctl.status import install_command

    ds = {"metadata": {"namespace": "kmesh-system"},
          "spec": {"template": {"spec": {"containers": [{"name": "kmesh", "env": []}]}}}}
    assert "--xds-address istiod.istio-x.svc:15012" in install_command(ds, "istio-x")


def test_the_rollout_fix_with_several_istiods_offers_the_first() -> None:
    from kmeshctl.rollout import IstiodUnreached, istiod_fix

    found = ("istiod-1-22-6.istio-system.svc:15012", "istiod-1-23-0.istio-system.svc:15012")
    several = istiod_fix(IstiodUnreached("10.0.0.9:15012", "UNAVAILABLE: i/o timeout", "c1", found), "kmesh-system")
    assert "`kmeshctl install --xds-address istiod-1-22-6.istio-system.svc:15012`" in several, several
    none = istiod_fix(IstiodUnreached("10.0.0.9:15012", "UNAVAILABLE: i/o timeout", "c1"), "kmesh-system")
    assert "HOST:15012 (no istiod Service was found in the cluster)" in none and "`" not in none, none


# ------------------------------------------------------------------ 3. --xds-address


@pytest.mark.parametrize("value,problem", [
    # the whole line to paste (f36a)
    ("istiod.istio-system.svc:15012,foo:1", "a list of addresses; use `kmeshctl render "
                                            "--xds-address istiod.istio-system.svc:15012"),
    ("istiod.istio-system.svc:15012:1", "more than one ':'; use `kmeshctl render "
                                        "--xds-address istiod.istio-system.svc:15012"),
])
def test_two_addresses_or_ports_are_one_address_not_ipv6(value, problem, capsys, offline) -> None:
    code, _, err = cli(capsys, *RENDER, "--xds-address", value)
    assert code == 2 and f"--xds-address {value}: {problem}" in err and "IPv6" not in err, err


@pytest.mark.parametrize("value,problem", [
    ("0.0.0.0:15012", "0.0.0.0 is no destination"),
    ("[::]:15012", ":: is no destination"),
    ("127.0.0.1:15012", "127.0.0.1 is each node itself (the agents run on the node's own network)"),
    ("localhost:15012", "localhost is each node itself"),
    ("[::1]:15012", "::1 is each node itself"),
    ("istiod:15012", "a bare Service name resolves only in the agents' own namespace, not in istio-system"),
])
def test_addresses_the_agents_cannot_use_are_refused_offline_with_one_that_renders(value, problem, capsys,
                                                                                   offline) -> None:
    for command in (RENDER, ["install", "--cluster-id", "c1", "--dry-run"]):
        code, out, err = cli(capsys, *command, "--xds-address", value)
        assert code == 2 and not out and problem in err, err
        [fixed] = _backticked(err)
        assert "istiod.istio-system.svc:15012" in fixed, err
        code, out, pasted = cli(capsys, *fixed[1:])
        assert code == 0 and "kind: DaemonSet" in out, pasted


@pytest.mark.parametrize("value", ["0.0.0.0:15012", "127.0.0.1:15012"])
def test_install_refuses_them_before_connecting(value, tmp_path: Path, capsys, offline) -> None:
    code, _, err = cli(capsys, "--kubeconfig", _dead(tmp_path), "install", "--cluster-id", "c1", "--xds-address",
                       value)
    assert code == 2 and "cannot reach" not in err and "--xds-address istiod.istio-system.svc:15012" in err, err


@pytest.mark.parametrize("value", ["istiod.istio-system.svc.cluster.local.", "istiod.istio-x"])
def test_a_missing_port_goes_to_the_form_that_passes_in_one_step(value, capsys, offline) -> None:
    code, _, err = cli(capsys, *RENDER, "--istio-namespace", value.split(".")[1], "--xds-address", value)
    assert code == 2 and "missing port" in err, err
    [fixed] = _backticked(err)
    assert f"istiod.{value.split('.')[1]}.svc:15012" in fixed, err
    code, out, pasted = cli(capsys, *fixed[1:])
    assert code == 0 and "kind: DaemonSet" in out, pasted


# ------------------------------------------------------------------ 4. enable-ns offline


def test_enable_ns_refuses_a_system_namespace_before_connecting(capsys, offline) -> None:
    code, _, err = cli(capsys, "enable-ns", "default", "kube-system")
    assert code == 2 and "namespace kube-system is Kubernetes' own" in err, err
    assert "`kmeshctl enable-ns default`" in err and "no cluster configured" not in err, err


# ------------------------------------------------------------------ 5-7. hints


@pytest.mark.parametrize("words,hint", [
    (["status", "-l", "app=kmesh"], "status has no -l (kubectl get's list flag): read its -o json, "
                                    "`kmeshctl status -o json`, and select or sort with jq"),
    (["waypoint", "list", "--field-selector", "a=b"], "it narrows with -n NAMESPACE"),
    (["waypoint", "status", "--sort-by", "x"], "it narrows with --name NAME"),
    (["dump", "maps", "--show-labels"], "`kmeshctl dump maps -o json`"),
    (["precheck", "--chunk-size", "5"], "`kmeshctl precheck -o json`"),
    (["install", "--selector", "a=b"], "install has no --selector (kubectl get's list flag); leave --selector out, "
                                       "`kmeshctl install`"),
])
def test_kubectls_list_flags_say_what_kmeshctl_offers(words, hint, capsys, offline) -> None:
    code, _, err = cli(capsys, *words)
    assert code == 2 and err.count("\n") == 1 and hint in err, err


def test_a_container_flag_on_an_agent_pod_command_says_it_has_one(capsys, offline) -> None:
    code, _, err = cli(capsys, "dump", "config", "--pod", "p", "-c", "kmesh")
    assert code == 2 and "the node agent pod has one container" in err, err
    assert "`kmeshctl dump config --pod p`" in err and "demo traffic-shift" not in err, err


def test_a_word_after_waypoint_list_may_be_a_namespace_or_a_waypoint(capsys, offline) -> None:
    code, _, err = cli(capsys, "waypoint", "list", "wp", "-o", "json")
    assert code == 2, err
    assert [words[1:] for words in _backticked(err)] == [["waypoint", "list", "--namespace", "wp", "-o", "json"],
                                                         ["waypoint", "status", "-o", "json", "--name", "wp"]], err
