# ruff: noqa
"""Example spiking_lstm_text (activation_based/examples/spiking_lstm_text.py): name classification with a one-hot
letter sequence through rnn.SpikingLSTM and a softmax read-out, trained by MSE with Adam for a few random pairs; the
names and categories are a small built-in list instead of the downloaded data, 32 hidden units (the example: 256)."""
import random
import string

import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import rnn

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
category_lines_train = {"English": ["Smith", "Jones", "Brown"], "French": ["Martin", "Bernard", "Dubois"],
                        "German": ["Muller", "Schmidt", "Schneider"]}
all_categories = list(category_lines_train)
n_categories = len(all_categories)

def letterToIndex(letter):
    return all_letters.find(letter)

def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor

def categoryFromOutput(output):
    top_n, top_i = output.topk(1)
    category_i = top_i[0][0]
    return all_categories[category_i], category_i

def randomChoice(l):
    return l[random.randint(0, len(l) - 1)]

def randomPair(sampleSource):
    category = randomChoice(all_categories)
    line = randomChoice(category_lines_train[category])
    category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.float)
    line_tensor = lineToTensor(line)
    return category, line, category_tensor, line_tensor

n_hidden = 32

class Net(nn.Module):
    def __init__(self, n_letters, n_hidden, n_categories):
        super().__init__()
        self.n_input = n_letters
        self.n_hidden = n_hidden
        self.n_out = n_categories
        self.lstm = rnn.SpikingLSTM(self.n_input, self.n_hidden, 1)
        self.fc = nn.Linear(self.n_hidden, self.n_out)

    def forward(self, x):
        x, _ = self.lstm(x)
        output = self.fc(x[-1])
        output = F.softmax(output, dim=1)
        return output

learning_rate = 1e-4
net = Net(n_letters, n_hidden, n_categories)
optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
losses, guesses = [], []
for epoch in range(1, 6):
    net.train()
    category, line, category_tensor, line_tensor = randomPair("train")
    label_one_hot = F.one_hot(category_tensor.to(int), n_categories).float()
    optimizer.zero_grad()
    out_prob_log = net(line_tensor)
    loss = F.mse_loss(out_prob_log, label_one_hot)
    loss.backward()
    optimizer.step()
    losses.append(loss.data.item())
    guess, _ = categoryFromOutput(out_prob_log.data)
    guesses.append(guess)

result = {"losses": losses, "guesses": guesses, "params": {k: v for k, v in net.named_parameters()}}
