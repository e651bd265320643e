"""The package layout issue 10 asks for: the node agent in kmeshctl/node/, protobuf only
inside kmeshctl/xds/, and the low-level modules at the bottom, importing nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kmeshctl"
LOW_LEVEL = {"bpfsys", "maps", "errors", "paths", "bounded", "unixsock"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_low_level_modules_import_only_each_other() -> None:
    for name in sorted(LOW_LEVEL):
        ours = {m.split(".")[1] for m in imported_modules(PACKAGE / f"{name}.py")
                if m.startswith("kmeshctl.")}
        assert ours <= LOW_LEVEL, f"kmeshctl/{name}.py imports {sorted(ours - LOW_LEVEL)} from above it"


def test_protobuf_stays_inside_xds() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("xds", "sandbox", "waypoint"):
            continue  # the wire, and the control planes that build messages for Envoy and the agent
        protobuf = {m for m in imported_modules(path)
                    if m.startswith(("google.protobuf", "kmeshctl.xds.protos", "envoy.config", "envoy.service",
                                     "envoy.extensions"))}
        assert not protobuf, f"{rel} imports {sorted(protobuf)}: protobuf stays in kmeshctl/xds/"


def test_the_node_agent_has_a_package_of_its_own() -> None:
    node = {p.stem for p in (PACKAGE / "node").glob("*.py")}
    assert {"agent", "model", "workload_cache", "translate", "mapsync", "loader", "admin", "metrics"} <= node
    assert not (PACKAGE / "agent.py").exists() and not (PACKAGE / "mapsync.py").exists()


# The CLI's own: what the user typed (click's context) and the CLI modules that read it.
# A library gets what it needs from the CLI as an argument (e.g. kmeshctl.sandboxes.Rerun).
CLI_FRAMEWORKS = ("typer", "click")
CONTEXT_FREE_CLI = ("kmeshctl.cli.tables", "kmeshctl.cli.outpaths")  # formatting and path checks only


def command_line_imports(path: Path) -> set[str]:
    """What module ``path`` imports of the command line: typer, click, or a kmeshctl/cli/
    module that reads what was typed."""
    found = imported_modules(path)
    framework = {m for m in found if m.split(".")[0] in CLI_FRAMEWORKS}
    cli = {m for m in found if m.startswith("kmeshctl.cli.")
           and not any(m == ok or m.startswith(f"{ok}.") for ok in CONTEXT_FREE_CLI)}
    return framework | cli


def test_only_the_cli_knows_the_command_line() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        found = command_line_imports(path)
        assert not found, f"{rel} imports {sorted(found)}: only kmeshctl/cli/ reads the command line; " \
                          "pass what the library needs down from it"


FORK_UNSAFE = ("preexec_fn", "user", "group", "extra_groups")  # each makes subprocess fork(), not vfork()


def _unsafe_spawn_arguments(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            found += [f"{path.name}:{node.lineno} {k.arg}=" for k in node.keywords if k.arg in FORK_UNSAFE
                      and isinstance(node.func, ast.Attribute) and node.func.attr in ("Popen", "run")]
    return found


def test_no_subprocess_forks_a_threaded_process_with_work_between_fork_and_exec() -> None:
    """With gRPC loaded (the agent, the sandbox, the test process), a child that runs code
    between fork() and exec() is aborted by gRPC's fork handlers about once in a hundred
    spawns (seen in CI: a pod's `ss -K` exited -6). Without these arguments CPython
    spawns with vfork(), which runs no fork handlers; podnet.entering does the work with
    sh and nsenter instead."""
    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").rglob("*.py"), *(root / "benchmarks").rglob("*.py")]
    found = [hit for path in sorted(files) for hit in _unsafe_spawn_arguments(path)]
    assert not found, f"spawn with work in the forked child (use podnet.entering, setpriv or env): {found}"
