"""Golden outputs: recorded input and output trains (``nir.data_ir``) stored in the graph file itself.

A NIR file written by ``nir.write`` holds the graph under the HDF5 group ``node``; sj adds a dataset ``sj_golden``
holding a complete ``nir.write_data`` image (an HDF5 file as bytes) of a ``nir.NIRGraphData`` whose nodes are the
graph's Input nodes (observable ``input``) and Output nodes (observable ``output``). Readers that do not know it
ignore it; ``nir.read`` reads the graph unchanged. Time-gridded data is ``(n_samples, n_time_steps, n_neurons)``:
sj's ``[T, N, *]`` is transposed and flattened into it.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import h5py
import numpy as np
import torch

import nir
from sj.functional import reset_net, set_step_mode
from sj.nir import hdf5
from sj.nir.errors import NIRFileError, shown
from sj.nir.limits import DEFAULT_LIMITS, Limits
from sj.nir.network import NIRNet

DATASET = "sj_golden"


def _to_grid(x: torch.Tensor, dt: float) -> nir.TimeGriddedData:
    arr = x.detach().cpu().numpy()
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1).transpose(1, 0, 2)
    binary = np.isin(arr, (0.0, 1.0)).all()
    return nir.TimeGriddedData(np.ascontiguousarray(arr.astype(bool) if binary else arr), float(dt))


def _from_grid(data: nir.TimeGriddedData, shape: tuple[int, ...]) -> torch.Tensor:
    arr = np.asarray(data.data)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(1, 0, 2).reshape(arr.shape[1], arr.shape[0], *shape))
                            .astype(np.float32))


def run(net: NIRNet, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Run ``net`` from a fresh state over whole sequences ``[T, N, *]`` (one per input); one tensor per output."""
    reset_net(net)
    set_step_mode(net, "m")
    with torch.no_grad():
        out = net(*xs)
    return out if isinstance(out, tuple) else (out,)


def record(net: NIRNet, *xs: torch.Tensor) -> nir.NIRGraphData:
    """Run ``net`` on ``xs`` (``[T, N, *]`` per input node) and record inputs and outputs as ``NIRGraphData``."""
    dt = net.conventions.dt
    outs = run(net, *xs)
    nodes = {name: nir.NIRNodeData({"input": _to_grid(x, dt)}) for name, x in zip(net.inputs, xs)}
    nodes.update({name: nir.NIRNodeData({"output": _to_grid(y, dt)}) for name, y in zip(net.outputs, outs)})
    return nir.NIRGraphData(nodes)


def attach(path: str | os.PathLike, data: nir.NIRGraphData) -> None:
    """Store ``data`` in the NIR file ``path`` (replacing a previous record)."""
    buf = io.BytesIO()
    nir.write_data(buf, data)
    with h5py.File(path, "a") as f:
        if DATASET in f:
            del f[DATASET]
        f.create_dataset(DATASET, data=np.frombuffer(buf.getvalue(), dtype=np.uint8))


def attached(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> nir.NIRGraphData | None:
    """The record stored in ``path``, or ``None``. Both the file and the HDF5 image inside it are checked before
    anything is read (:mod:`sj.nir.hdf5`: no external data, declared sizes within ``limits``)."""
    with hdf5.open_checked(path, limits) as f:
        if DATASET not in f:
            return None
        ds = f[DATASET]
        if not isinstance(ds, h5py.Dataset) or ds.dtype != np.uint8 or ds.ndim != 1:
            raise NIRFileError(f"{shown(os.fspath(path))}: {DATASET!r} is not the byte image of a golden record")
        raw = ds[()].tobytes()
    return hdf5.read_data(raw, limits, f"{shown(os.fspath(path))}:{DATASET}")


@dataclass(frozen=True)
class Mismatch:
    """One output that differs from its record: how many elements, and the first one as ``(t, sample, index)``."""

    output: str
    count: int
    total: int
    first: tuple[int, int, int] | None
    detail: str

    def __str__(self) -> str:
        where = f", first at t={self.first[0]} sample={self.first[1]} index={self.first[2]}" if self.first else ""
        return f"output {self.output!r}: {self.count}/{self.total} elements differ{where} ({self.detail})"


def inputs_of(net: NIRNet, data: nir.NIRGraphData, shapes: dict[str, tuple[int, ...]]) -> list[torch.Tensor]:
    """The recorded inputs as ``[T, N, *]`` tensors, one per input node of ``net``."""
    xs = []
    for name in net.inputs:
        node = data.nodes.get(name)
        if node is None or "input" not in node.observables:
            raise NIRFileError(f"the record has no input for input node {name!r}")
        grid = node.observables["input"]
        arr = np.asarray(getattr(grid, "data", None))
        if arr.ndim != 3 or arr.shape[2] != int(np.prod(shapes[name])):
            raise NIRFileError(f"the recorded input of {name!r} has shape {arr.shape} (samples, steps, neurons); "
                               f"the node takes {list(shapes[name])} per sample")
        xs.append(_from_grid(grid, shapes[name]))
    return xs


def compare(net: NIRNet, data: nir.NIRGraphData, xs: list[torch.Tensor], rtol: float = 1e-5,
            atol: float = 1e-6) -> list[Mismatch]:
    """Run ``net`` on ``xs`` and compare with the recorded outputs: spike (boolean) records exactly, real-valued
    ones within ``rtol``/``atol``. Returns the mismatches (empty when everything matches)."""
    outs = run(net, *xs)
    problems = []
    for name, y in zip(net.outputs, outs):
        node = data.nodes.get(name)
        if node is None or "output" not in node.observables:
            raise NIRFileError(f"the record has no output for output node {name!r}")
        want = np.asarray(node.observables["output"].data)
        got = _to_grid(y, net.conventions.dt).data
        if got.shape != want.shape:
            problems.append(Mismatch(name, want.size, want.size, None,
                                     f"shape {got.shape} vs recorded {want.shape} (samples, steps, neurons)"))
            continue
        exact = want.dtype == bool
        bad = (got.astype(bool) != want) if exact else ~np.isclose(got.astype(np.float64), want, rtol=rtol, atol=atol)
        if bad.any():
            n, t, i = (int(v) for v in np.argwhere(bad)[0])
            problems.append(Mismatch(name, int(bad.sum()), bad.size, (t, n, i),
                                     "spikes compared exactly" if exact else f"rtol={rtol}, atol={atol}"))
    return problems
