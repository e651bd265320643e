"""What can be checked of the node image without a container engine: the files it
copies exist, the build runs `kmeshctl`, and the entrypoint command is a real command."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from kmeshctl.cli.common import app
from kmeshctl.params import DEFAULT_IMAGE

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]


def test_base_image_is_debian_12() -> None:
    assert re.fullmatch(r"debian:12(-slim)?", instructions("FROM")[0])


def test_every_copied_path_exists() -> None:
    copied = [src for line in instructions("COPY") for src in line.split()[:-1]]
    assert copied, "the Dockerfile copies nothing"
    missing = [src for src in copied if not (REPO / src).exists()]
    assert not missing, f"Dockerfile copies missing paths: {missing}"


def test_bcc_comes_from_debian_not_pypi() -> None:
    assert "python3-bpfcc" in DOCKERFILE
    assert "--system-site-packages" in DOCKERFILE
    assert not re.search(r"pip install[^\n]*\bbcc\b", DOCKERFILE)


def test_entrypoint_and_default_command_exist_in_the_cli() -> None:
    entrypoint = json.loads(instructions("ENTRYPOINT")[0])
    command = json.loads(instructions("CMD")[0])
    assert entrypoint == ["kmeshctl"]
    import kmeshctl.cli  # noqa: F401 - registers every command module on the app

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    for flag in ("--mode", "--xds-address", "--cluster-id", "--enable-bypass", "--enable-bpf-log",
                 "--bpf-fs", "--cgroup2-path", "--admin-port", "--metrics-port"):
        assert flag in result.output


def test_daemonset_runs_the_image_entrypoint() -> None:
    daemonset = (REPO / "templates" / "daemonset.yaml.j2").read_text()
    assert 'command: ["kmeshctl"]' in daemonset
    assert "kmeshctl-node" in DEFAULT_IMAGE
