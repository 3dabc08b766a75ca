"""A state left by a pass under torch.inference_mode() (evaluation without reset_net) entering a call autograd
records raises an error naming the module, the state and reset_net, instead of torch's error from inside an op; the
same state under no_grad, or after reset_net, is fine."""

import pytest
import torch

from sj import functional, layer, neuron
from sj.base import StaleStateError

BACKENDS = ["torch", "delegate"]


def _modules():
    return {
        "LIFNode-m-torch": (lambda: neuron.LIFNode(step_mode="m"), (4, 3, 5), "LIFNode: state 'v'"),
        "LIFNode-m-delegate": (lambda: neuron.LIFNode(step_mode="m", backend="delegate"), (4, 3, 5),
                               "LIFNode: state 'v'"),
        "IzhikevichNode-m": (lambda: neuron.IzhikevichNode(step_mode="m"), (4, 3, 5), "IzhikevichNode: state 'v'"),
        "LIFNode-s": (lambda: neuron.LIFNode(step_mode="s"), (3, 5), "LIFNode: state 'v'"),
        "SynapseFilter": (lambda: layer.SynapseFilter(tau=2.0, learnable=True), (3, 5), "SynapseFilter: state 'out_i'"),
        "Delay": (lambda: layer.Delay(2, step_mode="m"), (4, 3, 5), "Delay: state 'queue'"),
        "Dropout": (lambda: layer.Dropout(0.5, step_mode="s"), (3, 5), "Dropout: state 'mask'"),
        "ElementWiseRecurrentContainer": (
            lambda: layer.ElementWiseRecurrentContainer(neuron.LIFNode(), lambda y, x: x * y + x),
            (3, 5), "state 'y'"),
    }


@pytest.mark.parametrize("name", list(_modules()))
def test_inference_mode_state_in_a_recorded_call_names_reset_net(name):
    make, shape, where = _modules()[name]
    module = make()
    with torch.inference_mode():
        module(torch.rand(shape))
        module(torch.rand(shape))  # the second call leaves every state (e.g. the recurrent y) set
    x = torch.rand(shape, requires_grad=True)
    with pytest.raises(StaleStateError, match=rf"{where} was made under torch.inference_mode\(\).*reset_net"):
        module(x)
    with torch.no_grad():
        module(torch.rand(shape))  # nothing recorded: the state may be read
    functional.reset_net(module)
    module(x).sum().backward()  # after reset_net: a fresh state, and gradients flow
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_inputs_not_requiring_grad_are_not_refused():
    """A call autograd does not record (nothing requires grad) may continue from an inference-mode state."""
    node = neuron.LIFNode(step_mode="m")
    with torch.inference_mode():
        node(torch.rand(4, 3))
    node(torch.rand(4, 3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_after_an_inference_mode_evaluation_of_the_same_shape(backend):
    """The epoch loop train → evaluate under inference_mode → reset_net → train: the reset state the multi-step neuron
    keeps between calls (a fill of the reset value) was made under inference mode and broke the next training call
    ("Inference tensors cannot be saved for backward")."""
    net = torch.nn.Sequential(layer.Linear(5, 4, step_mode="m"), neuron.LIFNode(step_mode="m", backend=backend))
    x = torch.rand(4, 3, 5)
    for _ in range(2):
        net(x).sum().backward()
        functional.reset_net(net)
        with torch.inference_mode():
            net(x)
        functional.reset_net(net)
    assert net[0].weight.grad is not None
