"""Backward of the fused op keeps only the H sequence (plus the initial states and parameters)."""

import torch

from sj import neuron


def saved_elements(fn) -> int:
    sizes: dict[int, int] = {}

    def pack(t):
        sizes[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes() // t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(sizes.values())


def test_lif_saves_h_and_initial_state_only():
    T, N = 16, 1000
    x = torch.rand(T, N, requires_grad=True)
    n = saved_elements(lambda: neuron.LIFNode(step_mode="m")(x))
    assert T * N <= n <= T * N + N + 8  # H, v_init (N) and three scalar parameters


def test_izhikevich_saves_h_and_w_sequences():
    T, N = 8, 500
    x = torch.rand(T, N, requires_grad=True)
    n = saved_elements(lambda: neuron.IzhikevichNode(step_mode="m")(x))
    assert 2 * T * N <= n <= 2 * T * N + 2 * N + 16


def test_inference_saves_nothing():
    x = torch.rand(8, 100)
    assert saved_elements(lambda: neuron.LIFNode(step_mode="m")(x)) == 0
