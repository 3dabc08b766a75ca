"""Counting machinery: counters (what one event counts) and counting modes (which events a run produces).

A *counter* maps events to integers through its ``rules`` and records them per module *scope*: ``"Global"`` (the
whole run), the root module's class name (``"Net"``), and dotted paths below it (``"Net.conv1"``); an event is recorded
in every scope active when it happens, so a parent's count includes its children's. A *mode* produces the events:

- :class:`DispatchCounterMode`: every ATen operator (``aten.convolution.default``, ...) and every ``torch.library``
  op, among them sj's multi-step neuron op ``sj.multistep_fwd``;
- :class:`FunctionCounterMode`: every ``torch`` function call (``__torch_function__`` level);
- :class:`ModuleCounterMode`: every forward (and backward) call of a module that a :class:`ModuleCounter` has a rule
  for.

sj's spiking neurons are counted from their declaration in both step modes: in the dispatch and function modes a neuron
step is one event, the multi-step op (single-step calls are counted as that op with ``T = 1``), and the operators the
neuron's Python implementation runs around or instead of it are not counted separately (see
:mod:`sj.op_counter.neuron_ops`).
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.autograd.graph import register_multi_grad_hook
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from sj.op_counter import neuron_ops

__all__ = ["ActiveModuleTracker", "BaseCounter", "DispatchCounterMode", "EnergyModelInfo", "FunctionCounterMode",
           "ModuleCounter", "ModuleCounterMode", "is_binary_tensor"]

GLOBAL_SCOPE = "Global"


@dataclass(frozen=True)
class EnergyModelInfo:
    """Where an energy model comes from and what it covers.

    Attributes:
        model_id: stable identifier of the model and its version.
        fidelity: ``"paper"``, ``"reference-code"``, ``"source-aligned"`` or ``"spikingjelly-defined"``.
        source_urls: the paper and/or the authors' code.
        technology_nm: process node of the published costs, ``None`` if unspecified.
        precision: arithmetic and storage precision assumed.
        scope: the hardware and execution the model covers.
    """

    model_id: str
    fidelity: str
    source_urls: tuple[str, ...]
    technology_nm: int | None
    precision: str
    scope: str


def is_binary_tensor(x: torch.Tensor) -> bool:
    """Whether every element of ``x`` equals 0 or 1 (always true for a ``bool`` tensor): a spike tensor."""
    if x.dtype == torch.bool:
        return True
    return bool((x.eq(0) | x.eq(1)).all().item())


def call_model(model: nn.Module, inputs: Any) -> Any:
    """``model(*inputs)`` for a tuple or list, ``model(**inputs)`` for a dict, else ``model(inputs)``."""
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)


def tensors_in(tree: Any) -> list[torch.Tensor]:
    """The tensors among the leaves of a pytree (tuples, lists, dicts)."""
    return [x for x in tree_flatten(tree)[0] if isinstance(x, torch.Tensor)]


def first_tensor(args: tuple, kwargs: dict) -> torch.Tensor:
    """The first positional tensor of a call, else its first keyword tensor."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value
    raise ValueError("the call has no tensor argument")


class ActiveModuleTracker:
    """Tracks which modules are running, in forward and in backward.

    ``active_modules`` holds the module objects being run now, ``parents`` their scope names (``"Global"`` always;
    the outermost module's class name; dotted attribute paths below it, e.g. ``"Net.block.conv"``). A module leaves
    the backward scope when the gradients of its inputs are computed. Use as a context manager (it installs global
    module hooks while active); ``exit_callback(module, args, output)``, if set, runs when a module's forward returns,
    while the module is still in scope.
    """

    def __init__(self) -> None:
        self.parents: set[str] = {GLOBAL_SCOPE}
        self.active_modules: set[nn.Module] = set()
        self.exit_callback: Callable[[nn.Module, tuple, Any], None] | None = None
        self._names: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()
        self._handles: list[Any] = []
        self._callback_queued = False

    def name_of(self, module: nn.Module) -> str:
        """The scope name of ``module``: its class name if no enclosing module was seen first, else its parent's name
        and attribute path (every descendant is named when a module is first seen)."""
        name = self._names.get(module)
        if name is None:
            for path, m in module.named_modules(prefix=type(module).__name__):
                self._names.setdefault(m, path)
            name = self._names[module]
        return name

    def _enter(self, module: nn.Module, backward: bool) -> None:
        if backward:
            self._queue_end_of_backward()
        self.parents.add(self.name_of(module))
        self.active_modules.add(module)

    def _exit(self, module: nn.Module) -> None:
        self.parents.discard(self.name_of(module))
        self.active_modules.discard(module)

    def _queue_end_of_backward(self) -> None:
        if self._callback_queued:
            return

        def reset() -> None:  # a module whose inputs need no gradient never leaves its backward scope otherwise
            self.parents = {GLOBAL_SCOPE}
            self.active_modules = set()
            self._callback_queued = False

        torch.autograd.Variable._execution_engine.queue_callback(reset)
        self._callback_queued = True

    def _pre_hook(self, module: nn.Module, args: tuple) -> None:
        self._enter(module, backward=False)
        needing_grad = [t for t in tensors_in(args) if t.requires_grad]
        if needing_grad:
            self._handles.append(register_multi_grad_hook(needing_grad, lambda _: self._exit(module)))

    def _post_hook(self, module: nn.Module, args: tuple, output: Any) -> None:
        if self.exit_callback is not None:
            self.exit_callback(module, args, output)
        self._exit(module)
        needing_grad = [t for t in tensors_in(output) if t.requires_grad]
        if needing_grad:
            self._handles.append(register_multi_grad_hook(needing_grad, lambda _: self._enter(module, True)))

    def __enter__(self) -> ActiveModuleTracker:
        hooks = nn.modules.module
        self._handles.append(hooks.register_module_forward_pre_hook(self._pre_hook))
        self._handles.append(hooks.register_module_forward_hook(self._post_hook, always_call=True))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


class BaseCounter:
    """A counter: ``rules`` map an event (an operator, a function, a module event) to a function returning its count.

    ``records[scope][event]`` accumulates the counts; ``ignore_modules`` are module types whose events (and their
    children's) are not counted. Subclasses fill ``rules``; a rule of the dispatch and function modes takes
    ``(args, kwargs, out)`` and returns an ``int``.
    """

    def __init__(self) -> None:
        self.records: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
        self.rules: dict[Any, Callable] = {}
        self.ignore_modules: list[type[nn.Module]] = []

    def _setup(self, rules: dict[Any, Callable], extra_rules: dict[Any, Callable] | None,
               extra_ignore_modules: list[type[nn.Module]] | None) -> None:
        """Install the default ``rules``, then the user's extra rules and ignored module types on top."""
        self.rules = {**rules, **(extra_rules or {})}
        self.ignore_modules = list(extra_ignore_modules or [])

    def has_rule(self, func: Any) -> bool:
        """Whether ``func`` (an event of the key type of :attr:`rules`) has a counting rule."""
        return func in self.rules

    def count(self, func: Any, args: tuple, kwargs: dict, out: Any, active_modules: set[nn.Module] | None = None,
              parent_names: set[str] | None = None) -> int:
        """The count of one event ``func(*args, **kwargs) -> out``; ``active_modules``/``parent_names`` are the
        running modules and their scope names, for counters that need the context."""
        return int(self.rules[func](args, kwargs, out))

    def record(self, scope: str, func: Any, value: int) -> None:
        """Add ``value`` to ``records[scope][func]``."""
        self.records[scope][func] += value

    def get_counts(self) -> dict[str, dict[Any, int]]:
        """Every record: ``{scope: {event: count}}``."""
        return {k: dict(v) for k, v in self.records.items()}

    def get_total(self) -> int:
        """The total count of the ``"Global"`` scope (the whole run)."""
        return sum(self.records.get(GLOBAL_SCOPE, {}).values())

    def reset(self) -> None:
        """Forget every record (before reusing the counter)."""
        self.records = defaultdict(lambda: defaultdict(int))


class ModuleCounter(BaseCounter):
    """A counter of module calls, for :class:`ModuleCounterMode`: rule keys are ``("forward" | "backward",
    module_type)`` (a module matches the rule of its class or the nearest base class that has one), rules take
    ``(module, args, kwargs, out)``; in backward ``args`` are the input gradients and ``out`` the output gradients."""

    def _rule_key(self, event: tuple[str, nn.Module]) -> tuple[str, type]:
        phase, module = event
        for cls in type(module).__mro__:
            if (phase, cls) in self.rules:
                return phase, cls
        raise KeyError(event)

    def has_rule(self, event: Any) -> bool:
        """Whether ``event`` is a ``(phase, module)`` pair matching a rule of the module's type or a base type."""
        if not (isinstance(event, tuple) and len(event) == 2 and event[0] in ("forward", "backward")
                and isinstance(event[1], nn.Module)):
            return False
        try:
            self._rule_key(event)
        except KeyError:
            return False
        return True

    def count(self, func: Any, args: tuple, kwargs: dict, out: Any, active_modules: set[nn.Module] | None = None,
              parent_names: set[str] | None = None) -> int:
        """The count of the most specific rule matching the ``(phase, module)`` event ``func``."""
        return int(self.rules[self._rule_key(func)](func[1], args, kwargs, out))

    def record(self, scope: str, func: Any, value: int) -> None:
        """Record under the matched ``(phase, module_type)`` key."""
        self.records[scope][self._rule_key(func)] += value


def _event_name(event: Any) -> str:
    if isinstance(event, tuple) and len(event) == 2 and isinstance(event[1], nn.Module):
        cls = type(event[1])
        return f"{event[0]}:{cls.__module__}.{cls.__qualname__}"
    return resolve_name(event) or repr(event)


class _CounterMode:
    """What the three modes share: run the counters on an event, skip or report what they do not cover."""

    module_tracker: ActiveModuleTracker | None = None

    def __init__(self, counters: list[BaseCounter], strict: bool = False) -> None:
        super().__init__()
        if not isinstance(counters, (list, tuple)) or not all(isinstance(c, BaseCounter) for c in counters):
            raise TypeError(f"{type(self).__name__}: counters must be a list of BaseCounter instances, got "
                            f"{counters!r}")
        self.counters = list(counters)
        self.strict = bool(strict)
        self._unsupported: dict[BaseCounter, dict[str, int]] = {c: {} for c in self.counters}

    def get_unsupported(self, counter: BaseCounter) -> dict[str, int]:
        """Events ``counter`` had no rule for in the latest run, with how often each happened."""
        if counter not in self._unsupported:
            raise ValueError("counter does not belong to this counter mode")
        return dict(self._unsupported[counter])

    def _skips(self, counter: BaseCounter, func: Any, active_modules: set[nn.Module]) -> bool:
        if counter.ignore_modules and any(isinstance(m, tuple(counter.ignore_modules)) for m in active_modules):
            return True
        if counter.has_rule(func):
            return False
        name = _event_name(func)
        self._unsupported[counter][name] = self._unsupported[counter].get(name, 0) + 1
        if self.strict:
            raise NotImplementedError(f"{type(self).__name__}: {name} has no rule in {type(counter).__name__} "
                                      "(strict=False skips it)")
        return True

    def _record_counts(self, func: Any, args: tuple, kwargs: dict, out: Any,
                       active_modules: set[nn.Module] | None = None, parent_names: set[str] | None = None) -> None:
        if active_modules is None:
            active_modules = set(self.module_tracker.active_modules)
        if parent_names is None:
            parent_names = set(self.module_tracker.parents)
        for counter in self.counters:
            if self._skips(counter, func, active_modules):
                continue
            value = counter.count(func, args, kwargs, out, active_modules=active_modules, parent_names=parent_names)
            for scope in parent_names:
                counter.record(scope, func, value)
            finalize = getattr(counter, "finalize_record", None)
            if finalize is not None:
                finalize()

    def _intercepted(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        """An operator or function call seen by the mode: counted unless it runs inside an sj neuron (whose steps are
        counted as neuron events, see :mod:`sj.op_counter.neuron_ops`)."""
        active = self.module_tracker.active_modules
        if not neuron_ops.is_neuron_event(func) and any(neuron_ops.is_declared_neuron(m) for m in active):
            return
        self._record_counts(func, args, kwargs, out)

    def _module_returned(self, module: nn.Module, args: tuple, output: Any) -> None:
        """A single-step call of an sj neuron is counted as the multi-step op with ``T = 1``."""
        event = neuron_ops.single_step_event(module, args, output)
        if event is not None:
            self._record_counts(*event)

    def __enter__(self):
        self._unsupported = {c: {} for c in self.counters}
        self.module_tracker = ActiveModuleTracker()
        self.module_tracker.exit_callback = self._module_returned
        self.module_tracker.__enter__()
        try:
            super().__enter__()
        except BaseException:
            self.module_tracker.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self.module_tracker.__exit__(*exc)


class DispatchCounterMode(_CounterMode, TorchDispatchMode):
    """Context manager counting every operator (ATen and ``torch.library`` ops) run inside it.

    Args:
        counters: the counters to feed (e.g. ``[SynOpCounter(), ACCounter()]``).
        strict: raise ``NotImplementedError`` on an operator a counter has no rule for, instead of skipping it
            (skipped ones are listed by :meth:`get_unsupported`).

    Example::

        counter = SynOpCounter()
        with DispatchCounterMode([counter]):
            net(x)
        counter.get_total(), counter.get_counts()["Net.fc"]
    """

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self._intercepted(func, args, kwargs, out)
        return out


class FunctionCounterMode(_CounterMode, TorchFunctionMode):
    """Context manager counting ``torch`` function calls (``__torch_function__`` level; rule keys are functions such
    as ``torch.nn.functional.linear``). Arguments as :class:`DispatchCounterMode`."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self._intercepted(func, args, kwargs, out)
        return out


class ModuleCounterMode(_CounterMode):
    """Context manager counting module calls of ``model`` with :class:`ModuleCounter` s: it hooks the forward (and
    full backward) of the modules some counter has a rule for, and records each call in the scopes of the module and
    its ancestors (names as :class:`ActiveModuleTracker`'s).

    Args:
        counters: module counters.
        model: the model whose modules are hooked.
        strict: as :class:`DispatchCounterMode`.
    """

    def __init__(self, counters: list[ModuleCounter], *, model: nn.Module, strict: bool = False) -> None:
        super().__init__(counters, strict)
        if not isinstance(model, nn.Module):
            raise TypeError(f"ModuleCounterMode: model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        self._handles: list[Any] = []
        self._scopes: dict[nn.Module, tuple[set[nn.Module], set[str]]] = {}
        self._active = False

    def _build_scopes(self) -> None:
        modules = dict(self.model.named_modules())
        root = type(self.model).__name__
        for path, module in modules.items():
            active, names = {self.model}, {GLOBAL_SCOPE, root}
            parts = path.split(".") if path else []
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                names.add(f"{root}.{prefix}")
                active.add(modules[prefix])
            self._scopes[module] = active, names

    def _forward_hook(self, module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
        active, names = self._scopes[module]
        self._record_counts(("forward", module), args, kwargs, out, active_modules=active, parent_names=names)

    def _backward_hook(self, module: nn.Module, grad_input: tuple, grad_output: tuple) -> None:
        active, names = self._scopes[module]
        self._record_counts(("backward", module), grad_input, {}, grad_output, active_modules=active,
                            parent_names=names)

    def __enter__(self) -> ModuleCounterMode:
        if self._active:
            raise RuntimeError("ModuleCounterMode is already active")
        self._active = True
        self._unsupported = {c: {} for c in self.counters}
        try:
            self._build_scopes()
            for module in self.model.modules():
                if any(c.has_rule(("forward", module)) for c in self.counters):
                    self._handles.append(module.register_forward_hook(self._forward_hook, with_kwargs=True))
                if any(c.has_rule(("backward", module)) for c in self.counters):
                    self._handles.append(module.register_full_backward_hook(self._backward_hook))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._active = False
