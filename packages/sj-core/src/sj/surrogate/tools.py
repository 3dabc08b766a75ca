"""Checking and plotting surrogate functions (SpikingJelly's helpers)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sj.surrogate.base import SurrogateFunctionBase
from sj.surrogate.generated import heaviside


def check_manual_grad(primitive_function: Callable, spiking_function: Callable, *args, **kwargs) -> float:
    """Compare the autograd gradient of ``primitive_function(x, *args, **kwargs)`` with the hand-written backward of
    ``spiking_function(x, *args, **kwargs)`` on 1024 points of [−2, 2) and print both and the largest difference
    (as SpikingJelly does).

    Returns:
        The largest absolute difference of the two gradients (SpikingJelly returns ``None``).
    """
    x = torch.arange(-2, 2, 32 / 8192, requires_grad=True)
    (grad_auto,) = torch.autograd.grad(primitive_function(x, *args, **kwargs).sum(), x)
    (grad_manual,) = torch.autograd.grad(spiking_function(x, *args, **kwargs).sum(), x)
    print("Surrogate gradient comparison: auto=", grad_auto, "manual=", grad_manual)
    error = (grad_manual - grad_auto).abs()
    i = int(error.argmax())
    print("Surrogate gradient maximum error=", error[i], "at x=", x[i].detach())
    print("Surrogate gradient values: auto=", grad_auto[i], "manual=", grad_manual[i])
    return float(error[i])


def plot_surrogate_function(surrogate_function: SurrogateFunctionBase) -> None:
    """Plot Θ(x), the primitive g(x) and the surrogate gradient g'(x) on [−2, 2]; save ``./<ClassName>.pdf`` and
    ``./<ClassName>.svg`` in the working directory and call ``plt.show()``, as SpikingJelly does (without its
    ``scienceplots`` style). The surrogate's spiking mode is restored afterwards.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: the surrogate has no primitive (e.g. ``FakeNumericalGradient``).
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_surrogate_function needs matplotlib (pip install matplotlib)") from exc
    name = type(surrogate_function).__name__
    x = torch.arange(-2.5, 2.5, 0.001)
    spiking = surrogate_function.spiking
    try:
        surrogate_function.set_spiking_mode(False)
        with torch.no_grad():
            primitive = surrogate_function(x)
        surrogate_function.set_spiking_mode(True)
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(surrogate_function(xg).sum(), xg)
    finally:
        surrogate_function.spiking = spiking
    fig = plt.figure(dpi=200)
    plt.plot(x, heaviside(x), label="Heaviside", linestyle="-.")
    plt.plot(x, primitive, label="Primitive")
    plt.plot(x, grad, label="Gradient")
    plt.xlim(-2, 2)
    plt.legend()
    plt.title(f"{name} surrogate function")
    plt.xlabel("Input")
    plt.ylabel("Output")
    plt.grid(linestyle="--")
    for ext in ("pdf", "svg"):
        fig.savefig(f"./{name}.{ext}", bbox_inches="tight")
    plt.show()
