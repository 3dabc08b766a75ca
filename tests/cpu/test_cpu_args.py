"""The packed kernel arguments read back, through the ctypes struct layouts, as exactly the values packed: every field
in its place, arrays of the right lengths, NULL where a tensor is absent, one buffer per thread."""

import threading

import pytest
import torch

from sj.cpu import args


def _tensors(k: int, n: int = 8) -> list[torch.Tensor]:
    return [torch.zeros(n) for _ in range(k)]


def _ptrs(array, k: int) -> list[int]:
    return [array[i] or 0 for i in range(k)]


@pytest.mark.parametrize("n_states,n_params", [(1, 2), (1, 3), (2, 5)])
@pytest.mark.parametrize("save", [False, True])
def test_forward_fields_read_back(n_states, n_params, save):
    x, spike, v_seq = _tensors(3)
    states, last, saved = _tensors(n_states), _tensors(n_states), _tensors(n_states)
    params = [torch.tensor(1.0) if i % 2 else torch.zeros(8) for i in range(n_params)]
    address = args.forward(5, 8, x, states, params, spike, last, v_seq if save else None, saved if save else None)
    a = args.FwdArgs.from_address(address)
    assert (a.T, a.N, a.x, a.spike) == (5, 8, x.data_ptr(), spike.data_ptr())
    assert _ptrs(a.state_init, n_states) == [s.data_ptr() for s in states]
    assert _ptrs(a.params, n_params) == [p.data_ptr() for p in params]
    assert [a.param_strides[i] for i in range(n_params)] == [i % 2 == 0 for i in range(n_params)]
    assert _ptrs(a.states_last, n_states) == [s.data_ptr() for s in last]
    if save:
        assert a.v_seq == v_seq.data_ptr()
        assert _ptrs(a.saved, n_states) == [s.data_ptr() for s in saved]
    else:
        assert a.v_seq is None and not a.saved  # NULL pointers: the kernel neither stores V nor saves


@pytest.mark.parametrize("n_states,n_params", [(1, 2), (2, 4)])
def test_backward_fields_read_back(n_states, n_params):
    x, sparams, grad_spike, grad_v_seq, grad_x = _tensors(5)
    saved, states, grad_last, grad_init = (_tensors(n_states) for _ in range(4))
    params = [torch.zeros(8) for _ in range(n_params)]
    grad_params = [torch.zeros(8) if i == n_params - 1 else None for i in range(n_params)]
    x = x if n_states > 1 else None  # a program that does not read x gets NULL
    address = args.backward(3, 8, saved, x, states, params, sparams, grad_spike, grad_last, grad_v_seq, grad_x,
                            grad_init, grad_params)
    a = args.BwdArgs.from_address(address)
    assert (a.T, a.N, a.x, a.sparams, a.grad_spike, a.grad_v_seq, a.grad_x) == (
        3, 8, x.data_ptr() if x is not None else None, sparams.data_ptr(), grad_spike.data_ptr(),
        grad_v_seq.data_ptr(), grad_x.data_ptr())
    assert _ptrs(a.saved, n_states) == [s.data_ptr() for s in saved]
    assert _ptrs(a.state_init, n_states) == [s.data_ptr() for s in states]
    assert _ptrs(a.params, n_params) == [p.data_ptr() for p in params]
    assert [a.param_strides[i] for i in range(n_params)] == [1] * n_params
    assert _ptrs(a.grad_states_last, n_states) == [g.data_ptr() for g in grad_last]
    assert _ptrs(a.grad_state_init, n_states) == [g.data_ptr() for g in grad_init]
    assert _ptrs(a.grad_params, n_params) == [0] * (n_params - 1) + [grad_params[-1].data_ptr()]


def test_each_thread_packs_into_its_own_buffer():
    x = torch.zeros(4)
    one = [torch.zeros(4)]
    here = args.forward(1, 4, x, one, one, x, one, None, None)
    there: list[int] = []
    worker = threading.Thread(target=lambda: there.append(args.forward(1, 4, x, one, one, x, one, None, None)))
    worker.start()
    worker.join()
    assert there[0] != here
    assert args.forward(1, 4, x, one, one, x, one, None, None) == here  # reused within a thread


def test_a_parameter_of_another_shape_is_refused():
    x = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="parameter 1 has shape \\(2,\\)"):
        args.forward(2, 4, x, [torch.zeros(4)], [torch.tensor(1.0), torch.zeros(2)], x, [torch.zeros(4)], None, None)
    with pytest.raises(ValueError, match="contiguous tensor of 4 elements"):
        args.param_strides([torch.zeros(8)[::2]], 4)
