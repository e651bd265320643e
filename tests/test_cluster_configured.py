"""One answer to "is a cluster configured?" (kmeshctl.kube.cluster_configured), used by
install's offline dry run and `version` (kmeshctl.install re-exports it), `dump config
WORD`'s hint and the offline render a `--dry-run=client` suggests.

The rule, as kubectl users expect and as connecting decides (configured exactly when
load_configuration would not fail with NoClusterConfigured):
  (a) --kubeconfig naming a file that exists: configured;
  (b) --kubeconfig naming a missing file: configured (the user meant a cluster), and the
      command then says the path is missing instead of going local;
  (c) $KUBECONFIG set: configured, one path or a ':' list, some or all missing (all
      missing: reported as the missing paths); set but empty: as unset;
  (d) nothing named: configured exactly when ~/.kube/config exists;
  (e) in-cluster (KUBERNETES_SERVICE_HOST and the service-account token): configured;
  --context alone: configured (connecting reports a kubeconfig that lacks it).

HOME, KUBECONFIG and the service-account token path are tmp paths; no cluster is needed
(a kubeconfig naming 127.0.0.1:1 where nothing listens stands for one that is down)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import pytest

from test_cli_kinds import cli, state_root  # noqa: F401 (fixture)

from kmeshctl import kube
from kmeshctl.cli.badinput import typed_target, typed_value
from test_p21_tester_fixes import UNREACHABLE_KUBECONFIG as DEAD_KUBECONFIG


class Env:
    """A machine set up for one case: HOME, $KUBECONFIG, the in-cluster account."""

    def __init__(self, tmp_path: Path, monkeypatch: Any) -> None:
        self.tmp, self.mp = tmp_path, monkeypatch
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.exists = tmp_path / "kc.yaml"
        self.exists.write_text(DEAD_KUBECONFIG)
        self.missing = tmp_path / "missing.yaml"
        self.missing2 = tmp_path / "missing2.yaml"
        self.token = tmp_path / "sa" / "token"
        monkeypatch.setenv("HOME", str(self.home))
        for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KMESHCTL_SANDBOX_NAME", "COLUMNS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(kube, "SERVICE_ACCOUNT_TOKEN", str(self.token))

    def home_config(self) -> None:
        (self.home / ".kube").mkdir()
        (self.home / ".kube" / "config").write_text(DEAD_KUBECONFIG)

    def kubeconfig_env(self, value: str) -> None:
        self.mp.setenv("KUBECONFIG", value)

    def in_cluster(self, host: bool = True, token: bool = True) -> None:
        if host:
            self.mp.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
        if token:
            self.token.parent.mkdir(exist_ok=True)
            self.token.write_text("t")


@pytest.fixture
def env(tmp_path: Path, monkeypatch) -> Env:
    return Env(tmp_path, monkeypatch)


# (case id, words typed before the command, setup of the machine, configured?)
CASES: list[tuple[str, Any, Any, bool]] = [
    ("a-kubeconfig-exists", lambda e: ["--kubeconfig", str(e.exists)], None, True),
    ("a-kubeconfig-exists-equals", lambda e: [f"--kubeconfig={e.exists}"], None, True),
    ("b-kubeconfig-missing", lambda e: ["--kubeconfig", str(e.missing)], None, True),
    ("b-kubeconfig-missing-home-exists", lambda e: ["--kubeconfig", str(e.missing)], Env.home_config, True),
    ("c-env-one-path", None, lambda e: e.kubeconfig_env(str(e.exists)), True),
    ("c-env-list-some-missing", None, lambda e: e.kubeconfig_env(f"{e.missing}:{e.exists}"), True),
    ("c-env-one-missing", None, lambda e: e.kubeconfig_env(str(e.missing)), True),
    ("c-env-list-all-missing", None, lambda e: e.kubeconfig_env(f"{e.missing}:{e.missing2}"), True),
    ("c-env-empty", None, lambda e: e.kubeconfig_env(""), False),
    ("c-env-empty-home-exists", None, lambda e: (e.kubeconfig_env(""), e.home_config()), True),
    ("c-flag-wins-over-env", lambda e: ["--kubeconfig", str(e.missing)],
     lambda e: e.kubeconfig_env(str(e.exists)), True),
    ("d-home-exists", None, Env.home_config, True),
    ("d-nothing", None, None, False),
    ("e-in-cluster", None, Env.in_cluster, True),
    ("e-service-host-without-token", None, lambda e: e.in_cluster(token=False), False),
    ("e-token-without-service-host", None, lambda e: e.in_cluster(host=False), False),
    ("e-in-cluster-env-all-missing", None, lambda e: (e.in_cluster(), e.kubeconfig_env(str(e.missing))), True),
    ("context-alone-no-kubeconfig", lambda e: ["--context", "prod"], None, True),
]


def _set_up(env: Env, words: Any, setup: Any) -> list[str]:
    if setup is not None:
        setup(env)
    return words(env) if words is not None else []


@pytest.mark.parametrize("case,words,setup,configured", CASES, ids=[c[0] for c in CASES])
def test_each_case(env: Env, case: str, words: Any, setup: Any, configured: bool) -> None:
    typed = _set_up(env, words, setup)
    target = typed_target(["install", *typed])  # the words may come before or after the command
    assert kube.cluster_configured(target) is configured, (case, target)


@pytest.mark.parametrize("case,words,setup,configured", CASES, ids=[c[0] for c in CASES])
def test_configured_exactly_when_connecting_does_not_say_no_cluster(env: Env, case: str, words: Any, setup: Any,
                                                                     configured: bool) -> None:
    """The rule is connecting's: not configured only where load_configuration raises
    NoClusterConfigured; any other outcome (loaded, a missing named path, a broken
    in-cluster account) is a configured cluster whose problem is reported."""
    target = typed_target(_set_up(env, words, setup))
    try:
        kube.load_configuration(target)
        no_cluster = False
    except kube.NoClusterConfigured:
        no_cluster = True
    except Exception:  # noqa: BLE001 - any other failure: configured, and reported as what it is
        no_cluster = False
    assert no_cluster is not configured, case


@pytest.mark.parametrize("case,words,setup,configured",
                         [c for c in CASES if not c[0].startswith("e-")], ids=[c[0] for c in CASES
                                                                            if not c[0].startswith("e-")])
def test_the_root_options_give_the_same_answer(env: Env, capsys, case: str, words: Any, setup: Any,
                                               configured: bool) -> None:
    """`version -o json`'s clusterConfigured: the KubeTarget the root callback builds
    (click's --kubeconfig envvar handling) agrees with typed_target's reading."""
    typed = _set_up(env, words, setup)
    _, out, _ = cli(capsys, *typed, "version", "-o", "json", "--request-timeout", "2s")
    assert json.loads(out)["clusterConfigured"] is configured, (case, out)


# ------------------------------------------------------------------ what each caller then says


def _install_dry_run(capsys, *words: str) -> tuple[int, str]:
    code, out, err = cli(capsys, *words, "install", "--cluster-id", "c1", "--dry-run")
    assert not out, out
    return code, err


def test_install_dry_run_with_a_missing_kubeconfig_names_it(env: Env, capsys) -> None:
    code, err = _install_dry_run(capsys, "--kubeconfig", str(env.missing))
    assert code == 2 and f"--kubeconfig {env.missing}: does not exist" in err, err
    assert "--xds-address is required" not in err and "offline" not in err, err


def test_install_dry_run_with_kubeconfig_env_all_missing_names_them(env: Env, capsys) -> None:
    env.kubeconfig_env(f"{env.missing}:{env.missing2}")
    code, err = _install_dry_run(capsys)
    assert code == 2 and "$KUBECONFIG" in err and str(env.missing) in err and str(env.missing2) in err, err
    assert "--xds-address is required" not in err, err


def test_install_dry_run_with_nothing_configured_is_offline_and_needs_the_address(env: Env, capsys) -> None:
    code, err = _install_dry_run(capsys)
    assert code == 2 and "--xds-address is required (with no cluster configured" in err, err


def _render_note(capsys, *words: str) -> str:
    code, _, err = cli(capsys, *words, "install", "--cluster-id", "c1", "--dry-run=client")
    assert code == 2 and "the offline (client) form is `kmeshctl render" in err, err
    return err


def test_render_hint_with_a_missing_kubeconfig_names_it(env: Env, capsys) -> None:
    err = _render_note(capsys, "--kubeconfig", str(env.missing))
    assert f"istiod could not be looked up, --kubeconfig {env.missing} does not exist;" in err, err
    assert "no cluster to look istiod up in" not in err, err


def test_render_hint_with_kubeconfig_env_all_missing_names_them(env: Env, capsys) -> None:
    env.kubeconfig_env(f"{env.missing}:{env.missing2}")
    err = _render_note(capsys)
    assert f"none of the $KUBECONFIG files exist ({env.missing}, {env.missing2})" in err, err


def test_render_hint_with_a_context_and_no_kubeconfig_says_so(env: Env, capsys) -> None:
    err = _render_note(capsys, "--context", "prod")
    assert f"--context prod has no kubeconfig ({env.home / '.kube' / 'config'} does not exist)" in err, err


def test_render_hint_configured_by_env_only_in_part_is_unreachable_not_none(env: Env, capsys) -> None:
    env.kubeconfig_env(f"{env.missing}:{env.exists}")
    err = _render_note(capsys)
    assert "the cluster could not be reached to look istiod up" in err, err


def test_render_hint_with_nothing_configured_says_there_is_none(env: Env, capsys) -> None:
    assert "no cluster to look istiod up in" in _render_note(capsys)


def _dump_word(capsys, *words: str) -> str:
    code, _, err = cli(capsys, *words, "dump", "config", "kmesh-5jnht")
    assert code == 2, err
    return err


@pytest.mark.parametrize("how", ["flag-exists", "flag-missing", "env", "context"])
def test_dump_config_word_with_a_cluster_named_offers_pod(env: Env, capsys, state_root, how: str) -> None:  # noqa: F811
    """Before: the hint read run_options(), not set when the line did not parse, so even a
    --kubeconfig that exists was "none is configured"."""
    words: list[str] = {"flag-exists": ["--kubeconfig", str(env.exists)],
                        "flag-missing": ["--kubeconfig", str(env.missing)], "context": ["--context", "prod"],
                        "env": []}[how]
    if how == "env":
        env.kubeconfig_env(str(env.exists))
    err = _dump_word(capsys, *words)
    assert "none is configured" not in err, err
    if how in ("flag-missing", "context"):  # the kubeconfig side is bad too: both said, no line that would fail
        assert err.startswith(f"Error: {words[0]} ") and "give the pod with --pod" in err, err
        assert "`kmeshctl" not in err, err
        return
    assert "give the pod with --pod: `kmeshctl" in err and "--pod kmesh-5jnht`" in err, err


def test_dump_config_pod_with_a_missing_kubeconfig_names_it(env: Env, capsys, state_root) -> None:  # noqa: F811
    code, out, err = cli(capsys, "--kubeconfig", str(env.missing), "dump", "config", "--pod", "kmesh-5jnht")
    assert code == 2 and not out and f"--kubeconfig {env.missing}: does not exist" in err, err


def test_dump_config_word_with_nothing_configured_says_none_is(env: Env, capsys, state_root) -> None:  # noqa: F811
    assert "needs a cluster, none is configured" in _dump_word(capsys)


def test_typed_target_reads_the_line_as_the_root_options_do(env: Env) -> None:
    env.kubeconfig_env("/from/env")

    def target(*words: str) -> tuple[Optional[str], Optional[str]]:
        found = typed_target(list(words))
        return found.kubeconfig, found.context

    assert target() == ("/from/env", None)
    assert target("--kubeconfig", "/a", "dump", "--context=x") == ("/a", "x")
    assert target("--kubeconfig", "/a", "--kubeconfig=/b") == ("/b", None)  # the last one typed, as click
    assert target("--", "--kubeconfig", "/a") == ("/from/env", None)
    assert typed_value(["-n", "a", "--namespace=b", "--", "-n", "c"], "-n", "--namespace") == "b"
    env.kubeconfig_env("")
    assert target() == (None, None)
    assert os.environ["KUBECONFIG"] == ""
