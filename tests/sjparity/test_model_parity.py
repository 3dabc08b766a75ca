"""sj.model against SpikingJelly 2.0.0's activation_based.model.

- Every builder of the zoo modules (read from ``sj2_public_names.json``): the same parameter and buffer names and
  shapes, built under ``torch.device("meta")`` so that the 100 M-parameter networks cost nothing.
- Small configurations: SJ's state_dict loads strictly into sj's model; outputs, input gradients and parameter
  gradients agree within 1e-9 times the largest value of each tensor (float64, so no spike flips on rounding; sums
  over the folded batch run in another order), in step mode 'm' with LIF neurons, surrogate ATan and
  ``detach_reset=True`` passed through ``**kwargs``. Full networks are compared for spiking ResNet-18 (the stem, the
  stages and the head SEW ResNets share); SEW's logic is compared block by block, with downsampling.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from oracle import spikingjelly  # noqa: E402

from sj import functional, neuron, surrogate  # noqa: E402

ATOL = 1e-9
ZOO = ("spiking_resnet", "sew_resnet", "spiking_vgg", "parametric_lif_net", "spikformer", "spike_driven_transformer",
       "qkformer")
TRANSFORMERS = {"spikformer", "spike_driven_transformer", "qkformer"}  # LIF by default: no spiking_neuron needed
# SJ's distributed-training configurations (see docs/migrating.md)
NOT_BUILDERS = {"SEWResNet34Config", "SpikformerConfig", "SpikformerCIFAR10Config"}
CLASSES = {"SpikingResNet", "SEWResNet", "SpikingVGG"}  # need a block/cfg argument: built through the builders
_NAMES = json.loads((HERE / "sj2_public_names.json").read_text())
BUILDERS = [(m, n) for m in ZOO for n in _NAMES[f"activation_based.model.{m}"]["names"]
            if n not in NOT_BUILDERS | CLASSES]


def _pair(module: str, name: str):
    theirs = getattr(spikingjelly(f"activation_based.model.{module}"), name)
    ours = getattr(importlib.import_module(f"sj.model.{module}"), name)
    return ours, theirs


def _kwargs(module: str, sj2: bool) -> dict:
    if module in TRANSFORMERS:
        return {}
    n = spikingjelly("activation_based.neuron") if sj2 else neuron
    kw = {"spiking_neuron": n.IFNode}
    return {**kw, "cnf": "ADD"} if module == "sew_resnet" else kw


def _shapes(model: torch.nn.Module) -> dict[str, tuple]:
    """state_dict names and shapes, without sj neurons' hyper-parameter buffers (SJ keeps those as attributes)."""
    skip = {f"{prefix}.{b}" for prefix, m in model.named_modules() if isinstance(m, neuron.BaseNode)
            for b in (*m._buffers, "_extra_state")}
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k not in skip}


@pytest.mark.parametrize("module, name", BUILDERS)
def test_same_parameter_names_and_shapes(module, name):
    ours, theirs = _pair(module, name)
    with torch.device("meta"):
        a, b = theirs(**_kwargs(module, True)), ours(**_kwargs(module, False))
    assert _shapes(b) == {k: tuple(v.shape) for k, v in a.state_dict().items()}


def _compare(ours: torch.nn.Module, theirs: torch.nn.Module, x_seq: torch.Tensor, train: bool = True) -> None:
    """Load SJ's state into sj's model, run both in step mode 'm' (``train``: training mode, else eval: dropout off,
    whose masks are random draws) and compare outputs and gradients."""
    ours.load_state_dict(theirs.state_dict(), strict=True)
    SJF = spikingjelly("activation_based.functional")
    SJF.set_step_mode(theirs, "m")
    functional.set_step_mode(ours, "m")
    outs, grads = [], []
    for net, reset in ((theirs, SJF.reset_net), (ours, functional.reset_net)):
        net.double().train(train)
        reset(net)
        x = x_seq.clone().requires_grad_(True)
        y = net(x)
        y.backward(torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y))
        outs.append(y)
        grads.append([x.grad, *(p.grad for _, p in sorted(net.named_parameters()))])
    assert outs[0].abs().sum() > 0, "the test input drives no output: the comparison would be vacuous"
    for got, want in zip([outs[1], *grads[1]], [outs[0], *grads[0]], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=ATOL * max(1.0, want.abs().max().item()))


def _lif(sj2: bool) -> dict:
    n, s = (spikingjelly("activation_based.neuron"), spikingjelly("activation_based.surrogate")) if sj2 else (
        neuron, surrogate)
    return {"spiking_neuron": n.LIFNode, "tau": 2.0, "surrogate_function": s.ATan(), "detach_reset": True}


def test_resnet_outputs_and_gradients():
    ours, theirs = _pair("spiking_resnet", "spiking_resnet18")
    torch.manual_seed(0)
    a = theirs(num_classes=3, **_lif(True))
    b = ours(num_classes=3, **_lif(False))
    _compare(b, a, torch.rand(2, 1, 3, 8, 8, dtype=torch.float64) * 6)


@pytest.mark.parametrize("module, block, cnf", [("spiking_resnet", "Bottleneck", None),
                                                ("sew_resnet", "BasicBlock", "IAND"),
                                                ("sew_resnet", "Bottleneck", "IAND")])
def test_residual_blocks_with_downsampling(module, block, cnf):
    """IAND tells SEW's two blocks apart: a basic block joins g(shortcut, branch), a bottleneck g(branch, shortcut)."""
    ours, theirs = _pair(module, block)
    sew = {"cnf": cnf} if cnf else {}
    torch.manual_seed(0)
    expansion = theirs.expansion
    blocks = []
    for cls, sj2 in ((theirs, True), (ours, False)):
        layer = spikingjelly("activation_based.layer") if sj2 else importlib.import_module("sj.layer")
        down = torch.nn.Sequential(layer.Conv2d(4, 3 * expansion, 1, stride=2, bias=False),
                                   layer.BatchNorm2d(3 * expansion))
        blocks.append(cls(4, 3, 2, down, **sew, **_lif(sj2)))
    _compare(blocks[1], blocks[0], torch.rand(3, 2, 4, 6, 6, dtype=torch.float64) * 3)


@pytest.mark.parametrize("name, step", [("MNISTNet", (1, 28, 28)), ("CIFAR10Net", (3, 32, 32)),
                                        ("DVSGestureNet", (2, 128, 128))])
def test_plif_net_outputs_and_gradients(name, step):
    ours, theirs = _pair("parametric_lif_net", name)
    n2 = spikingjelly("activation_based.neuron")
    torch.manual_seed(0)
    a = theirs(channels=4, spiking_neuron=n2.ParametricLIFNode, detach_reset=True)
    b = ours(channels=4, spiking_neuron=neuron.ParametricLIFNode, detach_reset=True)
    for m in a.modules():  # weights large enough that spikes reach the voting layer within 3 steps
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.uniform_(m.weight, -0.1, 0.3)
    _compare(b, a, torch.rand(3, 1, *step, dtype=torch.float64) * 4, train=False)


def test_vgg_features_outputs_and_gradients():
    ours, theirs = _pair("spiking_vgg", "SpikingVGG")
    cfg = [4, "M", 6, "M"]
    torch.manual_seed(0)
    a = theirs.make_layers(cfg, batch_norm=True, neuron=spikingjelly("activation_based.neuron").LIFNode, tau=2.0)
    b = ours.make_layers(cfg, batch_norm=True, neuron=neuron.LIFNode, tau=2.0)
    _compare(b, a, torch.rand(2, 1, 3, 8, 8, dtype=torch.float64) * 4)


@pytest.mark.parametrize("module, name, kw, step", [
    ("spikformer", "Spikformer", {"img_size_h": 16, "img_size_w": 16, "patch_size": 4, "embed_dims": 16,
                                  "num_heads": 2, "depths": 1}, (3, 16, 16)),
    ("spike_driven_transformer", "SpikeDrivenTransformer", {"embed_dims": 16, "num_heads": 2, "depths": 1},
     (3, 16, 16)),
    ("qkformer", "QKFormer", {"embed_dims": 16, "num_heads": (2, 2, 2), "depths": (1, 1, 1)}, (3, 32, 32)),
])
def test_transformer_outputs_and_gradients(module, name, kw, step):
    ours, theirs = _pair(module, name)
    torch.manual_seed(0)
    a = theirs(T=2, num_classes=3, **kw)
    for m in a.modules():  # weights large enough that spikes reach the head (the default init is nearly silent)
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.uniform_(m.weight, -0.2, 0.5)
    b = ours(T=2, num_classes=3, **kw)
    _compare(b, a, torch.rand(2, 1, *step, dtype=torch.float64) * 3, train=False)
