"""xDS: an aggregated discovery server (delta + state-of-the-world), the workload API
protos, and the node agent's delta ADS client."""

WORKLOAD_ADDRESS_TYPE = "type.googleapis.com/istio.workload.Address"
AUTHORIZATION_TYPE = "type.googleapis.com/istio.security.Authorization"

# The agent's gRPC keepalive: a ping after this long without activity, the stream
# given up when its answer takes longer than the timeout. The project's own server
# (server.py) accepts pings far more often than this, with or without calls.
KEEPALIVE_TIME_MS = 30_000
KEEPALIVE_TIMEOUT_MS = 10_000
