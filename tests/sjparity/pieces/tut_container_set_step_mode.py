# ruff: noqa
"""Tutorial container: set_step_mode changes the StepModeContainer only, its child stays single-step.
The tutorial calls ``StepModeContainer(stateful, *modules)``; SJ 2.0.0's signature is ``(stateful, step_mode, *args)``,
so ``'s'`` is passed (the tutorial's call fails on SJ 2.0.0 itself)."""
import torch
from spikingjelly.activation_based import neuron, layer, functional


with torch.no_grad():
    net = layer.StepModeContainer(
        True, 's',
        neuron.IFNode()
    )
    functional.set_step_mode(net, 'm')
    print(f'net.step_mode={net.step_mode}')
    print(f'net[0].step_mode={net[0].step_mode}')

result = {"container": net.step_mode, "child": net[0].step_mode}
