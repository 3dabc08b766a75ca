"""NIR exchange with SpikingJelly 2.0.0 (``activation_based.nir_exchange``), both directions, for IF, LIF, PLIF and
CUBA-LIF: a network exported by one library and imported by the other gives the exporter's spikes exactly, its final
membrane potentials and its input gradients (same default surrogates) within 1e-5. Both sides run step by step, so
their Linear layers make the same [N, 3] products.

Potentials are bit-equal where the importer rebuilds an update whose arithmetic is the same in both libraries (IF,
LIF with decay_input=True and V_reset = 0, CUBA-LIF). Two cases differ by float32 roundings, within the tolerance:

- a PLIF is written as a plain LIF (τ = 1/σ(w)) by both libraries, so the importer divides by τ where the exporter
  multiplied by σ(w): each step's increment differs by a few float32 roundings (≤ 3·2⁻²⁴ relative), and the leak
  (σ(w) = 0.4 per step here) keeps their sum below 2.5 steps' worth; with increments below 10 that is < 1e-5;
- LIF with V_reset ≠ 0 (here with decay_input=False, r = τ in NIR): sj-core's LIF charge rounds differently from
  SJ 2.0's when V_reset ≠ 0 (≤ 1 ulp per step, contracted by the leak), which the exchange cannot change.
"""

from __future__ import annotations

import inspect
import json
import types
import warnings

import pytest
import torch
from oracle import spikingjelly
from torch import nn

import sj.nir
import sj.nir_exchange
from sj import layer, neuron
from sj.cli.main import main
from sj.functional import reset_net

SJ = types.SimpleNamespace(layer=layer, neuron=neuron)  # sj's modules, as _net() takes SJ 2.0's
T, N, ATOL = 16, 2, 1e-5
KINDS = ("IF", "LIF", "LIF_no_decay_input", "PLIF", "CUBA_LIF")
EXACT = {"IF", "LIF", "CUBA_LIF"}  # the same arithmetic on both sides (module docstring)


@pytest.fixture(scope="module")
def sj2():
    return spikingjelly("activation_based")


@pytest.fixture(scope="module")
def sj2_exchange():
    return spikingjelly("activation_based.nir_exchange")


def _neuron(lib, kind: str) -> nn.Module:
    return {"IF": lambda: lib.neuron.IFNode(v_threshold=0.8),
            "LIF": lambda: lib.neuron.LIFNode(tau=3.0),
            "LIF_no_decay_input": lambda: lib.neuron.LIFNode(tau=3.0, decay_input=False, v_reset=-0.1,
                                                             v_threshold=1.5),
            "PLIF": lambda: lib.neuron.ParametricLIFNode(init_tau=2.5),
            "CUBA_LIF": lambda: lib.neuron.CUBALIFNode()}[kind]()  # SJ's defaults: c_decay 0.5, v_decay 0.75


def _net(lib, kind: str) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(lib.layer.Linear(3, 4), _neuron(lib, kind))
    with torch.no_grad():
        net[0].weight.abs_().mul_(1.5)
    return net


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(T, N, 3, generator=g) * 2.0, torch.randn(T, N, 4, generator=g)


def _sj2_run(net: nn.Module, x: torch.Tensor, sj2) -> torch.Tensor:
    """SJ's own network, single-step loop (how SJ's docs run a stateful net)."""
    sj2.functional.reset_net(net)
    return torch.stack([net(xt) for xt in x])


def _stateful_run(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, object]:
    """A network imported by SJ 2.0 (or sj.nir_exchange): forward(input, state) -> (output, state)."""
    state, outs = None, []
    for xt in x:
        y, state = model(xt, state)
        outs.append(y)
    return torch.stack(outs), state


def _grad(run, x: torch.Tensor, probe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    spikes = run(x)
    (spikes * probe).sum().backward()
    return spikes.detach(), x.grad


def _compare(kind: str, got, want) -> None:
    (s_got, v_got, g_got), (s_want, v_want, g_want) = got, want
    assert s_want.sum() > 0 and s_want.mean() < 1, "the input must make the neurons spike, but not always"
    assert torch.equal(s_got, s_want), f"{(s_got != s_want).sum().item()} spikes differ"
    if kind in EXACT:
        assert torch.equal(v_got, v_want), (v_got - v_want).abs().max().item()
    assert (v_got - v_want).abs().max().item() <= ATOL
    assert (g_got - g_want).abs().max().item() <= ATOL


@pytest.mark.parametrize("kind", KINDS)
def test_spikingjelly_exports_sj_imports(kind, sj2, sj2_exchange, tmp_path):
    x, probe = _inputs()
    theirs = _net(sj2, kind)
    path = tmp_path / "sj2.nir"
    sj2_exchange.export_to_nir(theirs, x[0], save_path=path)
    spikes, grad = _grad(lambda xx: _sj2_run(theirs, xx, sj2), x, probe)
    want = (spikes, theirs[1].v.detach(), grad)

    ours = sj.nir_exchange.import_from_nir(path)  # SJ's call, SJ's calling convention
    spikes, grad = _grad(lambda xx: _stateful_run(ours, xx)[0], x, probe)
    got = (spikes, _stateful_run(ours, x)[1]["nodes._1"]["v"].detach(), grad)
    _compare(kind, got, want)
    assert sj.nir.guess_profile(sj.nir.read(path))[0] == "spikingjelly"


@pytest.mark.parametrize("kind", KINDS)
def test_sj_exports_spikingjelly_imports(kind, sj2_exchange, tmp_path):
    x, probe = _inputs()
    ours = _net(SJ, kind)
    path = tmp_path / "sj.nir"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing lossy to warn about for these neurons
        sj.nir_exchange.export_to_nir(ours, x[0], save_path=path)

    def run_ours(xx):
        reset_net(ours)
        return torch.stack([ours(xt) for xt in xx])

    spikes, grad = _grad(run_ours, x, probe)
    want = (spikes, ours[1].v.detach(), grad)

    theirs = sj2_exchange.import_from_nir(str(path))
    spikes, grad = _grad(lambda xx: _stateful_run(theirs, xx)[0], x, probe)
    got = (spikes, _stateful_run(theirs, x)[1]["_1"][0].detach(), grad)  # SJ 2.0's node name of module 1
    _compare(kind, got, want)


def test_inspect_recognises_spikingjelly_files(sj2, sj2_exchange, tmp_path, capsys):
    """sj guessed SpikingJelly's LIF files were Norse's (r = 1, τ < 1e-3 s) and refused them."""
    path = tmp_path / "sj2.nir"
    sj2_exchange.export_to_nir(_net(sj2, "LIF"), torch.rand(1, 3), save_path=path)
    assert main(["nir", "inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["profile_guess"]["profile"] == "spikingjelly"


@pytest.mark.parametrize("name", ["export_to_nir", "import_from_nir"])
def test_nir_exchange_signatures_match(name, sj2_exchange):
    def params(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(sj.nir_exchange, name)) == params(getattr(sj2_exchange, name))


class _Nested(nn.Module):
    def __init__(self, lib) -> None:
        super().__init__()
        self.features = nn.Sequential(lib.layer.Linear(3, 4), lib.neuron.IFNode())
        self.classifier = nn.Sequential(nn.Linear(4, 2), lib.neuron.LIFNode())

    def forward(self, x):
        return self.classifier(self.features(x))


@pytest.mark.parametrize("make", [lambda lib: _net(lib, "LIF"), _Nested], ids=["sequential", "nested"])
def test_export_names_nodes_as_spikingjelly(make, sj2, sj2_exchange):
    """export_to_nir names nodes as SpikingJelly 2.0 does (torch.fx's names: module 0 is node '_0', 'features.0' is
    'features_0', the input is named after forward's argument, 'input' being a builtin becomes 'input_1'), so code
    that reads graph.nodes by name keeps working; sj.nir.export keeps module paths."""
    x = torch.rand(2, 3)
    theirs = sj2_exchange.export_to_nir(make(sj2), x)
    ours = sj.nir_exchange.export_to_nir(make(SJ), x)
    assert list(ours.nodes) == list(theirs.nodes) and sorted(ours.edges) == sorted(theirs.edges)
    assert all(type(ours.nodes[k]) is type(theirs.nodes[k]) for k in ours.nodes)
