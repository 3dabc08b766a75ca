"""Child process of ``test_core_op_entry_checks.py``: the op-entry calls that once crashed a kernel or read out of
bounds, on each backend in ``argv[1]`` (comma-separated). Prints one JSON line per call: the clear error raised, or
whether the result equals the ``torch`` backend's."""

import json
import sys

import torch

import sj.neuron  # noqa: F401  (registers the built-in declarations)

CFG = ("lif", "Sigmoid", [4.0], False, False, False)
P = [torch.tensor(1.0), torch.tensor(0.0), torch.tensor(2.0)]


def fwd(backend, x, states, params, sparams=(4.0,), save=True):
    return torch.ops.sj.multistep_fwd(backend, "lif", "Sigmoid", list(sparams), False, False, False, save, x, states,
                                      params)


def bwd(backend, saved, x, states, params, grad_spike, grad_last=(None,)):
    return torch.ops.sj.multistep_bwd(backend, *CFG, saved, x, states, params, [True] * 3, grad_spike,
                                      list(grad_last), None)


def _saved(n=16, T=3):
    return fwd("torch", torch.rand(T, n, generator=torch.Generator().manual_seed(0)), [torch.zeros(n)], P)[3]


CASES = {
    # the call: a [1] state for 65536 neurons (the cpu kernel wrote past it: malloc(): unaligned tcache
    # chunk); 4096 under Triton's slow interpreter (which crashed from 1024)
    "state_of_one_element": lambda b: fwd(b, torch.randn(8, BIG[0], generator=torch.Generator().manual_seed(1)),
                                          [torch.zeros(1)], P, save=False),
    "float16_state": lambda b: fwd(b, torch.randn(8, 16), [torch.zeros(16, dtype=torch.float16)], P),
    "float64_parameter": lambda b: fwd(b, torch.randn(8, 16), [torch.zeros(16)],
                                       [torch.tensor(1.0, dtype=torch.float64), *P[1:]]),
    "parameter_of_wrong_size": lambda b: fwd(b, torch.randn(8, 16), [torch.zeros(16)], [*P[:2], torch.full((3,), 2.)]),
    "too_few_surrogate_params": lambda b: torch.ops.sj.multistep_fwd(
        b, "lif", "S2NN", [4.0], False, False, False, True, torch.randn(8, 16), [torch.zeros(16)], P),
    "gradient_of_wrong_shape": lambda b: bwd(b, _saved(), torch.empty(0), [torch.zeros(16)], P, torch.ones(3, 8)),
    "last_state_gradient_of_one_element": lambda b: bwd(b, _saved(), torch.empty(0), [torch.zeros(16)], P,
                                                        torch.ones(3, 16), [torch.ones(1)]),
    "nothing_saved": lambda b: bwd(b, [], torch.empty(0), [torch.zeros(16)], P, torch.ones(3, 16)),
    "saved_shorter_than_gradient": lambda b: bwd(b, [_saved()[0][:2]], torch.empty(0), [torch.zeros(16)], P,
                                                 torch.ones(3, 16)),
    # T = 0 and a single neuron: the triton kernel's backward read out of bounds (segmentation fault)
    "zero_steps_one_neuron": lambda b: bwd(b, [torch.empty(0)], torch.empty(0), [torch.zeros(())], P, torch.empty(0),
                                           [torch.ones(())]),
}


def _flat(out):
    return [t for o in out for t in (o if isinstance(o, (list, tuple)) else [o])]


BIG = [65536]
for backend in sys.argv[1].split(","):
    BIG[0] = 4096 if backend == "triton" else 65536
    for name, call in CASES.items():
        print(json.dumps({"backend": backend, "case": name, "started": True}), flush=True)
        try:
            got = _flat(call(backend))
        except (ValueError, TypeError, RuntimeError) as exc:
            print(json.dumps({"backend": backend, "case": name, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
            continue
        want = _flat(call("torch"))
        same = len(got) == len(want) and all(a.shape == b.shape and torch.allclose(a, b, atol=1e-6, equal_nan=True)
                                             for a, b in zip(got, want))
        print(json.dumps({"backend": backend, "case": name, "matches_torch": same}), flush=True)
