"""Graph-level hardening: sizes declared by nodes, name collisions, non-finite parameters, escaped names, exit
statuses, and loading in time linear in the number of nodes."""

from __future__ import annotations

import itertools
import os
import sys
import warnings

import nir
import numpy as np
import pytest
import torch
from torch import nn

import sj.nir
from sj import layer, neuron
from sj.cli.main import main
from sj.nir import golden

DT = 1e-3


def _chain(*middle: tuple[str, nir.NIRNode], shape=(2,), **kw) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type={"input": np.array(shape)}), **dict(middle),
             "output": nir.Output(output_type={"output": np.array(shape)})}
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(nodes)), type_check=False, **kw)


def _scale(n: int = 2) -> nir.Scale:
    return nir.Scale(scale=np.ones(n))


# ------------------------------------------------------------------------------------------------ declared sizes
def test_huge_delay_is_refused_at_load():
    g = _chain(("wait", nir.Delay(delay=np.full(2, 1e12 * DT))))
    with pytest.raises(sj.nir.NIRLimitError, match=r"node 'wait' \(Delay\) buffer of 1000000000000 steps"):
        sj.nir.load(g, dt=DT)


def test_huge_input_shape_is_refused_at_load():
    g = _chain(("s", nir.Scale(scale=np.ones(1))), shape=(1_000_000, 1_000_000))
    with pytest.raises(sj.nir.NIRLimitError, match=r"node 'input' \(Input\) input_type \[1000000, 1000000\]"):
        sj.nir.load(g, dt=DT)


def test_conv_padding_bomb_is_refused_at_load():
    conv = nir.Conv2d(input_shape=None, weight=np.ones((1, 1, 1, 1), np.float32), stride=1, padding=10**6,
                      dilation=1, groups=1, bias=np.zeros(1, np.float32))
    g = _chain(("conv", conv), shape=(1, 4, 4))
    with pytest.raises(sj.nir.NIRLimitError, match=r"node 'conv' \(Conv2d\) output"):
        sj.nir.load(g, dt=DT)


def test_node_count_limit():
    g = _chain(*((f"s{i}", _scale()) for i in range(30)))
    sj.nir.load(g, dt=DT)
    with pytest.raises(sj.nir.NIRLimitError, match="max_nodes = 20"):
        sj.nir.load(g, dt=DT, limits=sj.nir.Limits(max_nodes=20))


# ------------------------------------------------------------------------------------------------ structure
def _sub() -> nir.NIRGraph:
    return _chain(("b", nir.Scale(scale=np.full(2, 3.0))))


def test_flattened_names_do_not_merge_silently():
    """A top-level node 'g.b' and node 'b' of subgraph 'g' were merged into one when inlined."""
    nodes = {"input": nir.Input(input_type={"input": np.array([2])}), "g": _sub(),
             "g.b": nir.Scale(scale=np.full(2, 5.0)), "output": nir.Output(output_type={"output": np.array([2])})}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "g"), ("g", "g.b"), ("g.b", "output")], type_check=False)
    with pytest.raises(sj.nir.NIRGraphError, match=r"'g\.b' is both .*subgraph 'g'.* and node 'g\.b'"):
        sj.nir.load(g, dt=DT)


def test_edges_cannot_reach_into_a_subgraph():
    nodes = {"input": nir.Input(input_type={"input": np.array([2])}), "g": _sub(),
             "output": nir.Output(output_type={"output": np.array([2])})}
    g = nir.NIRGraph(nodes=nodes, edges=[("input", "g.b"), ("g", "output")], type_check=False)
    with pytest.raises(sj.nir.NIRGraphError, match=r"names node 'g\.b', which is not in the graph"):
        sj.nir.load(g, dt=DT)


def _nested(levels: int, name: str = "g") -> nir.NIRGraph:
    """``levels`` subgraphs inside one another, each named ``name``, around a Scale."""
    g = _sub()
    for _ in range(levels - 1):
        g = _chain((name, g))
    return _chain((name, g))


def test_dots_in_names_are_not_subgraph_levels():
    """Depth was read off the flattened name (its dots): one subgraph named like sj's own 'features.0' nodes, with
    more dots than Limits.max_depth, was refused as too deeply nested."""
    dotted = ".".join(["features"] * 40)
    net = sj.nir.load(_nested(1, dotted), dt=DT)
    assert f"{dotted}.b" in net.node_names
    assert torch.equal(net(torch.ones(1, 2)), torch.full((1, 2), 3.0))
    sj.nir.load(_nested(2, "a.b.c"), dt=DT, limits=sj.nir.Limits(max_depth=2))


def test_deep_subgraphs_are_still_refused():
    with pytest.raises(sj.nir.NIRLimitError, match=r"nested deeper than Limits\.max_depth = 32$"):
        sj.nir.load(_nested(33), dt=DT)
    with pytest.raises(sj.nir.NIRLimitError, match=r"nested deeper than Limits\.max_depth = 2$"):
        sj.nir.load(_nested(3), dt=DT, limits=sj.nir.Limits(max_depth=2))
    sj.nir.load(_nested(32), dt=DT)


def _two_loops(fa: str, fb: str) -> nir.NIRGraph:
    """input → a → output and input → b → output; a feeds back to itself through Scale ``fa`` (×0.5), b through
    ``fb`` (×2): the back edges leave ``fa`` and ``fb``, whose previous outputs are memories."""
    n = {"input": nir.Input(input_type={"input": np.array([1])}), "a": nir.Scale(scale=np.ones(1)),
         "b": nir.Scale(scale=np.ones(1)), fa: nir.Scale(scale=np.full(1, 0.5)), fb: nir.Scale(scale=np.full(1, 2.0)),
         "output": nir.Output(output_type={"output": np.array([1])})}
    e = [("input", "a"), ("input", "b"), ("a", fa), (fa, "a"), ("b", fb), (fb, "b"), ("a", "output"), ("b", "output")]
    return nir.NIRGraph(nodes=n, edges=e, type_check=False)


def test_feedback_memories_of_similar_names_stay_apart():
    """'x.y' and 'x_y' both feed back; their memories were both named 'fb_x_y', so one overwrote the other."""
    x = torch.ones(4, 1, 1)
    want = sj.nir.load(_two_loops("p", "q"), dt=DT, step_mode="m")
    got = sj.nir.load(_two_loops("x.y", "x_y"), dt=DT, step_mode="m")
    assert sorted(got.back_edges) == [("x.y", "a"), ("x_y", "b")]
    assert torch.equal(got(x), want(x))


# ------------------------------------------------------------------------------------------------ values
@pytest.mark.parametrize("field", ["weight", "bias"])
def test_non_finite_weights_are_refused(field):
    w, b = np.ones((2, 2), np.float32), np.zeros(2, np.float32)
    (w if field == "weight" else b)[1] = np.nan
    g = _chain(("fc", nir.Affine(weight=w, bias=b)))
    with pytest.raises(sj.nir.NIRParameterError, match=rf"node 'fc' \(Affine\): {field} has \d+ non-finite"):
        sj.nir.load(g, dt=DT)


def test_non_finite_parameters_are_not_exported():
    net = nn.Sequential(layer.Linear(3, 2), neuron.IFNode())
    with torch.no_grad():
        net[0].weight[0, 0] = float("inf")
    with pytest.raises(sj.nir.NIRParameterError, match=r"module '0' \(Linear\): weight has non-finite"):
        sj.nir.export(net, torch.rand(1, 3))


@pytest.mark.parametrize("field, value", [("stride", 0), ("dilation", -1), ("groups", 0), ("padding", 1.5)])
def test_bad_convolution_integers_are_named(field, value):
    kw = dict(input_shape=(4, 4), weight=np.ones((1, 1, 3, 3), np.float32), stride=1, padding=1, dilation=1,
              groups=1, bias=np.zeros(1, np.float32))
    conv = nir.Conv2d(**kw)
    setattr(conv, field, value)  # nir computes the output type at construction; set the bad value afterwards
    with pytest.raises(sj.nir.NIRParameterError, match=rf"node 'conv' \(Conv2d\): {field}"):
        sj.nir.load(_chain(("conv", conv), shape=(1, 4, 4)), dt=DT)


def test_unknown_padding_word_is_a_parameter_error(capsys):
    """A padding string other than 'same'/'valid' crashed the size check with a TypeError (exit 3 in the CLI)."""
    conv = nir.Conv2d(input_shape=(4, 4), weight=np.ones((1, 1, 3, 3), np.float32), stride=1, padding=1, dilation=1,
                      groups=1, bias=np.zeros(1, np.float32))
    conv.padding = "full"
    with pytest.raises(sj.nir.NIRParameterError, match=r"node 'conv' \(Conv2d\): padding 'full' must be 'same'"):
        sj.nir.load(_chain(("conv", conv), shape=(1, 4, 4)), dt=DT)


def test_metadata_of_the_wrong_type_is_named():
    g = _chain(("s", _scale()), metadata={"format": "sj-nir/2", "dt": "fast"})
    with pytest.raises(sj.nir.NIRParameterError, match="metadata dt must be a number of seconds, got 'fast'"):
        sj.nir.load(g)


def test_odd_values_are_refused_by_name_not_crashed_on():
    """Found by mutating every dataset of a file: these crashed `sj nir` (exit 1, a traceback) instead of refusing."""
    assert not sj.nir.conventions.is_sj_graph(_chain(("s", _scale()), metadata={"format": np.array([b"a", b"b"])}))
    with pytest.raises(sj.nir.NIRParameterError, match=r"node 's' \(Scale\): scale is empty"):
        sj.nir.load(_chain(("s", nir.Scale(scale=np.zeros(0))), shape=(0,)), dt=DT)
    pool = nir.AvgPool2d(kernel_size=np.array([8, 8]), stride=np.array([1, 1]), padding=np.array([0, 0]))
    net = sj.nir.load(_chain(("pool", pool), shape=(1, 4, 4)), dt=DT)
    with pytest.raises(sj.nir.NIRGraphError, match=r"node 'pool' \(AvgPool2d\) cannot run on its input of shape "
                                                   r"\(2, 1, 4, 4\)"):
        net(torch.zeros(2, 1, 4, 4))
    pool.padding = np.array([5, 5])
    with pytest.raises(sj.nir.NIRParameterError, match=r"padding \[5, 5\] exceeds half the kernel"):
        sj.nir.load(_chain(("pool", pool), shape=(1, 4, 4)), dt=DT)


def test_sj_nir_1_files_keep_their_if_gain():
    """sj-nir/1 wrote IF r as the per-step gain; sj-nir/2 writes r = gain/dt (NIR's dv/dt = R·I, SpikingJelly's)."""
    if_node = nir.IF(r=np.full(2, 2.0), v_threshold=np.full(2, 10.0), v_reset=np.zeros(2))
    legacy = sj.nir.load(_chain(("if", if_node), metadata={"format": "sj-nir/1", "dt": DT}))
    assert legacy.module_for("if").r.item() == 2.0
    net = nn.Sequential(layer.Linear(3, 2), neuron.IFNode())
    graph = sj.nir.export(net, torch.rand(1, 3), dt=DT)
    assert graph.metadata["if_gain"] == "r*dt" and np.all(graph.nodes["1"].r == 1 / DT)
    assert type(sj.nir.load(graph).module_for("1")) is neuron.IFNode


# ------------------------------------------------------------------------------------------------ messages
EVIL = "\x1b[2J\x1b[31mevil\u202e"


def test_names_from_files_are_printed_escaped(tmp_path, capsys):
    path = tmp_path / "evil.nir"
    nir.write(path, _chain((EVIL, _scale()), metadata={EVIL: EVIL}))
    assert main(["nir", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b[2J\\x1b[31mevil\\u202e" in out
    g = _chain((EVIL, nir.Scale(scale=np.full(2, np.nan))))
    with pytest.raises(sj.nir.NIRParameterError) as info:
        sj.nir.load(g, dt=DT)
    assert "\x1b" not in str(info.value) and "\\x1b" in str(info.value)


def test_exit_status_separates_mismatch_refusal_and_crash(tmp_path, monkeypatch, capsys):
    net = nn.Sequential(layer.Linear(3, 2), neuron.IFNode(v_threshold=0.5))
    path = tmp_path / "net.nir"
    sj.nir.export(net, torch.rand(1, 3), path=path)
    golden.attach(path, golden.record(sj.nir.load(path), torch.rand(5, 2, 3)))
    assert main(["nir", "run", str(path)]) == 0
    assert main(["nir", "run", str(path), "--dt", "0.5"]) == 2  # contradicts the recorded dt: refused
    assert "records dt" in capsys.readouterr().err

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(golden, "compare", crash)
    assert main(["nir", "run", str(path)]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "RuntimeError: boom" in err


# ------------------------------------------------------------------------------------------------ scaling
def _lines_run(fn) -> int:
    """Python lines executed inside sj.nir and nir while ``fn`` runs (a deterministic measure of work)."""
    roots = tuple(os.path.dirname(m.__file__) for m in (sj.nir, nir))
    count = 0

    def local(frame, event, arg):
        nonlocal count
        count += event == "line"
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(roots) else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        fn()
    finally:
        sys.settrace(previous)
    return count


def test_loading_is_linear_in_the_node_count(tmp_path):
    """1,000 → 4,000 nodes took 0.12 → 1.16 s (nir's type inference and the predecessor lists were quadratic). Work
    is counted as lines executed, not timed: linear gives a ratio of at most 4 between 200 and 50 nodes, the
    quadratic code gave 10."""
    work = {}
    for n in (50, 200):
        path = tmp_path / f"chain{n}.nir"
        nir.write(path, _chain(*((f"s{i}", _scale()) for i in range(n))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            work[n] = _lines_run(lambda p=path: sj.nir.load(p, dt=DT))
    assert work[200] / work[50] < 4.5, work

