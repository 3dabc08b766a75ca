# ruff: noqa
"""Example spiking_dqn_state (activation_based/examples/spiking_dqn_state.py): the DQSN network (IF hidden layer, a
non-spiking LIF read-out subclassing SimpleLIFNode, T steps per decision), its target network and optimize_model()
on a replay memory; CartPole (gym) is replaced by random transitions, BATCH_SIZE = 8, T = 4, 16 hidden units."""
import random
from collections import namedtuple

import torch
import torch.nn as nn
import torch.optim as optim
import torch.nn.functional as F
from spikingjelly.activation_based import monitor, neuron, functional, layer

Transition = namedtuple("Transition", ("state", "action", "next_state", "reward"))


class ReplayMemory(object):
    def __init__(self, capacity):
        self.capacity = capacity
        self.memory = []
        self.position = 0

    def push(self, *args):
        if len(self.memory) < self.capacity:
            self.memory.append(None)
        self.memory[self.position] = Transition(*args)
        self.position = (self.position + 1) % self.capacity

    def sample(self, batch_size):
        return random.sample(self.memory, batch_size)

    def __len__(self):
        return len(self.memory)


class NonSpikingLIFNode(neuron.SimpleLIFNode):
    def single_step_forward(self, x: torch.Tensor):
        self.neuronal_charge(x)
        return self.v


# Spiking DQN algorithm
class DQSN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, T=16):
        super().__init__()

        self.fc = nn.Sequential(
            layer.Linear(input_size, hidden_size),
            neuron.IFNode(),
            layer.Linear(hidden_size, output_size),
            NonSpikingLIFNode(tau=2.0, decay_input=True),
        )

        self.T = T

    def forward(self, x):
        for t in range(self.T):
            self.fc(x)

        return self.fc[-1].v


BATCH_SIZE = 8
GAMMA = 0.999
T = 4
device = torch.device("cpu")
n_states, n_actions, hidden_size = 4, 2, 16
policy_net = DQSN(n_states, hidden_size, n_actions, T).to(device)
target_net = DQSN(n_states, hidden_size, n_actions, T).to(device)
target_net.load_state_dict(policy_net.state_dict())
target_net.eval()
optimizer = optim.Adam(policy_net.parameters())
memory = ReplayMemory(10000)
for i in range(12):  # random CartPole-like transitions
    state = torch.randn([1, n_states])
    memory.push(state, torch.tensor([[random.randrange(n_actions)]]), None if i % 5 == 4 else torch.randn([1, n_states]),
                torch.tensor([1.0]))


def optimize_model():
    if len(memory) < BATCH_SIZE:
        return
    transitions = memory.sample(BATCH_SIZE)
    batch = Transition(*zip(*transitions))
    non_final_mask = torch.tensor(
        tuple(state is not None for state in batch.next_state),
        device=device,
        dtype=torch.bool,
    )
    non_final_next_states = torch.cat(
        [s for s in batch.next_state if s is not None]
    )
    state_batch = torch.cat(batch.state)
    action_batch = torch.cat(batch.action)
    reward_batch = torch.cat(batch.reward)
    state_action_values = policy_net(state_batch).gather(1, action_batch)
    next_state_values = torch.zeros(BATCH_SIZE, device=device)
    next_state_values[non_final_mask] = (
        target_net(non_final_next_states).max(1)[0].detach()
    )
    functional.reset_net(target_net)
    expected_state_action_values = (next_state_values * GAMMA) + reward_batch
    loss = F.smooth_l1_loss(
        state_action_values, expected_state_action_values.unsqueeze(1)
    )
    optimizer.zero_grad()
    loss.backward()
    for param in policy_net.parameters():
        if param.grad is not None:
            param.grad.data.clamp_(-1, 1)
    optimizer.step()
    functional.reset_net(policy_net)
    return loss.item()


losses = [optimize_model() for _ in range(3)]
with torch.no_grad():
    action = policy_net(torch.randn([1, n_states])).max(1)[1].view(1, 1)
    functional.reset_net(policy_net)

result = {"losses": losses, "action": action, "params": {k: v for k, v in policy_net.named_parameters()}}
