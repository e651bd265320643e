"""What can be checked of the node image without a container engine: the files it
copies exist, the build runs `kmeshctl`, and the entrypoint command is a real command."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from kmeshctl.cli.common import app
from kmeshctl.params import DEFAULT_IMAGE

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """Arguments of each `name` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(f"{name} ")]


def context_copies() -> list[str]:
    """What the COPY instructions take from the build context (not `--from` a stage)."""
    return [src for line in instructions("COPY") if not line.startswith("--from=")
            for src in line.split()[:-1]]


def test_base_image_is_debian_12() -> None:
    stages = instructions("FROM")  # the last is the image; any other stage is Debian 12 too
    assert re.fullmatch(r"debian:12(-slim)?", stages[-1])
    assert all(re.fullmatch(r"debian:12(-slim)?( AS [\w-]+)?", stage) for stage in stages)


def test_every_copied_path_exists() -> None:
    copied = context_copies()
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


def test_the_copies_hold_everything_pip_install_needs() -> None:
    """`pip install .` inside the image builds a wheel from the copied tree: the readme
    and every asset directory the wheel force-includes must be among the copies."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    copied = set(context_copies())
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    needed |= set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"])
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    # Debian 12's python3 is 3.11: the project must accept it
    assert project["project"]["requires-python"] in (">=3.11", ">=3.10", ">=3.9")


def test_the_build_check_and_path_make_the_daemonset_command_work() -> None:
    # the last `pip install` installs kmeshctl itself (an earlier one, its dependencies)
    build = [line for line in instructions("RUN") if "pip install" in line][-1]
    check = build.rsplit("&&", 1)[-1].split()
    assert check[0] == "/opt/venv/bin/kmeshctl"
    import kmeshctl.cli  # noqa: F401

    assert CliRunner().invoke(app, check[1:]).exit_code == 0  # the build's smoke test is a real command
    [path] = [line for line in instructions("ENV") if line.startswith("PATH=")]
    assert path.split()[0].startswith("PATH=/opt/venv/bin:")  # `command: ["kmeshctl"]` finds the venv's


def test_readme_says_how_to_build_and_push_the_default_image() -> None:
    readme = (REPO / "README.md").read_text()
    image_name = DEFAULT_IMAGE.rsplit("/", 1)[1].split(":")[0]
    assert re.search(rf"docker build -t \S*{image_name}:\S+ \.", readme)
    assert re.search(rf"docker push \S*{image_name}:\S+", readme)
    assert re.search(rf"kmeshctl install --image \S*{image_name}:\S+", readme)
