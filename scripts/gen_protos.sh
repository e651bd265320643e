#!/usr/bin/env bash
# Regenerate the Python modules of the workload API protos (kmeshctl/xds/protos/*.proto).
# Run from anywhere; uses the repo's venv (grpcio-tools). The generated *_pb2.py are
# committed so that installs need no protoc. Generated from the repo root so that they
# import each other as kmeshctl.xds.protos.<name>_pb2.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WKT=$("$PY" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
"$PY" -m grpc_tools.protoc -I . -I "$WKT" --python_out=. --pyi_out=. kmeshctl/xds/protos/*.proto
echo "gen_protos: regenerated $(ls kmeshctl/xds/protos/*_pb2.py | tr '\n' ' ')"
