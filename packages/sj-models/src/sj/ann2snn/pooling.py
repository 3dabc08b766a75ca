"""Max pooling for rate-coded signals.

Max pooling does not commute with time averaging: the mean of per-step maxima over-estimates the maximum of the
means. :class:`AccumulatedMaxPool` instead passes, at every step and for every pooling window, the input of the
position whose input accumulated over the previous steps is the largest (Rueckauer et al., 2017, "Conversion of
continuous-valued deep networks to efficient event-driven networks"). As T grows the selected position settles on the
one with the largest mean, so the output's time average tends to the max of the input's time averages.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import fx, nn

from sj.ann2snn.modules import TimeContext
from sj.base import MemoryModule, StepModeError

_POOLS = {1: (nn.MaxPool1d, nn.AdaptiveMaxPool1d), 2: (nn.MaxPool2d, nn.AdaptiveMaxPool2d),
          3: (nn.MaxPool3d, nn.AdaptiveMaxPool3d)}
_FUNCTION_POOLS = {F.max_pool1d: nn.MaxPool1d, F.max_pool2d: nn.MaxPool2d, F.max_pool3d: nn.MaxPool3d,
                   torch.max_pool1d: nn.MaxPool1d, torch.max_pool2d: nn.MaxPool2d, torch.max_pool3d: nn.MaxPool3d,
                   F.adaptive_max_pool1d: nn.AdaptiveMaxPool1d, F.adaptive_max_pool2d: nn.AdaptiveMaxPool2d,
                   F.adaptive_max_pool3d: nn.AdaptiveMaxPool3d}
_ARG_NAMES = {"max": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"), "adaptive": ("output_size",)}
MAX_POOL_TYPES = tuple(p for pair in _POOLS.values() for p in pair)


class AccumulatedMaxPool(MemoryModule):
    """Gate each pooling window by the accumulated input: on the time-folded batch ``[T·N, C, *spatial]``.

    Args:
        pool: an ``nn.MaxPool{1,2,3}d`` or ``nn.AdaptiveMaxPool{1,2,3}d`` (copied, with ``return_indices=True``).
        time: the graph's :class:`~sj.ann2snn.modules.TimeContext` (``T`` is set by the owning
            :class:`~sj.ann2snn.modules.ConvertedSNN` before each call; a fresh one by default).

    The running sum is a memory (cleared by :func:`sj.functional.reset_net`), so a sequence fed in chunks gives the
    same result.
    """

    def __init__(self, pool: nn.Module, time: TimeContext | None = None) -> None:
        super().__init__(step_mode="m")
        if not isinstance(pool, MAX_POOL_TYPES):
            raise TypeError(f"AccumulatedMaxPool: expected a max pooling module, got {type(pool).__name__}")
        pool = copy.deepcopy(pool)
        pool.return_indices = True
        self.pool = pool
        self.time = time or TimeContext()
        self.register_memory("total", None)

    def multi_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = self.time.unfold(x.detach(), "AccumulatedMaxPool")
        total = seq.cumsum(0)
        if self.total is not None:
            if self.total.shape != seq.shape[1:]:
                raise StepModeError(f"AccumulatedMaxPool: state has shape {tuple(self.total.shape)} but this input "
                                    f"step has shape {tuple(seq.shape[1:])}; call sj.functional.reset_net first")
            total = total + self.total
        self.total = total[-1]
        # gate step t by the sum of the steps before it: including step t would favour whichever input just spiked
        _, idx = self.pool((total - seq).flatten(0, 1))
        return x.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)



def pool_module_of(node: fx.Node, gm: fx.GraphModule) -> nn.Module | None:
    """The max pooling module a node calls (a functional call is turned into the equivalent module), else None."""
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        return m if isinstance(m, MAX_POOL_TYPES) else None
    if node.op != "call_function" or node.target not in _FUNCTION_POOLS:
        return None
    cls = _FUNCTION_POOLS[node.target]
    names = _ARG_NAMES["adaptive" if "Adaptive" in cls.__name__ else "max"]
    kwargs = dict(zip(names, node.args[1:]))
    kwargs.update({k: v for k, v in node.kwargs.items() if k != "input"})
    if kwargs.get("return_indices"):
        return None
    kwargs.pop("return_indices", None)
    return cls(**kwargs)


def gate_max_pools(gm: fx.GraphModule, time: TimeContext, prefix: str = "ann2snn_maxpool") -> int:
    """Replace every max pooling call of ``gm`` by its own :class:`AccumulatedMaxPool` reading ``T`` from ``time``;
    returns how many."""
    count = 0
    for node in list(gm.graph.nodes):
        pool = pool_module_of(node, gm)
        if pool is None:
            continue
        target = f"{prefix}{count}"
        gm.add_submodule(target, AccumulatedMaxPool(pool, time))
        with gm.graph.inserting_after(node):
            new = gm.graph.call_module(target, (node.args[0],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        count += 1
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return count
