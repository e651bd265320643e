"""Control-plane scale benchmark of the kmeshctl node agent (see README.md here).

Run it with ``sudo .venv/bin/python benchmarks/controlplane/run.py``.
"""
