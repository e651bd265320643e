"""`sandbox exec NS/NAME` is refused with the line to paste, and that line keeps every flag
typed (tester L3: `sandbox exec -q default/netutils -- true` suggested a line without -q),
wherever it was typed; the -n typed is replaced by the namespace of NS/NAME.

In-process (test_cli_kinds.cli), no sandbox: the refusal comes before any is looked up."""

from __future__ import annotations

import shlex

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

CASES = {
    "sandbox exec -q default/netutils -- true": "kmeshctl sandbox exec -n default netutils -q -- true",
    "-q sandbox exec default/netutils -- true": "kmeshctl -q sandbox exec -n default netutils -- true",
    "sandbox exec -it --name t114x default/netutils -- sh -c 'a b'":
        "kmeshctl sandbox exec -n default netutils -i -t --name t114x -- sh -c 'a b'",
    "sandbox exec --quiet -n other default/netutils -- true":
        "kmeshctl sandbox exec -n default netutils --quiet -- true",
    "sandbox exec --namespace=other --sandbox t114x default/netutils":
        "kmeshctl sandbox exec -n default netutils --sandbox t114x -- sh",
}


@pytest.mark.parametrize("typed", list(CASES))
def test_the_namespace_fix_keeps_every_typed_flag(typed: str, capsys, no_env) -> None:
    code, out, err = cli(capsys, *shlex.split(typed))
    assert code == 2 and not out and "NAMESPACE/NAME is not a pod name" in err, (code, out, err)
    assert f"`{CASES[typed]}`" in err, err
