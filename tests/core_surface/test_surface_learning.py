"""sj.learning: STDP ΔW by hand on a 2×3 example; conv against a naive loop; reward modulation and its timing by hand;
learners as memory modules (reset, close); every parameter checked on every set; no graphs kept."""

import math

import pytest
import torch
from torch import nn

from sj import functional, layer, learning, neuron
from sj.base import MemoryModule


class _Replay(nn.Module):
    """A 'neuron' that emits prescribed spikes (so the post-synaptic spikes are known by hand)."""

    def __init__(self, spikes):
        super().__init__()
        self.spikes, self.t = spikes, 0

    def forward(self, x):
        out = self.spikes[self.t]
        self.t += 1
        return out + 0 * x


def _linear_2x3():
    fc = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    return fc


def test_stdp_linear_hand_computed_2x3():
    fc = _linear_2x3()
    pre = torch.tensor([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]])  # [T=2, N=1, 3]
    post = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]]])  # [T=2, N=1, 2]
    sn = _Replay(post)
    learner = learning.STDPLearner("s", fc, sn, tau_pre=2.0, tau_post=2.0,
                                   f_pre=lambda w: torch.full_like(w, 0.5), f_post=lambda w: w)
    for t in range(2):
        sn(fc(pre[t]))
    # step 1: tr_pre=[1,0,0], tr_post=[0,0] -> 0.  step 2: tr_pre=[0.5,1,0], tr_post=[1,0]
    # ΔW[0] = W[0]*tr_pre*post[0] - 0.5*tr_post[0]*pre = [0.5, 2, 0] - [0, 0.5, 0]
    expected = torch.tensor([[0.5, 1.5, 0.0], [0.0, 0.0, 0.0]])
    dw = learner.step(on_grad=False)
    torch.testing.assert_close(dw, expected)
    assert learner.step(on_grad=False) is None  # records were consumed
    # on_grad: grad -= ΔW, then SGD(lr) applies W += lr·ΔW
    learner.reset()
    sn.t = 0
    for t in range(2):
        sn(fc(pre[t]))
    learner.step()
    torch.testing.assert_close(fc.weight.grad, -expected)
    w0 = fc.weight.detach().clone()
    torch.optim.SGD(fc.parameters(), lr=0.1).step()
    torch.testing.assert_close(fc.weight.detach(), w0 + 0.1 * expected)


def test_stdp_multi_step_equals_single_step_and_keeps_no_graph():
    torch.manual_seed(0)
    x = (torch.rand(5, 2, 4) < 0.5).float()
    results = []
    for mode in ("s", "m"):
        torch.manual_seed(1)
        fc, sn = layer.Linear(4, 3, step_mode=mode), neuron.IFNode(v_threshold=0.3, step_mode=mode)
        learner = learning.STDPLearner(mode, fc, sn, tau_pre=2.0, tau_post=3.0)
        out = sn(fc(x)) if mode == "m" else torch.stack([sn(fc(xt)) for xt in x])
        assert out.requires_grad
        assert all(not r.requires_grad for r in learner.in_spike_monitor.records + learner.out_spike_monitor.records)
        results.append(learner.step(on_grad=False))
    torch.testing.assert_close(results[0], results[1])
    assert results[0].abs().sum() > 0


def _naive_conv2d_stdp(conv, pres, posts, tau):
    """SpikingJelly's kernel-position loop (stride, zero padding), written independently."""
    k = conv.weight.shape[2]
    tr_pre = tr_post = 0.0
    dw = torch.zeros_like(conv.weight)
    p, s = conv.padding[0], conv.stride[0]
    for x, y in zip(pres, posts):
        x = nn.functional.pad(x, (p, p, p, p))
        tr_pre = tr_pre * (1 - 1 / tau) + x
        tr_post = tr_post * (1 - 1 / tau) + y
        for h in range(k):
            for w in range(k):
                he, we = x.shape[2] - k + 1 + h, x.shape[3] - k + 1 + w
                pre, trp = x[:, :, h:he:s, w:we:s], tr_pre[:, :, h:he:s, w:we:s]
                wt = conv.weight.detach()[:, :, h, w]
                dw[:, :, h, w] += wt * torch.einsum("bihw,bohw->oi", trp, y)
                dw[:, :, h, w] -= wt * torch.einsum("bohw,bihw->oi", tr_post, pre)
    return dw


def test_stdp_conv2d_matches_naive_loop():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False)
    sn = neuron.IFNode(v_threshold=0.2)
    learner = learning.STDPLearner("s", conv, sn, tau_pre=2.0, tau_post=2.0)
    pres = [(torch.rand(2, 2, 6, 6) < 0.4).float() for _ in range(3)]
    posts = [sn(conv(x)) for x in pres]
    dw = learner.step(on_grad=False)
    torch.testing.assert_close(dw, _naive_conv2d_stdp(conv, pres, posts, 2.0))
    assert dw.abs().sum() > 0


def test_stdp_conv1d_equals_conv2d_with_unit_height():
    torch.manual_seed(0)
    c1 = nn.Conv1d(2, 3, 3, bias=False)
    c2 = nn.Conv2d(2, 3, (1, 3), bias=False)
    with torch.no_grad():
        c2.weight.copy_(c1.weight.unsqueeze(2))
    x = (torch.rand(2, 2, 7) < 0.5).float()
    dws = []
    for conv, inp in ((c1, x), (c2, x.unsqueeze(2))):
        sn = neuron.IFNode(v_threshold=0.1)
        learner = learning.STDPLearner("s", conv, sn, 2.0, 2.0)
        sn(conv(inp))
        sn(conv(inp))
        dws.append(learner.step(on_grad=False))
    torch.testing.assert_close(dws[0].unsqueeze(2), dws[1])


def test_rejects_unsupported_synapses_and_bad_time_constants():
    with pytest.raises(TypeError, match="Linear, Conv1d or Conv2d"):
        learning.STDPLearner("s", nn.Conv3d(1, 1, 1), neuron.IFNode(), 2.0, 2.0)
    with pytest.raises(ValueError, match="groups"):
        learning.STDPLearner("s", nn.Conv2d(2, 2, 1, groups=2), neuron.IFNode(), 2.0, 2.0)
    with pytest.raises(ValueError, match="tau_pre must be a finite number >= 1"):
        learning.STDPLearner("s", nn.Linear(1, 1), neuron.IFNode(), 0.5, 2.0)
    learning.STDPLearner("s", nn.Linear(1, 1), neuron.IFNode(), 1.0, 1.0)  # τ = 1: the trace is the last spike
    with pytest.raises(ValueError, match="tau_post must be a finite number > 0"):
        learning.MSTDPLearner("s", nn.Linear(1, 1), neuron.IFNode(), 0.5, 0.0)
    with pytest.raises(ValueError, match="step modes"):
        learning.MSTDPLearner("m", nn.Linear(1, 1), neuron.IFNode(), 2.0, 2.0)


@pytest.mark.parametrize("cls,extra", [(learning.STDPLearner, ()), (learning.MSTDPLearner, ()),
                                       (learning.MSTDPETLearner, (3.0,))])
def test_every_parameter_is_checked_on_assignment(cls, extra):
    learner = cls("s", _linear_2x3(), neuron.IFNode(), 2.0, 2.0, *extra)
    names = ["tau_pre", "tau_post", *(["tau_trace"] if extra else [])]
    for name in names:
        for bad in (math.nan, math.inf, -1.0, 0.0, True, "2"):
            with pytest.raises(ValueError, match=name):
                setattr(learner, name, bad)
        setattr(learner, name, 5.0)
        assert getattr(learner, name) == 5.0
    with pytest.raises(TypeError, match="f_pre must be callable"):
        learner.f_pre = 1.0
    with pytest.raises(TypeError, match="f_post must be callable"):
        cls("s", _linear_2x3(), neuron.IFNode(), 2.0, 2.0, *extra, f_post="w")


def test_mstdp_and_mstdpet_by_hand_with_spikingjelly_reward_timing():
    """The reward given at step t multiplies the eligibility of step t − 1 (the first step changes nothing)."""
    pre = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]],
                        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])  # [T=3, B=2, 3]
    post = torch.tensor([[[0.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]])
    rewards = [torch.tensor([5.0, 7.0]), torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])]
    ones = torch.ones_like  # f_pre = f_post = 1: weight-independent
    d = math.exp(-1 / 2.0)

    def elig(tr_pre, s_post, tr_post, s_pre):
        return torch.einsum("bi,bo->boi", tr_pre, s_post) - torch.einsum("bo,bi->boi", tr_post, s_pre)

    tr_pre, tr_post, e = torch.zeros(2, 3), torch.zeros(2, 2), []
    for t in range(3):
        tr_pre, tr_post = tr_pre * d + pre[t], tr_post * d + post[t]
        e.append(elig(tr_pre, post[t], tr_post, pre[t]))
    r = [x.view(2, 1, 1) for x in rewards]
    expected_mstdp = [torch.zeros(2, 3), (r[1] * e[0]).sum(0), (r[2] * e[1]).sum(0)]
    z1 = e[0] / 4.0  # z(2) = e^(−1/4)·z(1) + e(1)/τ_z with z(1) = e(0)/τ_z = 0
    z2 = z1 * math.exp(-1 / 4.0) + e[1] / 4.0
    expected_et = [torch.zeros(2, 3), (r[1] * z1).sum(0), (r[2] * z2).sum(0)]
    for cls, extra, expected in ((learning.MSTDPLearner, (), expected_mstdp),
                                 (learning.MSTDPETLearner, (4.0,), expected_et)):
        fc, sn = _linear_2x3(), _Replay(post)
        learner = cls("s", fc, sn, 2.0, 2.0, *extra, f_pre=ones, f_post=ones)
        for t in range(3):
            sn(fc(pre[t]))
            torch.testing.assert_close(learner.step(rewards[t], on_grad=False), expected[t])
        assert learner.step(1.0) is None  # nothing recorded since


def test_reward_learners_refuse_bad_rewards_and_records():
    pre, post = torch.ones(2, 2, 3), torch.ones(2, 2, 2)
    fc, sn = _linear_2x3(), _Replay(post)
    learner = learning.MSTDPLearner("s", fc, sn, 2.0, 2.0)
    sn(fc(pre[0]))
    with pytest.raises(ValueError, match="one value per sample"):
        learner.step(torch.ones(3))
    sn.t = 0
    learner.reset()
    sn(fc(pre[0]))
    with pytest.raises(ValueError, match="reward must be finite"):
        learner.step(math.nan)
    sn.t = 0
    learner.reset()
    for t in range(2):
        sn(fc(pre[t]))
    with pytest.raises(RuntimeError, match="exactly one"):
        learner.step(1.0)
    with pytest.raises(ValueError, match="scale must be finite"):
        learning.STDPLearner("s", fc, _Replay(post), 2.0, 2.0).step(scale=math.inf)


def test_changing_the_batch_without_reset_is_refused():
    fc = _linear_2x3()
    sn = neuron.IFNode(v_threshold=0.1)
    learner = learning.MSTDPLearner("s", fc, sn, 2.0, 2.0)
    sn(fc(torch.ones(2, 3)))
    learner.step(1.0)
    sn.reset()
    sn(fc(torch.ones(4, 3)))
    with pytest.raises(ValueError, match="reset"):
        learner.step(1.0)
    learner.reset()
    sn.reset()
    sn(fc(torch.ones(4, 3)))
    learner.step(1.0)


def test_learners_are_memory_modules_and_close_for_good():
    fc, sn = layer.Linear(3, 2, bias=False), neuron.IFNode(v_threshold=0.1)
    learner = learning.STDPLearner("s", fc, sn, 2.0, 2.0)
    net = nn.Sequential(fc, sn)
    net(torch.ones(1, 3))
    learner.step()
    assert isinstance(learner, MemoryModule) and learner.trace_pre is not None
    functional.reset_net(nn.ModuleList([net, learner]))
    assert learner.trace_pre is None and learner.trace_post is None
    learner.close()
    net(torch.ones(1, 3))
    assert learner.in_spike_monitor.records == [] and learner.out_spike_monitor.records == []
    with pytest.raises(RuntimeError, match="closed"):
        learner.step()
    with pytest.raises(RuntimeError, match="closed"):
        learner.enable()
    assert learning.plasticity.STDPLearner is learning.STDPLearner


def test_unbatched_spikes_and_padding_modes():
    torch.manual_seed(0)
    fc = _linear_2x3()
    dws = []
    for x in (torch.tensor([1.0, 0.0, 1.0]), torch.tensor([[1.0, 0.0, 1.0]])):
        sn = neuron.IFNode(v_threshold=0.5)
        learner = learning.STDPLearner("s", fc, sn, 2.0, 2.0)
        sn(fc(x))
        dws.append(learner.step(on_grad=False))
    torch.testing.assert_close(dws[0], dws[1])
    # reflect padding: the trace rule sees the reflected border, as a naive loop over the padded input does
    conv = nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect", bias=False)
    ref = nn.Conv2d(1, 2, 3, bias=False)
    ref.weight = conv.weight
    x = (torch.rand(2, 1, 5, 5) < 0.5).float()
    post = (torch.rand(2, 2, 5, 5) < 0.5).float()
    got = []
    for syn, inp in ((conv, x), (ref, nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"))):
        sn = _Replay(post.unsqueeze(0))
        learner = learning.STDPLearner("s", syn, sn, 2.0, 2.0)
        sn(syn(inp))
        got.append(learner.step(on_grad=False))
    torch.testing.assert_close(got[0], got[1])
