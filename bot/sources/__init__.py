"""Evidence sources: the only layer that does I/O (files, Kubernetes, ARM, Log Analytics)."""
