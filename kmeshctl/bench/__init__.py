"""Benchmarks of the data path: the same client, server and load over five paths
(direct, kmesh-l4, kmesh-waypoint, ambient-style, sidecar-style), see ``dataplane``.

Modules: ``procs`` (pinned processes, CPU time), ``nginx`` (the server), ``envoy``
(bootstraps of every proxy), ``capture`` (nftables redirects inside pods), ``wrk`` (load
and latency), ``kmesh`` (the eBPF data path for the bench), ``topology`` (pods and
paths), ``dataplane`` (the interleaved run plan), ``report`` (medians, ratios, targets,
markdown / JSON / PNG).
"""
