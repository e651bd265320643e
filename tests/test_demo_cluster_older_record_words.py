"""An older demo's weights record (the weights it found only, no `set`) cannot tell whether
the weights in force are the ones it set or a user's: dropping it says so and names the
weights kept, never that they "were changed since"."""

from __future__ import annotations

import json

from kmeshctl.demo_cluster import ORIGINAL_WEIGHTS
from test_demo_cluster_refusals import make  # noqa: F401 - the fixture
from test_demo_cluster_weights_record_and_finish import VS, _annotations, _killed_run, _target, _vs, _vs_weights


def test_an_older_demos_record_is_dropped_saying_it_cannot_tell(make) -> None:  # noqa: F811
    cluster = make()
    _killed_run(cluster, [0, 100])
    found = json.loads(_annotations(cluster)[ORIGINAL_WEIGHTS])["found"]
    vs = _vs(cluster)
    vs["metadata"]["annotations"][ORIGINAL_WEIGHTS] = json.dumps(found)  # the old format: no `set`
    vs["metadata"].pop("managedFields", None)
    cluster.server.put(vs, manager="kubectl-annotate")
    lines: list[str] = []
    _target(cluster).prepare(lines.append)
    assert _vs_weights(cluster) == {"v1": 0, "v2": 100} and ORIGINAL_WEIGHTS not in _annotations(cluster)
    said = [line for line in lines if "stopped before" in line]
    assert said == [f"{VS}: an older demo stopped before it could put back the weights it found (v1=90, v2=10); "
                    "its record cannot tell whether v1=0, v2=100 are its weights: keeping them, dropping its "
                    "record"], lines
