"""Pass 29 (lead): the demo's "a sandbox that has it" hint names the sandbox flag as typed.

`demo traffic-shift --name X` on a sandbox made without the demo's objects was told to "pass
--sandbox of a sandbox that has it" although the user spelled the flag `--name`.
"""

from __future__ import annotations

import pytest

from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox.demo_target import check_demo_ready
from test_cli_kinds import state_root  # noqa: F401
from test_cli_newuser import _record


@pytest.mark.parametrize("flag", ["--name", "--sandbox"])
def test_the_lacking_sandbox_hint_spells_the_flag_typed(state_root, flag: str) -> None:  # noqa: F811
    lacking = _record("bare", (("netutils-0", False),))
    with pytest.raises(KmeshctlError) as refused:
        check_demo_ready(lacking, sandbox_flag=flag)
    message = str(refused.value)
    assert f"or pass {flag} of a sandbox that has it" in message, message
    other = "--sandbox" if flag == "--name" else "--name"
    assert f"pass {other} " not in message, message
