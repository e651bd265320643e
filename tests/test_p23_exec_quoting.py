"""`sandbox exec`'s command is echoed as a shell would need it typed (tester pass 23,
finding 14): an empty or spaced program name is quoted, not pasted bare into the line."""

from __future__ import annotations

import pytest

from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox.sandbox import EXIT_NOT_FOUND, check_command


@pytest.mark.parametrize("program,shown", [("", "''"), ("no such cmd", "'no such cmd'"),
                                           ("./no such", "'./no such'"), ("nosuchcmd-p23", "nosuchcmd-p23")])
def test_a_program_that_cannot_run_is_named_quoted(program: str, shown: str) -> None:
    with pytest.raises(KmeshctlError) as caught:
        check_command(program)
    assert str(caught.value).startswith(f"{shown}: ") and caught.value.exit_code == EXIT_NOT_FOUND, caught.value
