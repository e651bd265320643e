"""`node cleanup --bpf-fs DIR` acts only on a directory on bpffs that holds kmeshctl's pins:
anything else is refused (exit 2) before anything is touched; `..` and symlinks are
resolved first. Real bpffs and the real kernel data path (root)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bpf_testlib import dataplane_paths
from kmeshctl.node import loader
from kmeshctl.cli import app
from kmeshctl.errors import UsageError

pytestmark = pytest.mark.root

runner = CliRunner()


def test_a_directory_not_on_bpffs_is_refused_and_left_alone(tmp_path: Path) -> None:
    decoy = tmp_path / "pins"
    decoy.mkdir()
    (decoy / "km_manage").write_text("not a BPF map\n")  # one of our pin names
    result = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(decoy)])
    assert result.exit_code == 2, result.output
    assert "is not on a bpf filesystem" in result.output
    assert (decoy / "km_manage").read_text() == "not a BPF map\n"


def test_dot_dot_is_resolved_before_the_check(run_id: str) -> None:
    bpf_fs, _ = dataplane_paths(run_id, "dots")
    bpf_fs.mkdir()
    try:
        # /sys/fs/bpf/kmtest-…/../../.. is /sys: not bpffs, whatever the path starts with.
        with pytest.raises(UsageError, match=r"is not on a bpf filesystem \(it resolves to /sys\)"):
            loader.cleanup(bpf_fs / ".." / ".." / "..")
        # /sys/fs/bpf/kmtest-…/.. is the bpffs root, which holds no pin of ours: refused.
        with pytest.raises(UsageError, match="holds no pin of kmeshctl's data path"):
            loader.cleanup(bpf_fs / "..")
    finally:
        bpf_fs.rmdir()


def test_a_bpffs_directory_without_our_pins_is_refused(run_id: str) -> None:
    bpf_fs, _ = dataplane_paths(run_id, "foreign")
    (bpf_fs / "someone-elses").mkdir(parents=True)
    try:
        result = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(bpf_fs)])
        assert result.exit_code == 2, result.output
        assert "holds no pin of kmeshctl's data path" in result.output
        assert (bpf_fs / "someone-elses").is_dir()
    finally:
        (bpf_fs / "someone-elses").rmdir()
        bpf_fs.rmdir()


def test_a_symlink_to_the_real_pins_is_followed_and_cleaned(run_id: str, tmp_path: Path) -> None:
    bpf_fs, cgroup = dataplane_paths(run_id, "link")
    cgroup.mkdir()
    try:
        loader.load(bpf_fs, cgroup).close()
        link = tmp_path / "pins"
        link.symlink_to(bpf_fs)
        (tmp_path / "sub").mkdir()
        via_dots = Path(f"{tmp_path}/sub/../pins")  # `..`, then a symlink into bpffs
        result = runner.invoke(app, ["node", "cleanup", "--bpf-fs", str(via_dots), "--cgroup2-path", str(cgroup)])
        assert result.exit_code == 0, result.output
        assert f"unpinned {bpf_fs}/km_manage" in result.output and not bpf_fs.exists()
    finally:
        loader.cleanup(bpf_fs, cgroup)
        cgroup.rmdir()
