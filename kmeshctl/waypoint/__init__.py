"""The kmeshctl waypoint: stock Envoy configured by a small kmeshctl controller from the
API server's objects (model: what is routed; config: Envoy's resources; controller: the
xDS server in the pod; deploy: the Kubernetes objects; envoy: the binary and its admin)."""
