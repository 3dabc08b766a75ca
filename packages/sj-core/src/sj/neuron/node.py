"""The stateful neuron module shared by every spiking neuron.

A neuron runs one of three ways (chosen once per instance, see :meth:`BaseNode.path`):

- **declared** (every built-in recurrence): a :class:`~sj.neuron.declaration.NeuronDecl` defines the step; single-step
  mode calls the generated torch step function, multi-step mode the fused multi-step op on ``backend``;
- **charge**: a subclass outside sj overrides ``neuronal_charge`` (or ``neuronal_fire`` / ``neuronal_reset``), as
  SpikingJelly code does; the step runs in Python, charge → fire → reset, the declaration supplying the stages that are
  not overridden (torch autograd differentiates it, in both step modes);
- **functional**: SpikingJelly 2.0's explicit-state protocol: the class implements ``single_step_functional_forward``
  (and optionally ``multi_step_functional_forward``); built-in neurons that are not a declared recurrence use it too.

A declared neuron holds its parameters as tensors (numbers or per-neuron tensors broadcastable to the neuron shape;
learnable ones as ``nn.Parameter``, the rest as buffers that follow ``.to()`` and ``state_dict``). The buffers and the
``_extra_state`` entry are optional when loading a checkpoint: SpikingJelly keeps these values as plain attributes, so
its checkpoints do not have them (the constructor's values stay). Every value is validated when it is set, whether by
the constructor, by assignment (``node.tau = 3.0``) or by ``load_state_dict``.

A neuron built with SpikingJelly's signature ``BaseNode(v_threshold, v_reset, surrogate_function, detach_reset,
step_mode, store_v_seq)`` (no declaration) keeps those as plain attributes, as SpikingJelly does, and needs a subclass
that defines its step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from sj.backends.torch_codegen import step_fns
from sj.base import MemoryModule, StateShapeError, StepModeError, check_finite_enabled, check_state_recordable
from sj.neuron.declaration import NeuronDecl
from sj.neuron.stages import stage_fns
from sj.ops import MultiStepSpec, multistep
from sj.ops.multistep import _plain_eager
from sj.surrogate import Sigmoid, SurrogateFunction

_EXTRA_STATE_FORMAT = 1
_STAGES = ("neuronal_charge", "neuronal_fire", "neuronal_reset")
_FUNCTIONAL = ("single_step_functional_forward", "multi_step_functional_forward")

Number = int | float
ParamValue = Number | torch.Tensor
# (low, high, closed): the values a parameter may take; None for no limit; closed=False excludes the ends
Bound = tuple[float | None, float | None, bool]
ABOVE_ONE: Bound = (1.0, None, False)  # time constants in steps: tau > 1 keeps forward Euler stable (SJ asserts it)
POSITIVE: Bound = (0.0, None, False)
FRACTION: Bound = (0.0, 1.0, True)


def _as_param(owner: str, name: str, value: ParamValue, bound: Bound | None = None,
              allow_inf: bool = False) -> torch.Tensor:
    """Validate a parameter (number or tensor) and return it as a float tensor (0-d for numbers).

    Values are checked for numbers and for tensors with data; a meta tensor (no data, e.g. a model built under
    ``torch.device("meta")`` to count parameters) has none to check.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(f"{owner}: {name} must be a number or a tensor, got {type(value).__name__}")
    if not isinstance(value, torch.Tensor):  # checked on the CPU: under torch.device("meta") numbers still are
        _check_values(owner, name, torch.tensor(float(value), device="cpu"), value, bound, allow_inf)
        return torch.tensor(float(value))
    t = value.detach()
    if not t.dtype.is_floating_point:
        t = t.to(torch.get_default_dtype())
    if t.device.type != "meta":
        _check_values(owner, name, t, value, bound, allow_inf)
    return t


def _check_values(owner: str, name: str, t: torch.Tensor, value: ParamValue, bound: Bound | None,
                  allow_inf: bool) -> None:
    shown = value if not isinstance(value, torch.Tensor) or t.dim() == 0 else f"a tensor {tuple(t.shape)}"
    if torch.isnan(t).any():
        raise ValueError(f"{owner}: {name} must not be NaN, got {shown}")
    if bound is not None:
        low, high, closed = bound
        ok = torch.ones_like(t, dtype=torch.bool)
        if low is not None:
            ok &= (t >= low) if closed else (t > low)
        if high is not None:
            ok &= (t <= high) if closed else (t < high)
        if not ok.all():
            bad = t[~ok].flatten()[0].item() if t.dim() else t.item()
            if high is None:
                rule = f"{'>=' if closed else '>'} {low}"
            elif low is None:
                rule = f"{'<=' if closed else '<'} {high}"
            else:
                rule = f"in {'[' if closed else '('}{low}, {high}{']' if closed else ')'}"
            raise ValueError(f"{owner}: {name} must be {rule}, got {bad}")
    if not allow_inf and not torch.isfinite(t).all():
        raise ValueError(f"{owner}: {name} must be finite, got {shown}")


def _own_code(fn) -> bool:
    """Whether ``fn`` (a method) is sj's own neuron code rather than a user's override."""
    return getattr(fn, "__module__", "").startswith("sj.")


class BaseNode(MemoryModule):
    """A spiking neuron: ``BaseNode(decl, params, ...)`` (declared), or SpikingJelly's ``BaseNode(v_threshold,
    v_reset, surrogate_function, detach_reset, step_mode, store_v_seq)`` for a subclass that defines its own step
    (those arguments then mean what they mean below, kept as plain attributes).

    Args:
        decl: the dynamics (:func:`~sj.neuron.declaration.declare`).
        params: the declaration's own parameter values (numbers or tensors broadcastable to the neuron shape).
        learnable: names in ``params`` that become ``nn.Parameter``.
        v_threshold: firing threshold (default 1.0).
        v_reset: reset potential for hard reset; ``None`` selects soft reset (V ← H − V_th·S).
        surrogate_function: an :class:`sj.surrogate.SurrogateFunction`; ``None`` builds a fresh default per neuron.
        detach_reset: detach the spike inside the reset.
        step_mode: ``'s'`` (input ``[N, *]``) or ``'m'`` (input ``[T, N, *]``).
        backend: multi-step backend name (``sj backends``); ``"auto"`` (the default, as SpikingJelly 2.0 picks its
            kernels itself): the fastest installed backend that supports the neuron on its device and dtype, by a
            fixed order (:func:`sj.backends.registry.resolve`). Single-step mode always runs the torch step function.
        store_v_seq: keep ``v_seq`` ``[T, N, *]`` (V after every step): in ``'m'`` of the last call, in ``'s'``
            appended step by step until :meth:`reset` (each step copies the sequence: for monitoring).
        aux_init: initial values of the declaration's aux states (default 0).
        bounds: ``name → (low, high, closed)``, the values a parameter may take.
        lower_bounds: ``name → low``, the shorthand for ``(low, None, False)`` (the value must exceed ``low``).
        v_init: where the membrane starts after a reset (default: ``v_reset``, 0 for soft reset).
    """

    default_surrogate: Callable[[], SurrogateFunction] = Sigmoid

    def __init__(self, *args, **kwargs) -> None:
        if (args and isinstance(args[0], NeuronDecl)) or "decl" in kwargs:
            self._init_declared(*args, **kwargs)
        else:
            self._init_sj2(*args, **kwargs)

    def _init_common(self, surrogate_function, detach_reset: bool, step_mode: str, store_v_seq: bool) -> None:
        super().__init__(step_mode)
        if surrogate_function is None:
            surrogate_function = self.default_surrogate()
        if not callable(surrogate_function):
            raise TypeError(f"{type(self).__name__}: surrogate_function must be callable, got "
                            f"{type(surrogate_function).__name__}")
        self.surrogate_function = surrogate_function
        self.detach_reset = bool(detach_reset)
        self.v_seq = None
        self.store_v_seq = store_v_seq
        self.backend = "auto"

    def _init_declared(self, decl: NeuronDecl, params: dict[str, ParamValue], *, learnable: tuple[str, ...] = (),
                       v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0,
                       surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                       step_mode: str = "s", backend: str = "auto", store_v_seq: bool = False,
                       aux_init: dict[str, float] | None = None, bounds: dict[str, Bound] | None = None,
                       lower_bounds: dict[str, float] | None = None, v_init: float | None = None) -> None:
        self._init_common(surrogate_function, detach_reset, step_mode, store_v_seq)
        owner = type(self).__name__
        if not isinstance(self.surrogate_function, SurrogateFunction):
            raise TypeError(f"{owner}: surrogate_function must be an sj.surrogate.SurrogateFunction (the multi-step "
                            f"kernels are generated from its declaration), got {type(surrogate_function).__name__}")
        self.decl = decl
        self.backend = backend
        self._bounds = {**{n: (low, None, False) for n, low in (lower_bounds or {}).items()}, **(bounds or {})}
        values = {"v_threshold": v_threshold, "v_reset": v_reset, **params}
        missing = set(decl.param_names) - set(values)
        if missing:
            raise ValueError(f"{owner}: missing parameters {sorted(missing)}")
        self.register_buffer("_zero", torch.tensor(0.0), persistent=False)  # V_reset of the op in soft reset
        for name in decl.param_names:
            if name == "v_reset" and v_reset is None:
                self.register_buffer("v_reset", None)
                continue
            t = _as_param(owner, name, values[name], self._bounds.get(name), allow_inf=name == "v_threshold")
            if name in learnable:
                setattr(self, name, nn.Parameter(t))
            else:
                self.register_buffer(name, t)
        # v starts at v_init, else v_reset (0 for soft reset); a per-neuron v_reset is expanded on first use (None)
        v0 = v_init if v_init is not None else (0.0 if v_reset is None else v_reset)
        self.register_memory("v", None if isinstance(v0, torch.Tensor) and v0.dim() > 0 else float(v0))
        for a in decl.aux_states:
            self.register_memory(a, float((aux_init or {}).get(a, 0.0)))
        # name -> ((shape, dtype, device, value), tensor): initial states the multi-step op reuses (see _states)
        self._state_fills: dict[str, tuple[tuple, torch.Tensor]] = {}
        self._param_names = frozenset(decl.param_names)  # from now on, assignments to these are validated

    def _init_sj2(self, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                  surrogate_function: Callable | None = None, detach_reset: bool = False, step_mode: str = "s",
                  store_v_seq: bool = False) -> None:
        self._init_common(surrogate_function, detach_reset, step_mode, store_v_seq)
        self.decl = None
        self.v_threshold = v_threshold
        self.v_reset = v_reset
        self.register_memory("v", 0.0 if v_reset is None else v_reset)

    # ------------------------------------------------------------------------------------------------ attributes
    @property
    def soft_reset(self) -> bool:
        """Whether the reset subtracts the threshold (``v_reset is None``)."""
        buffers = self.__dict__["_buffers"]  # read on every call: a buffer without nn.Module.__getattr__ (~1 µs)
        return (buffers["v_reset"] if "v_reset" in buffers else self.v_reset) is None

    @soft_reset.setter
    def soft_reset(self, soft: bool) -> None:
        if soft:
            self.v_reset = None
        elif self.v_reset is None:
            self.v_reset = 0.0

    @property
    def store_v_seq(self) -> bool:
        return self._store_v_seq

    @store_v_seq.setter
    def store_v_seq(self, value: bool) -> None:
        self._store_v_seq = bool(value)
        self.v_seq = None

    def _set_attribute(self, name: str, value) -> None:
        names = self.__dict__.get("_param_names")
        if names is not None and name in names:
            self._set_param(name, value)
        else:
            super()._set_attribute(name, value)

    def _set_param(self, name: str, value) -> None:
        """Assign a declared parameter: validated like the constructor's; the tensor keeps the module's device."""
        owner = type(self).__name__
        if name == "v_reset" and value is None:  # soft reset; the membrane starts at 0 after the next reset
            self._buffers["v_reset"] = None
            self.set_reset_value("v", 0.0)
            return
        t = _as_param(owner, name, value, self._bounds.get(name), allow_inf=name == "v_threshold")
        param = self._parameters.get(name)
        if param is not None:
            if isinstance(value, nn.Parameter):
                nn.Module.__setattr__(self, name, value)
            elif t.shape == param.shape:
                with torch.no_grad():
                    param.copy_(t)
            else:
                raise ValueError(f"{owner}: {name} is a learnable parameter of shape {tuple(param.shape)}; assign a "
                                 f"value of that shape or a new nn.Parameter, got shape {tuple(t.shape)}")
            return
        self._buffers[name] = t.to(self._zero.device)
        if name == "v_reset":
            self.set_reset_value("v", None if t.dim() > 0 else float(t))

    # ------------------------------------------------------------------------------------------------ helpers
    def spec(self) -> MultiStepSpec:
        """The multi-step configuration of this (declared) neuron."""
        sg = self.surrogate_function
        return MultiStepSpec(self.decl.name, sg.name, sg.param_values, self.soft_reset, self.detach_reset,
                             self.store_v_seq)

    def _params(self, like: torch.Tensor) -> list[torch.Tensor]:
        # Straight from the parameter/buffer dicts: nn.Module.__getattr__ costs a microsecond per name and call.
        found = {**self._buffers, **self._parameters}
        dtype = like.dtype
        out = []
        for n in self.decl.param_names:
            t = found.get(n)
            if t is None:
                t = found["_zero"] if n == "v_reset" else getattr(self, n)  # soft reset; else kept elsewhere
            out.append(t if t.dtype == dtype else t.to(dtype))
        return out

    def _states(self, shape: torch.Size, dtype: torch.dtype, device: torch.device, reuse: bool = False,
                values: dict | None = None) -> list[torch.Tensor]:
        """Current declared states as tensors of one step's ``shape`` (checking the batch shape), ``dtype`` and
        ``device``.

        Shape, dtype and device rather than a step of the input: indexing a step out of a sequence that requires
        grad would record an autograd node on every call. ``reuse``: a state still at its reset number comes as a
        tensor kept from an earlier call (for the multi-step op, which only reads initial states): a fresh one costs
        an allocation and a fill per call, and at N = 2^20 the fill of new memory alone takes longer than a pass over
        it. Kept only in plain eager mode (a tensor made while tracing must not outlive the trace). ``values``: the
        states to read instead of the memories (name → value)."""
        out = []
        # not getattr: nn.Module's attribute lookup fails over to __getattr__ (~1 µs)
        memories = self._memories if values is None else values
        for name in self.decl.state_names:
            value = memories[name]
            if isinstance(value, torch.Tensor):
                if value.device != device:
                    raise ValueError(f"{type(self).__name__}: state {name!r} is on device {value.device} but the input "
                                     f"is on device {device}; move the module with .to() or call reset_net")
                if value.shape != shape:
                    raise StateShapeError(
                        f"{type(self).__name__}: state {name!r} has shape {tuple(value.shape)} from the previous call"
                        f" but this input step has shape {tuple(shape)}; call sj.functional.reset_net(net) "
                        "before feeding a new sequence or batch size")
                out.append(value if value.dtype == dtype else value.to(dtype))
            elif value is None:  # per-neuron v_reset: start from it
                out.append(self.v_reset.to(dtype).expand(shape).clone())
            else:
                out.append(self._filled(name, shape, dtype, device, float(value), reuse))
        return out

    def _filled(self, name: str, shape: torch.Size, dtype: torch.dtype, device: torch.device, value: float,
                reuse: bool) -> torch.Tensor:
        if not (reuse and _plain_eager()):
            return torch.full(shape, value, dtype=dtype, device=device)
        key = (shape, dtype, device, value)
        hit = self._state_fills.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        # made outside inference mode, as shared constants are: a fill kept from an evaluation under
        # torch.inference_mode() would otherwise reach the next training call, which autograd cannot record
        with torch.inference_mode(False):
            t = torch.full(shape, value, dtype=dtype, device=device)
        self._state_fills[name] = (key, t)
        return t

    def _check_rank(self, x: torch.Tensor, multi: bool) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a torch.Tensor, got {type(x).__name__}")
        if multi and x.dim() >= 1 and x.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}: the input sequence has 0 time steps; need T >= 1")
        if multi and x.dim() < 2:
            raise StepModeError(f"{type(self).__name__} in step_mode='m' needs input [T, N, *], got shape "
                                f"{tuple(x.shape)}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"{type(self).__name__}: input must be floating point, got {x.dtype}")
        if check_finite_enabled() and not torch.compiler.is_compiling():
            bad = ~torch.isfinite(x)
            if bad.any():
                idx = tuple(int(i) for i in bad.nonzero()[0])
                raise ValueError(f"{type(self).__name__}: input contains {int(bad.sum())} non-finite value(s); "
                                 f"first at index {idx}: {x[idx].item()} (sj.base.set_check_finite is on)")

    def _check_recordable(self, states: list[torch.Tensor], x: torch.Tensor, params: list[torch.Tensor]) -> None:
        # the checks inline first: this runs on every call (skipped while torch.compile traces: Dynamo cannot trace
        # is_inference)
        if torch.is_grad_enabled() and not torch.compiler.is_compiling():
            for name, value in zip(self.decl.state_names, states):
                if value.is_inference():
                    check_state_recordable(type(self).__name__, name, value, x, *params)

    # ------------------------------------------------------------------------------------------------ dispatch
    def runs_functionally(self) -> bool:
        """Every path but ``'charge'``: a subclass overriding ``neuronal_charge`` runs only through ``forward``."""
        return self.path() != "charge"

    def path(self) -> str:
        """How this neuron runs: ``'declared'``, ``'charge'`` or ``'functional'`` (module docstring)."""
        found = self.__dict__.get("_path")
        if found is None:
            cls = type(self)
            user = lambda names: any(not _own_code(getattr(cls, n)) for n in names)  # noqa: E731
            if user(_FUNCTIONAL):
                found = "functional"
            elif user(_STAGES):
                found = "charge"
            else:
                found = "declared" if self.decl is not None else "functional"
            self.__dict__["_path"] = found
        return found

    def single_step_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """One step: ``x`` ``[N, *]`` → spikes ``[N, *]``; updates ``v`` (and the other states)."""
        path = self.path()
        if path == "declared":
            out = self.advance(x)[0]
        elif path == "charge":
            out = self._staged_step(x)
        else:
            self._check_rank(x, multi=False)
            out = self._run_functional((x, *args), kwargs, multi=False)
        if self._store_v_seq:
            self._append_v_seq()
        return out

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        """``x_seq`` ``[T, N, *]`` → spikes ``[T, N, *]``: a declared neuron through the fused multi-step op on
        ``self.backend``, any other step by step."""
        path = self.path()
        self._check_rank(x_seq, multi=True)
        if path == "declared":
            return self._declared_multi_step(x_seq)
        if path == "functional" and not self._store_v_seq:
            return self._run_functional((x_seq, *args), kwargs, multi=True)
        outs, vs = [], []
        for t, x in enumerate(x_seq):
            if path == "charge":
                outs.append(self._staged_step(x))
            else:
                outs.append(self._run_functional((x, *(a[t] for a in args)), kwargs, multi=False))
            v = self._v_seq_source()
            if self._store_v_seq and isinstance(v, torch.Tensor):
                vs.append(v)
        if self._store_v_seq:
            self.v_seq = torch.stack(vs) if vs else None
        if isinstance(outs[0], tuple | list):
            return tuple(torch.stack(seq) for seq in zip(*outs, strict=True))
        return torch.stack(outs)

    def _v_seq_source(self):
        """The voltage ``store_v_seq`` records after a step (a subclass keeping it elsewhere overrides this)."""
        return self._memories.get("v")

    def _append_v_seq(self) -> None:
        v = self._v_seq_source()
        if not isinstance(v, torch.Tensor):
            return
        seq = self.v_seq
        if seq is None or seq.shape[1:] != v.shape or seq.device != v.device or seq.dtype != v.dtype:
            self.v_seq = v.unsqueeze(0).clone()
        else:
            self.v_seq = torch.cat((seq, v.unsqueeze(0)))

    def reset(self) -> None:
        super().reset()
        self.v_seq = None

    def detach(self) -> None:
        super().detach()
        if isinstance(self.v_seq, torch.Tensor):
            self.v_seq = self.v_seq.detach()

    # ------------------------------------------------------------------------------------------------ declared
    def advance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One differentiable step of the declaration's step function: updates the states, returns ``(spike, h)``."""
        self._check_rank(x, multi=False)
        states = self._states(x.shape, x.dtype, x.device)
        params = self._params(x)
        self._check_recordable(states, x, params)
        s, *new, h = step_fns(self.spec())["autograd_step"](x, *states, *params, self.surrogate_function)
        for name, value in zip(self.decl.state_names, new):
            setattr(self, name, value)
        return s, h

    def _declared_multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        states = self._states(x_seq.shape[1:], x_seq.dtype, x_seq.device, reuse=True)
        params = self._params(x_seq)
        self._check_recordable(states, x_seq, params)
        sg = self._modules.get("surrogate_function")  # the submodule without nn.Module.__getattr__ (a microsecond)
        if sg is None:
            sg = self.surrogate_function
        spike, last, v_seq = multistep(self.decl.name, x_seq, states, params, surrogate=sg.name,
                                       surrogate_params=sg.param_values, soft_reset=self.soft_reset,
                                       detach_reset=self.detach_reset, store_v_seq=self._store_v_seq,
                                       backend=self.backend)
        for name, value in zip(self.decl.state_names, last):
            setattr(self, name, value)
        if self._store_v_seq:
            self.v_seq = v_seq
        return spike

    # ------------------------------------------------------------------------------- SpikingJelly 2.0's protocol
    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        """The states a call starts from: the membrane (and a declaration's aux states) as tensors of one step's
        shape, dtype and device; other memories unchanged."""
        x = inputs[0][0] if step_mode == "m" else inputs[0]
        if self.decl is not None:
            n = len(self.decl.state_names)
            values = dict(zip(self.decl.state_names, states))
            return (*self._states(x.shape, x.dtype, x.device, values=values), *states[n:])
        v = states[0]
        if isinstance(v, int | float):
            v = torch.full_like(x, float(v))
        elif isinstance(v, torch.Tensor) and v.shape != x.shape:
            raise StateShapeError(f"{type(self).__name__}: state 'v' has shape {tuple(v.shape)} from the previous "
                                  f"call but this input step has shape {tuple(x.shape)}; call "
                                  "sj.functional.reset_net(net) before feeding a new sequence or batch size")
        elif isinstance(v, torch.Tensor) and (v.dtype != x.dtype or v.device != x.device):
            v = v.to(dtype=x.dtype, device=x.device)
        return (v, *states[1:])

    def single_step_functional_forward(self, inputs: tuple[torch.Tensor, ...], states: tuple, **kwargs
                                       ) -> tuple[tuple[torch.Tensor, ...], tuple]:
        """One step with explicit state (a declared neuron: its step function): ``((spike,), new_states)``."""
        if self.decl is None:
            raise NotImplementedError(f"{type(self).__name__} defines no dynamics: implement neuronal_charge or "
                                      "single_step_functional_forward, or build it from a declaration")
        x = inputs[0]
        n = len(self.decl.state_names)
        s, *new, _ = step_fns(self.spec())["autograd_step"](x, *states[:n], *self._params(x),
                                                            self.surrogate_function)
        return (s,), (*new, *states[n:])

    def multi_step_functional_forward(self, inputs: tuple[torch.Tensor, ...], states: tuple, **kwargs
                                      ) -> tuple[tuple[torch.Tensor, ...], tuple]:
        """A whole sequence with explicit state (a declared neuron: the fused multi-step op)."""
        if self.decl is None:
            return super().multi_step_functional_forward(inputs, states, **kwargs)
        x_seq = inputs[0]
        n = len(self.decl.state_names)
        sg = self.surrogate_function
        spike, last, _ = multistep(self.decl.name, x_seq, list(states[:n]), self._params(x_seq), surrogate=sg.name,
                                   surrogate_params=sg.param_values, soft_reset=self.soft_reset,
                                   detach_reset=self.detach_reset, backend=self.backend)
        return (spike,), (*last, *states[n:])

    # ---------------------------------------------------------------------- charge → fire → reset (SpikingJelly)
    def _staged_step(self, x: torch.Tensor) -> torch.Tensor:
        self._check_rank(x, multi=False)
        states = self.materialize_states((x,), tuple(self._memories.values()), "s")
        self._store_states(states, "materialize_states")
        self._step_input = (x, states[0])  # what the declared post updates and reset may read
        self.neuronal_charge(x)
        spike = self.neuronal_fire()
        self.neuronal_reset(spike)
        return spike

    def _stages(self) -> dict:
        return stage_fns(self.decl.name, self.soft_reset, self.detach_reset)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        """Charge: set ``self.v`` to the charged potential H (a declared neuron: its pre updates and charge)."""
        if self.decl is None:
            raise NotImplementedError(f"{type(self).__name__} must implement neuronal_charge")
        aux = self.decl.aux_states
        *new_aux, h = self._stages()["charge"](x, self.v, *(getattr(self, a) for a in aux), *self._params(x))
        for a, value in zip(aux, new_aux):
            setattr(self, a, value)
        self.v = h

    def neuronal_fire(self) -> torch.Tensor:
        """Fire: the spike ``surrogate_function(v − v_threshold)``."""
        return self.surrogate_function(self.v - self.v_threshold)

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        """Reset ``self.v`` after ``spike`` (hard to ``v_reset``, or soft); a declared neuron also runs its post
        updates here."""
        if self.decl is None:
            s = spike.detach() if self.detach_reset else spike
            self.v = self.v - s * self.v_threshold if self.v_reset is None else s * self.v_reset + (1.0 - s) * self.v
            return
        x, v_before = self._step_input
        aux = self.decl.aux_states
        v, *new_aux = self._stages()["settle"](x, v_before, *(getattr(self, a) for a in aux), self.v, spike,
                                               *self._params(self.v))
        for a, value in zip(aux, new_aux):
            setattr(self, a, value)
        self.v = v

    @staticmethod
    def apply_hard_reset(v: torch.Tensor, spike: torch.Tensor, v_reset: float) -> torch.Tensor:
        """``(1 − spike)·v + spike·v_reset``."""
        return (1.0 - spike) * v + spike * v_reset

    @staticmethod
    def apply_soft_reset(v: torch.Tensor, spike: torch.Tensor, v_threshold: float) -> torch.Tensor:
        """``v − spike·v_threshold``."""
        return v - spike * v_threshold

    # ------------------------------------------------------------------------------------------------ checkpoints
    def get_extra_state(self) -> dict:
        """Hyper-parameters that are not tensors, saved in ``state_dict`` under ``<prefix>_extra_state``: the
        declaration name, reset mode, ``detach_reset`` and the surrogate (name, parameters, spiking). ``step_mode``,
        ``backend`` and ``store_v_seq`` are how the neuron is run, not what it computes, and are not saved. Optional
        when loading (SpikingJelly's checkpoints have no such entry: the constructor's values stay)."""
        if self.decl is None:
            return {"format": _EXTRA_STATE_FORMAT, "decl": None}
        sg = self.surrogate_function
        return {"format": _EXTRA_STATE_FORMAT, "decl": self.decl.name, "soft_reset": self.soft_reset,
                "detach_reset": self.detach_reset, "surrogate": sg.name, "surrogate_params": list(sg.param_values),
                "surrogate_spiking": sg.spiking}

    def _optional_keys(self, prefix: str) -> set[str]:
        """Keys a checkpoint may leave out: what SpikingJelly keeps as plain attributes."""
        names = [] if self.decl is None else [n for n in self.decl.param_names if n not in self._parameters]
        return {prefix + "_extra_state", *(prefix + n for n in names)}

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # Validate before torch copies any tensor, so a mismatching checkpoint changes nothing in this neuron.
        key = prefix + "_extra_state"
        if key in state_dict:
            self._check_extra_state(state_dict[key], prefix)
        if self.decl is not None:
            owner = f"{type(self).__name__} (loading {prefix[:-1] or 'the state dict'})"
            for name in self.decl.param_names:
                if prefix + name in state_dict:
                    _as_param(owner, name, state_dict[prefix + name], self._bounds.get(name),
                              allow_inf=name == "v_threshold")
            if prefix + "v_reset" in state_dict and self._buffers.get("v_reset") is None:
                self._buffers["v_reset"] = self._zero.clone()  # a hard-reset checkpoint: receives its v_reset
        v_reset = self._buffers.get("v_reset")
        v_reset = v_reset.clone() if v_reset is not None else None
        before = len(missing_keys)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        optional = self._optional_keys(prefix)
        missing_keys[before:] = [k for k in missing_keys[before:] if k not in optional]
        now = self._buffers.get("v_reset") if self.decl is not None else None
        if (now is None) != (v_reset is None) or (now is not None and not torch.equal(now, v_reset)):
            # v starts at the loaded v_reset (0 for soft reset) from now on (this resets v)
            self.register_memory("v", 0.0 if now is None else None if now.dim() > 0 else float(now))

    def _check_extra_state(self, state, prefix: str = "") -> SurrogateFunction | None:
        """The surrogate module ``state`` describes; raises ``ValueError`` if ``state`` does not fit this neuron."""
        where = f"{type(self).__name__}" + (f" at {prefix[:-1]!r}" if prefix else "")
        keys = {"format", "decl", "soft_reset", "detach_reset", "surrogate", "surrogate_params", "surrogate_spiking"}
        undeclared = isinstance(state, dict) and state.get("decl", "") is None and set(state) == {"format", "decl"}
        if not isinstance(state, dict) or not (set(state) == keys or undeclared) or state["format"] != \
                _EXTRA_STATE_FORMAT:
            raise ValueError(f"{where}: the checkpoint's neuron hyper-parameters are not an sj neuron extra state "
                             f"(format {_EXTRA_STATE_FORMAT} with keys {sorted(keys)}), got {state!r}")
        mine = None if self.decl is None else self.decl.name
        if state["decl"] != mine:
            raise ValueError(f"{where}: the checkpoint holds a {state['decl']!r} neuron but this module computes "
                             f"{mine!r}; build the model with the same neuron type (and decay_input) as the one that "
                             "was saved")
        if undeclared:
            return None
        sg = self.surrogate_function
        params = tuple(float(p) for p in state["surrogate_params"])
        if (state["surrogate"], params, bool(state["surrogate_spiking"])) == (sg.name, sg.param_values, sg.spiking):
            return sg
        import sj.surrogate as surrogates

        cls = type(sg) if state["surrogate"] == sg.name else getattr(surrogates, state["surrogate"], None)
        if not (isinstance(cls, type) and issubclass(cls, SurrogateFunction)):
            raise ValueError(f"{where}: the checkpoint's surrogate {state['surrogate']!r} has no class in "
                             "sj.surrogate; build the neuron with that surrogate_function before loading")
        new = cls.__new__(cls)
        try:
            names = surrogates.surrogates.get(cls.decl_name or cls.__name__).params
            SurrogateFunction.__init__(new, bool(state["surrogate_spiking"]), **dict(zip(names, params, strict=True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: the checkpoint's surrogate {state['surrogate']}{params} is invalid: {exc}"
                             ) from exc
        return new

    def set_extra_state(self, state) -> None:
        """Restore what :meth:`get_extra_state` saved (after the tensors were loaded): the checkpoint wins over the
        constructor arguments, and a checkpoint of another neuron type raises ``ValueError``."""
        sg = self._check_extra_state(state)
        if sg is None:
            return
        self.surrogate_function = sg
        self.soft_reset = bool(state["soft_reset"])
        self.detach_reset = bool(state["detach_reset"])

    def extra_repr(self) -> str:
        if self.decl is None:
            return (f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
                    f"step_mode={self.step_mode}")
        parts = [f"v_threshold={_fmt(self.v_threshold)}",
                 f"v_reset={None if self.soft_reset else _fmt(self.v_reset)}",
                 *(f"{p}={_fmt(getattr(self, p))}" for p in self.decl.params),
                 f"detach_reset={self.detach_reset}", f"step_mode={self.step_mode}", f"backend={self.backend}"]
        return ", ".join(parts)


def _fmt(t: torch.Tensor) -> str:
    if t.device.type == "meta":  # no value to print (models sized on the meta device)
        return f"meta{tuple(t.shape)}"
    if t.dim() == 0:
        v = t.item()
        return "inf" if math.isinf(v) else f"{v:g}"
    return f"Tensor{tuple(t.shape)}"
