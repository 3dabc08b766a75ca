"""torch.compile(fullgraph=True) traces the multi-step op without graph breaks and matches eager."""

import os
import subprocess
import sys

import pytest
import torch

from sj import neuron, surrogate
from sj.functional import reset_net

NODES = {
    "IF": lambda: neuron.IFNode(step_mode="m"),
    "LIF": lambda: neuron.LIFNode(step_mode="m", surrogate_function=surrogate.ATan()),
    "PLIF": lambda: neuron.ParametricLIFNode(step_mode="m", v_reset=None),
    "QIF": lambda: neuron.QIFNode(step_mode="m"),
    "EIF": lambda: neuron.EIFNode(step_mode="m", detach_reset=True),
    "Izhikevich": lambda: neuron.IzhikevichNode(step_mode="m"),
    "KLIF": lambda: neuron.KLIFNode(step_mode="m"),
    "CUBALIF": lambda: neuron.CUBALIFNode(step_mode="m"),
    "NonSpikingLIF": lambda: neuron.NonSpikingLIFNode(step_mode="m"),
}


def _run(node, x):
    y = node(x)
    (y * torch.linspace(0, 1, y.numel()).view_as(y)).sum().backward()
    return y.detach(), x.grad.clone(), [p.grad.clone() for p in node.parameters()]


# aot_eager exercises dynamo (fullgraph: no graph break), the fake implementations and the autograd registration;
# one neuron also goes through inductor, the default compiler.
@pytest.mark.parametrize("name", NODES)
def test_compiled_equals_eager(name):
    torch._dynamo.reset()
    eager, node = NODES[name](), NODES[name]()
    node.load_state_dict(eager.state_dict())
    x = torch.rand(5, 3, 4) * 2
    ref = _run(eager, x.clone().requires_grad_())
    compiled = torch.compile(node, fullgraph=True, backend="aot_eager")
    got = _run(compiled, x.clone().requires_grad_())
    torch.testing.assert_close(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1])
    for a, b in zip(got[2], ref[2], strict=True):
        torch.testing.assert_close(a, b)
    reset_net(node)


def test_inductor_compiles_a_training_step():
    torch._dynamo.reset()
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), neuron.LIFNode(step_mode="m"), torch.nn.Linear(8, 2))
    x = torch.rand(6, 3, 4)
    ref = net(x)
    reset_net(net)
    out = torch.compile(net, fullgraph=True)(x)
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    assert net[0].weight.grad is not None


_COMPILE_FIRST = """
import torch
from sj import neuron
from sj.functional import reset_net

node = neuron.ParametricLIFNode(step_mode="m")
x = (torch.rand(5, 3, 4) * 2).requires_grad_()
compiled = torch.compile(node, fullgraph=True, backend="aot_eager")
y = compiled(x)  # the first multi-step call of this process: nothing derived is in memory yet
y.sum().backward()
got = (y.detach(), x.grad.clone(), node.w.grad.clone())
reset_net(node)
x.grad = None
node.w.grad = None
ref_y = node(x)
ref_y.sum().backward()
for a, b in zip(got, (ref_y.detach(), x.grad, node.w.grad)):
    torch.testing.assert_close(a, b)
print("ok")
"""


def test_a_model_compiled_before_any_eager_call_traces_without_a_graph_break(tmp_path):
    """The first lookup of a neuron's derived program reads files (the shipped derivations, the on-disk cache), which
    Dynamo cannot trace: a fresh process that compiles with fullgraph=True before any eager call must not reach it
    (the other tests here run eager first, which fills the in-memory cache)."""
    env = {**os.environ, "SJ_DISABLE_PLUGINS": "1", "SJ_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _COMPILE_FIRST], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_the_compile_constant_marker_is_the_one_torch_compiler_sets():
    """sj.ops marks a function constant for Dynamo without importing torch._dynamo (see ``_compile_constant``)."""
    multistep_module = sys.modules["sj.ops.multistep"]

    def probe():
        return 1

    marked = torch.compiler.assume_constant_result(probe)
    ours = multistep_module._compile_constant(lambda: 1)
    public = dict(vars(marked))
    assert public and public == vars(ours), (public, vars(ours))
