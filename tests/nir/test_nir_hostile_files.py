"""Untrusted NIR files: data from outside the file, links, and declared sizes far beyond the file's own are refused
before anything is read or allocated, naming the object; every refusal exits `sj nir` with status 2."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import h5py
import nir
import numpy as np
import pytest
import torch
from torch import nn

import sj.nir
from sj import layer, neuron
from sj.cli.main import main
from sj.nir import golden, hdf5

SECRET = b"TOP-SECRET-CONTENT"
HUGE = (1 << 20, 1 << 20)  # 8 TiB of float64 when read: declared by a file of a few KB (chunks never written)


@pytest.fixture
def nir_file(tmp_path):
    path = tmp_path / "net.nir"
    sj.nir.export(nn.Sequential(layer.Linear(3, 2), neuron.LIFNode(tau=2.0)), torch.rand(1, 3), path=path)
    return path


def _edit(path, fn) -> None:
    with h5py.File(path, "a") as f:
        fn(f)


def _replace(f: h5py.File, name: str, **kw) -> None:
    del f[name]
    f.create_dataset(name, **kw)


def _external_metadata(secret):
    # a metadata string whose bytes live in another file: `sj nir inspect` printed them
    return lambda f: _replace(f, "node/metadata/producer", shape=(1,), dtype="S18", external=[(str(secret), 0, 18)])


def _virtual(other):
    def edit(f):
        lay = h5py.VirtualLayout(shape=(2, 3), dtype="f4")
        lay[:] = h5py.VirtualSource(str(other), "data", shape=(2, 3))
        del f["node/nodes/0/weight"]
        f.create_virtual_dataset("node/nodes/0/weight", lay)
    return edit


def _link(kind, other):
    def edit(f):
        del f["node/nodes/0/weight"]
        f["node/nodes/0/weight"] = (h5py.SoftLink("/node/nodes/1/tau") if kind == "soft"
                                    else h5py.ExternalLink(str(other), "/data"))
    return edit


def _hard_link(f):
    f["node/metadata/again"] = f["node/nodes/0"]  # one object reachable by two paths


@pytest.mark.parametrize("attack, message", [
    ("external", "external storage"), ("virtual", "virtual dataset"), ("soft", "SoftLink"),
    ("external_link", "ExternalLink"), ("hard_link", "reached by another path")])
def test_data_from_outside_the_file_is_refused(attack, message, nir_file, tmp_path, capsys):
    secret, other = tmp_path / "secret.txt", tmp_path / "other.h5"
    secret.write_bytes(SECRET)
    with h5py.File(other, "w") as f:
        f["data"] = np.full((2, 3), 7.0, np.float32)
    edit = {"external": _external_metadata(secret), "virtual": _virtual(other), "soft": _link("soft", other),
            "external_link": _link("external", other), "hard_link": _hard_link}[attack]
    _edit(nir_file, edit)
    with pytest.raises(sj.nir.NIRUnsafeFileError, match=message):
        sj.nir.read(nir_file)
    assert main(["nir", "inspect", str(nir_file)]) == 2
    out, err = capsys.readouterr()
    assert SECRET.decode() not in out + err and message in err


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_huge_declared_dataset_is_refused_before_reading(compression, nir_file):
    _edit(nir_file, lambda f: _replace(f, "node/nodes/0/weight", shape=HUGE, dtype="f8", chunks=(1, 1024),
                                       compression=compression))
    assert nir_file.stat().st_size < 100_000
    with pytest.raises(sj.nir.NIRLimitError, match=r"dataset '/node/nodes/0/weight'.*Limits\.max_bytes"):
        sj.nir.load(nir_file)


def test_huge_attribute_is_counted(nir_file):
    _edit(nir_file, lambda f: f["node/nodes/1"].attrs.create("blob", np.zeros(7000)))  # 56 KB, nir never reads it
    sj.nir.read(nir_file)
    with pytest.raises(sj.nir.NIRLimitError, match=r"attribute 'blob'"):
        sj.nir.read(nir_file, limits=sj.nir.Limits(max_bytes=40_000))


def test_limits_are_overridable_from_python_and_the_command_line(nir_file, capsys):
    assert sj.nir.read(nir_file).nodes["0"].weight.shape == (2, 3)
    with pytest.raises(sj.nir.NIRLimitError, match="max_bytes = 16"):
        sj.nir.read(nir_file, limits=sj.nir.Limits(max_bytes=16))
    assert main(["nir", "inspect", str(nir_file), "--max-bytes", "16"]) == 2
    assert "--max-bytes" in capsys.readouterr().err
    assert main(["nir", "inspect", str(nir_file), "--max-nodes", "0"]) == 2  # an invalid limit is refused too


def test_unknown_node_type_is_named(nir_file):
    _edit(nir_file, lambda f: _replace(f, "node/nodes/1/type", data="Izhikevich", dtype=h5py.string_dtype()))
    with pytest.raises(sj.nir.NIRFileError, match=r"node '1': type 'Izhikevich' is not a NIR node type"):
        sj.nir.read(nir_file)


def test_malformed_node_fields_are_named(nir_file):
    _edit(nir_file, lambda f: f.__delitem__("node/nodes/1/tau"))
    with pytest.raises(sj.nir.NIRFileError, match=r"node '1' \(LIF\): malformed fields"):
        sj.nir.read(nir_file)


@pytest.mark.parametrize("field, value, message", [
    ("node/nodes/1/tau", np.array([b"fast", b"slow"]), r"node '1' \(LIF\): field 'tau' is not numeric"),
    ("node/nodes/input/shape", np.array([np.nan]), r"node 'input' \(Input\) input_type: shape \[nan\]"),
    ("node/nodes/input/shape", np.array([10**7, 10**7]), r"node 'input' \(Input\) input_type .*max_elements")])
def test_inspect_refuses_what_load_refuses(field, value, message, nir_file, capsys):
    """`inspect` reads without loading: it crashed on what `load` refuses (a string for a number, a NaN shape) and
    accepted input shapes whose runs cannot be allocated."""
    _edit(nir_file, lambda f: _replace(f, field, data=value))
    assert main(["nir", "inspect", str(nir_file)]) == 2
    assert re.search(message, capsys.readouterr().err)


def _graph_data_image(edit) -> bytes:
    """A nir.write_data image (as stored in a golden record), changed by ``edit``."""
    buf = io.BytesIO()
    data = nir.NIRGraphData({"input": nir.NIRNodeData({"input": nir.TimeGriddedData(np.zeros((1, 2, 3)), 1e-4)})})
    nir.write_data(buf, data)
    with h5py.File(buf, "a") as f:
        edit(f)
    return buf.getvalue()


@pytest.mark.parametrize("attack, error", [("huge", "NIRLimitError"), ("external", "NIRUnsafeFileError")])
def test_golden_record_image_is_checked_too(attack, error, nir_file, tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    name = "nodes/input/observables/input/data"
    kw = (dict(shape=HUGE, dtype="f8", chunks=(1, 1024), compression="gzip") if attack == "huge"
          else dict(shape=(1,), dtype="S18", external=[(str(secret), 0, 18)]))
    image = _graph_data_image(lambda f: _replace(f, name, **kw))
    _edit(nir_file, lambda f: f.create_dataset(golden.DATASET, data=np.frombuffer(image, np.uint8)))
    with pytest.raises(getattr(sj.nir, error)):
        golden.attached(nir_file)
    assert main(["nir", "run", str(nir_file)]) == 2
    out, err = capsys.readouterr()
    assert SECRET.decode() not in out + err
    (tmp_path / "expected.nir").write_bytes(image)  # the same image given as --expected
    assert main(["nir", "run", str(nir_file), "--expected", str(tmp_path / "expected.nir")]) == 2


def test_expected_file_is_read_from_its_descriptor_within_the_limit(tmp_path):
    """read_data stat-ed the path, then opened it and read without bound: a directory raised IsADirectoryError, a
    FIFO blocked forever (open waits for a writer), a file growing after the stat was read past Limits.max_bytes."""
    image = _graph_data_image(lambda f: None)
    path = tmp_path / "expected.nir"
    path.write_bytes(image)
    assert list(hdf5.read_data(path).nodes) == ["input"]
    with pytest.raises(sj.nir.NIRLimitError, match=rf"{len(image)} bytes, over Limits.max_bytes = 1000"):
        hdf5.read_data(path, sj.nir.Limits(max_bytes=1000))
    with pytest.raises(sj.nir.NIRFileError, match="not a regular file"):
        hdf5.read_data(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_expected_fifo_is_refused_not_waited_on(tmp_path):
    """Run in a subprocess with a timeout: the old reader blocked forever in open(), waiting for a writer."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code = ("import sys, sj.nir\nfrom sj.nir import hdf5\ntry:\n    hdf5.read_data(sys.argv[1])\n"
            "except sj.nir.NIRFileError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "not a regular file" in done.stdout, done.stderr


def test_expected_file_growing_after_the_check_is_read_no_further_than_the_limit(tmp_path, monkeypatch):
    image = _graph_data_image(lambda f: None)
    path = tmp_path / "expected.nir"
    path.write_bytes(image)
    fstat = os.fstat

    def grow(fd):  # the file grows between the size check and the read
        st = fstat(fd)
        with open(path, "ab") as fh:
            fh.write(b"\0" * 100)
        return st

    monkeypatch.setattr(hdf5.os, "fstat", grow)
    with pytest.raises(sj.nir.NIRLimitError, match=rf"more than {len(image) + 50} bytes"):
        hdf5.read_data(path, sj.nir.Limits(max_bytes=len(image) + 50))


def test_npy_input_with_a_huge_header_is_refused(nir_file, tmp_path, capsys):
    path = tmp_path / "x.npy"
    with open(path, "wb") as fh:  # declares 10¹² float32 values, holds 12
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (1_000_000, 1_000_000, 3)})
        fh.write(np.zeros(3, np.float32).tobytes())
    assert main(["nir", "run", str(nir_file), "--input", str(path)]) == 2
    assert "not a readable .npy" in capsys.readouterr().err
