"""kmeshctl: deploy and run a Kmesh-style dual-engine eBPF data plane."""

__version__ = "0.1.0"
