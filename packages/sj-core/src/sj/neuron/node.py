"""The stateful neuron module shared by every neuron: a thin shell around a declaration.

A neuron module holds its parameters (numbers or per-neuron tensors broadcastable to the neuron shape; learnable ones
as ``nn.Parameter``, the rest as buffers so they follow ``.to()`` and ``state_dict``), its state (``v`` and the
declaration's aux states, as memories), and calls the pure step function (single-step mode) or the multi-step op
(multi-step mode) generated from the declaration.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from sj.backends.torch_codegen import step_fns
from sj.base import MemoryModule, StateShapeError, StepModeError, check_finite_enabled, check_state_recordable
from sj.neuron.declaration import NeuronDecl
from sj.ops import MultiStepSpec, multistep
from sj.ops.multistep import _plain_eager
from sj.surrogate import Sigmoid, SurrogateFunction

_EXTRA_STATE_FORMAT = 1

Number = int | float
ParamValue = Number | torch.Tensor


def _as_param(owner: str, name: str, value: ParamValue, low: float | None, allow_inf: bool = False) -> torch.Tensor:
    """Validate a parameter (number or tensor) and return it as a float tensor (0-d for numbers).

    Values are checked for numbers and for tensors with data; a meta tensor (no data, e.g. a model built under
    ``torch.device("meta")`` to count parameters) has none to check.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(f"{owner}: {name} must be a number or a tensor, got {type(value).__name__}")
    if not isinstance(value, torch.Tensor):
        _check_values(owner, name, torch.tensor(float(value), device="cpu"), value, low, allow_inf)
        return torch.tensor(float(value))
    t = value.detach()
    if not t.dtype.is_floating_point:
        t = t.to(torch.get_default_dtype())
    if t.device.type != "meta":
        _check_values(owner, name, t, value, low, allow_inf)
    return t


def _check_values(owner: str, name: str, t: torch.Tensor, value: ParamValue, low: float | None,
                  allow_inf: bool) -> None:
    if torch.isnan(t).any():
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    if low is not None and not (t > low).all():
        raise ValueError(f"{owner}: {name} must be > {low}, got {value if t.dim() == 0 else t.min().item()}")
    if not allow_inf and not torch.isfinite(t).all():
        raise ValueError(f"{owner}: {name} must be finite, got {value}")


class BaseNode(MemoryModule):
    """A spiking neuron defined by a :class:`~sj.neuron.declaration.NeuronDecl`.

    Args:
        decl: the dynamics.
        params: the declaration's own parameter values (numbers or tensors broadcastable to the neuron shape).
        learnable: names in ``params`` that become ``nn.Parameter``.
        v_threshold: firing threshold (default 1.0).
        v_reset: reset potential for hard reset; ``None`` selects soft reset (V ← H − V_th·S).
        surrogate_function: surrogate module; ``None`` builds a fresh default instance per neuron.
        detach_reset: detach the spike inside the reset.
        step_mode: ``'s'`` (input ``[N, *]``) or ``'m'`` (input ``[T, N, *]``).
        backend: multi-step backend name (``sj backends``); single-step mode always runs the torch step function.
        store_v_seq: in ``'m'`` keep ``v_seq`` ``[T, N, *]`` (V after every step) as an attribute.
        aux_init: initial values of the declaration's aux states (default 0).
    """

    default_surrogate: Callable[[], SurrogateFunction] = Sigmoid

    def __init__(self, decl: NeuronDecl, params: dict[str, ParamValue], *, learnable: tuple[str, ...] = (),
                 v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0,
                 surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str = "torch", store_v_seq: bool = False,
                 aux_init: dict[str, float] | None = None, lower_bounds: dict[str, float] | None = None) -> None:
        super().__init__(step_mode)
        owner = type(self).__name__
        self.decl = decl
        if surrogate_function is None:
            surrogate_function = self.default_surrogate()
        if not isinstance(surrogate_function, SurrogateFunction):
            raise TypeError(f"{owner}: surrogate_function must be an sj.surrogate.SurrogateFunction, got "
                            f"{type(surrogate_function).__name__}")
        self.surrogate_function = surrogate_function
        self.detach_reset = bool(detach_reset)
        self.store_v_seq = bool(store_v_seq)
        self.soft_reset = v_reset is None
        self.backend = backend
        bounds = lower_bounds or {}
        values = {"v_threshold": v_threshold, "v_reset": 0.0 if v_reset is None else v_reset, **params}
        missing = set(decl.param_names) - set(values)
        if missing:
            raise ValueError(f"{owner}: missing parameters {sorted(missing)}")
        for name in decl.param_names:
            t = _as_param(owner, name, values[name], bounds.get(name), allow_inf=name == "v_threshold")
            if name in learnable:
                setattr(self, name, nn.Parameter(t))
            else:
                self.register_buffer(name, t)
        # v starts at v_reset (0 for soft reset); a per-neuron v_reset is expanded on first use (memory None).
        v0 = values["v_reset"]
        self.register_memory("v", None if isinstance(v0, torch.Tensor) and v0.dim() > 0 else float(v0))
        for a in decl.aux_states:
            self.register_memory(a, float((aux_init or {}).get(a, 0.0)))
        self.register_memory("v_seq", None)
        # name -> ((shape, dtype, device, value), tensor): initial states the multi-step op reuses (see _states)
        self._state_fills: dict[str, tuple[tuple, torch.Tensor]] = {}

    # ------------------------------------------------------------------------------------------------ helpers
    @property
    def v_reset_value(self) -> ParamValue | None:
        """``None`` in soft-reset mode, else the reset potential."""
        return None if self.soft_reset else self.v_reset

    def spec(self) -> MultiStepSpec:
        """The multi-step configuration of this neuron."""
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
            if t is None:  # a subclass keeping a parameter elsewhere
                t = getattr(self, n)
            out.append(t if t.dtype == dtype else t.to(dtype))
        return out

    def _states(self, shape: torch.Size, dtype: torch.dtype, device: torch.device, reuse: bool = False
                ) -> list[torch.Tensor]:
        """Current states as tensors of one step's ``shape`` (checking the batch shape), ``dtype`` and ``device``.

        Shape, dtype and device rather than a step of the input: indexing a step out of a sequence that requires
        grad would record an autograd node on every call. ``reuse``: a state still at its reset number comes as a
        tensor kept from an earlier call (for the multi-step op, which only reads initial states): a fresh one costs
        an allocation and a fill per call, and at N = 2^20 the fill of new memory alone takes longer than a pass over
        it. Kept only in plain eager mode (a tensor made while tracing must not outlive the trace)."""
        out = []
        memories = self._memories  # not getattr: nn.Module's attribute lookup fails over to __getattr__ (~1 µs)
        for name in self.decl.state_names:
            value = memories[name] if name in memories else getattr(self, name)
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

    # ------------------------------------------------------------------------------------------------ forward
    def advance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One differentiable step of the pure step function: updates the states, returns ``(spike, h)``."""
        self._check_rank(x, multi=False)
        states = self._states(x.shape, x.dtype, x.device)
        params = self._params(x)
        self._check_recordable(states, x, params)
        s, *new, h = step_fns(self.spec())["autograd_step"](x, *states, *params, self.surrogate_function)
        for name, value in zip(self.decl.state_names, new):
            setattr(self, name, value)
        return s, h

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step: ``x`` ``[N, *]`` → spikes ``[N, *]``; updates ``v`` (and aux states)."""
        return self.advance(x)[0]

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``x_seq`` ``[T, N, *]`` → spikes ``[T, N, *]`` through the fused multi-step op on ``self.backend``."""
        self._check_rank(x_seq, multi=True)
        states = self._states(x_seq.shape[1:], x_seq.dtype, x_seq.device, reuse=True)
        params = self._params(x_seq)
        self._check_recordable(states, x_seq, params)
        sg = self._modules.get("surrogate_function")  # the submodule without nn.Module.__getattr__ (a microsecond)
        if sg is None:
            sg = self.surrogate_function
        spike, last, v_seq = multistep(self.decl.name, x_seq, states, params, surrogate=sg.name,
                                       surrogate_params=sg.param_values, soft_reset=self.soft_reset,
                                       detach_reset=self.detach_reset, store_v_seq=self.store_v_seq,
                                       backend=self.backend)
        for name, value in zip(self.decl.state_names, last):
            setattr(self, name, value)
        if self.store_v_seq:
            self.v_seq = v_seq
        return spike

    # ------------------------------------------------------------------------------------------------ checkpoints
    def get_extra_state(self) -> dict:
        """Hyper-parameters that are not tensors, saved in ``state_dict`` under ``<prefix>_extra_state``: the
        declaration name, reset mode, ``detach_reset`` and the surrogate (name, parameters, spiking). ``step_mode``,
        ``backend`` and ``store_v_seq`` are how the neuron is run, not what it computes, and are not saved."""
        sg = self.surrogate_function
        return {"format": _EXTRA_STATE_FORMAT, "decl": self.decl.name, "soft_reset": self.soft_reset,
                "detach_reset": self.detach_reset, "surrogate": sg.name, "surrogate_params": list(sg.param_values),
                "surrogate_spiking": sg.spiking}

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, *args, **kwargs) -> None:
        # Validate before torch copies any tensor, so a mismatching checkpoint changes nothing in this neuron.
        key = prefix + "_extra_state"
        if key in state_dict:
            self._check_extra_state(state_dict[key], prefix)
        v_reset = self.v_reset.clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, *args, **kwargs)
        kept = {prefix + name for name in self._buffers} | {key}
        if kept.isdisjoint(state_dict):
            # A SpikingJelly checkpoint: its neurons save only learnable parameters (PLIF's w), so the hyper-parameters
            # sj keeps as buffers come from the constructor, as they do in SpikingJelly; strict loading accepts that.
            # (An sj checkpoint missing only some of these entries is still reported.)
            missing_keys[:] = [k for k in missing_keys if k not in kept]
        if not torch.equal(self.v_reset, v_reset):  # v starts at the loaded v_reset from now on (this resets v)
            self.register_memory("v", None if self.v_reset.dim() > 0 else float(self.v_reset))

    def _check_extra_state(self, state, prefix: str = "") -> SurrogateFunction:
        """The surrogate module ``state`` describes; raises ``ValueError`` if ``state`` does not fit this neuron."""
        where = f"{type(self).__name__}" + (f" at {prefix[:-1]!r}" if prefix else "")
        keys = {"format", "decl", "soft_reset", "detach_reset", "surrogate", "surrogate_params", "surrogate_spiking"}
        if not isinstance(state, dict) or set(state) != keys or state["format"] != _EXTRA_STATE_FORMAT:
            raise ValueError(f"{where}: the checkpoint's neuron hyper-parameters are not an sj neuron extra state "
                             f"(format {_EXTRA_STATE_FORMAT} with keys {sorted(keys)}), got {state!r}")
        if state["decl"] != self.decl.name:
            raise ValueError(f"{where}: the checkpoint holds a {state['decl']!r} neuron but this module computes "
                             f"{self.decl.name!r}; build the model with the same neuron type (and decay_input) as "
                             "the one that was saved")
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
        self.surrogate_function = self._check_extra_state(state)
        self.soft_reset = bool(state["soft_reset"])
        self.detach_reset = bool(state["detach_reset"])

    def extra_repr(self) -> str:
        parts = [f"v_threshold={_fmt(self.v_threshold)}",
                 f"v_reset={None if self.soft_reset else _fmt(self.v_reset)}",
                 *(f"{p}={_fmt(getattr(self, p))}" for p in self.decl.params),
                 f"detach_reset={self.detach_reset}", f"step_mode={self.step_mode}", f"backend={self.backend}"]
        return ", ".join(parts)


def _fmt(t: torch.Tensor) -> str:
    if t.dim() == 0:
        v = t.item()
        return "inf" if math.isinf(v) else f"{v:g}"
    return f"Tensor{tuple(t.shape)}"
