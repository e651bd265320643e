"""Helper h108, kind "one command's JSON keys are cased unlike the others'": every
command's -o json is Kubernetes-style camelCase but the demo's, snake_case. Decision: the
demo's document is the versioned schema kmeshctl.demo.traffic-shift/v1 (fields only ever
added), kept as it is; docs/usage.md says so beside the -o convention, and why."""

from __future__ import annotations

import re
from pathlib import Path

from kmeshctl import demo

USAGE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"
V1_KEYS = {"schema", "target", "sandbox", "cluster", "subsets", "requests", "totals", "failures", "p_value_floor",
           "phases", "passed", "error", "reason", "fix", "fix_seconds"}


def test_the_demo_document_keeps_its_v1_snake_case_keys() -> None:
    _, subject = demo.fortio_demo()
    phase = demo._phase_report(subject, [90, 10], demo.TrafficCount(20, 0, {"1": 18, "2": 2}), None)
    data = demo.DemoReport("local", 20, [phase], subject, "h108").to_json()
    assert data["schema"] == demo.SCHEMA == "kmeshctl.demo.traffic-shift/v1" and set(data) == V1_KEYS
    keys = set(data) | set(data["phases"][0]) | set(data["totals"])
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", key) for key in keys), keys


def test_the_conventions_say_why_the_demo_is_not_camel_case() -> None:
    text = " ".join(USAGE.read_text().split())
    start = text.index("- The keys of `-o json|yaml` are camelCase as kubectl's")
    paragraph = text[start:text.index(" - ", start + 3)]
    for words in ("`demo traffic-shift`", "versioned schema `kmeshctl.demo.traffic-shift/v1` in snake_case",
                  "kept as it is, fields only ever added"):
        assert words in paragraph, paragraph
