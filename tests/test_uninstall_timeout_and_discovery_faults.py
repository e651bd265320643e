"""uninstall --timeout bounds the whole uninstall, the check of what the namespace holds
included, and a discovery fault of one API group neither aborts uninstall nor keeps the
namespace for nothing (reviewer r106, h111):

- the deadline is checked before each delete: once passed, nothing more is deleted and the
  line names what was not, why (the limit came before it), and the uninstall to paste;
- the namespace check (discovery of every group, a list of every kind) stops at the
  deadline, each request cut there too: the namespace is kept, `could not check ... within
  the --timeout 2s limit`, never reported as `still exists after` a wait that never was;
- wait_gone looks again at least once after a delete before it can give up;
- a group is unknown only when none of its versions could be discovered (a failing
  non-preferred version does not keep the namespace); a malformed resource list or no
  answer within --request-timeout is a failure of that group (namespace kept, named), not
  `not a Kubernetes API server` / `cannot reach` after everything else was gone.

Real parts: kmeshctl.cli.main in-process against the stand-in API server, its discovery
slowed or broken per group."""

from __future__ import annotations

import json
import shlex
import time

import pytest

from kmeshctl import uninstall
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import object_ref
from kmeshctl.uninstall import installed_objects
from standin import HttpError, Resource
from standin_apiserver import cluster  # noqa: F401 (fixture)

NS = "kmesh-system"
ORDER = [object_ref(o) for o in reversed(installed_objects(NS, "istio-system"))]
SLOW = [Resource(f"h111-slow{i}.example.com", "v1", f"Thing{i}", f"things{i}", True) for i in range(4)]
WIDGETS = [Resource("h111-multi.example.com", v, "Widget", "widgets", True) for v in ("v1", "v1beta1")]
BROKEN = Resource("h111-broken.example.com", "v1", "Gadget", "gadgets", True)


def _installed(cluster, extra: list[Resource]) -> None:  # noqa: F811
    cluster.server.extra_resources.extend(extra)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0


def _discovery(cluster, answer) -> None:  # noqa: F811
    """The stand-in's discovery of a group version ``answer``s (group, version, real) first."""
    real = cluster.server.discovery

    def discovery(parts):
        if len(parts) == 3:
            return answer(parts[1], parts[2], lambda: real(parts))
        return real(parts)

    cluster.server.discovery = discovery


def _error_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.startswith("Error: ")]
    assert len(lines) == 1, err
    return lines[0].removeprefix("Error: ")


def _pasted(line: str) -> list[str]:
    return shlex.split(next(c for c in line.split("`")[1::2] if c.startswith("kmeshctl")))


def _namespace_there(cluster) -> bool:  # noqa: F811
    return cluster.server.get("v1", "Namespace", NS) is not None


# -- H2: the limit covers the namespace check ---------------------------------------------------


def test_slow_discovery_stops_at_the_timeout_and_keeps_the_namespace_saying_why(cluster) -> None:  # noqa: F811
    _installed(cluster, SLOW)

    def slow(group, version, real):
        if group.startswith("h111-slow"):
            time.sleep(1.5)  # an aggregated API answering slowly, well within --request-timeout
        return real()

    _discovery(cluster, slow)
    started = time.monotonic()
    result = cluster.kmeshctl("uninstall", "--timeout", "2", "-q")
    took = time.monotonic() - started
    assert took <= 2 + 1.2, f"uninstall --timeout 2 ran {took:.1f}s"  # one uncut 1.5 s discovery: >= 3.5 s
    assert result.code == 1, result
    line = _error_line(result.err)
    assert "still exists after" not in line, line
    assert line.startswith("uninstall stopped by the --timeout 2s limit (reached before what Namespace "
                           "kmesh-system holds was all checked): deleted "), line
    assert line.split("; re-run")[0].endswith("; not deleted: Namespace kmesh-system"), line
    assert _pasted(line)[-4:] == ["uninstall", "--timeout", "2s", "-q"], line
    assert _namespace_there(cluster)


def test_json_keeps_the_namespace_with_what_it_could_not_check_in_time(cluster) -> None:  # noqa: F811
    _installed(cluster, SLOW)
    _discovery(cluster, lambda group, version, real: time.sleep(1.5) or real() if group.startswith("h111-slow")
               else real())
    result = cluster.kmeshctl("uninstall", "--timeout", "2", "-o", "json")
    assert result.code == 1, result
    document = json.loads(result.out)
    spared = {s["object"]: s for s in document["spared"]}
    reason = spared[f"Namespace {NS}"]["reason"]
    assert reason.startswith("could not check "), reason
    assert reason.startswith("could not check within the --timeout 2s limit "), reason
    assert "the kinds of API groups h111-slow" in reason, reason
    assert reason.endswith(", so it may hold objects install did not make"), reason
    assert document["deleted"] == ORDER[:-1], document
    [error] = document["errors"]
    assert "not deleted: Namespace kmesh-system" in error, error


def test_the_deadline_passing_between_two_objects_stops_before_the_next_delete(cluster) -> None:  # noqa: F811
    _installed(cluster, [])
    server, real_delete = cluster.server, cluster.server.delete

    def slow_delete(res, key, dry_run=False):
        if res.kind == "ClusterRole" and not dry_run:
            time.sleep(1.2)
        return real_delete(res, key, dry_run)

    server.delete = slow_delete
    result = cluster.kmeshctl("uninstall", "--timeout", "1", "-n", NS, "-q")
    assert result.code == 1, result
    line = _error_line(result.err)
    # the DELETE running past the deadline is cut there (F19E): sent, its answer not seen, never `not deleted`
    assert line.startswith("uninstall stopped by the --timeout 1s limit (reached while deleting ClusterRole "
                           "kmesh): deleted "), line
    assert line.split("; re-run")[0].endswith("; ClusterRole kmesh: delete sent, answer not seen; not deleted: "
                                              "ServiceAccount kmesh-system/kmesh, Namespace kmesh-system"), line
    sent = [r.path for r in server.requests if r.method == "DELETE"]
    assert not any(p.endswith("/serviceaccounts/kmesh") or p.endswith(f"/namespaces/{NS}") for p in sent), sent
    words = _pasted(line)
    assert words[:3] == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig)], words
    assert words[3] == "uninstall" and {" ".join(words[i:i + 2]) for i in range(4, len(words))} >= \
        {"--timeout 1s", f"-n {NS}"} and "-q" in words, words
    server.delete = real_delete
    again = cluster.kmeshctl(*words[3:])  # the pasted command finishes it
    assert again.code == 0, again
    assert not _namespace_there(cluster)


class _Going:
    """A client whose object is still there at the first look after its delete, then gone."""

    def __init__(self, present_looks: int) -> None:
        self.looks, self.present_looks = 0, present_looks

    def get(self, *args):
        self.looks += 1
        return {"metadata": {"name": "kmesh"}} if self.looks <= self.present_looks else None


def test_wait_gone_looks_again_after_the_delete_before_it_gives_up() -> None:
    account = next(o for o in installed_objects(NS, "istio-system") if o["kind"] == "ServiceAccount")
    going = _Going(1)
    uninstall.wait_gone(going, account, time.monotonic() - 1, poll=0.01, timeout=2)  # type: ignore[arg-type]
    assert going.looks == 2
    held = _Going(100)
    with pytest.raises(KmeshctlError, match="still exists after the --timeout 2s limit"):
        uninstall.wait_gone(held, account, time.monotonic() - 1, poll=0.01, timeout=2)  # type: ignore[arg-type]
    assert held.looks == 2


def test_the_poll_interval_is_a_parameter() -> None:
    import inspect

    from kmeshctl.params import UNINSTALL_POLL_S

    assert inspect.signature(uninstall.wait_gone).parameters["poll"].default == UNINSTALL_POLL_S


# -- lows: discovery faults of one group -------------------------------------------------------------


def test_a_failing_non_preferred_version_does_not_keep_the_namespace(cluster) -> None:  # noqa: F811
    _installed(cluster, WIDGETS)

    def stale(group, version, real):
        if (group, version) == ("h111-multi.example.com", "v1beta1"):
            raise HttpError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        return real()

    _discovery(cluster, stale)
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    assert f"Namespace {NS} deleted" in result.out, result.out
    assert not _namespace_there(cluster)


def test_a_group_with_no_version_discovered_keeps_the_namespace_and_is_named(cluster) -> None:  # noqa: F811
    _installed(cluster, WIDGETS)

    def down(group, version, real):
        if group == "h111-multi.example.com":
            raise HttpError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        return real()

    _discovery(cluster, down)
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    assert (f"Namespace {NS} kept: could not learn the kinds served at h111-multi.example.com/v1, "
            "h111-multi.example.com/v1beta1 (their API is down, or answered no resource list), so it may hold "
            "objects install did not make\n") in result.out, result.out
    assert _namespace_there(cluster)


def test_a_malformed_resource_list_is_that_groups_failure_not_the_servers(cluster) -> None:  # noqa: F811
    _installed(cluster, [BROKEN])
    _discovery(cluster, lambda group, version, real: {"kind": "APIResourceList", "resources": "nope"}
               if group == BROKEN.group else real())
    result = cluster.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0, result
    document = json.loads(result.out)
    assert document["errors"] == [] and document["deleted"] == ORDER[:-1], document
    [kept] = document["spared"]
    assert kept["object"] == f"Namespace {NS}" and "h111-broken.example.com/v1" in kept["reason"], kept
    assert "not a Kubernetes API server" not in result.out + result.err


def test_a_group_not_answering_within_the_request_timeout_is_that_groups_failure(cluster) -> None:  # noqa: F811
    _installed(cluster, [BROKEN])

    def hangs(group, version, real):
        if group == BROKEN.group:
            time.sleep(2)
        return real()

    _discovery(cluster, hangs)
    result = cluster.kmeshctl("--request-timeout", "1", "uninstall")
    assert result.code == 0, result
    assert "cannot reach" not in result.err, result.err
    assert f"Namespace {NS} kept: could not learn the kinds served at h111-broken.example.com/v1 " in result.out, \
        result.out
    assert _namespace_there(cluster)
