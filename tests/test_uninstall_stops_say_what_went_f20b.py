"""r125 (fixer f20b): every way uninstall stops after it has started deleting says what was
deleted, what was not, and the uninstall to paste; and a look made after every delete
succeeded never turns a finished uninstall into a failure.

1. a DELETE the cluster took whose answer --request-timeout cut (before uninstall's own
   --timeout) was `cannot reach the Kubernetes API ... check that the cluster is up`: now
   the stopped line, `delete sent, answer not seen`, deleted / not deleted, the re-run;
2. the list of namespaces still labelled for Kmesh (after the deletes) refused or not
   answered was exit 1 with no summary, pointing at `precheck --uninstall` (which passes):
   now one line saying they could not be listed, the summary, exit 0 (JSON: null);
3. an object replaced between uninstall's read and its DELETE (uid precondition: 409) was
   a raw `Precondition failed` line: now it is read again and deleted if still kmeshctl's
   (left alone if not), and one replaced each time stops with the re-run;
4. an object still there past the limit (a finalizer holds it) named neither what was
   deleted nor what was not: now it does, as the cut line does.

Real parts: kmeshctl.cli.main in-process against the stand-in API server, its answers
delayed, refused or changed per object."""

from __future__ import annotations

import json
import shlex
import time
import uuid

import pytest

from kmeshctl.kube import object_ref
from kmeshctl.uninstall import installed_objects
from standin import HttpError
from standin.frontend import _Handler
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_wait_limits import HOLD, hold_on_delete

ORDER = [object_ref(o) for o in reversed(installed_objects("kmesh-system", "istio-system"))]
EF = "skip-tunneling"
EF_REF = f"EnvoyFilter istio-system/{EF}"
EF_KEY = ("networking.istio.io", "envoyfilters", "istio-system", EF)
_REAL_ON_OBJECT = _Handler.on_object
_REAL_ON_COLLECTION = _Handler.on_collection


def _installed(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c-f20b", "--no-wait", "-q").code == 0


def _error_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.startswith("Error: ")]
    assert len(lines) == 1, err
    return lines[0].removeprefix("Error: ")


def _pasted(line: str, start: str = "kmeshctl") -> list[str]:
    return shlex.split(next(c for c in line.split("`")[1::2] if c.startswith(start)))


def _present(cluster) -> list[str]:  # noqa: F811
    objs = reversed(installed_objects("kmesh-system", "istio-system"))
    return [object_ref(o) for o in objs if cluster.server.get(o["apiVersion"], o["kind"], o["metadata"]["name"],
                                                              o["metadata"].get("namespace")) is not None]


def _ends_as_typed(line: str, typed: list[str]) -> None:
    """The uninstall to paste is ``typed`` (after its --kubeconfig / --context), in any order."""
    words = _pasted(line)
    assert sorted(words[words.index("uninstall"):]) == sorted(["uninstall", *typed]), line


def _before_and_after(ref: str) -> tuple[list[str], list[str]]:
    at = ORDER.index(ref)
    return ORDER[:at], ORDER[at + 1:]


# -- 1. a DELETE taken, its answer cut by --request-timeout ------------------------------------


def _late_answer(cluster, name: str, seconds: float) -> None:  # noqa: F811
    """The DELETE of ``name`` is taken at once and answered ``seconds`` later."""
    original = cluster.server.delete

    def delete(res, key, dry_run=False):
        out = original(res, key, dry_run)
        if key[-1] == name and not dry_run:
            time.sleep(seconds)
        return out

    cluster.server.delete = delete


@pytest.mark.parametrize("output", [None, "json"])
def test_a_delete_answered_after_request_timeout_says_sent_and_what_went(cluster, output) -> None:  # noqa: F811
    _installed(cluster)
    _late_answer(cluster, EF, 2.5)
    args = ("-o", output) if output else ()
    result = cluster.kmeshctl("--request-timeout", "1s", "uninstall", "--timeout", "60s", *args)
    assert result.code == 1, result
    line = _error_line(result.err)
    done, left = _before_and_after(EF_REF)
    assert line.startswith(f"uninstall stopped by no answer to the DELETE of {EF_REF} within --request-timeout 1s: "
                           ), line
    assert f"1s: deleted {', '.join(done)}; {EF_REF}: delete sent, answer not seen; not deleted: {', '.join(left)}; " \
           "re-run `" in line, line
    assert line.endswith("` to remove the rest (it is safe to repeat), with a longer --request-timeout if it was "
                         "only slow"), line
    assert "check that the cluster is up" not in line, line
    _ends_as_typed(line, ["--timeout", "1m", *args])
    assert "--request-timeout" in _pasted(line), line
    if output:
        document = json.loads(result.out)
        assert document["errors"] == [line] and document["deleted"] == done, document
    time.sleep(2)  # the late answer goes out; the cluster took the delete
    assert _present(cluster) == left
    again = cluster.kmeshctl(*_pasted(line)[1:])
    assert again.code == 0 and not _present(cluster), again


# -- 2. the still-labelled namespaces not listable after the deletes ---------------------------


def _namespace_list_fails(cluster, monkeypatch, fail) -> None:  # noqa: F811
    """Every list of namespaces across the cluster ends with ``fail()``."""
    def on_collection(self, method, res, namespace, query, *args):  # type: ignore[no-untyped-def]
        if method == "GET" and res.plural == "namespaces" and not namespace:
            fail()
        return _REAL_ON_COLLECTION(self, method, res, namespace, query, *args)

    monkeypatch.setattr(_Handler, "on_collection", on_collection)


def _forbidden() -> None:
    raise HttpError(403, "Forbidden", 'namespaces is forbidden: User "f20b" cannot list resource "namespaces" in '
                    'API group "" at the cluster scope')


def _unavailable() -> None:
    raise HttpError(503, "ServiceUnavailable", "the server is currently unable to handle the request")


def _note(cluster, err: str) -> str:  # noqa: F811
    lines = [x for x in err.splitlines() if x.startswith("Could not list the namespaces")]
    assert len(lines) == 1 and "precheck" not in err, err
    assert not [x for x in err.splitlines() if x.startswith("Error:")], err
    line = lines[0]
    assert line.startswith("Could not list the namespaces still labelled istio.io/dataplane-mode=Kmesh ("), line
    assert shlex.split(line.split("`")[1])[:6] == ["kubectl", "get", "namespaces", "-l",
                                                   "istio.io/dataplane-mode=Kmesh", "--kubeconfig"], line
    return line


@pytest.mark.parametrize("fail", [_forbidden, _unavailable], ids=["403", "503"])
def test_namespaces_not_listable_after_the_deletes_leave_it_done(cluster, monkeypatch, fail) -> None:  # noqa: F811
    _installed(cluster)
    _namespace_list_fails(cluster, monkeypatch, fail)
    result = cluster.kmeshctl("uninstall", "-q")
    assert result.code == 0, result
    assert "forbidden" in _note(cluster, result.err) or fail is _unavailable
    assert f"Uninstalled: {len(ORDER)} objects deleted." in result.out, result
    assert not _present(cluster)


def test_namespaces_unanswered_after_the_deletes_json_says_null(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    _namespace_list_fails(cluster, monkeypatch, lambda: time.sleep(2))
    result = cluster.kmeshctl("--request-timeout", "1s", "uninstall", "-o", "json")
    assert result.code == 0, result
    assert "i/o timeout" in _note(cluster, result.err)
    document = json.loads(result.out)
    assert document["deleted"] == ORDER and document["errors"] == [], document
    assert document["enrolledNamespaces"] is None, document


def test_namespaces_still_labelled_are_named_as_before(cluster) -> None:  # noqa: F811
    _installed(cluster)
    cluster.server.put(namespace("f20b-apps"))
    assert cluster.kmeshctl("enable-ns", "f20b-apps").code == 0
    result = cluster.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0 and json.loads(result.out)["enrolledNamespaces"] == ["f20b-apps"], result
    assert "Namespaces still labelled istio.io/dataplane-mode=Kmesh: f20b-apps" in result.err, result


# -- 3. replaced between the read and the DELETE (409) ------------------------------------------


def _replaced_on_read(cluster, monkeypatch, times: int, ours: bool = True) -> None:  # noqa: F811
    """The first ``times`` reads of the EnvoyFilter answer it, then it is replaced (a new
    uid; ``ours``: still with kmeshctl's labels), so the DELETE sent next answers 409."""
    reads = []

    def on_object(self, method, res, namespace, name, *args):  # type: ignore[no-untyped-def]
        answer = _REAL_ON_OBJECT(self, method, res, namespace, name, *args)
        if method == "GET" and res.plural == "envoyfilters" and name == EF and len(reads) < times:
            reads.append(name)
            meta = self.api.objects[EF_KEY]["metadata"]
            meta["uid"] = str(uuid.uuid4())
            if not ours:
                meta["labels"] = {"app": "someone-else"}
        return answer

    monkeypatch.setattr(_Handler, "on_object", on_object)


def test_replaced_by_kmeshctls_own_is_read_again_and_deleted(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    _replaced_on_read(cluster, monkeypatch, 1)
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    assert f"{EF_REF} deleted" in result.out and "Precondition" not in result.err, result
    assert not _present(cluster)


def test_replaced_by_another_is_left_alone(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    _replaced_on_read(cluster, monkeypatch, 1, ours=False)
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    assert f"{EF_REF}: not made by kmeshctl, left alone" in result.out, result
    assert _present(cluster) == [EF_REF]


@pytest.mark.parametrize("output", [None, "json"])
def test_replaced_each_time_stops_naming_it_and_the_re_run(cluster, monkeypatch, output) -> None:  # noqa: F811
    _installed(cluster)
    _replaced_on_read(cluster, monkeypatch, 100)
    args = ("-o", output) if output else ()
    result = cluster.kmeshctl("--context", "standin", "uninstall", *args)
    assert result.code == 1, result
    line = _error_line(result.err)
    done, left = _before_and_after(EF_REF)
    assert line.startswith(f"uninstall stopped by {EF_REF} being replaced each time it was read (3 times): "
                           f"deleted {', '.join(done)}; not deleted: {', '.join([EF_REF, *left])}; "), line
    assert "Precondition" not in line, line
    check = _pasted(line, "kubectl")
    assert check[:7] == ["kubectl", "get", "envoyfilter.networking.istio.io", EF, "-n", "istio-system", "-o"], line
    assert check[7] == "jsonpath={.metadata.managedFields[*].manager}", line
    assert _pasted(line)[:5] == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin"]
    _ends_as_typed(line, list(args))
    assert line.endswith("` (it is safe to repeat)"), line
    if output:
        document = json.loads(result.out)
        assert document["errors"] == [line] and document["deleted"] == done, document
    monkeypatch.undo()
    again = cluster.kmeshctl(*_pasted(line)[1:])
    assert again.code == 0 and not _present(cluster), again


# -- 4. still there past the limit --------------------------------------------------------------


@pytest.mark.parametrize("output", [None, "json"])
def test_held_past_the_limit_names_what_went_and_what_did_not(cluster, output) -> None:  # noqa: F811
    _installed(cluster)
    hold_on_delete(cluster.server, EF)
    args = ("-o", output) if output else ()
    result = cluster.kmeshctl("uninstall", "--timeout", "1s", *args)
    assert result.code == 1, result
    line = _error_line(result.err)
    done, left = _before_and_after(EF_REF)
    assert line.startswith(f"{EF_REF} still exists after the --timeout 1s limit; deleted {', '.join(done)}; "
                           f"not deleted: {', '.join(left)}; it is still going (finalizers: {HOLD}); check what "
                           "holds it with `kubectl get"), line
    _ends_as_typed(line, ["--timeout", "1s", *args])
    if output:
        document = json.loads(result.out)
        assert document["errors"] == [line] and document["deleted"] == done, document
