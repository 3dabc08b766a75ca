"""The zoo's serialisable configurations (SpikingJelly 2.0's ``SpikformerConfig``, ``SpikformerCIFAR10Config``,
``SEWResNet34Config`` and their ``NeuronConfig``): defaults, validation, the dictionary form (sj's and SpikingJelly's
class paths), and the single-process model each builds. No SpikingJelly needed (tests/sjparity compares with it)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch

from sj import layer, surrogate
from sj.functional import reset_net
from sj.model._vision_config import (
    ModelConfig,
    register_neuron_class,
    register_surrogate_class,
    resolve_neuron_config,
)
from sj.model.sew_resnet import SEWResNet34Config
from sj.model.spikformer import NeuronConfig, SpikformerCIFAR10Config, SpikformerConfig
from sj.neuron import BaseNode, IFNode, LIFNode, ParametricLIFNode


def _starts(message: str, end: bool = False) -> str:
    """A pattern matching an error message that starts with (or, with ``end``, is) ``message``."""
    return f"^{re.escape(message)}{'$' if end else ''}"


PLIF = NeuronConfig("sj.neuron.ParametricLIFNode", {"init_tau": 3.0, "v_threshold": 0.7}, "sj.surrogate.ATan",
                    {"alpha": 3.0})


def _defaults(cls: type) -> dict:
    return {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(cls)}


def test_fields_and_defaults():
    base = {"time_steps": 4, "num_classes": 1000, "step_mode": "m"}
    assert _defaults(SpikformerConfig) == {**base, "image_height": 224, "image_width": 224, "in_channels": 3,
                                           "neuron_config": None}
    assert _defaults(SpikformerCIFAR10Config) == {**base, "num_classes": 10, "neuron_config": None}
    assert _defaults(SEWResNet34Config) == {**base, "image_size": 224, "in_channels": 3, "connection": "ADD",
                                            "tau": 2.0, "detach_reset": True, "neuron_config": None}
    assert _defaults(NeuronConfig) == {"class_path": dataclasses.MISSING, "kwargs": {}, "surrogate": None,
                                       "surrogate_kwargs": {}}
    config = SpikformerCIFAR10Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.time_steps = 2  # type: ignore[misc]
    assert dataclasses.replace(config, time_steps=2).time_steps == 2


@pytest.mark.parametrize("cls, kw, error, message", [
    (SpikformerConfig, {"time_steps": 0}, ValueError, "time_steps and num_classes must be positive."),
    (SpikformerCIFAR10Config, {"num_classes": -1}, ValueError, "time_steps and num_classes must be positive."),
    (SEWResNet34Config, {"step_mode": "x"}, ValueError, "step_mode must be 's' or 'm'."),
    (SpikformerConfig, {"step_mode": "s"}, ValueError, "The built-in Spikformer requires step_mode='m'."),
    (SpikformerCIFAR10Config, {"step_mode": "s"}, ValueError, "The built-in Spikformer requires step_mode='m'."),
    (SpikformerConfig, {"image_width": 0}, ValueError, "image dimensions and in_channels must be positive."),
    (SEWResNet34Config, {"image_size": 0}, ValueError, "image_size must be positive."),
    (SEWResNet34Config, {"in_channels": 1}, ValueError, "The built-in SEW-ResNet34 requires in_channels=3."),
    (SEWResNet34Config, {"connection": "OR"}, ValueError, "connection must be 'ADD', 'AND', or 'IAND'."),
    (SEWResNet34Config, {"tau": 1.0}, ValueError, "tau must be greater than 1.0."),
    (SpikformerConfig, {"time_steps": "4"}, TypeError, "'<=' not supported"),
    (NeuronConfig, {"class_path": 3}, TypeError, "class_path must be a string."),
    (NeuronConfig, {"class_path": " sj.neuron.IFNode"}, ValueError, "class_path must be a non-empty"),
    (NeuronConfig, {"class_path": "x", "surrogate": ""}, ValueError, "surrogate must be a non-empty"),
    (NeuronConfig, {"class_path": "x", "kwargs": [("tau", 2.0)]}, TypeError, "neuron kwargs must be dictionaries."),
    (NeuronConfig, {"class_path": "x", "kwargs": {"step_mode": "m"}}, ValueError, "backend selection is automatic"),
    (NeuronConfig, {"class_path": "x", "surrogate_kwargs": {"alpha": 2.0}}, ValueError,
     "surrogate_kwargs requires a surrogate class."),
    (NeuronConfig, {"class_path": "x", "kwargs": {"tau": float("nan")}}, ValueError,
     "kwargs.tau must contain only finite numbers."),
    (NeuronConfig, {"class_path": "x", "kwargs": {"tau": (2.0,)}}, TypeError,
     "kwargs.tau must contain only JSON-native values."),
    (NeuronConfig, {"class_path": "x", "kwargs": {"v": [torch.ones(1)]}}, TypeError, "kwargs.v[0] must contain"),
    (NeuronConfig, {"class_path": "x", "kwargs": {"d": {1: 2}}}, TypeError, "kwargs.d keys must be strings."),
])
def test_bad_values_raise_spikingjelly_errors(cls, kw, error, message):
    with pytest.raises(error, match=_starts(message)):
        cls(**kw)


def test_tau_is_only_checked_for_the_default_neuron():
    assert SEWResNet34Config(tau=0.5, neuron_config=NeuronConfig("sj.neuron.IFNode")).tau == 0.5


@pytest.mark.parametrize("config", [SpikformerConfig(time_steps=2, image_height=64, in_channels=2, neuron_config=PLIF),
                                    SpikformerCIFAR10Config(num_classes=100),
                                    SEWResNet34Config(step_mode="s", connection="IAND", tau=3.0, detach_reset=False)])
def test_dictionary_round_trip(config):
    data = config.as_dict()
    assert data["_target_"] == f"{type(config).__module__}.{type(config).__qualname__}"
    assert json.loads(json.dumps(data)) == data  # JSON-native
    assert type(config).from_dict(data) == config
    assert ModelConfig.from_dict(data) == config


def test_dictionary_layout_and_spikingjelly_targets():
    assert SpikformerCIFAR10Config(neuron_config=PLIF).as_dict() == {
        "_target_": "sj.model.spikformer.SpikformerCIFAR10Config", "time_steps": 4, "num_classes": 10,
        "step_mode": "m", "neuron_config": {
            "_target_": "sj.model._vision_config.NeuronConfig", "class_path": "sj.neuron.ParametricLIFNode",
            "kwargs": {"init_tau": 3.0, "v_threshold": 0.7}, "surrogate": "sj.surrogate.ATan",
            "surrogate_kwargs": {"alpha": 3.0}}}
    # as SpikingJelly 2.0 writes it (and with the model module's former distributed.vision path)
    theirs = {"_target_": "spikingjelly.activation_based.model.sew_resnet.SEWResNet34Config", "time_steps": 2,
              "num_classes": 10, "step_mode": "m", "image_size": 32, "in_channels": 3, "connection": "AND",
              "tau": 2.0, "detach_reset": True, "neuron_config": {
                  "_target_": "spikingjelly.activation_based.distributed.vision.config.NeuronConfig",
                  "class_path": "spikingjelly.activation_based.neuron.IFNode", "kwargs": {"v_threshold": 0.5},
                  "surrogate": None, "surrogate_kwargs": {}}}
    want = SEWResNet34Config(2, 10, "m", 32, 3, "AND", neuron_config=NeuronConfig(
        "spikingjelly.activation_based.neuron.IFNode", {"v_threshold": 0.5}))
    assert SEWResNet34Config.from_dict(theirs) == want
    legacy = {**theirs, "_target_": "spikingjelly.activation_based.distributed.vision.sew_resnet.SEWResNet34Config"}
    assert ModelConfig.from_dict(legacy) == want


@pytest.mark.parametrize("target", ["builtins.dict", "os.system", "sj.model.spikformer.Spikformer",
                                    "sj.model.no_such_module.Config", "spikingjelly.activation_based.model.x.Y", 7,
                                    "spikingjelly.activation_based.distributed.vision.config.TrainingConfig"])
def test_only_configuration_classes_are_decoded(target):
    with pytest.raises(ValueError, match=_starts("Unsupported config target")):
        ModelConfig.from_dict({"_target_": target, "time_steps": 4})


def test_decoding_errors():
    data = SEWResNet34Config().as_dict()
    with pytest.raises(TypeError, match=_starts("Expected SpikformerConfig, got SEWResNet34Config.", end=True)):
        SpikformerConfig.from_dict(data)
    with pytest.raises(TypeError, match=_starts("Expected ModelConfig, got dict.", end=True)):
        ModelConfig.from_dict({"time_steps": 4})
    with pytest.raises(TypeError, match="unexpected keyword argument 'depth'"):
        ModelConfig.from_dict({**data, "depth": 3})
    with pytest.raises(ValueError, match=_starts("connection must be")):
        ModelConfig.from_dict({**data, "connection": "XOR"})  # decoding validates
    with pytest.raises(NotImplementedError, match="does not build a model"):
        ModelConfig().build_model()


def test_a_neuron_config_changed_after_construction_is_revalidated():
    config = SEWResNet34Config(neuron_config=NeuronConfig("sj.neuron.IFNode", {"v_threshold": 0.5}))
    config.neuron_config.kwargs["backend"] = "torch"  # the dict is mutable inside the frozen dataclass
    with pytest.raises(ValueError, match=_starts("backend selection is automatic")):
        config.as_dict()
    with pytest.raises(ValueError, match=_starts("backend selection is automatic")):
        config.build_model()


@pytest.mark.parametrize("path", ["sj.neuron.LIFNode", f"{LIFNode.__module__}.LIFNode",
                                  "spikingjelly.activation_based.neuron.LIFNode",
                                  "spikingjelly.activation_based.neuron.lif.LIFNode"])
def test_builtin_neurons_resolve_by_sj_or_spikingjelly_path(path):
    cls, kwargs = resolve_neuron_config(NeuronConfig(path, {"tau": 3.0}, "spikingjelly.activation_based.surrogate.Erf",
                                                     {"alpha": 2.0}))
    assert cls is LIFNode and kwargs["tau"] == 3.0
    assert type(kwargs["surrogate_function"]) is surrogate.Erf and kwargs["surrogate_function"].alpha == 2.0


@pytest.mark.parametrize("path, kind", [("spikingjelly.activation_based.neuron.integrate_and_fire.LIFNode", "neuron"),
                                        ("sj.neuron.NoSuchNode", "neuron"), ("torch.nn.ReLU", "neuron"),
                                        ("sj.neuron.PSN", "neuron"), ("sj.surrogate.NoSuch", "surrogate")])
def test_unknown_classes_are_refused(path, kind):
    config = NeuronConfig(path) if kind == "neuron" else NeuronConfig("sj.neuron.IFNode", surrogate=path)
    message = f"Unregistered {kind} class '{path}'; import and register it first."
    with pytest.raises(ValueError, match=_starts(message, end=True)):
        resolve_neuron_config(config)


class _Doubling(surrogate.ATan):
    pass


class _Quiet(IFNode):
    pass


def test_registered_classes_resolve_by_their_full_path():
    path = f"{__name__}._Quiet"
    with pytest.raises(ValueError, match="Unregistered neuron"):
        resolve_neuron_config(NeuronConfig(path))
    register_neuron_class(_Quiet)
    register_surrogate_class(_Doubling)
    cls, kwargs = resolve_neuron_config(NeuronConfig(path, surrogate=f"{__name__}._Doubling"))
    assert cls is _Quiet and type(kwargs["surrogate_function"]) is _Doubling
    with pytest.raises(TypeError, match=_starts("cls must inherit BaseNode.", end=True)):
        register_neuron_class(torch.nn.ReLU)
    with pytest.raises(TypeError, match=_starts("cls must inherit SurrogateFunctionBase.", end=True)):
        register_surrogate_class(IFNode)


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("config, params", [(SpikformerCIFAR10Config(), 9_310_906), (SpikformerConfig(), 13_244_824),
                                            (SpikformerConfig(num_classes=10, image_height=64), 12_863_674),
                                            (SEWResNet34Config(), 21_797_672)])
def test_built_models_have_spikingjelly_parameter_counts(config, params):
    with torch.device("meta"):
        model = config.build_model()
    assert _count(model) == params  # SpikingJelly 2.0's canonical models' counts
    assert all(m.step_mode == "m" for m in model.modules() if isinstance(m, BaseNode))
    if not isinstance(config, SEWResNet34Config):  # Spikformer: SpikingJelly's configurations use sj.layer norms
        norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        assert norms and all(type(m) in (layer.BatchNorm1d, layer.BatchNorm2d) and m.step_mode == "s" for m in norms)


def test_spikformer_neuron_config_reaches_every_neuron():
    with torch.device("meta"):
        model = SpikformerCIFAR10Config(neuron_config=PLIF).build_model()
    neurons = [m for m in model.modules() if isinstance(m, BaseNode)]
    assert len(neurons) == 5 + 4 * 5  # stem + positional encoding, then per block 3 attention and 2 MLP neurons
    assert all(type(m) is ParametricLIFNode and type(m.surrogate_function) is surrogate.ATan
               and m.surrogate_function.alpha == 3.0 for m in neurons)
    assert _count(model) == 9_310_906 + len(neurons)  # one learnable w per PLIF


def test_sew_resnet34_builds_its_neurons_and_runs():
    torch.manual_seed(0)
    model = SEWResNet34Config(num_classes=5, connection="IAND", tau=3.0, detach_reset=False).build_model()
    neurons = [m for m in model.modules() if isinstance(m, BaseNode)]
    assert len(neurons) == 1 + 2 * 16 + 3  # stem, two per basic block, one per downsampling shortcut
    assert all(type(m) is LIFNode and m.tau.item() == 3.0 and not m.detach_reset and m.step_mode == "m"
               for m in neurons)
    model.eval()
    reset_net(model)
    with torch.no_grad():
        assert model(torch.rand(1, 2, 3, 16, 16)).shape == (1, 2, 5)  # [T, N, num_classes]
    single = SEWResNet34Config(step_mode="s", neuron_config=PLIF)
    with torch.device("meta"):
        model = single.build_model()
    assert all(type(m) is ParametricLIFNode and m.step_mode == "s" for m in model.modules() if isinstance(m, BaseNode))


def test_an_unregistered_neuron_fails_at_build_time():
    config = SpikformerCIFAR10Config(neuron_config=NeuronConfig("mypackage.MyNode"))
    assert SpikformerCIFAR10Config.from_dict(config.as_dict()) == config  # a class path is data until built
    with pytest.raises(ValueError, match=_starts("Unregistered neuron class 'mypackage.MyNode'")):
        config.build_model()
