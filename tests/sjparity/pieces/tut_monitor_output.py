# ruff: noqa
"""Tutorial monitor, "Usage": OutputMonitor on the IF layers of a positive-weight network; records, indexing by
position and by layer name, monitored_layers, clear_recorded_data, remove_hooks. (The network is the tutorial's
"complete example" network, which its first section builds.)"""
import torch
import torch.nn as nn
from spikingjelly.activation_based import monitor, neuron, functional, layer

net = nn.Sequential(
    layer.Linear(8, 4),
    neuron.IFNode(),
    layer.Linear(4, 2),
    neuron.IFNode()
)

for param in net.parameters():
    param.data.abs_()

functional.set_step_mode(net, 'm')

spike_seq_monitor = monitor.OutputMonitor(net, neuron.IFNode)
T = 4
N = 1
x_seq = torch.rand([T, N, 8])

with torch.no_grad():
    net(x_seq)

print(f'spike_seq_monitor.records=\n{spike_seq_monitor.records}')
records = list(spike_seq_monitor.records)
print(f'spike_seq_monitor[0]={spike_seq_monitor[0]}')
first = spike_seq_monitor[0]
print(f'net={net}')
print(f'spike_seq_monitor.monitored_layers={spike_seq_monitor.monitored_layers}')
print(f"spike_seq_monitor['1']={spike_seq_monitor['1']}")
by_name = spike_seq_monitor['1']
monitored_layers = list(spike_seq_monitor.monitored_layers)

spike_seq_monitor.clear_recorded_data()
print(f'spike_seq_monitor.records={spike_seq_monitor.records}')
print(f"spike_seq_monitor['1']={spike_seq_monitor['1']}")
after_clear = [list(spike_seq_monitor.records), list(spike_seq_monitor['1'])]

spike_seq_monitor.remove_hooks()
functional.reset_net(net)
with torch.no_grad():
    net(x_seq)

result = {"records": records, "first": first, "by_name": by_name, "monitored_layers": monitored_layers,
          "after_clear": after_clear, "after_remove_hooks": list(spike_seq_monitor.records)}
