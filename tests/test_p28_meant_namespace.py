"""Pass 27's leftover (issue 14, kinds 3 and 6): a namespace name kubectl users type in
another shape (`ns/foo`, `Bad_NS`, `foo.bar`) is refused with the name it most likely
means and the line to paste, on every namespace flag and on enable-ns/disable-ns's words;
a name with no likely meaning keeps the example. The pasted line gets past every name check."""

from __future__ import annotations

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401
from test_p23_command_hints import STUBBED, _line, _pasted_lines, stubbed  # noqa: F401

MEANT = [  # typed line, the value refused, the name meant, the line to paste
    (["enable-ns", "ns/foo"], "foo", "kmeshctl enable-ns foo"),
    (["enable-ns", "default", "Foo_Bar"], "foo-bar", "kmeshctl enable-ns default foo-bar"),
    (["disable-ns", "Foo.bar"], "foo-bar", "kmeshctl disable-ns foo-bar"),
    (["waypoint", "list", "-n", "Bad_NS"], "-n bad-ns", "kmeshctl waypoint list -n bad-ns"),
    (["waypoint", "list", "--namespace=namespaces/Bad"], "--namespace bad",
     "kmeshctl waypoint list --namespace=bad"),
    (["install", "--istio-namespace", "namespace/Istio_System", "--dry-run"], "--istio-namespace istio-system",
     "kmeshctl install --istio-namespace istio-system --dry-run"),
    (["precheck", "-n", "ns/kmesh-system"], "-n kmesh-system", "kmeshctl precheck -n kmesh-system"),
]


@pytest.mark.parametrize("typed,meant,line", MEANT, ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_namespace_in_another_shape_is_met_with_the_name_meant_and_its_line(typed, meant, line, capsys,
                                                                               no_env) -> None:
    said = _line(capsys, *typed)
    assert "not a valid namespace name" in said and f"did you mean {meant}?" in said, said
    assert f"`{line}`" in said and "e.g." not in said, said


FLAG_MEANT = [case for case in MEANT if case[0][0] not in ("enable-ns", "disable-ns")]


@pytest.mark.parametrize("typed,meant,line", FLAG_MEANT, ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_the_line_offered_passes_every_name_check(typed, meant, line, capsys, no_env, stubbed) -> None:
    (words,) = _pasted_lines(_line(capsys, *typed))
    code, _, err = cli(capsys, *words[1:])
    assert code == STUBBED, (words, code, err)


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: k, context: {cluster: c, user: u}}]
current-context: k
"""


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
def test_enable_ns_words_offered_are_accepted_up_to_the_cluster(command, capsys, no_env, tmp_path) -> None:
    """enable-ns/disable-ns check their words in their own function: the line offered keeps
    --kubeconfig and gets as far as the (unreachable) API server."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    (words,) = _pasted_lines(_line(capsys, command, "NS/Web_App", "--kubeconfig", str(kubeconfig)))
    assert words == ["kmeshctl", command, "web-app", "--kubeconfig", str(kubeconfig)], words
    code, _, err = cli(capsys, *words[1:])
    assert code != 0 and "127.0.0.1:1" in err and "not a valid namespace" not in err, err


@pytest.mark.parametrize("typed,example", [
    (["enable-ns", "ns/"], "e.g. default"),
    (["waypoint", "list", "-n", "x_"], "e.g. default"),
    (["status", "-n", "foo_"], "e.g. kmesh-system"),
])
def test_a_name_with_no_likely_meaning_keeps_the_example(typed, example, capsys, no_env) -> None:
    said = _line(capsys, *typed)
    assert "not a valid namespace name" in said and example in said and "did you mean" not in said, said

