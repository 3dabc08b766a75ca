"""sj.learning: STDP ΔW by hand on a 2×3 example; conv against a naive loop; reward modulation; no graphs kept."""

import math

import pytest
import torch
from torch import nn

from sj import layer, learning, neuron


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


def test_rejects_unsupported_synapses():
    with pytest.raises(TypeError, match="Linear, Conv1d or Conv2d"):
        learning.STDPLearner("s", nn.Conv3d(1, 1, 1), neuron.IFNode(), 2.0, 2.0)
    with pytest.raises(ValueError, match="groups"):
        learning.STDPLearner("s", nn.Conv2d(2, 2, 1, groups=2), neuron.IFNode(), 2.0, 2.0)
    with pytest.raises(ValueError, match="tau_pre"):
        learning.STDPLearner("s", nn.Linear(1, 1), neuron.IFNode(), 1.0, 2.0)


def test_mstdp_and_mstdpet_by_hand():
    pre = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])  # [T, B=2, 3]
    post = torch.tensor([[[0.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]])
    reward = torch.tensor([1.0, -2.0])
    ones = torch.ones_like  # f_pre = f_post = 1: weight-independent
    d = math.exp(-1 / 2.0)

    def elig(tr_pre, s_post, tr_post, s_pre):
        return torch.einsum("bi,bo->boi", tr_pre, s_post) - torch.einsum("bo,bi->boi", tr_post, s_pre)

    e1 = elig(pre[0], post[0], post[0], pre[0])
    tr_pre2, tr_post2 = pre[0] * d + pre[1], post[0] * d + post[1]
    e2 = elig(tr_pre2, post[1], tr_post2, pre[1])
    r = reward.view(2, 1, 1)
    expected_mstdp = (r * e1).sum(0) + (r * e2).sum(0)
    z1 = e1 / 4.0
    z2 = z1 * math.exp(-1 / 4.0) + e2 / 4.0
    expected_et = (r * z1).sum(0) + (r * z2).sum(0)
    for cls, extra, expected in ((learning.MSTDPLearner, (), expected_mstdp),
                                 (learning.MSTDPETLearner, (4.0,), expected_et)):
        fc, sn = _linear_2x3(), _Replay(post)
        learner = cls("s", 2, fc, sn, 2.0, 2.0, *extra, f_pre=ones, f_post=ones)
        for t in range(2):
            sn(fc(pre[t]))
        torch.testing.assert_close(learner.step(reward, on_grad=False), expected)
    with pytest.raises(ValueError, match="reward"):
        fc, sn = _linear_2x3(), _Replay(post)
        learner = learning.MSTDPLearner("s", None, fc, sn, 2.0, 2.0)
        sn(fc(pre[0]))
        learner.step(torch.ones(3))
