"""The Azure fix actuators: one module each, registered when imported.

- `autoscaler-scale-down` (autoscaler_fix): the managed cluster's autoscaler profile.
- `pool-min-count` (pool_fix): a GPU agent pool's autoscaler min/max.
- `request-quota` (quota_fix): a Microsoft.Quota increase; `request_status` reads it later.
"""

from __future__ import annotations

from bot.sources.actuators import autoscaler_fix, pool_fix, quota_fix
from bot.sources.actuators.quota_fix import request_status

__all__ = ["autoscaler_fix", "pool_fix", "quota_fix", "request_status"]
