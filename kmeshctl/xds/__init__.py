"""xDS: an aggregated discovery server (delta + state-of-the-world), the workload API
protos, and the node agent's delta ADS client."""

WORKLOAD_ADDRESS_TYPE = "type.googleapis.com/istio.workload.Address"
AUTHORIZATION_TYPE = "type.googleapis.com/istio.security.Authorization"
