"""Plot every built-in surrogate's primitive and derivative (run at docs build time; needs matplotlib)."""

from __future__ import annotations

from pathlib import Path

import torch


def plot_all(path: Path) -> None:
    """Write one PNG with a panel per surrogate: g(z) (primitive) and g'(z) (the backward)."""
    from matplotlib.figure import Figure

    import sj.surrogate as sg

    names = [n for n in sg.__all__ if isinstance(getattr(sg, n), type) and issubclass(getattr(sg, n),
             sg.SurrogateFunction) and getattr(sg, n) is not sg.SurrogateFunction]
    cols = 4
    rows = (len(names) + cols - 1) // cols
    fig = Figure(figsize=(3 * cols, 2.4 * rows), dpi=80)
    z = torch.linspace(-2, 2, 401)
    for i, name in enumerate(names):
        fn = getattr(sg, name)()
        zz = z.clone().requires_grad_(True)
        fn(zz).sum().backward()
        ax = fig.add_subplot(rows, cols, i + 1)
        try:
            with torch.no_grad():
                ax.plot(z, fn.primitive(z), label="g(z)")
        except ValueError:  # a surrogate declared by its derivative only
            pass
        ax.plot(z, zz.grad, label="g'(z)")
        ax.step(z, (z >= 0).float(), where="post", color="gray", lw=0.8, label="Θ(z)")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
