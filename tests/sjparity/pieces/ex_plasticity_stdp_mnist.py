# ruff: noqa
"""Example plasticity/stdp_mnist (activation_based/examples/plasticity/stdp_mnist.py): its network (current-filtered
adaptive LIF neurons subclassing SimpleLIFNode, a functional-forward MemoryModule, recurrent inhibition through
ElementWiseRecurrentContainer), its STDPLearner and _run_batch, one learning batch and one evaluation batch; shrunk
to 10 neurons, 5 steps, batches of 2 synthetic 28×28 images (the covariance from 20 synthetic images)."""
import copy
import math

import torch
import torch.nn as nn

from spikingjelly.activation_based import base, functional, layer, learning, neuron


class _AdaptiveLIFNode(neuron.SimpleLIFNode):
    def __init__(
        self,
        neurons: int,
        homeostasis_gain: float,
        v_threshold: float,
        refractory_steps: int,
        bias_initial: float,
        steps: int,
    ):
        super().__init__(tau=100.0, decay_input=True, v_threshold=v_threshold)
        bias = (
            -torch.rand(neurons) / (1 / bias_initial)
            if bias_initial
            else torch.zeros(neurons)
        )
        self.register_buffer("bias_current", bias)
        self.homeostasis_gain = homeostasis_gain
        self.target_rate = 120 / (neurons * steps)
        self.refractory_steps = refractory_steps
        self.register_memory("adaptation", 0.0)
        self.register_memory("refractory", 0.0)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        super().neuronal_charge(x + self.bias_current - self.adaptation)
        self.v = torch.where(
            torch.as_tensor(self.refractory, device=x.device) > 0, 0.0, self.v
        )

    def neuronal_fire(self) -> torch.Tensor:
        return (
            (self.v >= self.v_threshold)
            & (torch.as_tensor(self.refractory, device=self.v.device) <= 0)
        ).to(self.v)

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        super().neuronal_reset(spike)
        previous = torch.as_tensor(
            self.refractory, device=spike.device, dtype=spike.dtype
        )
        self.refractory = torch.where(
            spike.bool(), self.refractory_steps, (previous - 1).clamp_min(0)
        )
        self.adaptation = math.exp(-1 / 200) * self.adaptation + 0.01 * spike
        if self.training:
            self.bias_current.add_(
                self.target_rate - spike.mean(0), alpha=self.homeostasis_gain
            )


class _CurrentFilter(base.MemoryModule):
    def __init__(self, tau):
        super().__init__()
        self.tau = tau
        self.register_memory("current", 0.0)

    def single_step_functional_forward(self, inputs, states, **kwargs):
        current = states[0] + (inputs[0] - states[0]) / self.tau
        return (current,), (current,)


class _PopulationCurrent(nn.Module):
    def __init__(self, neurons, inhibition):
        super().__init__()
        self.inhibition = inhibition
        self.register_buffer("input_gain", torch.ones(neurons))

    def forward(self, previous, current):
        if previous.shape != current.shape:
            raise ValueError("Recurrent batch shape changed; reset before reuse.")
        return self.input_gain * (
            current - current.mean(-1, keepdim=True)
        ) - self.inhibition * (previous.sum(-1, keepdim=True) - previous)


class _SNN(nn.Module):
    def __init__(
        self,
        neurons: int,
        homeostasis_gain: float,
        inhibition: float,
        v_threshold: float = 0.01,
        inhibition_tau: float = 5.0,
        refractory_steps: int = 5,
        bias_initial: float = 0.01,
        *,
        steps: int,
        covariance: torch.Tensor,
        device: str,
    ):
        super().__init__()
        self.synapse = nn.Linear(784, neurons, bias=False)
        with torch.no_grad():
            self.synapse.weight.uniform_(0, 1)
            self.synapse.weight.mul_(78.4 / self.synapse.weight.sum(1, keepdim=True))
        self.sn = layer.ElementWiseRecurrentContainer(
            nn.Sequential(
                _CurrentFilter(inhibition_tau),
                _AdaptiveLIFNode(
                    neurons,
                    homeostasis_gain,
                    v_threshold,
                    refractory_steps,
                    bias_initial,
                    steps,
                ),
            ),
            _PopulationCurrent(neurons, inhibition),
        )
        self.requires_grad_(False)
        self.to(device)
        self.register_buffer(
            "pixel_covariance",
            covariance.to(device=device, dtype=self.synapse.weight.dtype),
        )
        self.register_buffer("reference_input_variance", self.input_variance().clone())
        self.refresh_gain()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sn(self.synapse(x))

    @torch.no_grad()
    def input_variance(self):
        w = self.synapse.weight
        field = w - w.mean(0, keepdim=True)
        return (field @ self.pixel_covariance * field).sum(1)

    @torch.no_grad()
    def refresh_gain(self):
        variance = self.input_variance()
        if not torch.isfinite(variance).all() or (variance <= 0).any():
            raise RuntimeError("Degenerate projected input variance; stop training.")
        self.sn.element_wise_function.input_gain.copy_(
            (self.reference_input_variance / variance).sqrt()
        )


@torch.no_grad()
def _training_covariance(pixels, learning_indices):
    x = pixels[learning_indices].flatten(1).float() / 255
    x = x - x.mean(0)
    return x.T @ x / (len(x) - 1)


def _predict(counts: torch.Tensor, assignment: torch.Tensor) -> torch.Tensor:
    scores = counts.new_zeros((counts.shape[0], 10))
    for label in range(10):
        selected = assignment == label
        if selected.any():
            scores[:, label] = counts[:, selected].mean(1)
    prediction = scores.argmax(1)
    return prediction.masked_fill(scores.max(1).values == 0, -1)


def _assign_labels(counts: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    means = torch.stack(
        [
            counts[labels == label].sum(0) / (labels == label).sum().clamp_min(1)
            for label in range(10)
        ]
    )
    assignment = means.argmax(0)
    return assignment.masked_fill(means.max(0).values == 0, -1)


@torch.no_grad()
def _run_batch(model, images, steps, generator, learner=None, baseline=None):
    counts = images.new_zeros((len(images), model.synapse.out_features))
    baseline_counts = torch.zeros_like(counts) if baseline is not None else None
    probability = images.flatten(1) * 0.064
    encoder = neuron.SimpleIFNode(v_threshold=1.0, v_reset=None).to(images.device)
    encoder.v = torch.rand(probability.shape, device=images.device, generator=generator)
    for _ in range(steps):
        spikes = encoder(probability)
        counts.add_(model(spikes))
        if baseline is not None:
            baseline_counts.add_(baseline(spikes))
        if learner is not None:
            dw = learner.step(on_grad=False, scale=1 / len(images))
            weight = model.synapse.weight
            weight.add_(dw).clamp_(0, 1)
            weight.mul_(78.4 / weight.sum(1, keepdim=True).clamp_min(1e-12))
            weight.clamp_(0, 1)
    if learner is not None:
        model.refresh_gain()
        learner.reset()
    functional.reset_net(model.sn)
    if baseline is not None:
        functional.reset_net(baseline.sn)
    return counts, baseline_counts


pixels = torch.randint(0, 256, [20, 28, 28])
covariance = _training_covariance(pixels, torch.arange(20))
model = _SNN(10, 1e-3, 0.5, steps=5, covariance=covariance, device="cpu")
baseline = copy.deepcopy(model)
learner = learning.STDPLearner(
    "s",
    model.synapse,
    model.sn,
    20.0,
    20.0,
    f_pre=lambda w: 1e-3 * w,
    f_post=lambda w: 1e-3 * (1 - w),
)
model.train()
baseline.train()
learner.enable()
generator = torch.Generator().manual_seed(1)
images = pixels[:2].float() / 255
train_counts, _ = _run_batch(model, images, 5, generator, learner, baseline)
learner.disable()
model.eval()
counts, control = _run_batch(model, pixels[2:4].float() / 255, 5, torch.Generator().manual_seed(2), baseline=baseline)
labels = torch.tensor([3, 5])
assignment = _assign_labels(counts, labels)

result = {"train_counts": train_counts, "counts": counts, "control": control, "weight": model.synapse.weight,
          "gain": model.sn.element_wise_function.input_gain, "assignment": assignment,
          "prediction": _predict(counts, assignment)}
