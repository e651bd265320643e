"""Helper h104: the demo keys each response to a subset by the `Server:` header its pods
send, so 1 subsets whose pods send the same header are refused before a request is sent
(the demo's subject, local and cluster alike); 2 --weights examples fit the subsets'
count (3 -> 70/20/10, 1 -> 100; before the target is known they say whose they are),
counted in the right number; 3 a run with too few requests ends with the command that
fixes it, every flag typed kept and -c replaced (`fix` in the JSON)."""

from __future__ import annotations

import json

import pytest
import yaml

from kmeshctl import demo
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox.manifests import from_documents
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_demo_sandbox_own_weights import FakeTarget, _edited, _fortio_record, _target


def _same_header(docs: list[dict], server: str = "1") -> list[dict]:
    """``docs`` with every fortio pod started with `header=server:SERVER`."""
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"].startswith("fortio-"):
            args = doc["spec"]["template"]["spec"]["containers"][0]["args"]
            args[-1] = f"header=server:{server}"
    return docs


# ------------------------------------------------------------------ 1. one Server header for two subsets


def test_two_subsets_sending_one_server_header_are_refused() -> None:
    with pytest.raises(UsageError) as caught:
        demo.demo_subject(from_documents(_same_header(_edited([90, 10]))))
    assert str(caught.value) == (
        "subsets v1 and v2 of fortio send the same Server header (1): the demo cannot tell their responses "
        "apart; give each version its own `-echo-server-default-params header=server:N`")


def test_a_sandbox_whose_subsets_share_a_header_refuses_before_sending(state_root, no_env) -> None:
    state = _fortio_record("h104a")
    state.manifests_file.write_text(yaml.safe_dump_all(_same_header(_edited([90, 10])), sort_keys=False))
    with pytest.raises(KmeshctlError, match=r"send the same Server header \(1\): the demo cannot tell"):
        _target("h104a")


def test_the_cli_refuses_it_as_it_refuses_a_missing_header(state_root, no_env, capsys, monkeypatch) -> None:
    state = _fortio_record("h104b")
    state.manifests_file.write_text(yaml.safe_dump_all(_same_header(_edited([90, 10])), sort_keys=False))
    sent: list[object] = []
    monkeypatch.setattr(demo, "run_traffic_shift", lambda *a, **k: sent.append(a))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h104b", "-c", "50")
    assert code == 1 and not out and not sent, err
    assert "subsets v1 and v2 of fortio send the same Server header (1)" in err, err


def test_a_route_naming_one_subset_twice_is_refused() -> None:
    docs = _edited([50, 50])
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    for route in vs["spec"]["http"][0]["route"]:
        route["destination"]["subset"] = "v1"
    with pytest.raises(UsageError, match="names subset v1 twice"):
        demo.demo_subject(from_documents(docs))


# ------------------------------------------------------------------ 2. examples that fit the subsets


def test_weight_examples_fit_the_subsets_count() -> None:
    three = demo.demo_subject(from_documents(_edited([70, 20, 10], ("v1", "v2", "v3"))))
    assert demo.weight_examples(three) == ("70/20/10", "70/20/10,34/33/33")
    with pytest.raises(UsageError) as caught:
        demo.parse_weight_sets("50/20/20", three)
    assert "use weights that add up to 100, e.g. 70/20/10" in str(caught.value)
    with pytest.raises(UsageError) as caught:
        demo.parse_weight_sets("50/50/0,90/20/0", three)
    assert "e.g. 70/20/10,34/33/33" in str(caught.value) and "90/10" not in str(caught.value)
    even = demo.demo_subject(from_documents(_edited([50, 50])))
    assert demo.weight_examples(even) == ("50/50", "50/50,0/100")


def test_one_subset_takes_one_weight_said_in_the_singular() -> None:
    one = demo.demo_subject(from_documents(_edited([100], ("v1",))))
    assert demo.weight_examples(one) == ("100", "100")
    with pytest.raises(UsageError) as caught:
        demo.parse_weight_sets("90/10", one)
    assert str(caught.value) == "--weights 90/10: 2 weights for 1 version (v1); use 1 weight that adds up to 100, " \
                                "e.g. 100"


def test_before_the_target_is_known_the_example_says_whose_it_is() -> None:
    _, default = demo.fortio_demo()
    with pytest.raises(UsageError) as caught:
        demo.parse_weight_sets("90/20", default, check_count=False)
    assert str(caught.value).endswith("e.g. 90/10 (for v1/v2; one weight per subset)")


def test_a_named_sandbox_with_three_subsets_is_checked_with_its_own_count(state_root, no_env, capsys) -> None:
    state = _fortio_record("h104c")
    state.manifests_file.write_text(yaml.safe_dump_all(_edited([70, 20, 10], ("v1", "v2", "v3")), sort_keys=False))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h104c", "--weights", "90/20")
    assert code == 2 and "e.g. 70/20/10" in err and "90/10" not in err, err
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h104c", "--weights", "90/10")
    assert code == 2 and "2 weights for 3 versions (v1/v2/v3); use 3 weights that add up to 100, e.g. 70/20/10" \
        in err, err


# ------------------------------------------------------------------ 3. the fix keeps the flags typed


@pytest.fixture
def two_subsets(monkeypatch) -> FakeTarget:
    monkeypatch.setattr(demo, "CHANGE_LEAD_S", 0.01)
    target = FakeTarget(demo.demo_subject(from_documents(_edited([90, 10]))), [90, 10])
    monkeypatch.setattr(demo, "choose_target", lambda *a, **k: (target, "Target: local sandbox h104fake"))
    monkeypatch.setattr(demo_target, "measured_subject", lambda name, namespace=None: None)
    return target


def test_too_few_requests_end_with_the_command_that_fixes_it(two_subsets, capsys, no_env) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h104d", "--weights", "50/50", "-c", "3",
                         "-q")
    last = out.strip().splitlines()[-1]
    assert code == 1 and last.startswith("FAIL: "), out + err
    assert last.endswith("too few requests to judge (need at least 11 for these weights): "
                         "`kmeshctl demo traffic-shift --sandbox h104d --weights 50/50 -q -c 11`"), last
    code, out, err = cli(capsys, "demo", "traffic-shift", "--requests", "3", "--weights", "50/50", "-o", "json")
    data = json.loads(out)
    assert code == 1 and data["fix"] == "kmeshctl demo traffic-shift --weights 50/50 -o json -c 11", data
    assert data["reason"] == f"too few requests to judge (need at least 11 for these weights): `{data['fix']}`"


def test_a_run_that_passes_has_no_fix(two_subsets, capsys, no_env) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "20", "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["fix"] is None and data["reason"] is None, out + err
