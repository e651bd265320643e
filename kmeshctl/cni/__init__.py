"""The kmesh chained CNI plugin: enrolls a pod's network namespace while the runtime
creates it, before any container process runs.

- ``plugin``: the plugin the runtime executes (stdlib only, started fresh for every
  call); it hands each request and the pod's netns to the agent over a root-only unix
  socket and passes the previous result through unchanged.
- ``server``: the agent's end of that socket: decides with the enrollment rules,
  enrolls the netns cookie in ``km_manage``, annotates the pod.
- ``install``: what the agent does to the node at start (chain the plugin into the
  node's CNI config list, copy it to the CNI bin dir, write its kubeconfig) and undoes
  at uninstall.
- ``runtime``: the container runtime's side (what libcni does with a config list: ADD,
  CHECK, DEL of each plugin with ``prevResult``); the local sandbox makes its pods with it.
- ``localpods``: the pod and namespace objects the agent decides from on a node without
  Kubernetes (the sandbox writes them).
"""
