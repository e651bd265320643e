"""The e2e tier: tests against a real single-node Kubernetes cluster (tests/e2e/tier.py)."""
