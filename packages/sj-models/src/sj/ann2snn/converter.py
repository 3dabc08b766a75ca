"""The converters: :class:`FXConverter` (alias ``Converter``) runs a :class:`FXConversionRecipe` over a torch.fx
graph of the ANN, :class:`ModuleConverter` runs a :class:`ModuleConversionRecipe` on its module tree.

``Converter`` also keeps sj's earlier call: ``Converter(mode="99.9%", momentum=None)(ann, dataloader)`` runs
:class:`~sj.ann2snn.recipes.time_folded.TimeFoldedRateCodingRecipe` and returns a
:class:`~sj.ann2snn.modules.ConvertedSNN`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn

from sj.ann2snn.graph import trace
from sj.ann2snn.recipes.base import FXConversionRecipe, ModuleConversionRecipe
from sj.ann2snn.recipes.time_folded import TimeFoldedRateCodingRecipe

# recipe names a string may give (SpikingJelly's); the others need arguments
_NAMED_RECIPES = ("transformer_td_equivalent",)
_RECIPES_NEEDING_ARGUMENTS = {
    "rate_coding": "Pass RateCodingRecipe(dataloader=...) to Converter.",
    "sta_transformer": "Pass STATransformerRecipe(dataloader=..., time_steps=...) to Converter.",
}


def _resolve_device(ann: nn.Module, configured: torch.device | str | None) -> torch.device:
    if configured is not None:
        return torch.device(configured)
    p = next(ann.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


class _TrainingModesKept:
    """Restores the ``training`` flag of every module of ``ann`` on exit (recipes may switch them)."""

    def __init__(self, ann: nn.Module) -> None:
        self.modes = {m: m.training for m in ann.modules()}

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        for m, training in self.modes.items():
            m.training = training


class FXConverter:
    """Run an FX recipe: ``recipe.validate`` → ``before_trace(ann)`` → torch.fx tracing (sj.layer modules and torch
    modules stay leaves) → ``after_trace`` → ``insert_observers`` → ``calibrate`` → ``replace`` → ``finalize``, under
    ``torch.no_grad()``; the ANN's modules get their ``training`` flags back afterwards.

    Args:
        recipe: an :class:`~sj.ann2snn.recipes.base.FXConversionRecipe` instance, or ``"transformer_td_equivalent"``.
        device: where to convert (default: the device of the ANN's first parameter, else CPU).

    Example::

        snn = Converter(recipe=RateCodingRecipe(dataloader=train_loader, mode="99.9%")).convert(ann)
        sj.functional.set_step_mode(snn, "m")
        out = snn(x.unsqueeze(0).repeat(T, 1, 1, 1, 1)).mean(0)  # ≈ ann(x)
    """

    def __init__(self, recipe: str | FXConversionRecipe, device: torch.device | str | None = None) -> None:
        self.recipe = self._resolve_recipe(recipe)
        self.device = device

    @staticmethod
    def _resolve_recipe(recipe: str | FXConversionRecipe) -> FXConversionRecipe:
        if isinstance(recipe, FXConversionRecipe):
            return recipe
        if isinstance(recipe, ModuleConversionRecipe):
            raise TypeError("FXConverter/Converter requires an FXConversionRecipe; use ModuleConverter for "
                            f"{type(recipe).__name__}")
        if recipe in _NAMED_RECIPES:
            from sj.ann2snn.recipes.transformer_td_equivalent import TransformerTDEquivalentRecipe

            return TransformerTDEquivalentRecipe()
        if recipe in _RECIPES_NEEDING_ARGUMENTS:
            raise ValueError(f"The {recipe} recipe requires parameters. {_RECIPES_NEEDING_ARGUMENTS[recipe]}")
        if isinstance(recipe, str):
            raise ValueError(f"Unknown ann2snn conversion recipe: {recipe!r}")
        raise TypeError("recipe must be a recipe name string or an FXConversionRecipe instance, but got "
                        f"{type(recipe).__name__}")

    def convert(self, ann: nn.Module) -> nn.Module:
        """Convert ``ann`` with the recipe; returns what the recipe's ``finalize`` returns."""
        if not isinstance(ann, nn.Module):
            raise TypeError(f"{type(self).__name__}: expected an nn.Module, got {type(ann).__name__}")
        configured = self.device
        try:
            self.device = _resolve_device(ann, configured)
            with _TrainingModesKept(ann), torch.no_grad():
                self.recipe.validate(self)
                model = self.recipe.before_trace(self, ann)
                gm = trace(model).to(self.device)
                for step in (self.recipe.after_trace, self.recipe.insert_observers, self.recipe.calibrate,
                             self.recipe.replace):
                    gm = step(self, gm)
                return self.recipe.finalize(self, gm)
        finally:
            self.device = configured


class ModuleConverter:
    """Run a module-tree recipe: ``recipe.validate`` → ``recipe.convert_module(ann)`` (no tracing) under
    ``torch.no_grad()``, then move the result to ``device`` (default: the ANN's device).

    Args:
        recipe: a :class:`~sj.ann2snn.recipes.base.ModuleConversionRecipe` instance.
        device: where to convert.
    """

    def __init__(self, recipe: ModuleConversionRecipe, device: torch.device | str | None = None) -> None:
        if isinstance(recipe, FXConversionRecipe):
            raise TypeError("ModuleConverter requires a ModuleConversionRecipe; use FXConverter/Converter for "
                            f"{type(recipe).__name__}")
        if not isinstance(recipe, ModuleConversionRecipe):
            raise TypeError(f"recipe must be a ModuleConversionRecipe instance, but got {type(recipe).__name__}")
        self.recipe = recipe
        self.device = device

    def convert(self, ann: nn.Module) -> nn.Module:
        """Convert ``ann``; returns the recipe's module on the target device."""
        configured = self.device
        try:
            self.device = _resolve_device(ann, configured)
            with _TrainingModesKept(ann), torch.no_grad():
                self.recipe.validate(self)
                converted = self.recipe.convert_module(self, ann)
                if not isinstance(converted, nn.Module):
                    raise TypeError("ModuleConversionRecipe.convert_module must return a torch.nn.Module, got "
                                    f"{type(converted).__name__}")
                return converted.to(self.device)
        finally:
            self.device = configured


class Converter(FXConverter):
    """SpikingJelly 2.0's ``Converter`` (= :class:`FXConverter`): ``Converter(recipe=..., device=None)
    .convert(ann)``.

    sj's earlier call is kept: without a recipe, the keyword arguments configure sj's time-folded rate coding
    (:class:`~sj.ann2snn.recipes.time_folded.TimeFoldedRateCodingRecipe`: ``mode``, ``momentum``, ``fuse_bn``,
    ``channelwise``, ``backend``, ``progress``, ``max_batches``; ``mode`` may also come first, e.g.
    ``Converter("99.9%")``) and ``Converter(...)(ann, dataloader)`` (or ``.convert(ann, dataloader)``) returns a
    :class:`~sj.ann2snn.modules.ConvertedSNN` taking ``[T, N, *]``.
    """

    def __init__(self, recipe: str | float | FXConversionRecipe | None = None,
                 device: torch.device | str | None = None, **time_folded: object) -> None:
        legacy = recipe is None or (not isinstance(recipe, FXConversionRecipe) and (
            isinstance(recipe, (int, float)) or (isinstance(recipe, str) and (
                recipe.lower() == "max" or recipe.endswith("%")))))
        if time_folded and not legacy:
            raise TypeError(f"Converter: {sorted(time_folded)} configure sj's time-folded rate coding, which a recipe "
                            "replaces; give either a recipe or those arguments")
        if legacy:
            if recipe is not None:
                time_folded["mode"] = recipe
            recipe = TimeFoldedRateCodingRecipe(**time_folded)  # type: ignore[arg-type]
        super().__init__(recipe, device)

    def convert(self, ann: nn.Module, dataloader: Iterable | None = None) -> nn.Module:
        """Convert ``ann``. With sj's time-folded recipe, ``dataloader`` gives the calibration batches; a recipe that
        holds its own data takes none."""
        if dataloader is None:
            return super().convert(ann)
        if not isinstance(self.recipe, TimeFoldedRateCodingRecipe):
            raise TypeError(f"Converter.convert: {type(self.recipe).__name__} holds its own calibration data; call "
                            "convert(ann) without a dataloader")
        recipe = copy.copy(self.recipe)
        recipe.dataloader = dataloader
        return FXConverter(recipe, self.device).convert(ann)

    __call__ = convert

    def __repr__(self) -> str:
        return f"Converter(recipe={self.recipe!r}, device={self.device!r})"
