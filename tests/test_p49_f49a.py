"""Pass-49 fixer f49a (t48a 2, 3, 13): a value the shell split at a space is read as one
value, never as a namespace or a name of its own.

- `--xds-address HOST 15012`, `--image REPO 0.1.0`, `--timeout 5 m` (`min`): the word after
  the value is its port, tag or unit (splitvalues), said so, with the line joined; render,
  install, uninstall, waypoint apply, node run, bench, and enable-ns / disable-ns (whose
  namespace arguments took the word: refused, never a namespace `m` changed);
- a word that joins into no value the flag takes (`--image bad image`, a second port or
  tag, `--timeout 5 x`) gets no namespace or name reading and no line; nor does a number
  after a name's value (`--network net 1`: no on/off explanation either);
- `--image 'img:'` is echoed quoted (never `img::`); a value left out whose default is none
  says so (never `the default ()`); `--enrollment k8s` is kubernetes (a numeronym).

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import shlex

import pytest

from kmeshctl.params import given_text
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import _offered, _words

XDS = "istiod.istio-system.svc"


# ------------------------------------------------------------------ 2, 3. the other half of a value


@pytest.mark.parametrize("typed,said,line", [
    (f"install --cluster-id c1 --xds-address {XDS} 15012", "15012 (typed after a space) read as the port of "
     "--xds-address", f"kmeshctl install --cluster-id c1 --xds-address {XDS}:15012"),
    (f"render --cluster-id c1 --xds-address {XDS} 15012", "read as the port of --xds-address",
     f"kmeshctl render --cluster-id c1 --xds-address {XDS}:15012"),
    (f"render --cluster-id c1 --xds-address={XDS} 15012", "read as the port of --xds-address",
     f"kmeshctl render --cluster-id c1 --xds-address={XDS}:15012"),
    (f"node run --xds-address {XDS} 15012", "read as the port of --xds-address",
     f"kmeshctl node run --xds-address {XDS}:15012"),
    ("install --cluster-id c1 --image docker.io/kmeshctl/kmeshctl-node 0.1.0",
     "0.1.0 (typed after a space) read as the tag of --image",
     "kmeshctl install --cluster-id c1 --image docker.io/kmeshctl/kmeshctl-node:0.1.0"),
    ("uninstall --timeout 5 m", "m (typed after a space) read as the unit of --timeout",
     "kmeshctl uninstall --timeout 5m"),
    ("install --cluster-id c1 --wait --timeout 5 min", "min (typed after a space) read as the unit of --timeout",
     "kmeshctl install --cluster-id c1 --wait --timeout 5m"),
    ("waypoint apply --wait --timeout 2 m", "read as the unit of --timeout",
     "kmeshctl waypoint apply --wait --timeout 2m"),
    ("waypoint apply --image=docker.io/istio/proxyv2 latest --wait --timeout=30 s",
     "latest (typed after a space) read as the tag of --image; s (typed after a space) read as the unit of "
     "--timeout", "kmeshctl waypoint apply --image=docker.io/istio/proxyv2:latest --wait --timeout=30s"),
    ("status --request-timeout 5 s", "read as the unit of --request-timeout",
     "kmeshctl status --request-timeout 5s"),
    ("bench dataplane --duration 5 m", "read as the unit of --duration", "kmeshctl bench dataplane --duration 5m"),
    ("completion bash --request-timeout 5 s", "read as the unit of --request-timeout",
     "kmeshctl completion bash --request-timeout 5s"),
    ("uninstall --timeout 1m 30s", "30s (typed after a space) read as the rest of --timeout",  # t49a 1
     "kmeshctl uninstall --timeout 1m30s"),
    ("status --request-timeout 1m 30s", "read as the rest of --request-timeout",
     "kmeshctl status --request-timeout 1m30s"),
], ids=["install-port", "render-port", "render-port-equals", "node-run-port", "install-tag", "uninstall-unit",
        "install-min", "waypoint-unit", "tag-and-unit", "request-timeout", "bench-duration", "completion",
        "two-part-duration", "two-part-request-timeout"])
def test_a_split_value_is_read_as_one(typed, said, line, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    error, offered = _offered(capsys, *shlex.split(typed))
    assert said in error, error
    assert offered == _words(line), error
    assert "--namespace" not in error and "--name " not in error, error


@pytest.mark.parametrize("typed,said", [
    ("render --xds-address istiod.istio-system.svc:15012 --cluster-id c1 --image bad image",
     "image, typed right after --image bad, is no tag of it (--image bad:image: image is no version tag); give "
     "--image one value it takes (see"),
    ("render --cluster-id c1 --xds-address istiod.istio-system.svc:15012 --image repo:0.1.0 0.2.0",
     "0.2.0, typed right after --image repo:0.1.0, is no tag of it (--image repo:0.1.0:0.2.0: not an image "
     "reference)"),
    (f"install --cluster-id c1 --xds-address {XDS} 99999",
     f"99999, typed right after --xds-address {XDS}, is no port of it (--xds-address {XDS}:99999: port 99999 is "
     "out of range); give --xds-address one value it takes (no line is offered: install changes the cluster)"),
    (f"install --cluster-id c1 --xds-address {XDS}:15012 15012", "is no port of it"),
    ("node run --xds-address unix:/x 15012", "(--xds-address unix:/x:15012: a unix socket has no port)"),
    ("uninstall --timeout 5 x", "x, typed right after --timeout 5, is no unit of it (--timeout 5x: not a "
     "duration); give --timeout one value it takes (no line is offered: uninstall changes the cluster)"),
    ("uninstall --timeout 5 m kmesh-system", "m (typed after a space) read as the unit of --timeout, as --timeout "
     "5m; and uninstall takes no positional arguments (kmesh-system) (no line is offered"),
], ids=["bad-image", "second-tag", "bad-port", "second-port", "unix", "bad-unit", "another-word"])
def test_a_half_that_joins_into_nothing_gets_no_name_reading(typed, said, state_root, stubbed, capsys,  # noqa: F811
                                                             offline) -> None:  # noqa: F811
    error, offered = _offered(capsys, *shlex.split(typed))
    assert said in error, error
    assert offered == [] and "--namespace" not in error, error


def test_a_split_value_is_said_with_the_other_bad_values(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    error, offered = _offered(capsys, *shlex.split(f"render --cluster-id c1 --xds-address {XDS} 15012 -o xml"))
    assert "missing port" not in error and "15012 (typed after a space) read as the port of --xds-address" in error, \
        error
    assert offered == _words(f"kmeshctl render --cluster-id c1 --xds-address {XDS}:15012"), error


def test_a_name_of_its_own_stays_a_name(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    """`--timeout 5 east`: east is no unit mistyped; the waypoint's name, as before."""
    error, offered = _offered(capsys, *shlex.split("waypoint delete --timeout 5 east"))
    assert offered == _words("kmeshctl waypoint delete --timeout 5 --name east"), error


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
def test_a_namespace_argument_that_is_a_unit_is_refused(command, state_root, capsys, offline) -> None:  # noqa: F811
    """The body's check (the namespaces are arguments: click takes the word as one)."""
    error = _line(capsys, command, "foo", "--wait", "--timeout", "5", "m")
    assert error == f"Error: m (typed after a space) read as the unit of --timeout, not a namespace: `kmeshctl " \
        f"{command} foo --wait --timeout 5m` (a namespace named m: give it before the flags) (see 'kmeshctl " \
        f"{command} --help')", error
    code, _, err = cli(capsys, command, "foo", "--wait", "--timeout", "5m")
    assert "read as the unit" not in err and "no cluster configured" in err, err
    two_part = _line(capsys, command, "foo", "--wait", "--timeout", "1m", "30s")  # t49a 1: never namespace 30s
    assert two_part.startswith("Error: 30s (typed after a space) read as the rest of --timeout, not a namespace: "
                               f"`kmeshctl {command} foo --wait --timeout 1m30s`"), two_part


def test_a_namespace_named_like_a_unit_before_the_flags_is_taken(state_root, stubbed, capsys,  # noqa: F811
                                                                  offline) -> None:  # noqa: F811
    code, _, err = cli(capsys, "enable-ns", "m", "--wait", "--timeout", "5")
    assert code == 7, err


def test_a_unit_said_with_another_bad_value(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    error, offered = _offered(capsys, *shlex.split("enable-ns foo --wait --timeout 5 m -o xml"))
    assert "m (typed after a space) read as the unit of --timeout" in error, error
    assert offered == _words("kmeshctl enable-ns foo --wait --timeout 5m"), error


# ------------------------------------------------------------------ 13. wording


@pytest.mark.parametrize("typed,said", [
    ("install --cluster-id c1 --network net 1",
     "1, typed right after --network net, is no argument (nor an on/off value) but likely part of that value, which "
     "has no spaces: give --network one word, e.g. --network net-1 (no line is offered: install changes the "
     "cluster) (see"),
    ("install --cluster-id c1 --network net 1 --xds-address foo", "e.g. --network net-1"),
    ("sandbox down --name=a 1", "1, typed right after --name a, is no argument"),
], ids=["network", "network-and-xds", "sandbox-down"])
def test_a_number_after_a_name_is_no_on_off_value(typed, said, state_root, stubbed, capsys,  # noqa: F811
                                                 offline) -> None:  # noqa: F811
    error, offered = _offered(capsys, *shlex.split(typed))
    assert said in error, error
    assert offered == [] and "on/off flags" not in error and "--namespace 1" not in error, error


def test_a_value_ending_in_a_colon_is_quoted(state_root, capsys, offline) -> None:  # noqa: F811
    """Refused by render's own body (not stubbed)."""
    error = _line(capsys, "render", "--xds-address", f"{XDS}:15012", "--cluster-id", "c1", "--image", "img:")
    assert error.startswith("Error: --image 'img:': not an image reference; use"), error
    assert given_text("--image", "img:") == "--image 'img:'" and given_text("--image", "img") == "--image img"


def test_a_default_of_no_value_is_said_as_unset(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    error, offered = _offered(capsys, "install", "--cluster-id", "c1", "--network", "a b", "--xds-address", XDS)
    assert "--network 'a b' left out would leave --network unset (its default); give --network a value it " \
        "takes" in error and "()" not in error, error
    assert offered == [], error


def test_an_enum_default_is_said_as_typed(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    error, _ = _offered(capsys, *shlex.split("install --cluster-id c1 --xds-address foo -o xml --network 'a b'"))
    assert "ManifestFormat" not in error, error


@pytest.mark.parametrize("typed,line", [
    ("node run --enrollment k8s --admin-port 0", "kmeshctl node run --enrollment kubernetes --proc-root /proc"),
    ("node run --enrollment k8s", "kmeshctl node run --enrollment kubernetes --proc-root /proc"),
], ids=["with-port", "alone"])
def test_k8s_is_kubernetes(typed, line, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    error, offered = _offered(capsys, *shlex.split(typed))
    assert "did you mean kubernetes?" in error, error
    assert offered == _words(line), error
