"""sj.learning and sj.functional's plasticity steps against SpikingJelly 2.0.0: the same spikes and weights give the
same ΔW over several steps (STDP on Linear/Conv1d/Conv2d in both step modes and three padding modes, MSTDP, MSTDPET with
SpikingJelly's reward timing), the same traces, and OTTT/FPTT give the same parameters and outputs."""

import copy

import pytest
import torch
import torch.nn.functional as F
from oracle import spikingjelly
from torch import nn

from sj import functional, layer, learning, neuron


@pytest.fixture(scope="module")
def sj2():
    return spikingjelly("activation_based.learning")


class _Replay(nn.Module):
    """Emits prescribed postsynaptic spikes, so both libraries see exactly the same pairs."""

    def __init__(self, spikes: torch.Tensor, step_mode: str = "s") -> None:
        super().__init__()
        self.spikes, self.step_mode, self.t = spikes, step_mode, 0

    def forward(self, x):
        if self.step_mode == "m":
            return self.spikes + 0 * x
        out = self.spikes[self.t]
        self.t += 1
        return out + 0 * x


def _weight_fns():
    return {"f_pre": lambda w: w.abs().sqrt(), "f_post": lambda w: 1.0 - w}


def _run(lib, cls_name, make_synapse, pre, post, step_mode="s", extra=(), rewards=None, scale=1.0):
    torch.manual_seed(0)
    syn = make_synapse(step_mode)
    sn = _Replay(post, step_mode)
    learner = getattr(lib, cls_name)(step_mode, syn, sn, *extra, **_weight_fns())
    out = []
    if step_mode == "m":
        sn(syn(pre))
        out.append(learner.step(on_grad=False, scale=scale))
    else:
        for t in range(pre.shape[0]):
            sn(syn(pre[t]))
            out.append(learner.step(on_grad=False, scale=scale) if rewards is None
                       else learner.step(rewards[t], on_grad=False, scale=scale))
    # on_grad accumulates −ΔW into weight.grad
    sn.t = 0
    learner.reset()
    if step_mode == "m":
        sn(syn(pre))
    else:
        sn(syn(pre[0]))
    learner.step(on_grad=True) if rewards is None else learner.step(rewards[0], on_grad=True)
    out.append(syn.weight.grad)
    return [*out, learner.trace_pre, learner.trace_post]


def _compare(sj2, *args, **kwargs):
    ours, theirs = _run(learning, *args, **kwargs), _run(sj2, *args, **kwargs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def _linear(mode):
    return nn.Linear(6, 4, bias=False)


def _spikes(*shape, p=0.5):
    return (torch.rand(*shape) < p).float()


def test_stdp_linear_single_and_multi_step(sj2):
    torch.manual_seed(1)
    pre, post = _spikes(5, 3, 6), _spikes(5, 3, 4)
    for mode in ("s", "m"):
        _compare(sj2, "STDPLearner", _linear, pre, post, mode, (2.0, 3.0), scale=0.5)
    _compare(sj2, "STDPLearner", _linear, pre, post, "s", (1.0, 1.0))  # τ = 1


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
def test_stdp_conv2d_with_padding_and_stride(sj2, padding_mode):
    torch.manual_seed(2)
    def make(mode):
        return layer.Conv2d(3, 4, 3, stride=2, padding=1, bias=False, padding_mode=padding_mode, step_mode=mode)

    pre = _spikes(4, 2, 3, 7, 7)
    post = _spikes(4, *make("s")(pre[0]).shape)
    _compare(sj2, "STDPLearner", make, pre, post, "s", (2.0, 1.5))


def test_stdp_conv1d_multi_step(sj2):
    torch.manual_seed(3)
    def make(mode):
        return layer.Conv1d(3, 4, 3, stride=2, padding=2, bias=False, step_mode=mode)

    pre = _spikes(4, 2, 3, 9)
    post = _spikes(4, *make("s")(pre[0]).shape)
    for mode in ("s", "m"):
        _compare(sj2, "STDPLearner", make, pre, post, mode, (2.0, 1.5))


def test_mstdp_batched_reward_per_sample(sj2):
    torch.manual_seed(4)
    pre, post, rewards = _spikes(5, 3, 6), _spikes(5, 3, 4), torch.randn(5, 3)
    _compare(sj2, "MSTDPLearner", _linear, pre, post, "s", (2.0, 3.0), rewards, 0.5)
    _compare(sj2, "MSTDPLearner", _linear, pre, post, "s", (2.0, 3.0), rewards[:, 0])


def test_mstdpet_unbatched(sj2):
    torch.manual_seed(5)
    pre, post, rewards = _spikes(6, 6), _spikes(6, 4), torch.randn(6)
    _compare(sj2, "MSTDPETLearner", _linear, pre, post, "s", (2.0, 3.0, 4.0), rewards, 0.5)


def test_functional_steps(sj2):
    fl = spikingjelly("activation_based.functional")
    torch.manual_seed(6)
    w = torch.rand(4, 6)
    kw = {"tau_pre": 2.0, "tau_post": 3.0, **_weight_fns()}
    pre, post, tr = _spikes(3, 6), _spikes(3, 4), (torch.rand(3, 6), torch.rand(3, 4))
    for name in ("stdp_linear_step", "mstdp_linear_step"):
        for a, b in zip(_flat(getattr(functional, name)(pre, post, tr, w, **kw)),
                        _flat(getattr(fl, name)(pre, post, tr, w, **kw))):
            torch.testing.assert_close(a, b)
    tr1 = (tr[0][0], tr[1][0])
    for a, b in zip(_flat(functional.mstdpet_linear_step(pre[0], post[0], tr1, w, **kw)),
                    _flat(fl.mstdpet_linear_step(pre[0], post[0], tr1, w, **kw))):
        torch.testing.assert_close(a, b)
    e, z = torch.randn(4, 6), torch.randn(4, 6)
    for a, b in zip(functional.mstdpet_reward_step(0.7, e, z, tau_trace=3.0),
                    fl.mstdpet_reward_step(0.7, e, z, tau_trace=3.0)):
        torch.testing.assert_close(a, b)
    w2 = torch.rand(4, 3, 3, 2)
    pre2, post2 = _spikes(2, 3, 8, 7), _spikes(2, 4, 3, 6)
    tr2 = (torch.rand_like(pre2), torch.rand_like(post2))
    for a, b in zip(_flat(functional.stdp_conv2d_step(pre2, post2, tr2, w2, stride=(2, 1), **kw)),
                    _flat(fl.stdp_conv2d_step(pre2, post2, tr2, w2, stride=(2, 1), **kw))):
        torch.testing.assert_close(a, b)
    w1 = torch.rand(4, 3, 3)
    pre1, post1 = _spikes(2, 3, 9), _spikes(2, 4, 4)
    tr1 = (torch.rand_like(pre1), torch.rand_like(post1))
    for a, b in zip(_flat(functional.stdp_conv1d_step(pre1, post1, tr1, w1, stride=(2,), **kw)),
                    _flat(fl.stdp_conv1d_step(pre1, post1, tr1, w1, stride=(2,), **kw))):
        torch.testing.assert_close(a, b)


def _flat(result):
    value, (tr_pre, tr_post) = result
    return value, tr_pre, tr_post


def _nets():
    sjn = spikingjelly("activation_based.neuron")
    torch.manual_seed(7)
    ours = nn.Sequential(nn.Linear(5, 4), neuron.LIFNode(), nn.Linear(4, 3))
    theirs = nn.Sequential(nn.Linear(5, 4), sjn.LIFNode(), nn.Linear(4, 3))
    for i in (0, 2):
        theirs[i].load_state_dict(ours[i].state_dict())
    return ours, theirs


@pytest.mark.parametrize("online", [True, False])
def test_ottt_online_training(sj2, online):
    ol = sj2.online_learning
    x, target = torch.randn(2, 4, 5) * 2, torch.randn(2, 4, 3)  # [B, T, ...]
    results = []
    for fn, net in zip((learning.online_learning.ottt_online_training, ol.ottt_online_training), _nets()):
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        loss, y = fn(net, opt, x, target, F.mse_loss, online)
        results.append((loss, y, *[p.detach() for p in net.parameters()]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_fptt_online_training(sj2):
    ol = sj2.online_learning
    x, target = torch.randn(4, 2, 5) * 2, torch.randn(4, 2, 3)  # [T, N, ...]
    results = []
    for lib, net in zip((learning.online_learning, ol), _nets()):
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        w_ra = lib.fptt_online_training_init_w_ra(opt)
        lib.fptt_online_training(net, opt, x, target, F.mse_loss, 0.5, w_ra)
        results.append([*w_ra, *[p.detach() for p in net.parameters()], copy.deepcopy(net[1].v)])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
