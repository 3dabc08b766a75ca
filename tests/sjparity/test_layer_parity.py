"""sj.layer against SpikingJelly 2.0.0's activation_based.layer: same weights (SJ's state_dict loaded strictly), same
inputs, outputs and gradients within 1e-5 (float64 where spikes are thresholded, so no spike flips on rounding)."""

from __future__ import annotations

import logging

import pytest
import torch
from layers_parity_common import assert_close_max, forward_backward, run_parity, sj2
from torch import nn

from sj import layer
from sj.functional import reset_net

T, N = 4, 2
L = sj2("layer")


def _seq(*shape, dtype=torch.float64):
    return torch.randn(T, N, *shape, generator=torch.Generator().manual_seed(7), dtype=dtype)


# ---- SynapseFilter: SJ's update I = I − (1 − S)·I/τ + S --------------------------------------------------------------

@pytest.mark.parametrize("learnable", [False, True])
def test_synapse_filter(learnable):
    x = torch.cat([(_seq(3) > 0).double(), _seq(3)], dim=-1)  # spikes and real values
    ours = layer.SynapseFilter(3.0, learnable, step_mode="m").double()
    run_parity(ours, L.SynapseFilter(3.0, learnable, step_mode="m").double(), [x])
    reset_net(ours)
    single = layer.SynapseFilter(3.0, learnable, step_mode="s").double()
    single.load_state_dict(ours.state_dict())
    assert_close_max(torch.stack([single(xt) for xt in x]), ours(x))


# ---- Dropout: masks from the same random draws ----------------------------------------------------------------------

@pytest.mark.parametrize("name,shape", [("Dropout", (3, 5)), ("Dropout2d", (8, 2, 2))])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_dropout_same_masks_from_the_same_seed(name, shape, step_mode):
    ours, theirs = getattr(layer, name)(0.4, step_mode=step_mode), getattr(L, name)(0.4, step_mode=step_mode)
    x = _seq(*shape, dtype=torch.float32)

    def run(m):
        m.reset()
        y = m(x) if step_mode == "m" else torch.stack([m(xt) for xt in x])
        return y, torch.rand(4)  # the draw after: both consumed the same amount of the random state

    for seed in (0, 1):  # a new mask after each reset, drawn as SJ draws it
        torch.manual_seed(seed)
        a = run(ours)
        torch.manual_seed(seed)
        b = run(theirs)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert (a[0] == 0).any()


def test_seeded_training_matches_bit_for_bit():
    """A few SGD steps of Linear → Dropout → Linear from the same seed give identical weights in sj and SJ."""
    def run(lib):
        torch.manual_seed(0)
        net = nn.Sequential(lib.Linear(6, 8, step_mode="m"), lib.Dropout(0.3, step_mode="m"),
                            lib.Linear(8, 2, step_mode="m"))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(3):
            for m in net:
                if hasattr(m, "reset"):
                    m.reset()
            loss = net(torch.randn(T, N, 6)).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return [p.detach().clone() for p in net.parameters()]

    for a, b in zip(run(layer), run(L), strict=True):
        assert torch.equal(a, b)


def test_drop_connect_linear():
    x = _seq(5, dtype=torch.float32)
    for invariant in (False, True):
        torch.manual_seed(0)
        ours = layer.DropConnectLinear(5, 3, p=0.3, invariant=invariant, step_mode="m")
        torch.manual_seed(0)
        theirs = L.DropConnectLinear(5, 3, p=0.3, invariant=invariant, step_mode="m")
        assert_close_max(ours.weight, theirs.weight, 0.0)  # same initialisation draws
        run_parity(ours, theirs, [x], seed=5)
    ours.eval(), theirs.eval()
    run_parity(ours, theirs, [x], seed=6, grad=False)  # the Gaussian samples of evaluation
    nobias = layer.DropConnectLinear(5, 3, bias=False, activation=None, step_mode="m")
    run_parity(nobias, L.DropConnectLinear(5, 3, bias=False, activation=None, step_mode="m"), [x], seed=2)


# ---- stateless wrappers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_max_unpool(dim, step_mode):
    pool = getattr(nn, f"MaxPool{dim}d")(2, return_indices=True)
    x = _seq(2, *([4] * dim))
    values, indices = pool(x.flatten(0, 1))
    values, indices = values.view(T, N, *values.shape[1:]), indices.view(T, N, *indices.shape[1:])
    ours, theirs = getattr(layer, f"MaxUnpool{dim}d")(2, step_mode=step_mode), getattr(L, f"MaxUnpool{dim}d")(
        2, step_mode=step_mode)
    if step_mode == "m":
        y = run_parity(ours, theirs, [values, indices])
        size = [5] * dim
        run_parity(ours, theirs, [values, indices, size])
    else:
        y = run_parity(ours, theirs, [values[0], indices[0]])
    assert y[0].shape[-dim:] == (4,) * dim


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_max_pool_with_indices_in_multi_step(dim):
    """MaxPool(return_indices=True) in 'm' returns (values, indices), both [T, N, ...] (SJ's container tutorial)."""
    x = _seq(2, *([4] * dim))
    ours, theirs = (getattr(lib, f"MaxPool{dim}d")(2, return_indices=True, step_mode="m") for lib in (layer, L))
    (values, indices), (values2, indices2) = ours(x), theirs(x)
    assert torch.equal(values, values2) and torch.equal(indices, indices2)
    assert values.shape == (T, N, 2, *([2] * dim))


@pytest.mark.parametrize("stateful", [False, True])
def test_step_mode_container_takes_sj2_positional_step_mode(stateful):
    """SJ 2.0's StepModeContainer(stateful, step_mode, *modules); sj also takes the step mode by keyword or left out
    (SJ's tutorial form), and refuses it given twice."""
    x = _seq(3)
    child = (lambda lib: lib.SynapseFilter(2.0)) if stateful else (lambda lib: nn.Linear(3, 3).double())
    theirs = L.StepModeContainer(stateful, "m", child(L))
    for ours in (layer.StepModeContainer(stateful, "m", child(layer)),
                 layer.StepModeContainer(stateful, child(layer), step_mode="m")):
        assert ours.step_mode == "m"
        run_parity(ours, theirs, [x])
        sj2("functional").reset_net(theirs)
    assert layer.StepModeContainer(stateful, child(layer)).step_mode == "s"
    with pytest.raises(TypeError, match="step_mode given twice"):
        layer.StepModeContainer(stateful, "m", child(layer), step_mode="s")


def test_conv_transpose3d_and_weight_standardisation():
    run_parity(layer.ConvTranspose3d(2, 3, 2, stride=2, step_mode="m").double(),
               L.ConvTranspose3d(2, 3, 2, stride=2, step_mode="m").double(), [_seq(2, 2, 3, 3)])
    for gain in (True, False):
        run_parity(layer.WSConv2d(2, 4, 3, padding=1, step_mode="m", gain=gain).double(),
                   L.WSConv2d(2, 4, 3, padding=1, step_mode="m", gain=gain).double(), [_seq(2, 5, 5)])
        run_parity(layer.WSLinear(5, 3, step_mode="m", gain=gain).double(),
                   L.WSLinear(5, 3, step_mode="m", gain=gain).double(), [_seq(5)])
    run_parity(layer.WSConv2d(2, 4, 3, groups=2, step_mode="s").double(),
               L.WSConv2d(2, 4, 3, groups=2, step_mode="s").double(), [_seq(2, 5, 5)[0]])


# ---- normalisations --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim,shape", [(1, (3, 4)), (2, (3, 2, 2)), (3, (3, 2, 2, 2))])
def test_temporal_effective_bn_loads_sj_checkpoints(dim, shape):
    theirs = getattr(L, f"TemporalEffectiveBatchNorm{dim}d")(T, 3).double()
    with torch.no_grad():
        theirs.scale.copy_(torch.arange(1.0, T + 1))
        theirs.weight.uniform_(0.5, 1.5)
    ours = getattr(layer, f"TemporalEffectiveBatchNorm{dim}d")(T, 3).double()
    run_parity(ours, theirs, [_seq(*shape)])
    assert_close_max(ours.running_mean, theirs.running_mean)
    ours.eval(), theirs.eval()
    run_parity(ours, theirs, [_seq(*shape) + 1])


@pytest.mark.parametrize("dim,shape", [(1, (3,)), (2, (3, 2, 2)), (3, (3, 2, 2, 2))])
def test_batch_norm_through_time(dim, shape):
    theirs = getattr(L, f"BatchNormThroughTime{dim}d")(T, 3, step_mode="m").double()
    with torch.no_grad():
        for i, bn in enumerate(theirs.bn_list):
            bn.weight.fill_(1.0 + i)
    ours = getattr(layer, f"BatchNormThroughTime{dim}d")(T, 3, step_mode="m").double()
    run_parity(ours, theirs, [_seq(*shape)])
    for a, b in zip(ours.bn_list, theirs.bn_list, strict=True):
        assert_close_max(a.running_var, b.running_var)


@pytest.mark.parametrize("shared", [False, True])
def test_neunorm(shared):
    torch.manual_seed(0)
    theirs = L.NeuNorm(3, 2, 2, k=0.8, shared_across_channels=shared, step_mode="m").double()
    run_parity(layer.NeuNorm(3, 2, 2, k=0.8, shared_across_channels=shared, step_mode="m").double(), theirs,
               [(_seq(3, 2, 2) > 0).double()])


# ---- containers and the slot pair ------------------------------------------------------------------------------------

def test_time_last_containers():
    x = _seq(3).movedim(0, -1)  # [N, 3, T]
    run_parity(layer.TLastSeqToANNContainer(nn.Linear(3, 2), nn.Tanh()).double(),
               L.TLastSeqToANNContainer(nn.Linear(3, 2), nn.Tanh()).double(), [x])
    run_parity(layer.TLastMultiStepContainer(nn.Linear(3, 2), layer.SynapseFilter(2.0)).double(),
               L.TLastMultiStepContainer(nn.Linear(3, 2), L.SynapseFilter(2.0)).double(), [x])


@pytest.mark.parametrize("always", [False, True])
def test_spike_count_to_binary_and_bin_sum(always):
    counts = torch.randint(0, 4, (T, N, 3), generator=torch.Generator().manual_seed(0)).double()
    pair = [(layer.SpikeCountToBinary(3, always), L.SpikeCountToBinary(3, always)),
            (layer.TemporalBinSum(3, always), L.TemporalBinSum(3, always))]
    for training in (True, False):
        for ours, theirs in pair:
            ours.train(training), theirs.train(training)
        expanded = run_parity(pair[0][0], pair[0][1], [counts])[0]
        run_parity(pair[1][0], pair[1][1], [expanded])
        run_parity(pair[1][0], pair[1][1], [_seq(3)[:3]])  # T = 3 → one padded bin of 3 when active


def test_print_shape_module_logs_and_passes_through(caplog):
    x = _seq(2)
    with caplog.at_level(logging.DEBUG, logger="sj.layer"):
        y = run_parity(layer.PrintShapeModule("here"), L.PrintShapeModule("here"), [x])[0]
    assert torch.equal(y, x)
    assert "here shape=(4, 2, 2)" in caplog.text


# ---- OTTT wrappers ---------------------------------------------------------------------------------------------------

def test_ottt_wrappers():
    spike = (_seq(4)[0] > 0).double()
    trace = _seq(4)[1].abs()
    run_parity(layer.ReplaceforGrad.apply, L.ReplaceforGrad.apply, [spike, trace])
    torch.manual_seed(0)
    lin = nn.Linear(4, 3).double()
    ours, theirs = layer.GradwithTrace(lin), L.GradwithTrace(lin)
    run_parity(ours, theirs, [[spike, trace]], load=False)
    run_parity(layer.SpikeTraceOp(nn.Tanh()), L.SpikeTraceOp(nn.Tanh()), [[spike, trace]])
    seq = [nn.Linear(4, 4).double(), nn.Tanh(), nn.Linear(4, 2).double()]
    ours = layer.OTTTSequential(*seq)
    theirs = L.OTTTSequential(*seq)
    run_parity(ours, theirs, [[spike, trace]], load=False)
    run_parity(ours, theirs, [spike], load=False)


# ---- attention -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dimension,shape", [(2, (5,)), (4, (3, 2, 2))])
def test_temporal_wise_attention(dimension, shape):
    torch.manual_seed(0)
    theirs = L.TemporalWiseAttention(T, reduction=2, dimension=dimension).double()
    run_parity(layer.TemporalWiseAttention(T, reduction=2, dimension=dimension).double(), theirs, [_seq(*shape)])


@pytest.mark.parametrize("flags,kernel", [((True, True, True), 3), ((False, True, True), 7), ((True, False, False), 3)])
def test_multi_dimensional_attention(flags, kernel):
    torch.manual_seed(0)
    kw = dict(reduction_t=2, reduction_c=2, kernel_size=kernel, use_temporal=flags[0], use_channel=flags[1],
              use_spatial=flags[2])
    theirs = L.MultiDimensionalAttention(T, 4, **kw).double()
    run_parity(layer.MultiDimensionalAttention(T, 4, **kw).double(), theirs, [_seq(4, 3, 3)])


@pytest.mark.parametrize("name", ["SpikingSelfAttention", "TokenQKAttention", "ChannelQKAttention", "QKAttention"])
def test_token_attention(name):
    torch.manual_seed(0)
    theirs = getattr(L, name)(8, num_heads=2).double()
    for m in theirs.modules():
        if isinstance(m, nn.BatchNorm1d):
            nn.init.uniform_(m.weight, 2.0, 4.0)  # so that every neuron fires now and then
            nn.init.constant_(m.bias, 1.0)
    ours = getattr(layer, name)(8, num_heads=2).double()
    x = 3 * (_seq(8, 8) > 0).double()
    y = run_parity(ours, theirs, [x])[0]
    assert 0 < y.mean() < 1  # spikes, some of them
    reset_net(ours), sj2("functional").reset_net(theirs)
    ours.eval(), theirs.eval()
    run_parity(ours, theirs, [x])


def test_spike_driven_self_attention():
    torch.manual_seed(0)
    theirs = L.SpikeDrivenSelfAttention(4, num_heads=2).double()
    run_parity(layer.SpikeDrivenSelfAttention(4, num_heads=2).double(), theirs, [3 * _seq(4, 2, 3)])


def test_attention_custom_neuron_gets_only_the_kwargs():
    from sj import neuron

    att = layer.SpikingSelfAttention(4, 2, spiking_neuron=neuron.IFNode, v_threshold=0.7)
    assert isinstance(att.attn_lif, neuron.IFNode) and att.attn_lif.step_mode == "m"
    theirs = L.SpikingSelfAttention(4, 2, v_threshold=0.7)
    assert att.attn_lif.v_threshold == theirs.attn_lif.v_threshold == 0.7
    outs = forward_backward(att, [torch.ones(T, N, 4, 3)])[0]
    assert outs[0].shape == (T, N, 4, 3)
