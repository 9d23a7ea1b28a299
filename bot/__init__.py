"""gpubot: incident response for GPU workloads and KAITO inference on AKS."""

__version__ = "0.1.0"
