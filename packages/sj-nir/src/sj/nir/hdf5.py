"""Reading NIR files (HDF5) without trusting them.

Before any data is read, the whole file is walked through its metadata only (link types, dataset layouts, declared
shapes and dtypes) and refused when it

- reads data from outside itself: HDF5 *external storage* (a dataset whose bytes live in another file, e.g.
  ``/etc/passwd``), *virtual datasets*, *soft* or *external links* (:class:`~sj.nir.errors.NIRUnsafeFileError`);
- is not a tree: one object reachable by two paths (hard-link cycles or exponential fan-out);
- declares more than :class:`~sj.nir.limits.Limits` allow: total array bytes, objects, group depth
  (:class:`~sj.nir.errors.NIRLimitError`); compressed and never-written (fill-value) datasets count at their declared
  size, which is what reading them would allocate.

Then the graph is built node by node, each error naming the node (a type NIR does not define, a malformed field), and
without nir's type inference, whose cost grows with the square of the node count; sj checks the shapes along every
edge itself, in one pass (:func:`sj.nir.importer.load`).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import h5py
import numpy as np

import nir
from nir.serialization import hdf2dict
from sj.nir.errors import NIRError, NIRFileError, NIRLimitError, NIRUnsafeFileError, shown
from sj.nir.limits import DEFAULT_LIMITS, Limits, check_declared_shapes


def _subclasses(cls: type) -> set[type]:
    return {c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))}


NIR_TYPES = frozenset(c.__name__ for c in _subclasses(nir.NIRNode))
OBJECTS_PER_NODE = 32  # HDF5 groups, datasets and attributes one node may take (a CubaLIF with metadata takes ~16)


class _Walk:
    """One pass over an HDF5 file's metadata; raises on the first unsafe or oversized object."""

    def __init__(self, source: str, limits: Limits) -> None:
        self.source, self.limits = source, limits
        self.bytes = 0
        self.objects = 0
        self.seen: set[Any] = set()
        self.max_objects = limits.max_nodes * OBJECTS_PER_NODE
        self.max_group_depth = 2 * limits.max_depth + 8  # a subgraph level is two groups (node, nodes)

    def _count(self, nbytes: int, where: str) -> None:
        self.objects += 1
        self.bytes += nbytes
        if self.objects > self.max_objects:
            raise NIRLimitError(f"{self.source}: more than {self.max_objects} HDF5 objects ({OBJECTS_PER_NODE} per "
                                f"node allowed by Limits.max_nodes = {self.limits.max_nodes})")
        if self.bytes > self.limits.max_bytes:
            raise NIRLimitError(f"{self.source}: {where} brings the declared array data to {self.bytes} bytes, "
                                f"over Limits.max_bytes = {self.limits.max_bytes} (raise it with "
                                "limits=Limits(max_bytes=...) or --max-bytes if you trust this file)")

    def _declared(self, shape: tuple[int, ...] | None, dtype: np.dtype, where: str) -> int:
        if dtype.kind == "V" or (dtype.kind == "O" and h5py.check_string_dtype(dtype) is None):
            raise NIRFileError(f"{self.source}: {where} has HDF5 type {dtype} (compound, reference or variable-length "
                               "array), which NIR files do not use")
        return int(np.prod(shape, dtype=object) if shape else 1) * dtype.itemsize

    def _attributes(self, obj: h5py.HLObject, where: str) -> None:
        for name in obj.attrs:
            aid = obj.attrs.get_id(name)
            self._count(self._declared(aid.shape, aid.dtype, f"attribute {name!r} of {where}"),
                        f"attribute {name!r} of {where}")

    def group(self, group: h5py.Group, path: str, depth: int) -> None:
        if depth > self.max_group_depth:
            raise NIRLimitError(f"{self.source}: {path!r} is nested deeper than {self.max_group_depth} groups "
                                f"(Limits.max_depth = {self.limits.max_depth} subgraph levels)")
        self._attributes(group, repr(path))
        for name in group:
            where = f"{path.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                target = (f"{link.filename}:{link.path}" if isinstance(link, h5py.ExternalLink) else link.path)
                raise NIRUnsafeFileError(f"{self.source}: {where!r} is a {type(link).__name__} to "
                                         f"{target!r}; NIR files hold their data themselves, so links are "
                                         "refused")
            obj = group[name]
            if obj.id in self.seen:
                raise NIRUnsafeFileError(f"{self.source}: {where!r} is an object already reached by another "
                                         "path (hard links): NIR files are trees")
            self.seen.add(obj.id)
            if isinstance(obj, h5py.Group):
                self._count(0, repr(where))
                self.group(obj, where, depth + 1)
            elif isinstance(obj, h5py.Dataset):
                self.dataset(obj, where)
            else:
                raise NIRFileError(f"{self.source}: {where!r} is an HDF5 {type(obj).__name__}, not a group or "
                                   "dataset")

    def dataset(self, ds: h5py.Dataset, where: str) -> None:
        if ds.is_virtual:
            raise NIRUnsafeFileError(f"{self.source}: dataset {where!r} is a virtual dataset (its data comes from "
                                     "other files); refused")
        if ds.external:
            files = ", ".join(shown(os.fsdecode(e[0])) for e in ds.external)
            raise NIRUnsafeFileError(f"{self.source}: dataset {where!r} uses HDF5 external storage (its bytes live in "
                                     f"{files}); refused")
        self._attributes(ds, f"dataset {where!r}")
        self._count(self._declared(ds.shape, ds.dtype, f"dataset {where!r}"), f"dataset {where!r}")


def check(f: h5py.File, source: str, limits: Limits = DEFAULT_LIMITS) -> int:
    """Walk every object of the open file ``f`` (metadata only); raise on the first unsafe or oversized one.
    Returns the declared bytes of all its arrays."""
    walk = _Walk(source, limits)
    try:
        walk.group(f, "/", 0)
    except NIRError:
        raise
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:  # h5py on corrupt structures
        raise NIRFileError(f"{source}: corrupt HDF5 structure ({type(exc).__name__}: {shown(exc)})") from exc
    return walk.bytes


@contextmanager
def open_checked(source: str | os.PathLike | io.BytesIO, limits: Limits = DEFAULT_LIMITS,
                 name: str | None = None) -> Iterator[h5py.File]:
    """Open an HDF5 file (path or in-memory image) read-only and :func:`check` it before handing it out."""
    label = name or shown(os.fspath(source))
    if not isinstance(source, io.BytesIO) and not os.path.exists(source):
        raise FileNotFoundError(f"{label}: no such file")
    try:
        f = h5py.File(source, "r")
    except OSError as exc:
        raise NIRFileError(f"{label}: not a readable NIR file (not HDF5: {shown(exc)})") from exc
    with f:
        check(f, label, limits)
        yield f


def _text(value: Any, where: str) -> str:
    value = value.decode("utf8", "replace") if isinstance(value, bytes) else value
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()], where)
    if not isinstance(value, str):
        raise NIRFileError(f"{where}: expected a string, found {type(value).__name__}")
    return value


def _edges(value: Any, where: str) -> list[tuple[str, str]]:
    arr = np.asarray(value)
    if arr.size == 0:
        return []
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise NIRFileError(f"{where}: 'edges' must be a list of (source, target) pairs, has shape {arr.shape}")
    return [(_text(a, where), _text(b, where)) for a, b in arr]


def build_node(data: dict[str, Any], name: str, limits: Limits, budget: list[int], depth: int = 0) -> nir.NIRNode:
    """A NIR node from its HDF5 dictionary (nir's ``hdf2dict``), naming ``name`` (``g.sub`` inside subgraphs) in
    every error. ``budget`` holds the nodes still allowed (``Limits.max_nodes``)."""
    where = f"node {name!r}" if name else "the graph"
    budget[0] -= 1
    if budget[0] < 0:
        raise NIRLimitError(f"the graph has more than Limits.max_nodes = {limits.max_nodes} nodes")
    if not isinstance(data, dict):
        raise NIRFileError(f"{where}: expected an HDF5 group, found a dataset")
    typ = _text(data.get("type"), f"{where}: field 'type'")
    if typ not in NIR_TYPES:
        raise NIRFileError(f"{where}: type {typ!r} is not a NIR node type (nir {nir.version} defines: "
                           f"{', '.join(sorted(NIR_TYPES))})")
    if typ == "NIRGraph":
        if depth > limits.max_depth:
            raise NIRLimitError(f"{where}: subgraphs nested deeper than Limits.max_depth = {limits.max_depth}")
        nodes = data.get("nodes")
        if not isinstance(nodes, dict) or "edges" not in data:
            raise NIRFileError(f"{where}: a NIRGraph needs a 'nodes' group and an 'edges' dataset")
        prefix = f"{name}." if name else ""
        children = {k: build_node(v, prefix + k, limits, budget, depth + 1) for k, v in nodes.items()}
        metadata = data.get("metadata", {})
        return nir.NIRGraph(nodes=children, edges=_edges(data["edges"], where),
                            metadata=metadata if isinstance(metadata, dict) else {}, type_check=False)
    try:
        node = nir.dict2NIRNode({**data, "type": typ})
    except Exception as exc:  # nir raises AssertionError/TypeError/ValueError/... for missing or malformed fields
        raise NIRFileError(f"{where} ({typ}): malformed fields ({type(exc).__name__}: {shown(exc)})") from exc
    _check_fields(node, f"{where} ({typ})", limits)
    return node


def _check_fields(node: nir.NIRNode, where: str, limits: Limits) -> None:
    """Every parameter is numeric (a string where a number belongs broke the readers later, unnamed), and declared
    shapes are whole numbers within ``limits`` (the graph's input shapes are what a run allocates)."""
    for field, value in vars(node).items():
        if field in ("metadata", "input_type", "output_type") or value is None or (field == "padding"
                                                                                   and isinstance(value, str)):
            continue
        dtype = np.asarray(value).dtype
        if dtype.kind not in "biuf":
            raise NIRFileError(f"{where}: field {field!r} is not numeric (data of type {dtype})")
    check_declared_shapes(node, where, limits)


def read_graph(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> nir.NIRGraph:
    """Read a ``nir.write`` file after :func:`check`-ing it."""
    with open_checked(path, limits) as f:
        if "node" not in f or not isinstance(f["node"], h5py.Group):
            raise NIRFileError(f"{shown(os.fspath(path))}: no 'node' group, so not a NIR graph file")
        try:
            data = hdf2dict(f["node"])
        except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:  # unreadable chunks, filters
            raise NIRFileError(f"{shown(os.fspath(path))}: data cannot be read ({type(exc).__name__}: "
                               f"{shown(exc)})") from exc
    graph = build_node(data, "", limits, [limits.max_nodes])
    if not isinstance(graph, nir.NIRGraph):
        raise NIRFileError(f"{shown(os.fspath(path))}: the root node is a {type(graph).__name__}, not a NIRGraph")
    return graph


def read_data(source: str | os.PathLike | bytes, limits: Limits = DEFAULT_LIMITS,
              name: str | None = None) -> nir.NIRGraphData:
    """Read a ``nir.write_data`` file (path) or image (bytes) after :func:`check`-ing it. A file is read into memory
    once (at most ``Limits.max_bytes``), so the bytes checked are the bytes read. Only a regular file is read: it is
    opened without blocking (a FIFO would wait for a writer), then checked through its descriptor, and read no
    further than the limit (it may grow after the check)."""
    if isinstance(source, bytes):
        label, image = name or "in-memory HDF5 image", source
    else:
        label = name or shown(os.fspath(source))
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NIRFileError(f"{label}: not a regular file, so not a nir.write_data file")
            if st.st_size > limits.max_bytes:
                raise NIRLimitError(f"{label}: {st.st_size} bytes, over Limits.max_bytes = {limits.max_bytes}")
            with open(fd, "rb", closefd=False) as fh:
                image = fh.read(limits.max_bytes + 1)
        finally:
            os.close(fd)
        if len(image) > limits.max_bytes:
            raise NIRLimitError(f"{label}: more than {limits.max_bytes} bytes (it grew while read), over "
                                f"Limits.max_bytes = {limits.max_bytes}")
    with open_checked(io.BytesIO(image), limits, label):
        pass
    try:
        return nir.read_data(io.BytesIO(image))
    except Exception as exc:  # nir raises KeyError/ValueError/... for files that are not NIRGraphData
        raise NIRFileError(f"{label}: not a nir.write_data file ({type(exc).__name__}: {shown(exc)})") from exc
