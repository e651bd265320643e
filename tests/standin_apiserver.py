"""The stand-in API server, kept importable under its first name: it lives in the
`tests/standin/` package now (see its docstring for what it serves)."""

from standin import *  # noqa: F401,F403
from standin import __all__  # noqa: F401
