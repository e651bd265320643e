"""`kmeshctl node preflight` and `kmeshctl node cleanup` on the real kernel."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpf_testlib import dataplane_paths
from kmeshctl import bpfsys
from kmeshctl.node import loader
from kmeshctl.cli import app
from kmeshctl.errors import KmeshctlError, UsageError

pytestmark = pytest.mark.root

runner = CliRunner()
CGROUP_HOOKS = (bpfsys.CGROUP_INET4_CONNECT, bpfsys.CGROUP_INET6_CONNECT, bpfsys.CGROUP_SOCK_OPS)


def _attached(cgroup: Path) -> list[int]:
    fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return [i for t in CGROUP_HOOKS for i in bpfsys.prog_query(fd, t)]
    finally:
        os.close(fd)


def test_preflight_passes_on_this_node() -> None:
    result = runner.invoke(app, ["node", "preflight"])
    assert result.exit_code == 0, result.output
    for name in ("bpf syscall", "cgroup v2", "bpffs", "bcc", "kernel headers"):
        assert re.search(rf"^{name} +pass ", result.output, re.M), result.output


def test_cleanup_removes_every_attachment_and_pin(run_id: str) -> None:
    bpf_fs, cgroup = dataplane_paths(run_id, "cli")
    cgroup.mkdir()
    try:
        loader.load(bpf_fs, cgroup).close()
        assert loader.is_loaded(bpf_fs) and len(_attached(cgroup)) == 3
        result = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(bpf_fs),
                                     "--cgroup2-path", str(cgroup)])
        assert result.exit_code == 0, result.output
        assert f"detached km_connect4 from {cgroup}" in result.output
        assert _attached(cgroup) == [] and not bpf_fs.exists()
        again = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(bpf_fs),
                                    "--cgroup2-path", str(cgroup)])
        assert again.exit_code == 2 and "does not exist" in again.output
        repeat = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(bpf_fs),
                                     "--cgroup2-path", str(cgroup), "--ignore-not-found"])
        assert repeat.exit_code == 0 and "nothing to clean up" in repeat.output
    finally:
        loader.cleanup(bpf_fs, cgroup)
        cgroup.rmdir()


def test_cleanup_refuses_a_path_that_is_not_a_cgroup(tmp_path: Path) -> None:
    result = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(tmp_path / "x"),
                                 "--cgroup2-path", str(tmp_path), "--ignore-not-found"])
    assert result.exit_code == 2 and "not a cgroup v2 directory" in result.output


def test_load_refuses_a_path_that_is_not_a_cgroup(run_id: str, tmp_path: Path) -> None:
    bpf_fs, _ = dataplane_paths(run_id, "bad")
    with pytest.raises(UsageError, match="not a cgroup v2 directory"):
        loader.load(bpf_fs, tmp_path)
    assert not bpf_fs.exists()
