"""SpikingJelly 2.0's converter API in sj: RateCodingRecipe behaviour (rates converge to the clamped ANN, step modes
agree), the scalers and the calibration hook against their definitions, the delay estimate's closed form,
download_url against a local HTTP server, and errors."""

from __future__ import annotations

import http.server
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sj import functional, layer
from sj.ann2snn import (
    ChannelVoltageScaler,
    ConvertedSNN,
    Converter,
    RateCodingRecipe,
    TimeFoldedRateCodingRecipe,
    UnsupportedOperationError,
    download_url,
    estimate_delay_start,
)
from sj.ann2snn.modules import VoltageHook
from sj.ann2snn.recipes.rate_coding import ChannelVoltageHook
from sj.neuron import HalfThresholdIFNode


def _ann() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(layer.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(16, 6), nn.ReLU(), nn.Linear(6, 2)).eval()


def _convert(ann: nn.Module, data, **kw) -> nn.Module:
    return Converter(recipe=RateCodingRecipe(dataloader=data, **kw)).convert(ann)


def test_rates_converge_to_the_ann_and_step_modes_agree():
    ann = _ann()
    data = [torch.rand(16, 1, 4, 4) for _ in range(2)]
    snn = _convert(ann, data, mode="max", momentum=0.0)  # λ from the first batch only
    x = data[0][:4]
    T = 200
    steps = torch.stack([snn(x) for _ in range(T)])
    err = (steps.mean(0) - ann(x)).abs().max().item()
    assert err < 0.05 * ann(x).abs().max().item()  # the rate error of each IF layer shrinks like λ/T
    functional.reset_net(snn)
    functional.set_step_mode(snn, "m")
    torch.testing.assert_close(snn(x.expand(T, *x.shape)), steps, rtol=0, atol=1e-6)
    with pytest.raises(Exception, match="T, N"):
        snn(torch.rand(4))


def test_the_ann_is_untouched_and_keeps_its_training_flags():
    ann = _ann().train()
    before = {k: v.clone() for k, v in ann.state_dict().items()}
    snn = _convert(ann, [torch.rand(4, 1, 4, 4)])
    assert all(m.training for m in ann.modules())
    assert all(torch.equal(before[k], v) for k, v in ann.state_dict().items())
    assert not set(map(id, snn.parameters())) & set(map(id, ann.parameters()))
    assert not any(isinstance(m, layer.Conv2d) for m in snn.modules())  # unwrapped: runs folded in either mode


def test_channel_scales_and_hooks_follow_their_definitions():
    x = torch.tensor([[[1.0, -2.0], [3.0, 0.5]], [[4.0, 0.0], [-1.0, 2.0]]])  # [N=2, C=2, L=2]
    hook = ChannelVoltageHook(mode="max", momentum=0.5)
    hook(x)
    torch.testing.assert_close(hook.scale, torch.tensor([4.0, 3.0]))
    hook(x * 2)
    torch.testing.assert_close(hook.scale, torch.tensor([6.0, 4.5]))  # (1 − m)·λ + m·λ_batch
    h = VoltageHook(momentum=0.1, mode="50%")
    h(torch.tensor([0.0, 1.0, 2.0, 10.0]))
    assert h.scale.item() == pytest.approx(1.5)  # the median, interpolated as torch.quantile does
    h.eval()
    h(torch.tensor([100.0]))
    assert h.scale.item() == pytest.approx(1.5)  # eval: no update
    s = ChannelVoltageScaler(torch.tensor([2.0, 3.0]), channel_dim=1, step_mode="m")
    torch.testing.assert_close(s(torch.ones(2, 1, 2, 5)), torch.tensor([2.0, 3.0]).view(1, 1, 2, 1).expand(2, 1, 2, 5))
    for bad, err in ((torch.ones(2, 2), "1D"), (torch.tensor([1.0, -1.0]), "positive"), (torch.tensor([]), "empty")):
        with pytest.raises(ValueError, match=err):
            ChannelVoltageScaler(bad)
    with pytest.raises(ValueError, match="does not match"):
        ChannelVoltageScaler(torch.ones(3))(torch.ones(2, 2, 4))


def test_half_threshold_neurons_round_instead_of_flooring():
    node = HalfThresholdIFNode()
    counts = sum(node(torch.tensor([0.26, 0.24])) for _ in range(10))
    assert counts.tolist() == [3.0, 2.0]  # round(10·0.26) = 3, round(2.4) = 2; a plain IF gives floor: 2, 2
    functional.reset_net(node)
    assert node.v == 0.5


def test_delay_estimate_closed_form():
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.ReLU())
    nn.init.ones_(net[0].weight)
    data = torch.tensor([[0.1], [0.2], [0.3], [0.4]])
    snn = _convert(net, [data])
    # the only neuron needs λ (= max 0.4) of charge and receives mean(relu(x)) = 0.25 per step
    assert estimate_delay_start(snn, [data], "cpu", time_steps=32) == 2  # ceil(0.4 / 0.25)
    with pytest.warns(RuntimeWarning, match="too small"):
        assert estimate_delay_start(snn, [data], "cpu", time_steps=5) == 0
    assert estimate_delay_start(nn.Linear(1, 1), [data], "cpu", 8) == 0  # nothing to delay
    with pytest.raises(ValueError, match="time_steps"):
        estimate_delay_start(snn, [data], "cpu", 0)


def test_recipe_errors_name_the_problem():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return F.relu(self.fc(x))

    with pytest.raises(ValueError, match="functional ReLU"):
        _convert(Functional(), [torch.rand(2, 2)])
    with pytest.raises(UnsupportedOperationError, match="Sigmoid"):
        _convert(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid()), [torch.rand(2, 2)])
    dead = nn.Sequential(nn.Linear(2, 1), nn.ReLU())
    nn.init.constant_(dead[0].weight, -1.0)
    nn.init.zeros_(dead[0].bias)
    with pytest.raises(ValueError, match="never fired"):
        _convert(dead, [torch.rand(4, 2)])
    with pytest.raises(ValueError, match="custom neuron_factory"):
        RateCodingRecipe([], channel_wise=True, half_threshold=True, neuron_factory=lambda s: nn.Identity())


def test_converter_keeps_sjs_earlier_call_and_refuses_mixtures():
    ann = _ann()
    x = torch.rand(4, 1, 4, 4)
    snn = Converter("99.9%", momentum=None, progress=False)(ann, [x])
    assert isinstance(snn, ConvertedSNN) and isinstance(Converter(progress=False).recipe, TimeFoldedRateCodingRecipe)
    assert snn.run_static(x, 4).shape == (4, 4, 2)
    with pytest.raises(TypeError, match="holds its own calibration data"):
        Converter(recipe=RateCodingRecipe(dataloader=[x])).convert(ann, [x])
    with pytest.raises(TypeError, match="configure sj's time-folded"):
        Converter(recipe=RateCodingRecipe(dataloader=[x]), momentum=0.5)
    with pytest.raises(ValueError, match="no calibration data"):
        Converter(progress=False).convert(ann)


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``payload``; honours ``Range`` unless ``ignore_range``; ``truncate`` drops the last bytes."""

    payload = b""
    ignore_range = False
    truncate = 0

    def do_GET(self) -> None:
        rng = self.headers.get("Range")
        data, status, first = self.payload, 200, 0
        if rng and not self.ignore_range:
            first, last = (int(v) for v in rng.removeprefix("bytes=").split("-"))
            data, status = self.payload[first:last + 1], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{first + len(data) - 1}/{len(self.payload)}")
        self.end_headers()
        self.wfile.write(data[:len(data) - self.truncate])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    _RangeHandler.payload = bytes(range(256)) * 40
    _RangeHandler.ignore_range, _RangeHandler.truncate = False, 0
    yield f"http://127.0.0.1:{srv.server_address[1]}/model.pth"
    srv.shutdown()
    srv.server_close()


def test_download_url_resumes_and_checks_sizes(server, tmp_path):
    payload = _RangeHandler.payload
    dst = tmp_path / "model.pth"
    assert download_url(server, str(dst)) == len(payload) and dst.read_bytes() == payload
    dst.write_bytes(payload[:1000])  # an interrupted download: only the rest is fetched
    assert download_url(server, str(dst)) == len(payload) and dst.read_bytes() == payload
    assert download_url(server, str(dst)) == len(payload)  # complete: left as is
    dst.write_bytes(b"x" * 10)
    _RangeHandler.ignore_range = True  # the server sends the whole file again
    download_url(server, str(dst))
    assert dst.read_bytes() == payload
    dst.write_bytes(payload[:8195])
    _RangeHandler.ignore_range, _RangeHandler.truncate = False, 5
    with pytest.raises(RuntimeError, match=r"downloaded 2040 bytes .* but expected 2045"):
        download_url(server, str(dst))


class _Reused(nn.Module):
    """One Linear and one GELU module called at two places."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.act, self.ln = nn.Linear(4, 4), nn.GELU(), nn.LayerNorm(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(self.ln(self.act(self.fc(x)))))


def test_td_equivalence_holds_for_modules_called_twice():
    from sj.ann2snn import TransformerTDEquivalentRecipe

    torch.manual_seed(0)
    ann = _Reused().eval()
    snn = Converter(recipe=TransformerTDEquivalentRecipe()).convert(ann)
    seq = torch.rand(5, 3, 4)
    torch.testing.assert_close(snn(seq).sum(0), ann(seq.sum(0)), rtol=0, atol=1e-5)
    weights = {id(m.weight) for m in snn.modules() if hasattr(m, "weight") and m.weight is not None
               and m.weight.shape == (4, 4)}
    assert len(weights) == 1  # the second call's operator shares the first's parameters


def test_td_recipe_refuses_what_breaks_the_equivalence():
    from sj.ann2snn import TransformerTDEquivalentRecipe

    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return torch.relu(self.a(x)) * self.b(x)

    with pytest.raises(ValueError, match=r"function relu .*; mul of two activations"):
        Converter(recipe=TransformerTDEquivalentRecipe()).convert(Gated())
    mha = nn.MultiheadAttention(4, 2)  # batch_first=False

    class Attn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = mha

        def forward(self, x):
            return self.mha(x, x, x)[0]

    with pytest.raises(ValueError, match="batch_first=True, need_weights=False"):
        Converter(recipe=TransformerTDEquivalentRecipe()).convert(Attn())
    with pytest.raises(ValueError, match="time_steps"):
        Converter(recipe=TransformerTDEquivalentRecipe(time_steps=0)).convert(Attn())
    assert isinstance(Converter("transformer_td_equivalent").recipe, TransformerTDEquivalentRecipe)


class _CountingLoader(torch.utils.data.DataLoader):
    iterations = 0

    def __iter__(self):
        type(self).iterations += 1
        return super().__iter__()


def test_calibration_iterates_the_dataloader_once():
    """One pass over the calibration loader (tqdm.auto's asyncio bar called iter() twice: a shuffled loader drew its
    order twice, so SpikingJelly and sj calibrated on different batch orders under the same seed)."""
    data = torch.utils.data.TensorDataset(torch.rand(8, 1, 4, 4))
    loader = _CountingLoader(data, batch_size=4, shuffle=True)
    torch.manual_seed(0)
    _convert(_ann(), loader)
    assert _CountingLoader.iterations == 1


class _Masked(nn.Module):
    """Attention-like scores plus a static mask, and a second sequence input."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.out = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x, mask, y, causal):
        scores = torch.matmul(self.q(x), self.k(x).transpose(-1, -2)) + mask + causal  # [N, S, S]
        return self.out(torch.matmul(scores.softmax(-1), x) + y)


@pytest.mark.parametrize("N", [2, 4])  # N = T = 4: the mask's first dimension equals T
def test_td_recipe_takes_static_inputs_in_multi_step(N):
    """In step mode 'm' the first input is a sequence [T, N, *]; a further input is a sequence too when it is
    [T, N, *], else a static tensor: [N, *] is repeated for every step, another ([S, S]) broadcasts as in the ANN.
    The TD outputs summed over time equal the ANN on the summed sequences (float64: the TD softmax recombines terms
    of magnitude 1e4, which float32 would round)."""
    from sj.ann2snn import TransformerTDEquivalentRecipe

    torch.manual_seed(0)
    ann = _Masked().double().eval()
    snn = Converter(recipe=TransformerTDEquivalentRecipe(time_steps=4)).convert(ann)
    assert {"time_fold", "time_fold_static"} <= {n for n, _ in snn.named_modules()}
    functional.set_step_mode(snn, "m")
    x, y = torch.rand(4, N, 3, 4, dtype=torch.float64), torch.rand(4, N, 3, 4, dtype=torch.float64)
    mask = torch.where(torch.rand(N, 1, 3) > 0.3, 0.0, -1e4).double()
    causal = torch.triu(torch.full((3, 3), -1e4, dtype=torch.float64), 1)
    out = snn(x, mask, y, causal)
    assert out.shape == (4, N, 3, 2)
    torch.testing.assert_close(out.sum(0), ann(x.sum(0), mask, y.sum(0), causal), rtol=0, atol=1e-9)
