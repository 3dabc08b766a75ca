"""Model zoo: reference parameter counts, SpikingJelly's builder keywords, step modes, torchvision weights from the
hub cache, and bad arguments."""

from __future__ import annotations

import pytest
import torch

from sj import surrogate
from sj.functional import reset_net, set_step_mode
from sj.model import MODELS, count_parameters, get_model, list_models
from sj.model.parametric_lif_net import CIFAR10DVSNet, DVSGestureNet, MNISTNet, NMNISTNet
from sj.model.sew_resnet import SEWResNet, sew_resnet18, sew_resnet50
from sj.model.spiking_resnet import BasicBlock, spiking_resnet18, spiking_resnext50_32x4d
from sj.model.spiking_vgg import SpikingVGG, cfgs, spiking_vgg11
from sj.neuron import BaseNode, IFNode, LIFNode, ParametricLIFNode


@pytest.mark.parametrize("name", list_models())
def test_parameter_count_matches_the_reference(name):
    with torch.device("meta"):  # no memory, no initialisation: counts only
        model = get_model(name)
    assert count_parameters(model) == MODELS[name].reference_params
    assert "meta(" in repr(model)  # printing a model sized on meta shows its neurons' parameters as meta tensors


def _steps_equal_sequence(model: torch.nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
    """Run ``x_seq`` step by step in mode 's', then at once in 'm'; they agree and the output is ``[T, N, ...]``."""
    model.eval()
    reset_net(model)
    stepwise = torch.stack([model(x) for x in x_seq])
    set_step_mode(model, "m")
    reset_net(model)
    whole = model(x_seq)
    torch.testing.assert_close(whole, stepwise, rtol=1e-5, atol=1e-6)
    return whole


@pytest.mark.parametrize("builder, kw", [(spiking_resnet18, {}), (sew_resnet18, {"cnf": "IAND"}),
                                         (sew_resnet50, {"cnf": "AND"})])
def test_resnets_run_step_by_step_as_in_multistep_mode(builder, kw):
    torch.manual_seed(0)
    net = builder(spiking_neuron=LIFNode, num_classes=4, tau=2.0, **kw)
    y = _steps_equal_sequence(net, torch.rand(3, 2, 3, 16, 16) * 4)
    assert y.shape == (3, 2, 4)


def test_plif_nets_run_and_learn():
    torch.manual_seed(0)
    net = MNISTNet(channels=4, spiking_neuron=ParametricLIFNode, surrogate_function=surrogate.ATan())
    y = _steps_equal_sequence(net, torch.rand(2, 2, 1, 28, 28) * 3)
    assert y.shape == (2, 2, 10)
    net.train()
    reset_net(net)
    net(torch.rand(2, 2, 1, 28, 28) * 3).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert NMNISTNet(channels=2, spiking_neuron=IFNode).conv_fc[0].in_channels == 2
    shapes = {n: p.shape for n, p in DVSGestureNet(channels=2, spiking_neuron=IFNode).named_parameters()}
    assert shapes["conv_fc.25.weight"] == (110, 512) and shapes["conv_fc.22.weight"] == (512, 2 * 4 * 4)
    assert CIFAR10DVSNet(channels=2, spiking_neuron=IFNode).conv_fc[-6].in_features == 2 * 8 * 8


def test_keywords_reach_every_neuron_each_with_its_own_surrogate():
    sg = surrogate.ATan(alpha=3.0)
    net = spiking_resnet18(spiking_neuron=LIFNode, tau=3.0, detach_reset=True, surrogate_function=sg,
                           backend="torch")
    neurons = [m for m in net.modules() if isinstance(m, BaseNode)]
    assert len(neurons) == 1 + 8 * 2
    assert all(float(n.tau) == 3.0 and n.detach_reset and n.surrogate_function.alpha == 3.0 for n in neurons)
    assert len({id(n.surrogate_function) for n in neurons} | {id(sg)}) == len(neurons) + 1


def test_torchvision_names_and_resnext_groups():
    names = {n for n, _ in spiking_resnet18(spiking_neuron=IFNode).named_parameters()}
    assert {"conv1.weight", "bn1.weight", "layer1.0.bn2.bias", "layer2.0.downsample.0.weight",
            "layer2.0.downsample.1.weight", "fc.weight"} <= names
    assert not any("bns" in n or "sns" in n for n in names)
    with torch.device("meta"):
        x = spiking_resnext50_32x4d(spiking_neuron=IFNode)
    assert x.layer1[0].conv2.groups == 32 and x.layer1[0].conv2.out_channels == 128
    sew_names = {n for n, _ in sew_resnet18(cnf="ADD", spiking_neuron=IFNode).named_modules()}
    assert "layer2.0.downsample_sn" in sew_names and "layer1.0.downsample_sn" not in sew_names


def test_pretrained_loads_torchvision_weights_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    reference = spiking_resnet18(spiking_neuron=IFNode)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in reference.state_dict().items()
             if not k.endswith(("v_threshold", "v_reset", "_extra_state"))}  # what torchvision's file holds
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    net = spiking_resnet18(pretrained=True, progress=False, spiking_neuron=IFNode)
    assert torch.equal(net.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    assert torch.equal(net.fc.bias, state["fc.bias"])
    with pytest.raises(RuntimeError, match="Unexpected key"):  # strict: a file of another architecture fails
        torch.save({**state, "extra.weight": torch.zeros(1)}, tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
        spiking_resnet18(pretrained=True, progress=False, spiking_neuron=IFNode)


def test_vgg_layout_matches_torchvision_indices():
    with torch.device("meta"):
        net = spiking_vgg11(spiking_neuron=IFNode, num_classes=10)
    names = [n for n, _ in net.named_parameters()]
    assert names[:2] == ["features.0.weight", "features.0.bias"]
    assert names[-6:] == [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    feats = SpikingVGG.make_layers(cfgs["A"][:4], batch_norm=True, neuron=IFNode)
    assert [type(m).__name__ for m in feats] == ["Conv2d", "BatchNorm2d", "IFNode", "MaxPool2d", "Conv2d",
                                               "BatchNorm2d", "IFNode", "MaxPool2d"]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="spiking_neuron must be a neuron class"):
        spiking_resnet18()
    with pytest.raises(ValueError, match="cnf must be one of"):
        sew_resnet18(spiking_neuron=IFNode)
    with pytest.raises(ValueError, match="groups=1 and base_width=64"):
        BasicBlock(64, 64, groups=2, spiking_neuron=IFNode)
    with pytest.raises(ValueError, match="4 stages"):
        SEWResNet(BasicBlock, [2, 2], cnf="ADD", spiking_neuron=IFNode)
    with pytest.raises(KeyError, match="unknown model"):
        get_model("resnet9000")


@pytest.mark.parametrize("builder, kw, step, out", [
    ("spikformer.Spikformer", {"img_size_h": 16, "img_size_w": 16, "patch_size": 4, "embed_dims": 16,
                               "num_heads": 2, "depths": 1}, (3, 16, 16), (2, 2, 3)),
    ("spike_driven_transformer.SpikeDrivenTransformer", {"embed_dims": 16, "num_heads": 2, "depths": 1},
     (3, 16, 16), (2, 3)),
    ("qkformer.QKFormer", {"embed_dims": 16, "num_heads": (2, 2, 2), "depths": (1, 1, 1)}, (3, 32, 32), (2, 3)),
    ("maxformer.MaxFormer", {"embed_dims": 16, "depths": (1, 1, 1)}, (3, 32, 32), (2, 3)),
    ("ms_resnet.MSResNet", {"layers": (1, 1, 1), "base_channels": 4}, (3, 16, 16), (2, 3)),
])
def test_transformers_take_images_or_sequences(builder, kw, step, out):
    import importlib

    module, name = builder.split(".")
    cls = getattr(importlib.import_module(f"sj.model.{module}"), name)
    torch.manual_seed(0)
    net = cls(T=2, num_classes=3, **kw).eval()
    x = torch.rand(2, *step)
    y = net(x)
    assert y.shape == out
    reset_net(net)
    torch.testing.assert_close(net(x.unsqueeze(0).repeat(2, 1, 1, 1, 1)), y)  # an image is its T-step repetition
    with pytest.raises(ValueError, match=r"4D|5D"):
        net(torch.rand(3, 16))
    neurons = [m for m in net.modules() if isinstance(m, BaseNode)]
    assert neurons and all(isinstance(n, LIFNode) and n.step_mode == "m" for n in neurons)
    if_net = cls(T=2, num_classes=3, spiking_neuron=IFNode, **kw)
    assert all(type(m) is IFNode for m in if_net.modules() if isinstance(m, BaseNode))
    with pytest.raises(ValueError, match="step_mode='m'"):
        cls(T=2, num_classes=3, step_mode="s", **kw)


def test_spikformer_attention_neurons_keep_the_paper_defaults():
    from sj.model.spikformer import Spikformer

    net = Spikformer(img_size_h=16, img_size_w=16, patch_size=4, embed_dims=16, num_heads=2, depths=1, tau=3.0)
    attn = net.blocks[0].attn
    assert float(attn.attn_lif.v_threshold) == 0.5 and float(attn.qkv_lif.tau) == 2.0  # as SpikingJelly: tau= is
    assert float(net.blocks[0].mlp.neuron1.tau) == 3.0  # for the other neurons only


def test_dspike_gradient_closed_form_and_search_stage():
    from sj.model.spike_dhs import DSpike, SearchSpikingConv2d_stem

    z = torch.linspace(-1, 1, 81, dtype=torch.float64, requires_grad=True)
    alpha = 2.5
    (grad,) = torch.autograd.grad(DSpike(alpha)(z).sum(), z)
    want = alpha / (2 * torch.tanh(torch.tensor(alpha / 2))) / torch.cosh(alpha * z.detach()) ** 2
    torch.testing.assert_close(grad, torch.where(z.detach().abs() > 0.5, 0.0, want.double()))
    with pytest.raises(ValueError, match="primitive"):
        DSpike(spiking=False)
    stem = SearchSpikingConv2d_stem(3, 4)
    stem.dgs_init_stage()
    assert torch.equal(stem.conv_s.weight, stem.conv_m.weight) and stem.spike_b.surrogate_function.alpha == 3.2
    stem.dgs_finish_stage(0)
    assert not stem.is_DGS and stem.spike_m.surrogate_function.alpha == pytest.approx(2.8)


def test_snas_net_rejects_unknown_configurations():
    from types import SimpleNamespace

    import numpy as np

    from sj.model.snas_net import SNASNet

    args = SimpleNamespace(timestep=1, second_avgpooling=2, dataset="mnist", celltype="forward", threshold=0.5, tau=2.0)
    with pytest.raises(ValueError, match="dataset must be one of"):
        SNASNet(args, np.zeros((4, 4), dtype=int))
    args.dataset, args.celltype = "cifar10", "sideways"
    with pytest.raises(ValueError, match="celltype"):
        SNASNet(args, np.zeros((4, 4), dtype=int))
