"""Kind "a message blames a flag not typed, or suggests what is refused" (h117).

L10: `install --istio-namespace kmesh-system` blamed --namespace (not typed) and advised
the default kmesh-system, the conflicting value itself: it now names --istio-namespace and
a value accepted (the namespace istiod runs in, default istio-system).
M8: `enable-ns -A --kubeconfig KC` suggested `kmeshctl enable-ns default` without the
typed --kubeconfig (pasted: no cluster configured); same for disable-ns.

Real parts: kmeshctl.cli.main in-process (no cluster needed: both are refused first)."""

from __future__ import annotations

import shlex

import pytest

KC = "/nonexistent/h117-kubeconfig.yaml"


def _run(capsys, *args: str) -> tuple[int, str]:
    from test_cli_kinds import cli

    code, out, err = cli(capsys, *args)
    return code, out + err


@pytest.mark.parametrize("command", [["install", "--cluster-id", "c1", "--xds-address", "istiod:15012"],
                                     ["precheck"], ["uninstall"], ["render", "--cluster-id", "c1",
                                                                   "--xds-address", "istiod:15012"]],
                         ids=lambda c: c[0])
def test_the_istio_namespace_typed_is_the_one_blamed_with_a_value_accepted(capsys, command) -> None:
    code, text = _run(capsys, *command, "--istio-namespace", "kmesh-system")
    assert code == 2, text
    assert "--istio-namespace kmesh-system: the node agent's namespace" in text, text  # first, or beside another bad value
    assert "use the namespace istiod runs in (default istio-system)" in text, text
    assert "use a dedicated one (default kmesh-system)" not in text, text


def test_a_namespace_typed_equal_to_the_istio_namespace_is_still_the_one_blamed(capsys) -> None:
    code, text = _run(capsys, "precheck", "-n", "istio-system")
    assert code == 2, text
    assert "Error: -n istio-system: the Istio namespace (--istio-namespace)" in text, text
    assert "use a dedicated one (default kmesh-system)" in text, text


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
@pytest.mark.parametrize("where", ["after", "before"])
def test_the_all_namespaces_example_keeps_the_typed_kubeconfig(capsys, command: str, where: str) -> None:
    args = [command, "-A", "--kubeconfig", KC] if where == "after" else ["--kubeconfig", KC, command, "-A"]
    code, text = _run(capsys, *args)
    assert code == 2, text
    example = text.split("e.g. `", 1)[1].split("`", 1)[0]
    assert shlex.split(example) == ["kmeshctl", "--kubeconfig", KC, command, "default"], text
