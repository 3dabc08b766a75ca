"""Functions over whole networks: reset, step mode, backend, detach, and sequence helpers.

Later additions (losses, conversions) live in their own modules of this package.
"""

from sj.functional.net import (
    detach_net,
    multi_step_forward,
    reset_net,
    seq_to_ann_forward,
    set_backend,
    set_step_mode,
)

__all__ = ["detach_net", "multi_step_forward", "reset_net", "seq_to_ann_forward", "set_backend", "set_step_mode"]
