"""sj.encoding at every T and dtype, against closed forms evaluated with 60-digit decimals; NaN and wrong dtypes are
errors naming the encoder."""

from __future__ import annotations

from decimal import Decimal, getcontext

import pytest
import torch

from sj import encoding

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
X = [0.0, 1e-30, 0.0067, 0.05, 0.3, 0.37, 0.5, 0.9, 0.999, 1.0]


def _latency_reference(x: float, T: int, log: bool) -> int:
    """round half to even of (T−1)(1−x), or of T−1−ln(αx+1) with α = e^(T−1) − 1, in 60-digit decimals."""
    getcontext().prec = 60
    last, d = Decimal(T - 1), Decimal(x)
    t = last - ((last.exp() - 1) * d + 1).ln() if log else last * (1 - d)
    return int(t.to_integral_value())  # ROUND_HALF_EVEN, torch's rounding


@pytest.mark.parametrize("T", [1, 2, 7, 100, 1000])
@pytest.mark.parametrize("enc_function", ["linear", "log"])
def test_latency_spike_times_exact_at_every_T_and_dtype(T, enc_function):
    enc = encoding.LatencyEncoder(T, enc_function)  # T=1000 overflowed e^(T−1) even for the linear code
    for dtype in DTYPES:
        x = torch.tensor(X, dtype=dtype)
        expected = [_latency_reference(v, T, enc_function == "log") for v in x.double().tolist()]
        assert enc.spike_time(x).tolist() == expected, dtype
        code = enc.encode(x)
        assert code.dtype == dtype and code.shape == (T, len(X))
        assert code.sum(0).tolist() == [1.0] * len(X) and code.argmax(0).tolist() == expected


def test_latency_log_float32_matches_float64():
    """e^99 overflows float32: the log code gave every input spike time 0 in float32."""
    enc = encoding.LatencyEncoder(100, "log")
    x = torch.tensor([0.0067, 0.37])
    assert enc.spike_time(x).tolist() == enc.spike_time(x.double()).tolist() == [5, 1]


def test_weighted_phase_bits_independent_of_dtype():
    enc = encoding.WeightedPhaseEncoder(8)
    x64 = torch.tensor([0.0, 0.5, 0.3, 0.99609375, 0.1])
    for dtype in DTYPES:
        x = x64.to(dtype)
        bits = enc.encode(x)
        assert bits.dtype == dtype
        recon = sum(float(b) * 2.0 ** -(k + 1) for k, b in enumerate(bits[:, 2].tolist()))
        v = float(x[2].double())
        assert 0 <= v - recon < 2**-8  # the truncated binary expansion of the value in its dtype


def _encoders():
    return {
        "PoissonEncoder": (encoding.PoissonEncoder(), lambda e, x: e(x)),
        "LatencyEncoder": (encoding.LatencyEncoder(4), lambda e, x: e(x)),
        "WeightedPhaseEncoder": (encoding.WeightedPhaseEncoder(4), lambda e, x: e(x)),
        "PopEncoder": (encoding.PopEncoder(3, 2, 4, (0, 1), 0.5), lambda e, x: e(x)),
        "PopSpikeEncoderDeterministic": (encoding.PopSpikeEncoderDeterministic(3, 2, 4, (0, 1), 0.5),
                                         lambda e, x: e(x)),
        "PopSpikeEncoderRandom": (encoding.PopSpikeEncoderRandom(3, 2, 4, (0, 1), 0.5), lambda e, x: e(x)),
        "GaussianTuning": (encoding.GaussianTuning(3, 4, torch.zeros(3), torch.ones(3)), lambda e, x: e(x)),
    }


@pytest.mark.parametrize("name", sorted(_encoders()))
def test_nan_is_an_error_naming_the_encoder(name):
    enc, call = _encoders()[name]
    x = torch.full((2, 3), 0.25)
    x[1, 2] = float("nan")
    with pytest.raises(ValueError, match=f"{name}: input contains NaN"):
        call(enc, x)
    with pytest.raises(TypeError, match=f"{name}: input must be a floating-point tensor"):
        call(enc, torch.zeros(2, 3, dtype=torch.long))


@pytest.mark.parametrize("name,bad", [("PoissonEncoder", 1.5), ("LatencyEncoder", -0.1),
                                      ("WeightedPhaseEncoder", 0.99)])
def test_out_of_range_is_an_error(name, bad):
    enc, call = _encoders()[name]
    with pytest.raises(ValueError, match=f"{name}: input must be in"):
        call(enc, torch.tensor([[0.2, bad, 0.0]]))


def test_population_encoders_check_their_arguments():
    with pytest.raises(ValueError, match="std"):
        encoding.PopEncoder(3, 2, 4, (0, 1), 0.0)
    with pytest.raises(ValueError, match="spike_ts"):
        encoding.PopSpikeEncoderRandom(3, 2, 0, (0, 1), 0.5)
    with pytest.raises(ValueError, match="obs_dim=3"):
        encoding.PopEncoder(3, 2, 4, (0, 1), 0.5)(torch.zeros(2, 4))
