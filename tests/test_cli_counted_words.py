"""Issue 14, kind "counts in the right number, no `(from unknown)`": a count reads `1 pod`
/ `2 pods` / `0 pods` (never `pod(s)`, `step(s)` or `the 0 pods' workloads`), and `dump
config` names where a node's locality came from only when it is known. Real parts:
params.counted, the sandbox's progress lines as they are built, config_dump's tables
printed to a console."""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path

from rich.console import Console

import kmeshctl
from kmeshctl import config_dump
from kmeshctl.params import counted

PACKAGE = Path(kmeshctl.__file__).parent


def test_counted() -> None:
    assert counted(0, "pod") == "0 pods" and counted(1, "pod") == "1 pod" and counted(2, "step") == "2 steps"
    assert counted(3, "policy", "policies") == "3 policies"


def test_no_message_spells_a_plural_with_parentheses() -> None:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if re.search(r"\{[^}]*\}\s+[a-z ]*[a-z]\(s\)", code):  # `{n} pod(s)`: a counted noun
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_sandbox_progress_counts_workloads_and_steps() -> None:
    from kmeshctl.sandbox import agent, sandbox

    assert "no pods to wait for" in inspect.getsource(sandbox)  # never `the 0 pods' workloads`
    assert "step(s)" not in inspect.getsource(agent)


def _node_line(node: dict) -> str:
    out = io.StringIO()
    service = {"namespace": "default", "hostname": "a.default.svc.cluster.local"}  # rows: the node line on stdout
    config_dump.print_cache_tables({"services": [service], "workloads": [], "policies": [], "node": node},
                                   Console(file=out, width=120, color_system=None))
    return [line for line in out.getvalue().splitlines() if line.startswith("node ")][0]


def test_an_unknown_locality_has_no_source() -> None:
    assert _node_line({"name": "sandbox"}) == "node sandbox: locality unknown"
    assert _node_line({"name": "sandbox", "locality_source": "unknown"}) == "node sandbox: locality unknown"
    assert _node_line({"name": "n1", "locality": {"region": "r", "zone": "z"}, "locality_source": "node labels"}) \
        == "node n1: locality r/z/- (from node labels)"
