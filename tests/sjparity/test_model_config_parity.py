"""The zoo's serialisable configurations against SpikingJelly 2.0.0's (``model.spikformer.SpikformerConfig``,
``SpikformerCIFAR10Config``, ``model.sew_resnet.SEWResNet34Config`` and their ``distributed.vision.config``
``NeuronConfig``): the same fields and defaults, the same errors for the same bad values, dictionaries that cross
between the two, the same neuron classes for the same class paths, and the same model as SpikingJelly's builder's
canonical (unsharded) model — module by module under ``torch.device("meta")``, and for SEW ResNet-34 built for real
from one seed, equal weights and neuron hyper-parameters.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import spikingjelly

from sj.model import _vision_config as ours_config
from sj.model import sew_resnet, spikformer
from sj.neuron import BaseNode

CONFIGS = [("spikformer", "SpikformerConfig"), ("spikformer", "SpikformerCIFAR10Config"),
           ("sew_resnet", "SEWResNet34Config")]
SJ = "spikingjelly.activation_based."
PLIF = {"class_path": f"{SJ}neuron.ParametricLIFNode", "kwargs": {"init_tau": 3.0, "v_threshold": 0.7},
        "surrogate": f"{SJ}surrogate.ATan", "surrogate_kwargs": {"alpha": 3.0}}


def _theirs_config():
    return spikingjelly("activation_based.distributed.vision.config")


def _pair(module: str, name: str) -> tuple[type, type]:
    ours = getattr({"spikformer": spikformer, "sew_resnet": sew_resnet}[module], name)
    return ours, getattr(spikingjelly(f"activation_based.model.{module}"), name)


def _fields(cls: type) -> list[tuple]:
    return [(f.name, f.default, f.default_factory is dataclasses.MISSING or f.default_factory())
            for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("module, name", CONFIGS)
def test_same_fields_and_defaults(module, name):
    ours, theirs = _pair(module, name)
    assert _fields(ours) == _fields(theirs)
    assert ours.__dataclass_params__.frozen and theirs.__dataclass_params__.frozen
    assert _fields(ours_config.NeuronConfig) == _fields(_theirs_config().NeuronConfig)


BAD = [  # (config, kwargs): every check of the three configurations and of NeuronConfig
    ("SpikformerConfig", {"time_steps": 0}), ("SpikformerConfig", {"num_classes": 0}),
    ("SpikformerConfig", {"step_mode": "x"}), ("SpikformerConfig", {"step_mode": "s"}),
    ("SpikformerConfig", {"image_height": -2}), ("SpikformerConfig", {"in_channels": 0}),
    ("SpikformerConfig", {"time_steps": "4"}), ("SpikformerConfig", {"image_width": None}),
    ("SpikformerCIFAR10Config", {"step_mode": "s"}), ("SpikformerCIFAR10Config", {"num_classes": 0, "step_mode": "x"}),
    ("SpikformerCIFAR10Config", {"image_size": 32}),
    ("SEWResNet34Config", {"image_size": 0}), ("SEWResNet34Config", {"in_channels": 1}),
    ("SEWResNet34Config", {"connection": "add"}), ("SEWResNet34Config", {"tau": 1.0}),
    ("SEWResNet34Config", {"tau": 0.5, "connection": "OR"}), ("SEWResNet34Config", {"step_mode": "ms"}),
    ("NeuronConfig", {"class_path": None}), ("NeuronConfig", {"class_path": ""}),
    ("NeuronConfig", {"class_path": "a.B "}), ("NeuronConfig", {"class_path": "a.B", "surrogate": 1}),
    ("NeuronConfig", {"class_path": "a.B", "surrogate": "\ta.S"}), ("NeuronConfig", {"class_path": "a.B", "kwargs": 1}),
    ("NeuronConfig", {"class_path": "a.B", "surrogate_kwargs": []}),
    ("NeuronConfig", {"class_path": "a.B", "kwargs": {"backend": "cupy"}}),
    ("NeuronConfig", {"class_path": "a.B", "kwargs": {"surrogate_function": None}}),
    ("NeuronConfig", {"class_path": "a.B", "surrogate_kwargs": {"alpha": 1.0}}),
    ("NeuronConfig", {"class_path": "a.B", "kwargs": {"tau": float("inf")}}),
    ("NeuronConfig", {"class_path": "a.B", "kwargs": {"v": {"w": [1, (2,)]}}}),
    ("NeuronConfig", {"class_path": "a.B", "kwargs": {"v": {3: 1}}}),
    ("NeuronConfig", {"class_path": "a.B", "surrogate": "a.S", "surrogate_kwargs": {"alpha": float("nan")}}),
    ("NeuronConfig", {"class_path": "a.B", "kwargs": {"tau": torch.tensor(2.0)}}),
]


def _cls(name: str, sj2: bool) -> type:
    if name == "NeuronConfig":
        return _theirs_config().NeuronConfig if sj2 else ours_config.NeuronConfig
    ours, theirs = _pair("sew_resnet" if name.startswith("SEW") else "spikformer", name)
    return theirs if sj2 else ours


def _outcome(fn) -> str | tuple[type, str]:
    """The name of the class ``fn`` returns, or the type and message of its error."""
    try:
        return fn().__name__
    except Exception as error:
        return type(error), str(error)


def _error(fn) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("name, kw", BAD)
def test_same_errors_for_the_same_bad_values(name, kw):
    assert _error(lambda: _cls(name, False)(**kw)) == _error(lambda: _cls(name, True)(**kw))


def _values(name: str, sj2: bool) -> list:
    """Configurations with every field set away from its default (a PLIF neuron config for the ones that take it)."""
    neuron = _cls("NeuronConfig", sj2)(**PLIF)
    return {"SpikformerConfig": [dict(time_steps=2, num_classes=10, image_height=64, image_width=32, in_channels=2,
                                      neuron_config=neuron)],
            "SpikformerCIFAR10Config": [dict(time_steps=8, num_classes=100, neuron_config=neuron)],
            "SEWResNet34Config": [dict(time_steps=3, num_classes=7, step_mode="s", image_size=128, connection="IAND",
                                       tau=4.0, detach_reset=False),
                                  dict(connection="AND", neuron_config=neuron)]}[name]


def _as_theirs(data):
    """sj's dictionary with SpikingJelly's class paths."""
    if isinstance(data, dict):
        data = {k: _as_theirs(v) for k, v in data.items()}
        target = data.get("_target_", "")
        for ours, theirs in (("sj.model._vision_config.", f"{SJ}distributed.vision.config."),
                             ("sj.model.", f"{SJ}model.")):
            if target.startswith(ours):
                data["_target_"] = theirs + target[len(ours):]
                break
    return data


@pytest.mark.parametrize("module, name", CONFIGS)
def test_dictionaries_cross_between_spikingjelly_and_sj(module, name):
    ours, theirs = _pair(module, name)
    for kw_ours, kw_theirs in zip(_values(name, False), _values(name, True), strict=True):
        a, b = theirs(**kw_theirs), ours(**kw_ours)
        assert _as_theirs(b.as_dict()) == a.as_dict()
        assert ours.from_dict(a.as_dict()) == b  # SpikingJelly's file, read by sj
        assert theirs.from_dict(_as_theirs(b.as_dict())) == a


def test_same_decoding_errors():
    data = {"_target_": f"{SJ}model.sew_resnet.SEWResNet34Config", "tau": 1.5}
    theirs_base, ours_base = _theirs_config().ModelConfig, ours_config.ModelConfig
    theirs_s, ours_s = _pair("spikformer", "SpikformerConfig")
    for bad in ({**data, "connection": "X"}, {**data, "depth": 2}, {"time_steps": 4}):
        assert _error(lambda bad=bad: ours_base.from_dict(bad)) == _error(lambda bad=bad: theirs_base.from_dict(bad))
    assert _error(lambda: ours_s.from_dict(data)) == _error(lambda: theirs_s.from_dict(data))
    for target in ("os.system", f"{SJ}model.spikformer.Spikformer", f"{SJ}model.nothing.Config"):
        # the same error; SpikingJelly's message also lists trainer configurations sj does not have
        (kind, message), (their_kind, _) = (_error(lambda m=m, t=target: m.from_dict({"_target_": t}))
                                            for m in (ours_base, theirs_base))
        assert kind is their_kind is ValueError and message.startswith(f"Unsupported config target {target!r}")


def _neuron_classes(sj2: bool) -> dict[str, type]:
    neuron = spikingjelly("activation_based.neuron") if sj2 else __import__("sj.neuron", fromlist=["x"])
    return {k: v for k, v in vars(neuron).items() if isinstance(v, type) and issubclass(v, neuron.BaseNode)}


def test_class_paths_resolve_to_the_same_classes():
    """Every SpikingJelly neuron and surrogate class path SpikingJelly resolves (short and, for neurons, by submodule)
    resolves in sj to sj's class of that name; one it refuses, sj refuses with its error."""
    theirs_resolve, ours_resolve = _theirs_config()._resolve_neuron_config, ours_config.resolve_neuron_config
    theirs_nc, ours_nc = _theirs_config().NeuronConfig, ours_config.NeuronConfig
    theirs = _neuron_classes(True)
    paths = [p for name, cls in theirs.items() for p in (f"{SJ}neuron.{name}", f"{cls.__module__}.{name}")]
    paths += [f"{SJ}neuron.lif.IFNode", f"{SJ}neuron.PSN", f"{SJ}neuron.lif"]
    for path in paths:
        assert _outcome(lambda p=path: ours_resolve(ours_nc(p))[0]) == _outcome(lambda p=path: theirs_resolve(
            theirs_nc(p))[0])
    surrogate = spikingjelly("activation_based.surrogate")
    for name, cls in vars(surrogate).items():
        if isinstance(cls, type) and issubclass(cls, surrogate.SurrogateFunctionBase):
            kw = {"class_path": f"{SJ}neuron.IFNode", "surrogate": f"{SJ}surrogate.{name}"}
            assert _outcome(lambda kw=kw: type(ours_resolve(ours_nc(**kw))[1]["surrogate_function"])) == _outcome(
                lambda kw=kw: type(theirs_resolve(theirs_nc(**kw))[1]["surrogate_function"]))


def _layout(model: torch.nn.Module) -> list[tuple]:
    """Every module (shared ones at each place), its type and what a configuration decides: the step mode of neurons
    and batch norms (containers differ: SpikingJelly's SeqToANNContainer has none), ``detach_reset``, surrogates."""
    def facts(m: torch.nn.Module) -> tuple:
        kind = type(m).__name__
        names = ("step_mode", "detach_reset") if kind.endswith("Node") else (
            ("step_mode",) if kind.startswith("BatchNorm") else ("spiking", "alpha"))
        return kind, *(getattr(m, a, None) for a in names)

    return [(name, *facts(m)) for name, m in model.named_modules(remove_duplicate=False)]


def _build_theirs(config):
    return config.get_builder_cls()(config)._build_canonical_model()


@pytest.mark.parametrize("module, name", CONFIGS)
@pytest.mark.parametrize("neuron", [None, PLIF])
def test_the_same_model(module, name, neuron):
    ours, theirs = _pair(module, name)
    kw = {"step_mode": "s"} if name.startswith("SEW") and neuron else {}
    a_config = theirs(neuron_config=neuron and _theirs_config().NeuronConfig(**neuron), **kw)
    b_config = ours.from_dict(a_config.as_dict())
    with torch.device("meta"):
        a, b = _build_theirs(a_config), b_config.build_model()
    assert _layout(b) == _layout(a)
    assert {k: v.shape for k, v in a.state_dict().items()} == {
        k: v.shape for k, v in b.state_dict().items() if k in a.state_dict()}
    assert sum(p.numel() for p in b.parameters()) == sum(p.numel() for p in a.parameters())


def _neurons(model: torch.nn.Module) -> list[tuple]:
    """Each neuron's class and hyper-parameters (float32, as sj holds them; a PLIF's τ is its weight ``w``)."""
    def number(x) -> float | None:
        return None if x is None else torch.as_tensor(x, dtype=torch.float32).item()

    return [(type(m).__name__, number(m.v_threshold), number(m.v_reset),
             None if "Parametric" in type(m).__name__ else number(m.tau), m.detach_reset, m.step_mode,
             type(m.surrogate_function).__name__, m.surrogate_function.alpha)
            for m in model.modules() if type(m).__name__.endswith("Node")]


@pytest.mark.parametrize("neuron", [None, PLIF])
def test_sew_resnet34_weights_and_neurons_from_one_seed(neuron):
    ours, theirs = _pair("sew_resnet", "SEWResNet34Config")
    a_config = theirs(num_classes=5, connection="IAND", tau=3.0,
                      neuron_config=neuron and _theirs_config().NeuronConfig(**neuron))
    torch.manual_seed(0)
    a = _build_theirs(a_config)
    torch.manual_seed(0)
    b = ours.from_dict(a_config.as_dict()).build_model()
    want, got = a.state_dict(), b.state_dict()
    for key, value in want.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=0)
    assert _neurons(b) == _neurons(a) and len(_neurons(a)) == 36
    assert all(isinstance(m, BaseNode) for m in b.modules() if type(m).__name__.endswith("Node"))
