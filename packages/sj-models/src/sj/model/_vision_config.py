"""The serialisable model configurations of SpikingJelly 2.0's distributed vision trainer
(``activation_based.distributed.vision.config``): :class:`ModelConfig`, the base of the zoo's ``SpikformerConfig``,
``SpikformerCIFAR10Config`` and ``SEWResNet34Config``, and :class:`NeuronConfig`, the neuron they build.

sj has no distributed trainer: a configuration builds its model on one process (:meth:`ModelConfig.build_model`);
the builders' tensor/pipeline sharding is not reproduced. Fields, defaults, validation errors and the dictionary form
(:meth:`ModelConfig.as_dict` / :meth:`ModelConfig.from_dict`) are SpikingJelly's. A dictionary names classes by path
(``_target_``); sj writes sj's paths and reads SpikingJelly's too (``spikingjelly.activation_based.model.X`` →
``sj.model.X``), so a configuration file written by SpikingJelly loads here. Class paths in a :class:`NeuronConfig`
resolve, without importing anything a file names, to sj's built-in neurons and surrogates (by sj's or SpikingJelly's
path) or to classes registered with :func:`register_neuron_class` / :func:`register_surrogate_class`.
"""

from __future__ import annotations

import copy
import importlib
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

from torch import nn

from sj import neuron, surrogate

_SJ = "spikingjelly.activation_based."
# SpikingJelly 2.0's neuron submodules: its full class paths (``spikingjelly.activation_based.neuron.lif.LIFNode``)
_SJ_NEURON_MODULES = {
    "base_node": ("BaseNode",), "integrate_and_fire": ("IFNode", "HalfThresholdIFNode"), "ilif": ("ILIFNode",),
    "lif": ("LIFNode",), "plif": ("ParametricLIFNode",), "adapt": ("AdaptBaseNode", "IzhikevichNode"),
    "nonlinear_if": ("QIFNode", "EIFNode"), "resonate": ("RAFNode",), "ternary": ("TernaryIFNode", "TernaryLIFNode"),
    "lif_variants": ("KLIFNode", "ComplementaryLIFNode", "CUBALIFNode", "LIAFNode"),
    "mpbn": ("MPBNBaseNode", "MPBNLIFNode"), "online_learning": ("OTTTLIFNode", "SLTTLIFNode"),
}
_NEURON_REGISTRY: dict[str, type] = {}
_SURROGATE_REGISTRY: dict[str, type] = {}


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _validate_json_value(value: Any, name: str) -> None:
    """Only JSON's values: None, str, bool, int, finite float, lists and string-keyed dicts of them."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} must contain only finite numbers.")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _validate_json_value(item, f"{name}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{name} keys must be strings.")
            _validate_json_value(item, f"{name}.{key}")
        return
    raise TypeError(f"{name} must contain only JSON-native values.")


def _register(cls: type, base: type, registry: dict[str, type]) -> None:
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise TypeError(f"cls must inherit {base.__name__}.")
    registry[_class_path(cls)] = cls


def register_neuron_class(cls: type) -> None:
    """Let :class:`NeuronConfig` name ``cls`` (an imported :class:`sj.neuron.BaseNode` subclass) by its full path
    ``module.QualName``; decoding a configuration never imports a module a file names. Raises ``TypeError`` for
    anything else."""
    _register(cls, neuron.BaseNode, _NEURON_REGISTRY)


def register_surrogate_class(cls: type) -> None:
    """Let :class:`NeuronConfig` name ``cls`` (an imported :class:`sj.surrogate.SurrogateFunctionBase` subclass) as
    its ``surrogate``. Raises ``TypeError`` for anything else."""
    _register(cls, surrogate.SurrogateFunctionBase, _SURROGATE_REGISTRY)


def _sj_path(class_path: str, package: str) -> str:
    """SpikingJelly's path of a built-in class (``spikingjelly.activation_based.neuron.LIFNode``, or with its
    submodule: ``...neuron.lif.LIFNode``) as sj's (``sj.neuron.LIFNode``); other paths unchanged."""
    prefix = f"{_SJ}{package}."
    if not class_path.startswith(prefix):
        return class_path
    parts = class_path[len(prefix):].split(".")
    if len(parts) == 2 and package == "neuron" and parts[1] in _SJ_NEURON_MODULES.get(parts[0], ()):
        parts = parts[1:]
    return f"sj.{package}.{parts[0]}" if len(parts) == 1 else class_path


def _resolve_class(class_path: str, registry: dict[str, type], package: Any, base: type, kind: str) -> type:
    """A registered class, or a built-in one of ``package`` named ``sj.<package>.Name``, by its own module path, or
    by SpikingJelly's path."""
    cls = registry.get(class_path)
    path = _sj_path(class_path, package.__name__.rsplit(".", 1)[-1])
    if cls is None and path.startswith(f"{package.__name__}."):
        cls = next((value for name, value in vars(package).items()
                    if isinstance(value, type) and issubclass(value, base)
                    and path in (_class_path(value), f"{package.__name__}.{name}")), None)
    if cls is None:
        raise ValueError(f"Unregistered {kind} class {class_path!r}; import and register it first.")
    return cls


@dataclass(frozen=True)
class NeuronConfig:
    """A neuron as data: ``class_path`` (a :class:`sj.neuron.BaseNode` subclass: ``"sj.neuron.LIFNode"``,
    SpikingJelly's ``"spikingjelly.activation_based.neuron.LIFNode"``, or a registered class), its constructor
    arguments ``kwargs`` (JSON values only; default ``{}``), and optionally a ``surrogate`` class path with its
    ``surrogate_kwargs``. ``step_mode`` comes from the model configuration, ``surrogate_function`` from
    ``surrogate``, and ``backend`` is not configurable: those keys are refused.

    Raises ``TypeError`` (a path is not a string, an argument is not a dict or holds a non-JSON value such as a tuple,
    a tensor or a non-string key) or ``ValueError`` (an empty path or one with surrounding whitespace, a reserved
    key, ``surrogate_kwargs`` without ``surrogate``, a non-finite number) — SpikingJelly's errors.
    """

    class_path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    surrogate: str | None = None
    surrogate_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.class_path, str):
            raise TypeError("class_path must be a string.")
        if not self.class_path or self.class_path.strip() != self.class_path:
            raise ValueError("class_path must be a non-empty fully qualified path.")
        if self.surrogate is not None:
            if not isinstance(self.surrogate, str):
                raise TypeError("surrogate must be a string.")
            if not self.surrogate or self.surrogate.strip() != self.surrogate:
                raise ValueError("surrogate must be a non-empty fully qualified path.")
        if not isinstance(self.kwargs, dict) or not isinstance(self.surrogate_kwargs, dict):
            raise TypeError("neuron kwargs must be dictionaries.")
        if {"backend", "step_mode", "surrogate_function"} & self.kwargs.keys():
            raise ValueError("backend selection is automatic; step_mode and surrogate_function are configured "
                             "separately.")
        if self.surrogate is None and self.surrogate_kwargs:
            raise ValueError("surrogate_kwargs requires a surrogate class.")
        _validate_json_value(self.kwargs, "kwargs")
        _validate_json_value(self.surrogate_kwargs, "surrogate_kwargs")


def resolve_neuron_config(config: NeuronConfig | None) -> tuple[type | None, dict[str, Any]]:
    """``(neuron class, constructor kwargs)`` of ``config`` (re-validated: its dicts may have been changed since),
    the surrogate instantiated as ``kwargs["surrogate_function"]``; ``(None, {})`` for ``None`` (the model's
    default neuron). Raises ``ValueError`` for a class path that is neither built in nor registered."""
    if config is None:
        return None, {}
    config.__post_init__()
    neuron_class = _resolve_class(config.class_path, _NEURON_REGISTRY, neuron, neuron.BaseNode, "neuron")
    kwargs = copy.deepcopy(config.kwargs)
    if config.surrogate is not None:
        surrogate_class = _resolve_class(config.surrogate, _SURROGATE_REGISTRY, surrogate,
                                         surrogate.SurrogateFunctionBase, "surrogate")
        kwargs["surrogate_function"] = surrogate_class(**copy.deepcopy(config.surrogate_kwargs))
    return neuron_class, kwargs


@dataclass(frozen=True)
class ModelConfig:
    """Base of the zoo's serialisable configurations: ``time_steps`` (default 4) and ``num_classes`` (default 1000),
    both positive, and ``step_mode`` ``'s'`` or ``'m'`` (default ``'m'``); else ``ValueError``.

    Subclasses add their fields and implement :meth:`build_model`. Instances are frozen dataclasses
    (``dataclasses.replace`` derives variants).
    """

    time_steps: int = 4
    num_classes: int = 1000
    step_mode: Literal["s", "m"] = "m"

    def __post_init__(self) -> None:
        if self.time_steps <= 0 or self.num_classes <= 0:
            raise ValueError("time_steps and num_classes must be positive.")
        if self.step_mode not in {"s", "m"}:
            raise ValueError("step_mode must be 's' or 'm'.")

    def build_model(self) -> nn.Module:
        """The configured model on this process (SpikingJelly's builders build it and then shard it for tensor and
        pipeline parallelism, which sj does not do). Build inside ``with torch.device("meta"):`` to inspect a large
        model without allocating it."""
        raise NotImplementedError(f"{type(self).__name__} does not build a model.")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict: ``{"_target_": "module.ClassName", <field>: <value>, ...}``, nested
        configurations likewise (a :class:`NeuronConfig` is re-validated first)."""
        return _encode(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """The configuration :meth:`as_dict` wrote — by sj or by SpikingJelly 2.0 (its
        ``spikingjelly.activation_based.model.X`` targets are read as ``sj.model.X``). Only configuration classes
        are built, and only ``sj.model`` modules imported; raises ``ValueError`` for any other target, ``TypeError``
        when the result is not a ``cls``."""
        config = _decode(data)
        if not isinstance(config, cls):
            raise TypeError(f"Expected {cls.__name__}, got {type(config).__name__}.")
        return config


def _encode(value: Any) -> Any:
    if isinstance(value, NeuronConfig):
        value.__post_init__()
    if is_dataclass(value):
        return {"_target_": _class_path(type(value)),
                **{item.name: _encode(getattr(value, item.name)) for item in fields(value)}}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _config_types() -> dict[str, type]:
    """Every configuration class defined so far (all subclasses of :class:`ModelConfig`), by class path."""
    result, pending = {}, [ModelConfig, NeuronConfig]
    while pending:
        config_type = pending.pop()
        result[_class_path(config_type)] = config_type
        pending.extend(config_type.__subclasses__())
    return result


def _sj_target(target: str) -> str:
    """SpikingJelly's class path of a configuration as sj's: its ``distributed.vision.config`` classes are here, its
    model configurations in ``sj.model`` (also under their former ``distributed.vision`` paths, as SpikingJelly
    reads them)."""
    for theirs, ours in ((f"{_SJ}distributed.vision.config.", f"{__name__}."),
                         (f"{_SJ}distributed.vision.", "sj.model."), (f"{_SJ}model.", "sj.model.")):
        if target.startswith(theirs):
            return ours + target[len(theirs):]
    return target


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "_target_" not in value:
        return {key: _decode(item) for key, item in value.items()}
    name = value["_target_"]
    target = _sj_target(name) if isinstance(name, str) else name
    config_types = _config_types()
    if isinstance(target, str) and target not in config_types:
        if not target.startswith("sj.model."):
            raise ValueError(f"Unsupported config target {name!r}.")
        try:  # a model configuration whose module is not imported yet
            importlib.import_module(target.rsplit(".", 1)[0])
        except ImportError as error:
            raise ValueError(f"Unsupported config target {name!r}.") from error
        config_types = _config_types()
    if not isinstance(target, str) or target not in config_types:
        raise ValueError(f"Unsupported config target {name!r}; target must be a ModelConfig or NeuronConfig.")
    cls = config_types[target]
    return cls(**{key: item if cls is NeuronConfig else _decode(item) for key, item in value.items()
                  if key != "_target_"})
