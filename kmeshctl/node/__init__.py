"""The node agent (`kmeshctl node run`): the xDS sink, model, cache, translation, map
sync, BPF loader, pod enrollment by watch, authorization, admin and metrics.

It talks to istiod through kmeshctl.xds (where protobuf stays) and writes the maps
mirrored in kmeshctl.maps; the CNI plugin it installs is kmeshctl.cni.
"""
