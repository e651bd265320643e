"""Cluster-facing commands: render, install, uninstall, precheck, status, enable-ns, disable-ns."""

from __future__ import annotations
