"""The Kubernetes fix actuators: importing this module registers them all.

| fix                   | writes                                                        | undo |
|-----------------------|---------------------------------------------------------------|------|
| prewarm-now           | PATCH the scale subresource (resourceVersion) of the workload | yes  |
|                       | or, for a KAITO workload, of its Workspace's InferenceSet     |      |
| prewarm-schedule      | a CronJob + its ServiceAccount, Role, RoleBinding             | yes  |
| restart-device-plugin | DELETE the plugin pod on one node (uid precondition)          | no   |
| cap-max-model-len     | PATCH the inference ConfigMap, then evict the workload pods   | yes  |
| evict-pinning-pod     | POST an Eviction (policy/v1, PDBs respected, uid)             | no   |

None of them scales or edits an object a controller owns (a KAITO Workspace's workload): the
pre-warms scale KAITO's own replica count, the InferenceSet, or refuse; see `kube_workloads`.
"""

from __future__ import annotations

# Imported for their registrations (`@actuator`), which happen at import.
from bot.sources.actuators import (  # noqa: F401
    kube_model_len,
    kube_pods,
    kube_scale,
    kube_schedule,
)
