"""SpikingJelly's function-level surrogate API, generated from the declarations.

For each declared surrogate ``Name`` SpikingJelly exposes an autograd function ``name`` (``sigmoid.apply(x, alpha)``:
Θ(x) forward, surrogate derivative backward) and a backward helper ``name_backward(grad_output, x, *params)`` that
returns ``(grad_x, None, ...)`` (one ``None`` per parameter). Here every one of them reads the single generated
derivative of its declaration (:func:`sj.surrogate.generated.torch_functions`), so the module, the functions and every
kernel backend compute the same gradient.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from sj.surrogate.declarations import surrogates
from sj.surrogate.generated import heaviside, torch_functions

# declaration name → SpikingJelly's snake_case name
SNAKE_NAMES = {
    "Sigmoid": "sigmoid", "ATan": "atan", "PiecewiseQuadratic": "piecewise_quadratic", "PiecewiseExp": "piecewise_exp",
    "SoftSign": "soft_sign", "SuperSpike": "super_spike", "Erf": "erf", "Rect": "rect",
    "PiecewiseLeakyReLU": "piecewise_leaky_relu", "S2NN": "s2nn", "QPseudoSpike": "q_pseudo_spike",
    "LeakyKReLU": "leaky_k_relu", "FakeNumericalGradient": "fake_numerical_gradient",
    "LogTailedReLU": "log_tailed_relu", "NonzeroSignLogAbs": "nonzero_sign_log_abs",
    "DeterministicPass": "deterministic_pass",
}


def surrogate_grad(name: str, x: torch.Tensor, params) -> torch.Tensor:
    """dg/dx of declared surrogate ``name`` at ``x`` (parameters as numbers or tensors, in declaration order)."""
    tensors = [torch.as_tensor(p, dtype=x.dtype, device=x.device) for p in params]
    return torch_functions(name)["derivative"](x, *tensors)


def _signature(name: str) -> inspect.Signature:
    decl = surrogates.get(name)
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature([inspect.Parameter("x", kind),
                              *(inspect.Parameter(p, kind, default=d) for p, d in zip(decl.params, decl.defaults))])


def _autograd_function(name: str, snake: str) -> type[torch.autograd.Function]:
    """``snake.apply(x, *params)``: Θ(x) forward, ``grad · derivative(x)`` backward (no gradient to parameters)."""

    def forward(x: torch.Tensor, *params) -> torch.Tensor:
        return heaviside(x)

    forward.__signature__ = _signature(name)  # Function.apply binds defaults through it (SpikingJelly's signature)

    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.params = inputs[1:]

    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return (grad_output * surrogate_grad(name, x, ctx.params), *(None,) * len(ctx.params))

    doc = f"Θ(x) forward, the surrogate gradient of :class:`sj.surrogate.{name}` backward: ``{snake}.apply(x, ...)``."
    return type(snake, (torch.autograd.Function,), {
        "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward), "__doc__": doc, "__module__": "sj.surrogate"})


def _backward_function(name: str, snake: str) -> Callable:
    n_params = len(surrogates.get(name).params)

    def backward(grad_output: torch.Tensor, x: torch.Tensor, *params):
        if len(params) != n_params:
            raise TypeError(f"{snake}_backward takes grad_output, x and {n_params} parameter(s), got {len(params)}")
        return (grad_output * surrogate_grad(name, x, params), *(None,) * n_params)

    backward.__name__ = backward.__qualname__ = f"{snake}_backward"
    backward.__module__ = "sj.surrogate"
    backward.__doc__ = (f"``(grad_output · g'(x), None, ...)`` for :class:`sj.surrogate.{name}` (one ``None`` per "
                        "parameter, as SpikingJelly returns).")
    return backward


AUTOGRAD_FUNCTIONS = {snake: _autograd_function(name, snake) for name, snake in SNAKE_NAMES.items()}
BACKWARD_FUNCTIONS = {f"{snake}_backward": _backward_function(name, snake) for name, snake in SNAKE_NAMES.items()}
