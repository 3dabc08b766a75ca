# ruff: noqa
"""Example spiking_a2c (activation_based/examples/spiking_a2c.py): the spiking ActorCritic (IF hidden layers, non-spiking
LIF read-outs subclassing SimpleLIFNode, T steps), its categorical policy and value, and one A2C update on random
states instead of CartPole's parallel environments; 16 hidden units, T = 4."""
import torch
import torch.nn as nn
import torch.optim as optim
import torch.nn.functional as F
from torch.distributions import Categorical
from spikingjelly.activation_based import neuron, functional, layer


class NonSpikingLIFNode(neuron.SimpleLIFNode):
    def single_step_forward(self, x: torch.Tensor):
        self.neuronal_charge(x)
        return self.v


# Neural Network
class ActorCritic(nn.Module):
    def __init__(self, num_inputs, num_outputs, hidden_size, T=16):
        super(ActorCritic, self).__init__()

        self.critic = nn.Sequential(
            layer.Linear(num_inputs, hidden_size),
            neuron.IFNode(),
            layer.Linear(hidden_size, 1),
            NonSpikingLIFNode(tau=2.0, decay_input=True),
        )

        self.actor = nn.Sequential(
            layer.Linear(num_inputs, hidden_size),
            neuron.IFNode(),
            layer.Linear(hidden_size, num_outputs),
            NonSpikingLIFNode(tau=2.0, decay_input=True),
        )

        self.T = T

    def forward(self, x):
        for t in range(self.T):
            self.critic(x)
            self.actor(x)
        value = self.critic[-1].v
        probs = F.softmax(self.actor[-1].v, dim=1)
        dist = Categorical(probs)

        return dist, value


model = ActorCritic(4, 2, 16, T=4)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
state = torch.randn([8, 4]) * 2
dist, value = model(state)
action = dist.sample()
log_prob = dist.log_prob(action)
entropy = dist.entropy().mean()
returns = torch.randn([8, 1])
advantage = returns - value
actor_loss = -(log_prob * advantage.detach().squeeze()).mean()
critic_loss = advantage.pow(2).mean()
loss = actor_loss + 0.5 * critic_loss - 0.001 * entropy
optimizer.zero_grad()
loss.backward()
optimizer.step()
functional.reset_net(model)

result = {"value": value, "probs": dist.probs, "action": action, "loss": loss,
          "params": {k: v for k, v in model.named_parameters()}}
