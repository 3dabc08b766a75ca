"""Recipe base classes (SpikingJelly 2.0's ``ann2snn.recipes.base``): a recipe is a strategy object telling a
converter what each step of its fixed template does; it has no ``convert`` of its own.

- :class:`FXConversionRecipe` (alias :data:`ConversionRecipe`), run by
  :class:`~sj.ann2snn.converter.FXConverter` (alias ``Converter``): ``validate`` → ``before_trace(ann)`` → torch.fx
  tracing → ``after_trace`` → ``insert_observers`` → ``calibrate`` → ``replace`` → ``finalize``, each graph step
  taking and returning the ``fx.GraphModule`` (``finalize`` may return any module).
- :class:`ModuleConversionRecipe`, run by :class:`~sj.ann2snn.converter.ModuleConverter`: ``validate`` →
  ``convert_module(ann)`` on the module tree, no tracing.

Every step receives the converter (its ``device`` is resolved) and runs under ``torch.no_grad()``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from torch import fx, nn

if TYPE_CHECKING:
    from sj.ann2snn.converter import FXConverter, ModuleConverter

__all__ = ["ConversionRecipe", "FXConversionRecipe", "ModuleConversionRecipe"]


class FXConversionRecipe:
    """Base class of graph recipes: every step returns its input unchanged (override the ones you need)."""

    def validate(self, converter: FXConverter) -> None:
        """Check the recipe's prerequisites; called once at the start of each conversion."""
        return None

    def before_trace(self, converter: FXConverter, ann: nn.Module) -> nn.Module:
        """Prepare the ANN before tracing (e.g. set eval mode, copy it); returns the module to trace."""
        return ann

    def after_trace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """Rewrite the traced graph (already on ``converter.device``), e.g. fuse Conv-BN."""
        return fx_model

    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """Insert calibration observers."""
        return fx_model

    def calibrate(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """Run calibration data through the graph."""
        return fx_model

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        """The core replacement (activations → spiking neurons, ...)."""
        return fx_model

    def finalize(self, converter: FXConverter, fx_model: fx.GraphModule) -> nn.Module:
        """The last step; returns the converted model."""
        return fx_model


ConversionRecipe = FXConversionRecipe


class ModuleConversionRecipe:
    """Base class of module-tree recipes (no tracing): :meth:`convert_module` returns the converted module."""

    def validate(self, converter: ModuleConverter) -> None:
        """Check the recipe's prerequisites; called once at the start of each conversion."""
        return None

    def convert_module(self, converter: ModuleConverter, ann: nn.Module) -> nn.Module:
        """Convert ``ann`` (default: return it unchanged); must return an ``nn.Module``."""
        return ann


def extract_batch_input(data: Any, _inside_input: bool = False) -> Any:
    """The model input of one calibration batch, as SpikingJelly's recipes find it: a tensor; the first element of a
    tuple/list (a one-element container is unwrapped); of a dict, the value under ``input``, ``image``, ``images``,
    ``img``, ``x``, ``data`` or ``pixel_values`` (or its only value)."""
    import torch

    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("ann2snn: a calibration batch is an empty list or tuple")
        if len(data) == 1:
            return extract_batch_input(data[0], _inside_input)
        if not _inside_input:
            return extract_batch_input(data[0], not isinstance(data[0], dict))
        return data
    if isinstance(data, dict):
        if not data:
            raise ValueError("ann2snn: a calibration batch is an empty dictionary")
        if _inside_input:
            return data
        for key in ("input", "image", "images", "img", "x", "data", "pixel_values"):
            if key in data:
                return extract_batch_input(data[key], True)
        if len(data) != 1:
            raise ValueError("ann2snn: a calibration batch dictionary with several fields must hold one of 'input', "
                             "'image', 'images', 'img', 'x', 'data' or 'pixel_values'")
        return extract_batch_input(next(iter(data.values())), True)
    return data


def progress_bar(it: Iterable, enabled: bool, total: int | None, desc: str = "ann2snn calibration") -> Iterator:
    """``it`` with a progress bar: tqdm if installed, else a line on stderr; nothing when not ``enabled``."""
    if not enabled:
        yield from it
        return
    try:  # tqdm.auto's asyncio variant calls iter() at construction too: a shuffled DataLoader would draw twice
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        yield from tqdm(it, total=total, desc=desc, unit="batch")
        return
    for i, x in enumerate(it, 1):
        print(f"\r{desc}: {i}/{total if total is not None else '?'} batches", end="", file=sys.stderr, flush=True)
        yield x
    print(file=sys.stderr)

