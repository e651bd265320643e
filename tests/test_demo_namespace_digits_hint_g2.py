"""Fixer G2, finding 10 of tester 124: the -n digits hint ignored the context:
`demo traffic-shift -n 10 --sandbox a` said "(a namespace of digits: add --target local
...)" although --sandbox already means local, and `--namespace 10`, plainly a namespace,
got the same -c/--requests hint. The hint is for a user who meant -c (fortio's and hey's
`-n COUNT`): it stays for the short form with --sandbox too, its way out for a namespace
of digits is the long form; the long form (and -n with --target typed) is a namespace."""

from __future__ import annotations

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_demo_dead_process_reason_g2 import dying  # noqa: F401
from test_demo_fix_names_env_sandbox_g2 import _sandbox


@pytest.mark.parametrize("flags", [["-n", "10"], ["-n10"], ["-n", "10", "--sandbox", "g2nx"]],
                         ids=lambda x: " ".join(x))
def test_minus_n_digits_points_at_minus_c_and_the_long_form(flags, capsys, no_env, state_root) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", *flags)
    assert code == 2 and not out and err.count("\n") == 1, err
    assert err.startswith("Error: -n 10: -n is the demo's namespace (as on every command); the request count is "
                          "-c/--requests, e.g. -c 12: `kmeshctl demo traffic-shift -c 12"), err  # t39b 4: a line
    # (t41a 4: the count the demo's own 90/10 needs, not the -n typed: -c 10 would fail when pasted)
    assert "(a namespace of digits: spell it --namespace 10)" in err, err
    assert "--target" not in err, err


@pytest.mark.parametrize("flags", [["--namespace", "10"], ["--namespace=10"], ["--target", "local", "-n", "10"]],
                         ids=lambda x: " ".join(x))
def test_the_long_form_is_a_namespace(flags, state_root, capsys, no_env, dying) -> None:
    _sandbox("g2na")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "g2na", *flags)
    assert code == 2 and not out and "-c/--requests" not in err, err
    assert "sandbox g2na has no fortio Service in namespace 10" in err, err  # taken as the namespace
