"""sj.model against SpikingJelly 2.0.0's activation_based.model.

- Every builder of the zoo modules (read from ``sj2_public_names.json``): the same parameter and buffer names and
  shapes, built under ``torch.device("meta")`` so that the 100 M-parameter networks cost nothing.
- Small configurations: SJ's state_dict loads strictly into sj's model; outputs, input gradients and parameter
  gradients agree within 1e-8 times the largest value of each tensor (float64, so no spike flips on rounding; sums
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

ATOL = 1e-8  # × each tensor's largest value; float64, two BPTT formulations rounding differently
ZOO = ("spiking_resnet", "sew_resnet", "spiking_vgg", "spiking_vggws_ottt", "parametric_lif_net", "spikformer",
       "spike_driven_transformer", "qkformer", "maxformer", "ms_resnet", "masnn")
# a default neuron (LIF, OTTT's LIF): no spiking_neuron needed
DEFAULT_NEURON = {"spikformer", "spike_driven_transformer", "qkformer", "maxformer", "ms_resnet", "masnn",
                  "spiking_vggws_ottt"}
# configurations, not builders: compared in test_model_config_parity.py
NOT_BUILDERS = {"SEWResNet34Config", "SpikformerConfig", "SpikformerCIFAR10Config"}
# need a block/cfg argument: built through the builders
CLASSES = {"SpikingResNet", "SEWResNet", "SpikingVGG", "OTTTSpikingVGG"}
_NAMES = json.loads((HERE / "sj2_public_names.json").read_text())
BUILDERS = [(m, n) for m in ZOO for n in _NAMES[f"activation_based.model.{m}"]["names"]
            if n not in NOT_BUILDERS | CLASSES]


def _pair(module: str, name: str):
    theirs = getattr(spikingjelly(f"activation_based.model.{module}"), name)
    ours = getattr(importlib.import_module(f"sj.model.{module}"), name)
    return ours, theirs


def _kwargs(module: str, sj2: bool) -> dict:
    if module in DEFAULT_NEURON:
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
    ("maxformer", "MaxFormer", {"embed_dims": 32, "depths": (1, 1, 1)}, (3, 32, 32)),
    ("maxformer", "MaxFormer", {"embed_dims": 32, "depths": (1, 1, 1), "cifar": True}, (3, 32, 32)),
    ("ms_resnet", "MSResNet", {"layers": (1, 1, 1), "base_channels": 4}, (3, 16, 16)),
    ("ms_resnet", "MaxResNet", {"layers": (1, 1, 1), "stage_channels": (4, 8, 8), "base_channels": 4,
                                "stem_kernel_size": 3, "stem_stride": 1}, (3, 16, 16)),
    ("masnn", "AttMSResNet", {"layers": (1, 1, 1), "base_channels": 8}, (3, 16, 16)),
    ("masnn", "MASNN", {"channels": (8, 8), "pools": (1, 2), "input_size": (8, 8), "fc_hidden": 8,
                        "reduction_t": 2, "reduction_c": 4}, (2, 8, 8)),
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


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_snas_net(celltype):
    from types import SimpleNamespace

    import numpy as np

    ours, theirs = _pair("snas_net", "SNASNet")
    con_mat = np.array([[0, 3, 2, 1], [0, 0, 4, 3], [2, 1, 0, 2], [3, 0, 1, 0]])  # every operation, both directions
    args = SimpleNamespace(timestep=2, second_avgpooling=2, dataset="cifar10", celltype=celltype, threshold=0.5,
                           tau=4 / 3)
    with torch.device("meta"):
        a, b = theirs(args, con_mat), ours(args, con_mat)
    assert _shapes(b) == {k: tuple(v.shape) for k, v in a.state_dict().items()}
    cell = "Neuronal_Cell" if celltype == "forward" else "Neuronal_Cell_backward"
    ours_cell, theirs_cell = _pair("snas_net", cell)
    torch.manual_seed(0)
    a = theirs_cell(args, 4, 4, con_mat)
    b = ours_cell(args, 4, 4, con_mat)
    SJF = spikingjelly("activation_based.functional")
    b.load_state_dict(a.state_dict())
    a.double().eval(), b.double().eval()
    SJF.reset_net(a), functional.reset_net(b)
    x = torch.rand(2, 4, 6, 6, dtype=torch.float64) * 3
    for _ in range(3):  # steps carry the backward cell's node outputs and the neurons' potentials
        want, got = a(x), b(x)
        torch.testing.assert_close(got, want, rtol=0, atol=ATOL)
    assert want.abs().sum() > 0


@pytest.mark.parametrize("name, args, step", [("SpikingConv2d", (3, 4), (3, 6, 6)), ("SpikingLinear", (5, 4), (5,)),
                                              ("SpikingAvgPool2d", (), (3, 12, 12)),
                                              ("SpikingAdaptiveAvgPool2d", (2,), (3, 6, 6)),
                                              ("SearchSpikingConv2d_stem", (3, 4), (3, 6, 6))])
def test_spike_dhs_layers(name, args, step):
    """The layers (with DSpike's gradient) and, for the searchable stem, a search stage and v_before_spike."""
    ours, theirs = _pair("spike_dhs", name)
    torch.manual_seed(0)
    a, b = theirs(*args), ours(*args)
    if hasattr(a, "dgs_init_stage"):
        a.dgs_init_stage(), b.dgs_init_stage()
    _compare(b, a, torch.rand(2, 2, *step, dtype=torch.float64) * 3)
    if hasattr(a, "spike_m"):
        assert b.spike_m.v_before_spike.item() == pytest.approx(a.spike_m.v_before_spike.item(), abs=ATOL)
        a.dgs_finish_stage(2), b.dgs_finish_stage(2)
        assert b.spike_m.surrogate_function.alpha == pytest.approx(a.spike_m.surrogate_function.alpha)


def test_search_cell_and_dspike():
    ours, theirs = _pair("spike_dhs", "SearchSpikingConv2d_cell")
    torch.manual_seed(0)
    io = [[3, 4, 0], [2, 4, 1]]
    a, b = theirs(io), ours(io)
    b.load_state_dict(a.state_dict())
    SJF = spikingjelly("activation_based.functional")
    for net, f in ((a, SJF), (b, functional)):
        net.double().dgs_init_stage()
        f.set_step_mode(net, "m")
    x1, x2 = (torch.rand(2, 2, c, 6, 6, dtype=torch.float64) * 3 for c in (3, 2))
    torch.testing.assert_close(b(x1, x2), a(x1, x2), rtol=0, atol=ATOL)
    z = torch.linspace(-1, 1, 81, dtype=torch.float64, requires_grad=True)
    grads = [torch.autograd.grad(cls(alpha=2.5)(z).sum(), z)[0] for cls in _pair("spike_dhs", "DSpike")]
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-12)


def _online_run(net: torch.nn.Module, reset, x_seq: torch.Tensor, seed: int) -> tuple[torch.Tensor, list]:
    """OTTT's loop: one call and one backward per step (dropout masks drawn from ``seed``); the outputs ``[T, N, C]``
    and the gradients (input, then parameters by name) accumulated over the steps."""
    net.double().train()
    reset(net)
    torch.manual_seed(seed)
    x = x_seq.clone().requires_grad_(True)
    outs = []
    for x_t in x:
        y = net(x_t)
        y.backward(torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y))
        outs.append(y.detach())
    return torch.stack(outs), [x.grad, *(p.grad for _, p in sorted(net.named_parameters()))]


@pytest.mark.parametrize("ws, cfg", [(True, [4, "M", 6, "A", 512]), (False, [4, "A", 512, "M"])])
def test_ottt_vgg_online_training(ws, cfg):
    """Seeded construction gives SJ's initial weights; online training (the [spike, trace] path, dropout masks shared
    by spike and trace) and evaluation (Θ spikes) give SJ's outputs and gradients."""
    ours, theirs = _pair("spiking_vggws_ottt", "OTTTSpikingVGG")
    n2 = spikingjelly("activation_based.neuron")
    nets = []
    for cls, node in ((theirs, n2.OTTTLIFNode), (ours, neuron.OTTTLIFNode)):
        torch.manual_seed(0)
        nets.append(cls(cfg, ws, num_classes=3, spiking_neuron=node, drop_rate=0.3, tau=1.5))
    a, b = nets
    state = a.state_dict()
    for k, v in state.items():
        torch.testing.assert_close(b.state_dict()[k], v, rtol=0, atol=0)
    b.load_state_dict(state, strict=True)
    for m in a.modules():  # large enough weights that every layer spikes within 3 steps
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.uniform_(m.weight, -0.2, 0.5)
    b.load_state_dict(a.state_dict())
    x_seq = torch.rand(3, 2, 3, 8, 8, dtype=torch.float64) * 3
    SJF = spikingjelly("activation_based.functional")
    (want, want_g), (got, got_g) = (_online_run(a, SJF.reset_net, x_seq, 1), _online_run(b, functional.reset_net,
                                                                                          x_seq, 1))
    assert want.abs().sum() > 0 and all(g.abs().sum() > 0 for g in want_g), "a silent network compares nothing"
    for g, w in zip([got, *got_g], [want, *want_g], strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=ATOL * max(1.0, w.abs().max().item()))
    a.eval(), b.eval()
    SJF.reset_net(a), functional.reset_net(b)
    for x_t in x_seq:
        torch.testing.assert_close(b(x_t), a(x_t), rtol=0, atol=ATOL)


def _layout(model: torch.nn.Module) -> list[tuple]:
    """The layers of ``features`` and ``classifier`` (not the neurons' own submodules: SJ's surrogates are modules)."""
    return [(f"{part}.{name}", type(m).__name__, getattr(m, "scale", None), getattr(m, "p", None))
            for part in ("features", "classifier") for name, m in getattr(model, part).named_children()]


@pytest.mark.parametrize("name", ["ottt_spiking_vgg11_ws", "ottt_spiking_vgg13"])
def test_ottt_vgg_full_layout(name):
    """The full-size builders module by module (types, Scale gains, dropout rates), under the meta device."""
    ours, theirs = _pair("spiking_vggws_ottt", name)
    with torch.device("meta"):
        assert _layout(ours(num_classes=10)) == _layout(theirs(num_classes=10))
