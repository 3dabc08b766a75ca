"""Model zoo: every model runs forward/backward in 'm' mode at T=2 on a tiny input, and its parameter count equals
the reference architecture's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sj import surrogate
from sj.base import StepModule
from sj.functional import reset_net
from sj.model import MODELS, count_parameters, get_model, list_models
from sj.neuron import BaseNode, IFNode, LIFNode, ParametricLIFNode

# name → (tiny build kwargs for the forward/backward run, one input step [N, C, H, W])
TINY: dict[str, tuple[dict, tuple[int, ...]]] = {
    **{n: ({"num_classes": 5}, (1, 3, 32, 32)) for n in MODELS if n.startswith(("spiking_resnet", "sew_resnet"))},
    **{n: ({"num_classes": 5}, (1, 3, 32, 32)) for n in MODELS if n.startswith("spiking_vgg")},
    "plif_mnist": ({"channels": 4}, (1, 1, 28, 28)),
    "plif_fashion_mnist": ({"channels": 4}, (1, 1, 28, 28)),
    "plif_nmnist": ({"channels": 4}, (1, 2, 34, 34)),
    "plif_cifar10": ({"channels": 4}, (1, 3, 32, 32)),
    "plif_cifar10_dvs": ({"channels": 4}, (1, 2, 128, 128)),
    "plif_dvs_gesture": ({"channels": 4}, (1, 2, 128, 128)),
    "spikformer": ({"embed_dim": 32, "depth": 1, "heads": 2}, (1, 3, 16, 16)),
}
BIG = {n for n in MODELS if n.startswith("spiking_vgg")}  # 130 M parameters: count on the tiny-input model itself


def test_every_model_has_a_tiny_configuration():
    assert set(TINY) == set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_parameter_count_matches_the_reference(name):
    info = MODELS[name]
    with torch.device("meta"):  # no memory, no initialisation: counts only
        model = get_model(name)
    assert all(p.device.type == "meta" for p in model.parameters())
    n = count_parameters(model)
    assert abs(n - info.reference_params) <= info.tolerance, f"{name}: {n:,} vs {info.reference_params:,}"


def _run_forward_backward(model: nn.Module, step_shape: tuple[int, ...], T: int = 2) -> torch.Tensor:
    x = torch.rand(T, *step_shape, requires_grad=True)
    model.train()
    y = model(x)
    assert y.shape[:2] == (T, step_shape[0]) and torch.isfinite(y).all()
    y.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[:1]), "no gradient reached the first parameter"
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert any(g is not None and g.abs().sum() > 0 for g in grads), "all parameter gradients are zero"
    return y


@pytest.mark.parametrize("name", [n for n in list_models() if n not in BIG])
def test_forward_backward_in_multistep_mode_at_T2(name):
    torch.manual_seed(0)
    kwargs, shape = TINY[name]
    model = get_model(name, **kwargs)
    assert all(m.step_mode == "m" for m in model.modules() if isinstance(m, StepModule))
    y = _run_forward_backward(model, shape)
    assert y.shape[-1] == {"plif_dvs_gesture": 11}.get(name, kwargs.get("num_classes", 10))
    reset_net(model)
    _run_forward_backward(model, (2, *shape[1:]), T=3)  # T-agnostic, new batch size after a reset


@pytest.mark.parametrize("name", sorted(BIG))
def test_vgg_forward_backward_at_T2_and_reference_count(name):
    torch.manual_seed(0)
    model = get_model(name)  # the reference configuration (1000 classes) is cheap enough to run at 32×32
    assert count_parameters(model) == MODELS[name].reference_params
    y = _run_forward_backward(model, (1, 3, 32, 32))
    assert y.shape == (2, 1, 1000)


def test_neuron_and_surrogate_arguments_are_honoured():
    model = get_model("sew_resnet18", num_classes=3, neuron=LIFNode, surrogate=surrogate.ATan(alpha=3.0), tau=3.0,
                      detach_reset=True)
    neurons = [m for m in model.modules() if isinstance(m, BaseNode)]
    assert neurons and all(isinstance(m, LIFNode) for m in neurons)
    assert all(isinstance(m.surrogate_function, surrogate.ATan) and m.surrogate_function.alpha == 3.0
               for m in neurons)
    assert len({id(m.surrogate_function) for m in neurons}) == len(neurons)  # one surrogate instance each
    assert all(float(m.tau) == 3.0 and m.detach_reset for m in neurons)
    plif = get_model("spiking_resnet18", neuron=ParametricLIFNode)
    n_neurons = sum(isinstance(m, ParametricLIFNode) for m in plif.modules())
    assert count_parameters(plif) == MODELS["spiking_resnet18"].reference_params + n_neurons  # one w per neuron
    default = get_model("plif_mnist", channels=4)
    assert all(isinstance(m, ParametricLIFNode) and isinstance(m.surrogate_function, surrogate.ATan)
               for m in default.modules() if isinstance(m, BaseNode))
    assert all(isinstance(m, IFNode) for m in get_model("spiking_vgg11", num_classes=2).modules()
               if isinstance(m, BaseNode))


def test_sew_connect_functions_truth_tables_and_validation():
    from sj.model.resnet import _Block, connect

    a = torch.tensor([0.0, 0.0, 1.0, 1.0])
    s_ = torch.tensor([0.0, 1.0, 0.0, 1.0])
    assert connect(a, s_, "ADD").tolist() == [0, 1, 1, 2]
    assert connect(a, s_, "AND").tolist() == [0, 0, 0, 1]
    assert connect(a, s_, "IAND").tolist() == [0, 1, 0, 0]
    for cnf in ("ADD", "AND", "IAND"):
        model = get_model("sew_resnet18", cnf=cnf, num_classes=4)
        assert {b.cnf for b in model.modules() if isinstance(b, _Block)} == {cnf}
    with pytest.raises(ValueError, match="cnf"):
        get_model("sew_resnet18", cnf="OR")


def test_spiking_resnet_has_no_shortcut_neuron_and_sew_has_one_per_downsample():
    plain = get_model("spiking_resnet18", num_classes=2)
    sew = get_model("sew_resnet18", num_classes=2)
    count = [sum(isinstance(m, BaseNode) for m in net.modules()) for net in (plain, sew)]
    # 1 stem + 8 blocks × 2; SEW adds 3 shortcut neurons (stages 2-4 downsample)
    assert count == [17, 20]


def test_bad_arguments():
    with pytest.raises(KeyError, match="unknown model"):
        get_model("resnet1000")
    with pytest.raises(TypeError, match="surrogate"):
        get_model("plif_mnist", surrogate="atan")
    with pytest.raises(TypeError, match="step_mode"):
        get_model("plif_mnist", step_mode="s")
    with pytest.raises(ValueError, match="divisible"):
        get_model("spikformer", embed_dim=40, heads=3)


def test_sj_model_list_cli(capsys):
    from sj.cli.main import main

    assert main(["model", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in list_models()) and "11,689,512" in out
    assert main(["model", "list", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_models()
