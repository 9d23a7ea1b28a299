"""Domain tables from the seed and KAITO: GPU SKUs, preset footprints, indicative prices, owners.

Sources: the seed's "VM family" and "Rough INR/USD" tables; KAITO `pkg/sku/azure_sku_handler.go`
and v0.6.0 preset requirements (see shared/notes/azure-kaito-facts.md §1.5). The SKU list from
ARM is authoritative for family and vCPUs; this table is the fallback and the only source of VRAM.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuSku:
    name: str
    family: str
    vcpus: int
    gpus: int
    gpu_model: str
    vram_gib_per_gpu: float

    @property
    def vram_gib_total(self) -> float:
        return self.gpus * self.vram_gib_per_gpu

    @property
    def mig_capable(self) -> bool:
        return self.gpu_model.startswith(("A100", "H100", "H200"))


_SKUS = [
    GpuSku("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", 4, 1, "T4", 16),
    GpuSku("Standard_NC8as_T4_v3", "standardNCASv3_T4Family", 8, 1, "T4", 16),
    GpuSku("Standard_NC16as_T4_v3", "standardNCASv3_T4Family", 16, 1, "T4", 16),
    GpuSku("Standard_NC64as_T4_v3", "standardNCASv3_T4Family", 64, 4, "T4", 16),
    GpuSku("Standard_NC24ads_A100_v4", "standardNCADSA100v4Family", 24, 1, "A100 80GB", 80),
    GpuSku("Standard_NC48ads_A100_v4", "standardNCADSA100v4Family", 48, 2, "A100 80GB", 80),
    GpuSku("Standard_NC96ads_A100_v4", "standardNCADSA100v4Family", 96, 4, "A100 80GB", 80),
    GpuSku("Standard_ND96asr_A100_v4", "standardNDASv4_A100Family", 96, 8, "A100 40GB", 40),
    GpuSku("Standard_ND96amsr_A100_v4", "standardNDAMSv4_A100Family", 96, 8, "A100 80GB", 80),
    GpuSku("Standard_NC40ads_H100_v5", "standardNCadsH100v5Family", 40, 1, "H100 94GB", 94),
    GpuSku("Standard_NC80adis_H100_v5", "standardNCadsH100v5Family", 80, 2, "H100 94GB", 94),
    GpuSku("Standard_ND96isr_H100_v5", "standardNDSH100v5Family", 96, 8, "H100 80GB", 80),
    GpuSku("Standard_ND96isr_H200_v5", "standardNDSH200v5Family", 96, 8, "H200", 141),
    GpuSku("Standard_NV36ads_A10_v5", "standardNVADSA10v5Family", 36, 1, "A10", 24),
    GpuSku("Standard_NV72ads_A10_v5", "standardNVADSA10v5Family", 72, 2, "A10", 24),
]
GPU_SKUS: dict[str, GpuSku] = {s.name.lower(): s for s in _SKUS}


def gpu_sku(name: str | None) -> GpuSku | None:
    return GPU_SKUS.get((name or "").lower())


def looks_like_gpu_sku(name: str | None) -> bool:
    """Azure GPU VM sizes are the N-series: Standard_NC*, ND*, NV*, NG*."""
    lowered = (name or "").lower()
    return lowered in GPU_SKUS or lowered.startswith(
        ("standard_nc", "standard_nd", "standard_nv", "standard_ng")
    )


@dataclass(frozen=True)
class PresetFootprint:
    name: str
    gpus: int
    total_gib: float


_PRESETS = [
    PresetFootprint("phi-2", 1, 12),
    PresetFootprint("phi-3-mini-4k-instruct", 1, 9),
    PresetFootprint("phi-3-mini-128k-instruct", 1, 9),
    PresetFootprint("phi-3-medium-4k-instruct", 1, 28),
    PresetFootprint("phi-3-medium-128k-instruct", 1, 28),
    PresetFootprint("phi-3.5-mini-instruct", 1, 8),
    PresetFootprint("phi-4-mini-instruct", 1, 8),
    PresetFootprint("phi-4", 1, 40),
    PresetFootprint("falcon-7b", 1, 14),
    PresetFootprint("falcon-7b-instruct", 1, 14),
    PresetFootprint("falcon-40b", 2, 90),
    PresetFootprint("falcon-40b-instruct", 2, 90),
    PresetFootprint("mistral-7b", 1, 14),
    PresetFootprint("mistral-7b-instruct", 1, 16),
    PresetFootprint("llama-3.1-8b-instruct", 1, 22),
    PresetFootprint("llama-3.1-70b-instruct", 4, 320),
    PresetFootprint("llama-3.3-70b-instruct", 4, 320),
    PresetFootprint("qwen2.5-coder-7b-instruct", 1, 24),
    PresetFootprint("qwen2.5-coder-32b-instruct", 1, 70),
    PresetFootprint("deepseek-r1-distill-llama-8b", 1, 16.5),
    PresetFootprint("deepseek-r1-distill-qwen-14b", 1, 25.7),
    PresetFootprint("deepseek-r1-0528", 8, 960),
    PresetFootprint("deepseek-v3-0324", 8, 960),
    PresetFootprint("mixtral-8x7b-instruct", 2, 100),
]
PRESETS: dict[str, PresetFootprint] = {p.name: p for p in _PRESETS}


def preset_footprint(name: str | None) -> PresetFootprint | None:
    return PRESETS.get((name or "").lower())


# Indicative on-demand prices per node-hour (seed: "verify current pricing in your region").
PRICES_PER_HOUR: dict[str, dict[str, float]] = {
    "standard_nc4as_t4_v3": {"USD": 0.5, "INR": 45},
    "standard_nc24ads_a100_v4": {"USD": 3.7, "INR": 310},
    "standard_nc48ads_a100_v4": {"USD": 7.3, "INR": 610},
    "standard_nc96ads_a100_v4": {"USD": 14.7, "INR": 1220},
    "standard_nd96isr_h100_v5": {"USD": 45.0, "INR": 3750},
}
CURRENCY_SYMBOLS = {"USD": "$", "INR": "₹"}


def hourly_price(sku: str | None, currency: str) -> float | None:
    return PRICES_PER_HOUR.get((sku or "").lower(), {}).get(currency.upper())


def format_money(amount: float, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency.upper(), currency.upper() + " ")
    return f"≈ {symbol}{amount:,.0f}" if amount >= 10 else f"≈ {symbol}{amount:,.2f}"


# AKS's cluster-autoscaler defaults (the seed's scale-down table, "Default" column): what an
# unset autoScalerProfile key means. Checks read them; the autoscaler fix restores them.
AUTOSCALER_DEFAULTS: dict[str, str] = {
    "scale-down-unneeded-time": "10m",
    "scale-down-delay-after-add": "10m",
    "skip-nodes-with-system-pods": "true",
    "skip-nodes-with-local-storage": "false",
    "max-graceful-termination-sec": "600",
}


# The seed's "who owns what during a GPU-serving incident" table.
OWNERS: dict[str, tuple[str, str]] = {
    "quota": ("Subscription / quota", "Cloud platform / FinOps"),
    "node-pool": ("Node pool / VM", "AKS platform team"),
    "driver": ("Driver / device plugin", "Platform (image) or you (operator)"),
    "kaito": ("KAITO control plane", "Platform + ML"),
    "inference": ("Inference pod", "ML / app team"),
    "cost": ("Observability / cost", "Platform + FinOps"),
}
