"""Allocate outputs and launch the generated kernels for one multi-step call (see :mod:`sj.backends.base`).

Each call looks up one *launch plan* for its configuration — kernel variant (:mod:`sj.triton.specialize`), device,
block size — and launches the plan's compiled kernel directly with one argument tuple: the call's tensors and sizes
followed by the plan's prebuilt scalars and ``tl.constexpr`` values. Nothing per call goes through Triton's
``JITFunction.run`` or autotuner wrappers, builds dictionaries of arguments, or makes tensors other than the
outputs: an absent last-state gradient is a compile-time flag (no ``[*S]`` zeros), surrogate parameters are scalar
arguments (no device constant), and 0-d parameters are read through their pointer (no expanded copies).

A plan is made on a configuration's first call: the kernel variant is compiled (Triton's disk cache makes that free
after the first process) and loaded on the device — once per process: plans that share a variant (other size or T
classes) share its loaded kernel — and, on a GPU, the block size is tuned (:mod:`sj.triton.tuning`)
unless a CUDA graph is being captured. Plans are keyed by (forward/backward, spec, dtype, flags, alignment, device,
size class, T class). Launches go to the current stream of the tensors' device (a CUDA graph being captured records
them), switching the current device only when the tensors live on another one.

Under ``TRITON_INTERPRET=1`` the same plans launch the interpreted kernels (no compilation, a fixed block size).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import torch

import triton
from sj.backends.base import BackwardInputs
from sj.triton import tuning
from sj.triton.loader import Kernels, interpreting, load
from sj.triton.specialize import Variant, backward_variant, compile_variant, forward_variant

Tensor = torch.Tensor
MAX_NEURONS = 2**31 - 4096  # block offsets are 32-bit
INTERPRETER_BLOCK = 1024
Launch = Callable[[int, tuple], None]  # (neuron count, arguments) -> None

_lock = threading.Lock()
_kernels: dict[tuple, Kernels] = {}
_plans: dict[tuple, tuple[Launch, tuple]] = {}
_launchers: dict[tuple, Launch] = {}  # compiled and loaded variants, per (kernel file, Variant, device, target)


def kernels_for(spec) -> Kernels:
    """The generated kernels of a :class:`sj.ops.spec.MultiStepSpec` (memoised per declaration content, reset mode,
    surrogate and Triton mode, so a call does not regenerate and hash the source)."""
    prog, sprog = spec.program, spec.surrogate_program
    key = (prog["hash"], prog["soft_reset"], prog["detach_reset"], sprog["hash"], interpreting())
    found = _kernels.get(key)
    if found is None:
        found = _kernels.setdefault(key, load(prog, sprog))
    return found


def _neuron_count(x: Tensor) -> int:
    n = x.numel() // x.shape[0] if x.shape[0] else 0
    if n > MAX_NEURONS:
        raise ValueError(f"sj-triton handles at most {MAX_NEURONS} neurons per call, got {n} (shape {tuple(x.shape)})")
    return n


def _aligned(n: int, tensors) -> bool:
    """Whether the vectorised variant applies: ``n`` a multiple of 16 and every pointer 16-byte aligned."""
    return n % 16 == 0 and all(t.data_ptr() % 16 == 0 for t in tensors)


def _hooked(hook) -> bool:
    """Whether a Triton launch hook (a profiler's) is registered: then launches take Triton's own path, which builds
    the launch metadata the hook reads."""
    return hook is not None and bool(getattr(hook, "calls", True))


def _compiled_launcher(compiled, block: int, device: int) -> Launch:
    """Launch ``compiled`` (a Triton ``CompiledKernel``, loaded here on the current device, ``device``) over ``n``
    neurons in blocks of ``block``, on the current stream of ``device``."""
    driver = triton.runtime.driver.active
    current_device, current_stream = driver.get_current_device, driver.get_current_stream
    knobs = triton.knobs.runtime
    run = compiled.run  # loads the binary (and builds Triton's launcher) now, not inside a later launch
    function, packed = compiled.function, compiled.packed_metadata

    def launch(n: int, args: tuple) -> None:
        grid = -(-n // block)
        if current_device() != device:
            with torch.cuda.device(device):
                return launch(n, args)
        stream = current_stream(device)
        if _hooked(knobs.launch_enter_hook) or _hooked(knobs.launch_exit_hook):
            compiled[(grid, 1, 1)](*args, stream=stream)
        else:
            run(grid, 1, 1, stream, function, packed, None, None, None, *args)

    return launch


def _interpreted_launcher(fn) -> Launch:
    def launch(n: int, args: tuple) -> None:
        fn[(-(-n // INTERPRETER_BLOCK),)](*args)

    return launch


def _plan(key: tuple, kernels: Kernels, variant: Callable[[tuple[int, int]], Variant], dtype: torch.dtype,
          scalars: tuple, device: int, n: int, head: tuple) -> tuple[Launch, tuple]:
    """Make (and remember under ``key``) the plan of a configuration: its launch function and the argument tail
    (scalars and constexpr values) appended to each call's tensors and sizes. ``variant(config)``: the kernel variant
    with block size and warps ``config``; ``head``: this call's arguments, for tuning."""
    if interpreting():
        v = variant((INTERPRETER_BLOCK, 4))
        fn = kernels.forward if v.kind == "forward" else kernels.backward
        return _plans.setdefault(key, (_interpreted_launcher(fn), (*scalars, *v.constexpr_values())))
    target = triton.runtime.driver.active.get_current_target()

    def prepare(config: tuple[int, int]) -> tuple[Launch, tuple]:
        v = variant(config)
        memo = (kernels.path, v, device, target)
        launch = _launchers.get(memo)
        if launch is None:
            with torch.cuda.device(device) if device >= 0 else contextlib.nullcontext():
                launch = _compiled_launcher(compile_variant(kernels, v, target), v.block, device)
            with _lock:
                launch = _launchers.setdefault(memo, launch)
        return launch, (*scalars, *v.constexpr_values())

    def run(config: tuple[int, int]) -> None:
        launch, tail = prepare(config)
        launch(n, head + tail)

    config = tuning.default_config(dtype, n)
    if device >= 0 and tuning.enabled() and not torch.cuda.is_current_stream_capturing():
        config = tuning.fastest(run, tuning.candidates(dtype))
    plan = prepare(config)
    with _lock:
        return _plans.setdefault(key, plan)


def forward(spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
            ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
    """Run the forward kernel of ``spec`` on ``x_seq`` ``[T, *]``: spikes, final states, and (with ``save``) what
    the backward needs."""
    T, n = x_seq.shape[0], _neuron_count(x_seq)
    spike = torch.empty_like(x_seq)
    v_seq = torch.empty_like(x_seq) if spec.store_v_seq else None
    saved = [torch.empty_like(x_seq) for _ in state_init] if save else []
    last = [torch.empty_like(s) for s in state_init]
    if n == 0:
        return spike, last, v_seq, saved
    fulls = tuple(p.dim() > 0 for p in params)
    aligned = _aligned(n, (x_seq, *state_init, *params))
    device = x_seq.get_device()
    key = ("forward", spec, x_seq.dtype, fulls, save, aligned, device, tuning.size_class(n), tuning.t_class(T))
    seqs = saved[1:] if save else [spike] * (len(state_init) - 1)
    head = (x_seq, *state_init, *params, spike, v_seq if v_seq is not None else spike, saved[0] if save else spike,
            *seqs, *last, T, n)
    plan = _plans.get(key)
    if plan is None:
        def variant(config: tuple[int, int]) -> Variant:
            return forward_variant(x_seq.dtype, fulls, save, spec.store_v_seq, aligned, config)

        plan = _plan(key, kernels_for(spec), variant, x_seq.dtype, (), device, n, head)
    launch, tail = plan
    launch(n, head + tail)
    return spike, last, v_seq, saved


def backward(spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
    """Run the backward kernel of ``spec``: gradients of the input, the initial states and the parameters."""
    h_seq = inputs.saved[0]
    T, n = h_seq.shape[0], _neuron_count(h_seq)
    shape = h_seq.shape[1:]
    grad_x = torch.empty_like(h_seq)
    grad_init = [torch.empty_like(s) for s in inputs.state_init]
    grad_params = [torch.empty(shape, dtype=h_seq.dtype, device=h_seq.device) if need else None
                   for need in inputs.params_need_grad]
    if n == 0:
        return grad_x, grad_init, [None if g is None else g.zero_() for g in grad_params]
    params, gs = inputs.params, inputs.grad_spike.contiguous()  # contiguous per the contract: a no-op, kept as a guard
    glast = [g.contiguous() if g is not None else None for g in inputs.grad_states_last]
    gv = inputs.grad_v_seq.contiguous() if inputs.grad_v_seq is not None else None
    x = inputs.x_seq if inputs.x_seq.numel() else h_seq  # x_seq is empty when the backward program does not read it
    fulls = tuple(p.dim() > 0 for p in params)
    grads = tuple(g is not None for g in grad_params)
    has_glast = tuple(g is not None for g in glast)
    read = (*inputs.saved, x, *inputs.state_init, *params, gs, *(g for g in glast if g is not None))
    aligned = _aligned(n, read if gv is None else (*read, gv))
    device = h_seq.get_device()
    key = ("backward", spec, h_seq.dtype, fulls, grads, has_glast, gv is not None, aligned, device,
           tuning.size_class(n), tuning.t_class(T))
    head = (*inputs.saved, x, *inputs.state_init, *params, gs, gv if gv is not None else h_seq,
            *(g if g is not None else h_seq for g in glast), grad_x, *grad_init,
            *(g if g is not None else grad_x for g in grad_params), T, n, (T - 1) * n)
    plan = _plans.get(key)
    if plan is None:
        def variant(config: tuple[int, int]) -> Variant:
            return backward_variant(h_seq.dtype, fulls, grads, has_glast, gv is not None, aligned, config)

        scalars = tuple(float(v) for v in spec.surrogate_params)
        plan = _plan(key, kernels_for(spec), variant, h_seq.dtype, scalars, device, n, head)
    launch, tail = plan
    launch(n, head + tail)
    return grad_x, grad_init, grad_params
