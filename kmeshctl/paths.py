"""Where the project's non-Python assets (templates/, bpf/) live.

From a checkout they sit at the repository root; from an installed wheel they are
packaged under ``kmeshctl/_data``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_dir(name: str) -> Path:
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    packaged = _PACKAGE_DIR / "_data" / name
    if packaged.is_dir():
        return packaged
    raise FileNotFoundError(f"kmeshctl asset directory '{name}' not found (broken install?)")


def templates_dir() -> Path:
    return _asset_dir("templates")


def bpf_dir() -> Path:
    return _asset_dir("bpf")


def examples_dir() -> Path:
    return _asset_dir("examples")
