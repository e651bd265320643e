"""Finding the cgroup v2 directory the DaemonSet's --cgroup2-path names."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmeshctl.errors import UsageError
from kmeshctl.nodecheck import resolve_cgroup2_dir


def _cgroup_dir(path: Path, v2: bool) -> Path:
    path.mkdir(parents=True)
    (path / "cgroup.procs").write_text("")
    if v2:
        (path / "cgroup.controllers").write_text("cpu memory\n")
    return path


def test_a_v2_directory_is_taken_as_given(tmp_path: Path) -> None:
    root = _cgroup_dir(tmp_path / "cgroup", v2=True)
    assert resolve_cgroup2_dir(root) == root


def test_a_hybrid_host_mount_resolves_to_its_unified_child(tmp_path: Path) -> None:
    host = tmp_path / "host-cgroup"
    _cgroup_dir(host / "cpu", v2=False)
    unified = _cgroup_dir(host / "unified", v2=True)
    assert resolve_cgroup2_dir(host) == unified


def test_a_v1_hierarchy_is_refused_with_the_flag_named(tmp_path: Path) -> None:
    v1 = _cgroup_dir(tmp_path / "cpu", v2=False)
    with pytest.raises(UsageError, match="--cgroup2-path .* is not a cgroup v2 directory"):
        resolve_cgroup2_dir(v1)


@pytest.mark.root
def test_this_machines_hybrid_sys_fs_cgroup_resolves_to_unified() -> None:
    if not Path("/sys/fs/cgroup/unified/cgroup.controllers").exists():
        pytest.skip("this host is not a cgroup v1/v2 hybrid")
    assert resolve_cgroup2_dir("/sys/fs/cgroup") == Path("/sys/fs/cgroup/unified")
