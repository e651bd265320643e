"""Issue 14, kind "an --xds-address that cannot be istiod's is refused with one that can":
a port with a leading zero (`istiod:015012`), a host of digits and dots that is not an IPv4
address (`300.1.1.1`, `1.2.3`, `01.2.3.4`: resolvers read such a host as an address, never
as a name), a missing host (`:15012`), brackets around a host that is not IPv6
(`[istiod]:15012`) and a host whose last label is all digits (`a.1`: no top-level domain
is) are bad input, one line naming the flag, the
problem and an accepted value, which passes when pasted. `node run` words them the same
for $XDS_ADDRESS.

Real parts: kmeshctl.cli.main in-process (render, offline); kmeshctl.params."""

from __future__ import annotations

import re
import shlex

import pytest

from kmeshctl.errors import UsageError
from kmeshctl.params import check_xds_address, shown
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)

RENDER = ["render", "--cluster-id", "c1"]
CASES = [
    # a bare istiod name is refused in turn (pass 30): the fix goes to the form that passes
    ("istiod:015012", "port 015012 has a leading zero", "istiod.istio-system.svc:15012"),
    ("[fd00::7]:015012", "port 015012 has a leading zero", "[fd00::7]:15012"),
    ("300.1.1.1:15012", "300.1.1.1 is not an IPv4 address (4 numbers from 0 to 255, no leading zeros)",
     "10.0.0.7:15012"),
    ("1.2.3:15012", "1.2.3 is not an IPv4 address", "10.0.0.7:15012"),
    ("01.2.3.4:15012", "01.2.3.4 is not an IPv4 address", "10.0.0.7:15012"),
    (":15012", "missing host before the port; use HOST:PORT with istiod's Service as HOST",
     "istiod.istio-system.svc:15012"),
    (":15010", "missing host before the port", "istiod.istio-system.svc:15012"),  # istiod's plaintext port is not kept
    # brackets hold an IPv6 address only (h83): the fix is the host without them
    ("[istiod]:15012", "brackets are only for an IPv6 address, istiod is not one", "istiod.istio-system.svc:15012"),
    ("[10.0.0.7]:15010", "brackets are only for an IPv6 address, 10.0.0.7 is not one", "10.0.0.7:15012"),
    # no top-level domain is all digits: neither a name nor an IPv4 address (h83)
    ("a.1:15012", "a.1 is neither a host name (its last label 1 is all digits) nor an IP address",
     "istiod.istio-system.svc:15012"),
    ("istiod.svc.123.:15012", "istiod.svc.123. is neither a host name (its last label 123 is all digits)",
     "10.0.0.7:15012"),
]


@pytest.mark.parametrize("value,problem,accepted", CASES)
def test_the_line_names_the_flag_the_problem_and_a_value_that_passes(value, problem, accepted, capsys,
                                                                    no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, *RENDER, "--xds-address", value)
    assert code == 2 and not out and err.count("\n") == 1, (code, out, err)
    assert err.startswith(f"Error: --xds-address {shown(value)}: {problem}"), err
    # the line to paste (f36a) gives an address that passes: the one meant, else istiod's Service (t39b 4)
    pasted = shlex.split(err.split("`")[1])
    assert pasted[:2] == ["kmeshctl", "render"] and "--xds-address" in pasted, err
    code, out, said = cli(capsys, *pasted[1:])
    assert code == 0 and out, said
    code, out, err = cli(capsys, *RENDER, "--xds-address", accepted)
    assert code == 0 and out, err


@pytest.mark.parametrize("value", ["300.1.1.1:15012", "istiod:015012", ":15012", "a.1:15012"])
def test_the_agents_environment_variable_is_named_the_same_way(value) -> None:
    with pytest.raises(UsageError) as raised:
        check_xds_address(value, flag="$XDS_ADDRESS", allow_unix=True)
    text = str(raised.value)
    assert text.startswith(f"$XDS_ADDRESS={value}: ") and re.search(r"\$XDS_ADDRESS=\S+:\d+", text), text


def test_the_agents_environment_variable_names_brackets_the_same_way() -> None:
    with pytest.raises(UsageError) as raised:
        check_xds_address("[istiod]:15012", flag="$XDS_ADDRESS", allow_unix=True)
    assert str(raised.value) == ("$XDS_ADDRESS='[istiod]:15012': brackets are only for an IPv6 address, istiod is "
                                 "not one; use $XDS_ADDRESS=istiod:15012"), raised.value


@pytest.mark.parametrize("value", ["10.0.0.7:15012", "255.255.255.255:1", "istiod-1-22-6.istio-system.svc:15012",
                                   "[fd00::7]:15012", "istiod:1", "4.example:15012", "istiod.istio-system.svc.:15012",
                                   "a1.b2:15012", "[::ffff:10.0.0.7]:15012"])
def test_good_addresses_still_pass(value) -> None:
    check_xds_address(value)
