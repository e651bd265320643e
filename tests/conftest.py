"""Shared test fixtures: per-run unique names and the `root` marker's skip rule."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _root_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (BPF, network namespaces, cgroups): run the tests as root"
    if not Path("/sys/fs/cgroup/unified/cgroup.controllers").exists() and not Path(
        "/sys/fs/cgroup/cgroup.controllers"
    ).exists():
        return "needs cgroup v2 mounted"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _root_skip_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short id unique to this test run, for netns / cgroup / bpffs names."""
    return secrets.token_hex(3)
