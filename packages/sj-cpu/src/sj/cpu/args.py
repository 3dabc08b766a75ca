"""Kernel arguments, packed into one reusable word buffer per thread and layout.

Every kernel takes a pointer to an argument struct (:class:`FwdArgs`, :class:`BwdArgs`; C: ``sj_fwd_args_*``,
``sj_bwd_args_*`` in :mod:`sj.cpu.codegen`) made of 8-byte words only — int64 sizes and pointers — several of which
point to short arrays of pointers. Building that from ctypes objects on every call (a struct and up to seven arrays)
cost more than the kernel itself at small sizes. Here each thread keeps, per layout (struct, number of states,
number of params), one int64 buffer holding the struct followed by its arrays, with the struct's array addresses
set once; a call writes only the values. Per thread, because a kernel runs with the GIL released while another
thread may pack its own call.
"""

from __future__ import annotations

import ctypes
import threading

import torch

_WORD = 8
_PTR = ctypes.c_void_p
_PTRS = ctypes.POINTER(ctypes.c_void_p)
_I64S = ctypes.POINTER(ctypes.c_int64)

if ctypes.sizeof(_PTR) != _WORD:  # the packed layout below is one word per field
    raise ImportError("sj-cpu needs a 64-bit platform (pointers of 8 bytes)")


class FwdArgs(ctypes.Structure):
    """Layout of the forward kernels' argument struct (field order is the C struct's)."""

    _fields_ = [("T", ctypes.c_int64), ("N", ctypes.c_int64), ("x", _PTR), ("state_init", _PTRS),
                ("params", _PTRS), ("param_strides", _I64S), ("spike", _PTR), ("states_last", _PTRS),
                ("v_seq", _PTR), ("saved", _PTRS)]


class BwdArgs(ctypes.Structure):
    """Layout of the backward kernels' argument struct (field order is the C struct's)."""

    _fields_ = [("T", ctypes.c_int64), ("N", ctypes.c_int64), ("saved", _PTRS), ("x", _PTR), ("state_init", _PTRS),
                ("params", _PTRS), ("param_strides", _I64S), ("sparams", _PTR), ("grad_spike", _PTR),
                ("grad_states_last", _PTRS), ("grad_v_seq", _PTR), ("grad_x", _PTR), ("grad_state_init", _PTRS),
                ("grad_params", _PTRS)]


# Which struct fields are arrays, and their lengths in states ("s") or params ("p"), in field order; the buffer
# holds them in this order after the struct.
_ARRAYS = {
    FwdArgs: (("state_init", "s"), ("params", "p"), ("param_strides", "p"), ("states_last", "s"), ("saved", "s")),
    BwdArgs: (("saved", "s"), ("state_init", "s"), ("params", "p"), ("param_strides", "p"),
              ("grad_states_last", "s"), ("grad_state_init", "s"), ("grad_params", "p")),
}


class _Buffer:
    """The words of one struct and its arrays, and the addresses of those arrays."""

    __slots__ = ("address", "arrays", "words")

    def __init__(self, struct: type[ctypes.Structure], n_states: int, n_params: int) -> None:
        fields = len(struct._fields_)
        lengths = [n_states if kind == "s" else n_params for _, kind in _ARRAYS[struct]]
        self.words = (ctypes.c_int64 * (fields + sum(lengths)))()
        self.address = ctypes.addressof(self.words)
        self.arrays: dict[str, int] = {}
        at = fields
        for (name, _), n in zip(_ARRAYS[struct], lengths):
            self.arrays[name] = self.address + at * _WORD
            at += n


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.buffers: dict[tuple, _Buffer] = {}


_local = _PerThread()


def _buffer(struct: type[ctypes.Structure], n_states: int, n_params: int) -> _Buffer:
    key = (struct, n_states, n_params)
    buf = _local.buffers.get(key)
    if buf is None:
        buf = _local.buffers[key] = _Buffer(struct, n_states, n_params)
    return buf


def _addr(t: torch.Tensor | None) -> int:
    return 0 if t is None else t.data_ptr()


def param_strides(params: list[torch.Tensor], numel: int) -> list[int]:
    """Per parameter: 0 for a 0-d tensor (one value for every neuron), 1 for a contiguous tensor of ``numel``."""
    out = []
    for i, p in enumerate(params):
        if p.dim() == 0:
            out.append(0)
        elif p.numel() == numel and p.is_contiguous():
            out.append(1)
        else:
            raise ValueError(f"parameter {i} has shape {tuple(p.shape)}; the cpu backend takes a 0-d tensor or a "
                             f"contiguous tensor of {numel} elements (the neuron shape)")
    return out


def forward(T: int, N: int, x: torch.Tensor, states: list[torch.Tensor], params: list[torch.Tensor],
            spike: torch.Tensor, last: list[torch.Tensor], v_seq: torch.Tensor | None,
            saved: list[torch.Tensor] | None) -> int:
    """Address of this thread's packed :class:`FwdArgs` for one call (valid until its next forward call)."""
    b = _buffer(FwdArgs, len(states), len(params))
    a = b.arrays
    b.words[:] = [T, N, x.data_ptr(), a["state_init"], a["params"], a["param_strides"], spike.data_ptr(),
                  a["states_last"], _addr(v_seq), a["saved"] if saved is not None else 0,
                  *[s.data_ptr() for s in states], *[p.data_ptr() for p in params], *param_strides(params, N),
                  *[s.data_ptr() for s in last], *([s.data_ptr() for s in saved] if saved is not None else
                                                   [0] * len(states))]
    return b.address


def backward(T: int, N: int, saved: list[torch.Tensor], x: torch.Tensor | None, states: list[torch.Tensor],
             params: list[torch.Tensor], sparams: torch.Tensor, grad_spike: torch.Tensor,
             grad_last: list[torch.Tensor | None], grad_v_seq: torch.Tensor | None, grad_x: torch.Tensor,
             grad_init: list[torch.Tensor], grad_params: list[torch.Tensor | None]) -> int:
    """Address of this thread's packed :class:`BwdArgs` for one call (valid until its next backward call)."""
    b = _buffer(BwdArgs, len(states), len(params))
    a = b.arrays
    b.words[:] = [T, N, a["saved"], _addr(x), a["state_init"], a["params"], a["param_strides"], sparams.data_ptr(),
                  grad_spike.data_ptr(), a["grad_states_last"], _addr(grad_v_seq), grad_x.data_ptr(),
                  a["grad_state_init"], a["grad_params"],
                  *[s.data_ptr() for s in saved], *[s.data_ptr() for s in states], *[p.data_ptr() for p in params],
                  *param_strides(params, N), *[_addr(g) for g in grad_last], *[g.data_ptr() for g in grad_init],
                  *[_addr(g) for g in grad_params]]
    return b.address
