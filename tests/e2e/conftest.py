"""The e2e tier's fixture: one real single-node cluster for the e2e package (tests/e2e/tier.py), torn down before the rest of the suite runs.

Skipped (with the reason) only when Go is not on the machine; with Go present, missing
binaries or images FAIL the tests and say how to build them. KMESHCTL_TIER_REUSE=ID runs
the tests on a tier already up (`python -m tests.e2e.tier up --hold`) and leaves it up.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.tier import MissingInputs, Tier, TierError, load_inputs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def tier() -> Iterator[Tier]:
    if shutil.which("go") is None:
        pytest.skip("the e2e tier is built from Go modules and `go` is not installed")
    if os.geteuid() != 0:
        pytest.fail("the e2e tier needs root (network namespaces, cgroups, mounts)")
    try:
        load_inputs()
    except MissingInputs as e:
        pytest.fail(str(e), pytrace=False)
    logging.getLogger("kmeshctl.tier").setLevel(logging.INFO)
    reuse = os.environ.get("KMESHCTL_TIER_REUSE")
    if reuse:  # a developer's running tier (`python -m tests.e2e.tier up --hold`): kept afterwards
        running = Tier.existing_ids()
        if reuse not in running:
            pytest.fail(f"KMESHCTL_TIER_REUSE={reuse}: no such tier; running: {running}", pytrace=False)
        yield Tier(reuse)
        return
    _refresh_images()
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the finalizer below runs;
    # Tier.up()'s atexit hook is the last resort.
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    t = Tier()
    try:
        try:
            t.up()
        except TierError as e:
            t.down()
            pytest.fail(f"e2e tier did not come up: {e}", pytrace=False)
        yield t
    finally:
        try:
            t.down()  # idempotent
        finally:
            signal.signal(signal.SIGTERM, previous)


def install_flags(tier: Tier) -> list[str]:
    """The flags of an install into the tier: its istiod, its cluster id, its node image."""
    from tests.e2e.test_cluster_e2e import XDS_ADDRESS

    return ["--xds-address", XDS_ADDRESS, "--cluster-id", tier.cluster_id, "--image", tier.image("kmeshctl-node")]


@pytest.fixture(scope="module")
def installed(tier: Tier) -> Iterator[None]:
    """kmesh installed in kmesh-system for a test module, uninstalled after it."""
    tier.kmeshctl("uninstall", "--timeout", "120", timeout=180)  # whatever an earlier file left
    result = tier.kmeshctl("install", *install_flags(tier), "--timeout", "300", timeout=420)
    assert "DaemonSet kmesh-system/kmesh is ready" in result.stdout + result.stderr, result.stderr
    try:
        yield
    finally:
        tier.kmeshctl("uninstall", "--timeout", "120", check=False, timeout=180)


def _refresh_images() -> None:
    """The node image is built from this checkout's sources: rebuild it when they changed
    since the last build (seconds when nothing did), so the tests never run old code."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "tier" / "images.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        pytest.fail(f"scripts/tier/images.sh failed:\n{(done.stdout + done.stderr)[-3000:]}", pytrace=False)


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
