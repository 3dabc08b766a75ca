"""sj → NIR (file) → sj: identical spikes over 100 steps for every node type, a conv net and a recurrent net."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import sj.nir
from sj import layer, neuron
from sj.functional import reset_net, set_step_mode
from sj.nir import modules
from sj.nir.neurons import NIRCubaLIFNode, NIRIFNode, NIRLIFNode

T = 100


def _run(net: nn.Module, x: torch.Tensor, mode: str) -> torch.Tensor:
    reset_net(net)
    set_step_mode(net, mode)
    with torch.no_grad():
        return net(x) if mode == "m" else torch.stack([net(xt) for xt in x])


def _roundtrip(net: nn.Module, x: torch.Tensor, tmp_path, dt: float = 1e-3) -> sj.nir.NIRNet:
    path = tmp_path / "net.nir"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sj.nir.NIRSemanticsWarning)
        set_step_mode(net, "m")
        sj.nir.export(net, x, dt=dt, path=path)
    return sj.nir.load(path)


def _check(net: nn.Module, x: torch.Tensor, tmp_path, analog_tolerance: float | None = None) -> None:
    """The loaded net in 'm' mode runs the same modules on the same tensors as ``net`` in 'm' mode: bit-equal. In 's'
    mode its Linear runs T GEMMs of [N, K] instead of one of [T·N, K], which BLAS may round differently: spikes are
    still compared exactly, analog outputs (membrane potentials) within ``analog_tolerance``."""
    want = _run(net, x, "m")
    loaded = _roundtrip(net, x, tmp_path)
    got = _run(loaded, x, "m")
    assert got.shape == want.shape and torch.equal(got, want), f"{(got != want).sum().item()} elements differ"
    got = _run(loaded, x, "s")
    if analog_tolerance is None:
        assert torch.equal(got, want), f"mode s: {(got != want).sum().item()} elements differ"
        assert want.sum() >= 1, "the test input must make the network spike"
    else:
        assert (got - want).abs().max().item() <= analog_tolerance


def _lin(i: int, o: int, bias: bool = True) -> nn.Module:
    return layer.Linear(i, o, bias=bias)


def _het(n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.linspace(lo, hi, n)


NEURON_NETS = {
    "IF_hard": lambda: neuron.IFNode(v_threshold=0.8),
    "IF_soft": lambda: neuron.IFNode(v_reset=None),
    "LIF_decay_input": lambda: neuron.LIFNode(tau=_het(6, 1.5, 8.0), v_threshold=_het(6, 0.4, 0.9)),
    "LIF_no_decay_input": lambda: neuron.LIFNode(tau=3.0, decay_input=False, v_reset=-0.2),
    "LIF_soft": lambda: neuron.LIFNode(tau=2.5, v_reset=None),
    "LI": lambda: neuron.NonSpikingLIFNode(tau=_het(6, 2.0, 5.0)),
    "CUBA_LIF": lambda: neuron.CUBALIFNode(c_decay=_het(6, 0.2, 0.8), v_decay=0.3),
    "NIR_IF": lambda: NIRIFNode(r=_het(6, 0.5, 2.0), strict_threshold=True),
    "NIR_LIF": lambda: NIRLIFNode(tau=4.0, r=_het(6, 0.5, 3.0), v_leak=0.1, v_threshold=0.7, v_reset=-0.1),
    "NIR_LI": lambda: NIRLIFNode(tau=3.0, r=2.0, v_leak=0.2, v_reset=0.2, spiking=False),
    "NIR_CubaLIF": lambda: NIRCubaLIFNode(tau_syn=2.0, tau_mem=_het(6, 2.0, 6.0), r=1.5, w_in=2.0, v_threshold=0.5),
    "NIR_CubaLIF_voltage_first": lambda: NIRCubaLIFNode(tau_syn=3.0, tau_mem=4.0, order="voltage-first",
                                                        v_threshold=0.5, v_init=0.0, v_reset=-0.5),
    "NIR_CubaLI": lambda: NIRCubaLIFNode(tau_syn=2.0, tau_mem=3.0, spiking=False, v_reset=0.0),
}


# Non-spiking neurons output V; an error δ in their input reaches V scaled by at most the DC gain of the leaky
# integration (r for LI, r·w_in for CubaLI: each step keeps 1 − 1/τ of the past error and adds 1/τ of the new one).
ANALOG_GAIN = {"LI": 1.0, "NIR_LI": 2.0, "NIR_CubaLI": 1.0}


@pytest.mark.parametrize("kind", sorted(NEURON_NETS))
def test_neuron_roundtrip(kind, tmp_path, blas_bound):
    torch.manual_seed(0)
    net = nn.Sequential(_lin(5, 6), NEURON_NETS[kind]())
    x = torch.rand(T, 3, 5) * 3.0
    tolerance = ANALOG_GAIN[kind] * blas_bound(net[0], 3.0) if kind in ANALOG_GAIN else None
    _check(net, x, tmp_path, tolerance)


SYNAPSE_NETS = {
    "Linear_no_bias": lambda: nn.Sequential(_lin(5, 6, bias=False), neuron.IFNode()),
    "Scale": lambda: nn.Sequential(_lin(5, 6), modules.Scale(_het(6, 0.5, 2.0)), neuron.IFNode()),
    "Threshold": lambda: nn.Sequential(_lin(5, 6), modules.Threshold(_het(6, 0.1, 0.4))),
    "Delay": lambda: nn.Sequential(_lin(5, 6), neuron.IFNode(), layer.Delay(3)),
    "ElementDelay": lambda: nn.Sequential(_lin(5, 6), neuron.IFNode(),
                                          modules.ElementDelay(torch.tensor([0, 1, 2, 3, 4, 5]))),
}


@pytest.mark.parametrize("kind", sorted(SYNAPSE_NETS))
def test_synapse_roundtrip(kind, tmp_path):
    torch.manual_seed(1)
    _check(SYNAPSE_NETS[kind](), torch.rand(T, 3, 5) * 1.2, tmp_path)


def test_conv_net_roundtrip(tmp_path):
    torch.manual_seed(2)
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1), neuron.LIFNode(tau=2.0), layer.AvgPool2d(2),
        layer.Conv2d(4, 4, 3, stride=1, padding=0, bias=False), neuron.IFNode(v_reset=None),
        modules.SumPool2d((2, 2), (1, 1), (0, 0)), layer.Flatten(), _lin(16, 3),
        neuron.LIFNode(tau=3.0, v_threshold=0.2))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.abs_().mul_(2.0)
    _check(net, torch.rand(T, 2, 2, 10, 10) * 2.0, tmp_path)


def test_conv1d_roundtrip(tmp_path):
    torch.manual_seed(3)
    net = nn.Sequential(layer.Conv1d(2, 3, 3, padding=1, dilation=1), neuron.IFNode(v_threshold=0.5),
                        layer.Flatten(), _lin(3 * 8, 2), neuron.IFNode(v_threshold=0.3))
    _check(net, torch.rand(T, 2, 2, 8), tmp_path)


def test_recurrent_net_roundtrip(tmp_path):
    torch.manual_seed(4)
    net = nn.Sequential(_lin(5, 6), layer.LinearRecurrentContainer(neuron.IFNode(v_threshold=0.6), 6, 6),
                        _lin(6, 2), neuron.LIFNode(tau=2.0, v_threshold=0.1))
    with torch.no_grad():
        net[1].rc.weight.mul_(2.0)
    want = _run(net, torch.rand(T, 3, 5), "s")
    assert want.sum() > 0
    loaded = _roundtrip(net, torch.rand(T, 3, 5), tmp_path)
    assert loaded.back_edges, "the recurrent connection must be a cycle in the graph"
    torch.manual_seed(5)
    x = torch.rand(T, 3, 5)
    want = _run(net, x, "s")
    for mode in ("m", "s"):
        assert torch.equal(_run(loaded, x, mode), want)


def test_graph_cycle_is_exported(tmp_path):
    net = nn.Sequential(_lin(5, 6), layer.LinearRecurrentContainer(neuron.IFNode(), 6, 6))
    graph = sj.nir.export(net, torch.rand(2, 5))
    assert ("1.sub_module", "1.rc_y") in graph.edges and ("1.rc_y", "1.sub_module") in graph.edges


def test_same_net_same_bytes(tmp_path):
    torch.manual_seed(6)
    net = nn.Sequential(_lin(5, 6), neuron.LIFNode(tau=_het(6, 2, 4)), _lin(6, 2), neuron.IFNode())
    a, b = tmp_path / "a.nir", tmp_path / "b.nir"
    sj.nir.export(net, torch.rand(4, 5), path=a)
    sj.nir.export(net, torch.rand(7, 5), path=b)
    assert a.read_bytes() == b.read_bytes()


def test_export_strips_batch_and_broadcasts_scalars():
    net = nn.Sequential(_lin(5, 6), neuron.LIFNode(tau=2.0))
    set_step_mode(net, "m")
    graph = sj.nir.export(net, torch.rand(8, 4, 5), dt=1e-3)
    lif = graph.nodes["1"]
    assert list(graph.nodes["input"].input_type["input"]) == [5]
    assert lif.tau.shape == (6,) and lif.v_threshold.shape == (6,)
    assert lif.tau[0] == pytest.approx(2e-3)
    assert graph.metadata["dt"] == 1e-3 and graph.metadata["reset_mode"] == "value"
    assert net[1].step_mode == "m", "export must not change the network"


def test_soft_reset_is_recorded_and_warned():
    net = nn.Sequential(_lin(5, 6), neuron.IFNode(v_reset=None))
    with pytest.warns(sj.nir.NIRSemanticsWarning, match="subtractive"):
        graph = sj.nir.export(net, torch.rand(2, 5))
    assert graph.metadata["reset_mode"] == "subtract"
    assert graph.nodes["1"].metadata["reset_mode"] == "subtract"


class _Residual(nn.Module):
    """A module with its own forward: children called in order, a residual sum (NIR sums the edges into a node)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.sn1 = layer.Linear(4, 4), neuron.IFNode(v_threshold=0.5)
        self.fc2, self.sn2 = layer.Linear(4, 4), neuron.LIFNode(tau=2.0, v_threshold=0.5)

    def forward(self, x):
        h = self.sn1(self.fc1(x))
        return self.sn2(self.fc2(h) + x)


def test_module_with_its_own_forward_round_trips(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(_Residual(), layer.Linear(4, 2), neuron.IFNode(v_threshold=0.5))
    x = torch.rand(T, 3, 4) * 2
    _check(net, x, tmp_path)
    graph = sj.nir.export(net, x)  # net is in step mode 'm' after _check
    assert sorted(e for e in graph.edges if e[1] == "0.fc2") == [("0.sn1", "0.fc2")]
    assert sorted(e for e in graph.edges if e[1] == "0.sn2") == [("0.fc2", "0.sn2"), ("input", "0.sn2")]


class _Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.sn = layer.Linear(4, 4), neuron.IFNode()

    def forward(self, x):
        return self.sn(self.fc(x) * x)


def test_a_forward_nir_cannot_express_is_named():
    with pytest.raises(sj.nir.NIRError, match=r"module '' \(_Gated\): its forward does call_function .*mul"):
        sj.nir.export(_Gated(), torch.rand(2, 4))
