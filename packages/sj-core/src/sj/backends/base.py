"""The contract every multi-step backend implements.

A backend computes the forward and the backward-through-time of :func:`sj.ops.multistep` for the neurons and
surrogates it supports. Autograd wiring, validation and parameter-gradient reduction live in :mod:`sj.ops`; a backend
only fills tensors. Every caller's arguments are checked before a backend runs (:mod:`sj.ops.checks`, for direct
calls of the ops too), so all tensors a backend receives are dense, contiguous, on one device, of one floating dtype,
in these shapes:

- ``x_seq``: ``[T, *S]`` input current (``S`` is the neuron shape, e.g. ``[N, C, H, W]``), ``T >= 1`` (the ops
  compute ``T = 0`` themselves).
- ``state_init``: one ``[*S]`` tensor per state, ``v`` first, then the declaration's ``aux_states``.
- ``params``: one tensor per parameter in :attr:`sj.neuron.declaration.NeuronDecl.param_names` order
  (``v_threshold``, ``v_reset``, then the neuron's own); each has shape ``()`` or exactly ``S``.

Forward returns ``(spike_seq [T,*S], states_last [[*S]...], v_seq [T,*S] or None, saved)`` where ``saved`` is
``[h_seq, *aux_seqs]`` (each ``[T, *S]``: the charged potential H and the auxiliary states after each step) when
``save`` is true, else ``[]``. Backward receives the same config plus ``saved`` and the incoming gradients (an
absent gradient of a last state is ``None``, meaning zero: no ``[*S]`` zeros are made for the usual case of a last
state nothing used) and returns
``(grad_x [T,*S], grad_state_init [[*S]...], grad_params)`` where ``grad_params[i]`` is ``None`` unless
``params_need_grad[i]``, else a tensor summed over time, of shape ``S`` (the caller reduces it to the parameter's
shape) or already of the parameter's shape (a backend may sum a 0-d parameter's gradient over the neurons itself).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from sj.ops.spec import MultiStepSpec

Tensor = torch.Tensor


@lru_cache(maxsize=512)
def shared_constant(value: float | tuple[float, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
    """A read-only constant made once per value, dtype and device and shared by every call: 0-d for a number, 1-d
    for a tuple (an empty tuple gives ``[0.]``, so a kernel always gets a valid pointer).

    Made per call, a constant costs an allocation and, on a GPU, a host-to-device copy from pageable memory, which
    waits for the stream. Made outside inference mode, so autograd graphs recorded later may save it. Never write
    into it, and make it only from real eager code (under FakeTensorMode it would be fake, and stay cached).
    """
    with torch.inference_mode(False):
        if isinstance(value, tuple):
            return torch.tensor(list(value) or [0.0], dtype=dtype, device=device)
        return torch.tensor(value, dtype=dtype, device=device)


@dataclass
class BackwardInputs:
    """Everything the backward pass of one multi-step call receives (see module docstring for shapes)."""

    saved: list[Tensor]
    x_seq: Tensor
    state_init: list[Tensor]
    params: list[Tensor]
    params_need_grad: list[bool]
    grad_spike: Tensor
    grad_states_last: list[Tensor | None]
    grad_v_seq: Tensor | None

    def dense_grad_states_last(self) -> list[Tensor]:
        """``grad_states_last`` with every absent (``None``) gradient as zeros of the neuron shape, for kernels that
        read one tensor per state."""
        h = self.saved[0]
        return [g if g is not None else h.new_zeros(h.shape[1:]) for g in self.grad_states_last]


class Backend(ABC):
    """A multi-step neuron backend. Subclass it, return an instance from the ``sj_backends`` hook.

    ``name`` is what users pass as ``backend=``. ``availability()`` says why the backend cannot run at all in this
    process (``None`` when it can); ``supports()`` says why it cannot run one configuration (``None`` when it can).
    Both return human-readable reasons: they are printed by ``sj backends`` and raised by ``set_backend``.

    When no backend is named (``backend="auto"``, the default), each call runs on the available backend of highest
    ``priority`` that supports it and has no ``default_reason`` against it (:func:`sj.backends.registry.resolve`):
    a fixed order by capability, never by timing. The reference ``torch`` backend has priority 0 and supports
    everything; a plug-in whose kernels are faster sets a higher one.
    """

    name: str = ""
    description: str = ""
    priority: int = 0

    def availability(self) -> str | None:
        return None

    def default_reason(self, spec: MultiStepSpec, device: torch.device, dtype: torch.dtype) -> str | None:
        """Why this backend, though it supports the configuration, should not run it when no backend is named (e.g.
        its kernels would have to be compiled and cannot be, or it runs in a testing mode); ``None`` when it may.
        Optional."""
        return None

    def details(self) -> str:
        """Extra one-line information for ``sj backends`` (versions, devices). Optional."""
        return ""

    @abstractmethod
    def supports(self, spec: MultiStepSpec, device: torch.device, dtype: torch.dtype) -> str | None:
        """``None`` if this configuration runs here, else the reason it does not."""

    @abstractmethod
    def forward(self, spec: MultiStepSpec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor],
                save: bool) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        """Run the multi-step forward; see the module docstring for the returned tuple."""

    @abstractmethod
    def backward(self, spec: MultiStepSpec, inputs: BackwardInputs
                 ) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        """Run backward through time; see the module docstring for the returned tuple."""
