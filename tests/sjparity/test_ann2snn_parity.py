"""sj.ann2snn against SpikingJelly 2.0.0's activation_based.ann2snn: the same ANN and calibration data converted by
both, then run on the same inputs.

- ``Converter(recipe=RateCodingRecipe(...)).convert(ann)`` for layer-wise and channel-wise scales, every mode kind,
  momentum, a max pooling calibrated before the neuron, half-threshold neurons, a custom neuron factory, a
  residual network (SJ's CIFAR-10 ResNet sample model, one stage): the per-step outputs of T single steps agree within
  1e-6 (float32 sums of rescaled spikes), in step mode 's' and 'm'; the spiking blocks have SJ's module names and
  their scalers SJ's values.
- ``LocalThresholdBalancingRecipe``: the same balanced thresholds and outputs.
- ``estimate_delay_start`` returns SJ's delay; ``sample_models`` have SJ's parameter names.
- The converters' argument errors are raised where SJ raises them.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import spikingjelly

from sj import ann2snn, functional
from sj.ann2snn.modules import TimeFold, TimeUnfold

T = 6
ATOL = 1e-6


def _sj2():
    return spikingjelly("activation_based.ann2snn")


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(24, 8),
                        nn.ReLU(), nn.Linear(8, 3))
    bn = ann[1]
    bn.running_mean.uniform_(-0.2, 0.2)
    bn.running_var.uniform_(0.5, 2.0)
    return ann.eval()


def _data(shape=(1, 8, 8)) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return [torch.rand(8, *shape, generator=gen) for _ in range(3)]


def _run_both(theirs: nn.Module, ours: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """T single steps of both, then ours at once in step mode 'm'; returns SJ's outputs ``[T, N, *]``."""
    SJF = spikingjelly("activation_based.functional")
    SJF.reset_net(theirs)
    functional.reset_net(ours)
    want = torch.stack([theirs(x) for _ in range(T)])
    got = torch.stack([ours(x) for _ in range(T)])
    torch.testing.assert_close(got, want, rtol=0, atol=ATOL)
    functional.reset_net(ours)
    functional.set_step_mode(ours, "m")
    torch.testing.assert_close(ours(x.unsqueeze(0).repeat(T, *[1] * x.dim())), want, rtol=0, atol=ATOL)
    functional.set_step_mode(ours, "s")
    assert want.abs().sum() > 0, "the converted network is silent: the comparison would be vacuous"
    return want


def _spiking_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The scalers' factors by module name (what the conversion computed)."""
    return {k: v for k, v in model.state_dict().items() if k.endswith(".scale") and "spiking_" in k}


def _check_same_blocks(theirs: nn.Module, ours: nn.Module) -> None:
    spiking = {n for n, _ in theirs.named_modules() if "spiking_" in n and "surrogate" not in n}
    assert spiking == {n for n, _ in ours.named_modules() if "spiking_" in n and "surrogate" not in n}
    a, b = _spiking_state(theirs), _spiking_state(ours)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k].float(), a[k].float(), rtol=1e-6, atol=0)


RATE_CODING = [
    {"mode": "Max"},
    {"mode": "99%"},
    {"mode": 0.8, "momentum": 0.5},
    {"mode": "max", "fuse_flag": False},
    {"channel_wise": True, "mode": "99%"},
    {"channel_wise": True, "pre_spike_maxpool": True},
    {"channel_wise": True, "half_threshold": True},
]


@pytest.mark.parametrize("kw", RATE_CODING, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_rate_coding_recipe(kw):
    A = _sj2()
    ann = _cnn()
    theirs = A.Converter(recipe=A.RateCodingRecipe(dataloader=_data(), **kw)).convert(ann)
    ours = ann2snn.Converter(recipe=ann2snn.RateCodingRecipe(dataloader=_data(), **kw)).convert(ann)
    _check_same_blocks(theirs, ours)
    _run_both(theirs, ours, torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2)))


class _Residual(nn.Module):
    """Nested blocks with their own ReLUs (hooks are numbered per parent module) and residual additions."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU())
        self.blocks = nn.Sequential(ann2snn.sample_models.BasicBlock(6, 6), ann2snn.sample_models.BasicBlock(6, 8, 2))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


@pytest.mark.parametrize("kw", [{}, {"fuse_flag": False, "eps": 0.5}])
def test_local_threshold_balancing_recipe(kw):
    A = _sj2()
    ann = _cnn()
    theirs = A.Converter(recipe=A.LocalThresholdBalancingRecipe(dataloader=_data(), **kw)).convert(ann)
    ours = ann2snn.Converter(recipe=ann2snn.LocalThresholdBalancingRecipe(dataloader=_data(), **kw)).convert(ann)
    _check_same_blocks(theirs, ours)
    assert {n for n, _ in ours.named_modules() if n.endswith("if_node")} == {f"ltb_spiking_{i}.if_node"
                                                                             for i in range(3)}
    _run_both(theirs, ours, torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2)))


def test_rate_coding_with_a_neuron_factory_and_a_residual_network():
    A = _sj2()
    N2 = spikingjelly("activation_based.neuron")
    from sj.neuron import IFNode

    torch.manual_seed(0)
    ann = _Residual().eval()
    data = _data((3, 8, 8))
    theirs = A.Converter(recipe=A.RateCodingRecipe(
        dataloader=data, neuron_factory=lambda s: N2.IFNode(v_threshold=2.0, v_reset=None))).convert(ann)
    ours = ann2snn.Converter(recipe=ann2snn.RateCodingRecipe(
        dataloader=data, neuron_factory=lambda s: IFNode(v_threshold=2.0, v_reset=None))).convert(ann)
    _check_same_blocks(theirs, ours)
    assert {"blocks.1.spiking_0", "blocks.1.spiking_1", "stem.spiking_0"} <= {n for n, _ in ours.named_modules()}
    _run_both(theirs, ours, torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3)) * 2)


def test_the_converted_graph_adds_only_its_time_folding():
    A = _sj2()
    ann = _cnn()
    theirs = A.Converter(recipe=A.RateCodingRecipe(dataloader=_data())).convert(ann)
    ours = ann2snn.Converter(recipe=ann2snn.RateCodingRecipe(dataloader=_data())).convert(ann)
    extra = {n for n, m in ours.named_modules() if isinstance(m, (TimeFold, TimeUnfold))}
    assert extra == {"time_fold", "time_unfold"}
    def names(model: nn.Module) -> set[str]:  # SJ's neurons share one default surrogate module: leave those out
        return {n for n, _ in model.named_modules() if "surrogate" not in n}

    assert names(ours) - extra == names(theirs)


@pytest.mark.parametrize("kw, T_steps", [({}, 64), ({"channel_wise": True}, 64), ({}, 6)])
def test_estimate_delay_start(kw, T_steps):
    A = _sj2()
    ann = _cnn()
    data = _data()
    theirs = A.Converter(recipe=A.RateCodingRecipe(dataloader=data, **kw)).convert(ann)
    ours = ann2snn.Converter(recipe=ann2snn.RateCodingRecipe(dataloader=data, **kw)).convert(ann)
    results = []
    for module, snn in ((A, theirs), (ann2snn, ours)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results.append((module.estimate_delay_start(snn, data, "cpu", T_steps, num_batches=2),
                            [type(w.message) for w in caught]))
    assert results[1] == results[0]
    assert results[0][0] > 0 and (results[0][1] == [RuntimeWarning]) == (T_steps < 10)


@pytest.mark.parametrize("name", ["CNN", "ResNet18", "ResNet50"])
def test_sample_models_have_sjs_parameter_names(name):
    theirs = getattr(spikingjelly("activation_based.ann2snn.sample_models"), name)
    ours = getattr(ann2snn.sample_models, name)
    with torch.device("meta"):
        a, b = theirs(), ours()
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}


def test_sample_cnn_outputs_after_loading_sjs_weights():
    torch.manual_seed(0)
    theirs = spikingjelly("activation_based.ann2snn.sample_models").CNN().eval()
    ours = ann2snn.sample_models.CNN().eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


@pytest.mark.parametrize("make, error", [
    (lambda A: A.FXConverter(recipe="rate_coding"), ValueError),
    (lambda A: A.FXConverter(recipe="nope"), ValueError),
    (lambda A: A.FXConverter(recipe=3), TypeError),
    (lambda A: A.FXConverter(recipe=A.ModuleConversionRecipe()), TypeError),
    (lambda A: A.ModuleConverter(recipe=A.FXConversionRecipe()), TypeError),
    (lambda A: A.ModuleConverter(recipe=object()), TypeError),
    (lambda A: A.Converter(recipe=A.RateCodingRecipe(dataloader=None)).convert(nn.ReLU()), ValueError),
    (lambda A: A.Converter(recipe=A.RateCodingRecipe(dataloader=[], momentum=2.0)).convert(nn.ReLU()), ValueError),
    (lambda A: A.Converter(recipe=A.RateCodingRecipe(dataloader=[], mode="max2")).convert(nn.ReLU()),
     NotImplementedError),
    (lambda A: A.Converter(recipe=A.LocalThresholdBalancingRecipe(dataloader=[], eps=0)).convert(nn.ReLU()),
     ValueError),
    (lambda A: A.Converter(recipe=A.LocalThresholdBalancingRecipe(dataloader=None)).convert(nn.ReLU()), ValueError),
])
def test_argument_errors_match(make, error):
    with pytest.raises(error):
        make(_sj2())
    with pytest.raises(error):
        make(ann2snn)


def test_base_recipes_return_their_input_unchanged():
    A = _sj2()
    ann = nn.Sequential(nn.Linear(2, 2))
    for module in (A, ann2snn):
        assert module.ModuleConverter(module.ModuleConversionRecipe()).convert(ann) is ann
        out = module.Converter(recipe=module.ConversionRecipe()).convert(ann)
        x = torch.rand(3, 2)
        torch.testing.assert_close(out(x), ann(x))


@pytest.mark.parametrize("time_steps, channel_dim, masked", [(4, -1, False), (7, 1, True)])
def test_signed_qcfs_sequence_encoder(time_steps, channel_dim, masked):
    A = _sj2()
    gen = torch.Generator().manual_seed(5)
    scale = torch.rand(3, generator=gen) + 0.2
    value = (torch.rand(2, 3, 5, generator=gen) - 0.5) * 4 if channel_dim == 1 else (
        torch.rand(2, 5, 3, generator=gen) - 0.5) * 4
    value[0, 0, 0] = 0.5 * scale[0] * 3  # an exact .5 boundary: round-half-to-even and accumulation disagree
    mask = (torch.rand(value.shape[:channel_dim % 3] + value.shape[channel_dim % 3 + 1:], generator=gen) > 0.3
            ) if masked else None
    results = []
    for module in (A, ann2snn):
        enc = module.SignedQCFSSequenceEncoder(scale, time_steps, channel_dim=channel_dim, name="x")
        v = value.clone().requires_grad_(True)
        seq = enc(v.unsqueeze(0).expand(2, *v.shape) / 2, mask)
        seq.backward(torch.linspace(-1, 1, seq.numel()).view_as(seq))
        results.append((seq.detach(), v.grad, enc.reconstruct(value), enc.statistics()))
    (s0, g0, r0, st0), (s1, g1, r1, st1) = results
    assert torch.equal(s1, s0) and torch.equal(r1, r0)
    torch.testing.assert_close(g1, g0, rtol=0, atol=1e-6)
    assert st1.keys() == st0.keys()
    for k in st0:
        assert st1[k] == pytest.approx(st0[k], abs=1e-6), k
    torch.testing.assert_close(s0.sum(0), r0, rtol=0, atol=1e-5)  # the sequence sums to the quantisation
    assert masked or st0["boundary_correction_fraction"] > 0  # the replay of a missed count was exercised


@pytest.mark.parametrize("args, error", [((torch.ones(2, 2), 4), ValueError), ((torch.tensor([1.0, -1.0]), 4),
                                                                                ValueError),
                                         (([1.0], 4), TypeError), ((torch.ones(2), 0), ValueError),
                                         ((torch.ones(2), 2.0), TypeError)])
def test_signed_qcfs_argument_errors(args, error):
    for module in (_sj2(), ann2snn):
        with pytest.raises(error):
            module.SignedQCFSSequenceEncoder(*args)


class _TransformerBlock(nn.Module):
    """LayerNorm, nn.MultiheadAttention, a hand-written softmax attention (matmul, softmax), SDPA on split heads,
    a GELU MLP and residual additions."""

    def __init__(self, d: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.q, self.k, self.q2 = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.fc1, self.act, self.fc2 = nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln1(x)
        a, _ = self.attn(y, y, y, need_weights=False)
        x = x + a
        s = torch.matmul(self.q(x), self.k(x).transpose(-2, -1)) / 4.0
        x = x + torch.matmul(torch.nn.functional.softmax(s, dim=-1), x)
        q = self.q2(x).unflatten(-1, (self.heads, -1)).transpose(1, 2)
        x = x + torch.nn.functional.scaled_dot_product_attention(q, q, q).transpose(1, 2).flatten(-2)
        return x + self.fc2(self.act(self.fc1(self.ln2(x))))


def test_transformer_td_equivalent_recipe():
    A = _sj2()
    SJF = spikingjelly("activation_based.functional")
    torch.manual_seed(0)
    ann = _TransformerBlock().eval()
    theirs = A.Converter(recipe=A.TransformerTDEquivalentRecipe(time_steps=4)).convert(ann)
    ours = ann2snn.Converter(recipe=ann2snn.TransformerTDEquivalentRecipe(time_steps=4)).convert(ann)
    assert set(ours.state_dict()) == set(theirs.state_dict()) and ours.time_steps == 4
    gen = torch.Generator().manual_seed(4)
    first_then_zeros = torch.zeros(4, 2, 3, 8)
    first_then_zeros[0] = torch.rand(2, 3, 8, generator=gen)
    for net, f in ((theirs, SJF), (ours, functional)):
        f.set_step_mode(net, "m")
    for seq in (first_then_zeros, torch.rand(4, 2, 3, 8, generator=gen)):
        SJF.reset_net(theirs)
        functional.reset_net(ours)
        want = theirs(seq)
        torch.testing.assert_close(ours(seq), want, rtol=0, atol=ATOL)
        torch.testing.assert_close(want.sum(0), ann(seq.sum(0)), rtol=0, atol=1e-5)  # the TD equivalence
    for net, f in ((theirs, SJF), (ours, functional)):
        f.set_step_mode(net, "s")
        f.reset_net(net)
    seq = torch.rand(3, 2, 3, 8, generator=gen)
    torch.testing.assert_close(torch.stack([ours(x) for x in seq]), torch.stack([theirs(x) for x in seq]),
                               rtol=0, atol=ATOL)


@pytest.mark.parametrize("name, make, inputs", [
    ("TDLinear", lambda m: m.TDLinear(4, 3), [(5, 2, 4)]),
    ("TDConv2d", lambda m: m.TDConv2d(2, 3, 3, stride=2, padding=1, padding_mode="reflect"), [(3, 2, 2, 6, 6)]),
    ("TDLayerNorm", lambda m: m.TDLayerNorm(4), [(3, 2, 4)]),
    ("TDRMSNorm", lambda m: m.TDRMSNorm(4, eps=1e-5), [(3, 2, 4)]),
    ("TDSoftmax", lambda m: m.TDSoftmax(dim=-1), [(3, 2, 5)]),
    ("TDGELU", lambda m: m.TDGELU("tanh"), [(3, 2, 5)]),
    ("TDSiLU", lambda m: m.TDSiLU(), [(3, 2, 5)]),
    ("SNNMatrixOperator", lambda m: m.SNNMatrixOperator(), [(3, 2, 4, 5), (3, 5, 2)]),
    ("SNNElementWiseProduct", lambda m: m.SNNElementWiseProduct(), [(3, 2, 5), (3, 2, 5)]),
    ("TDScaledDotProductAttention", lambda m: m.TDScaledDotProductAttention(is_causal=True), [(3, 2, 4, 6)] * 3),
])
def test_td_operators(name, make, inputs):
    """Each operator in step mode 'm' (twice: the second call continues the running sums) and 's'."""
    ops = spikingjelly("activation_based.ann2snn.operators")
    from sj.ann2snn import operators

    torch.manual_seed(0)
    theirs = make(ops)
    torch.manual_seed(0)
    ours = make(operators)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    gen = torch.Generator().manual_seed(6)
    seqs = [[torch.randn(*shape, generator=gen) for shape in inputs] for _ in range(2)]
    for step_mode in ("m", "s"):
        theirs.reset(), ours.reset()
        theirs.step_mode = ours.step_mode = step_mode
        for xs in seqs:
            if step_mode == "m":
                want, got = theirs(*xs), ours(*xs)
            else:
                want = torch.stack([theirs(*step) for step in zip(*xs)])
                got = torch.stack([ours(*step) for step in zip(*xs)])
            torch.testing.assert_close(got, want, rtol=0, atol=ATOL)
