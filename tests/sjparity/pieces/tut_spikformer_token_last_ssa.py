# ruff: noqa
"""Tutorial spikformer, "Improved SSA Implementation": the token-last SpikingSelfAttention the tutorial shows
(Conv1d-BN through SeqToANNContainer, merged QKV, v @ kᵀ @ q) forward and backward, and the library's
layer.SpikingSelfAttention on the same input; dim 16, 4 heads, T = 2, batch 2, 5 tokens."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import neuron, functional, layer
from spikingjelly.activation_based.layer import SeqToANNContainer

class SpikingSelfAttention(nn.Module):
    def __init__(self, dim, num_heads=8):
        super().__init__()
        assert dim % num_heads == 0, f"dim {dim} should be divided by num_heads {num_heads}."
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = 0.125

        self.qkv_conv_bn = SeqToANNContainer(
            nn.Conv1d(dim, dim * 3, kernel_size=1, stride=1, bias=False),
            nn.BatchNorm1d(dim*3),
        )
        self.qkv_lif = neuron.LIFNode(step_mode="m")

        self.attn_lif = neuron.LIFNode(step_mode="m")

        self.proj_conv_bn = SeqToANNContainer(
            nn.Conv1d(dim, dim, kernel_size=1, stride=1, bias=False),
            nn.BatchNorm1d(dim),
        )
        self.proj_lif = neuron.LIFNode(step_mode="m")

    def forward(self, x_seq: torch.Tensor):
        T, B, C, N = x_seq.shape

        qkv = self.qkv_conv_bn(x_seq)
        qkv = self.qkv_lif(qkv) # [T, B, 3*C, N]
        qkv = qkv.reshape(T, B, 3*self.num_heads, C // self.num_heads, N)

        qt, kt, vt = qkv.chunk(3, dim=2)
        # qt, kt, vt.shape = [T, B, NUM_HEADS, Cph, N]
        x_seq = vt @ kt.transpose(-2, -1)
        x_seq = (x_seq@qt) * self.scale # [T, B, NUM_HEADS, Cph, N]

        x_seq = self.attn_lif(x_seq).reshape(T, B, C, N)

        x_seq = self.proj_conv_bn(x_seq)
        x_seq = self.proj_lif(x_seq) # [T, B, C, N]
        return x_seq


x = torch.rand([2, 2, 16, 5]) * 4  # [T, B, C, N]
x.requires_grad_(True)
illustration = SpikingSelfAttention(16, num_heads=4)
y = illustration(x)
y.sum().backward()
functional.reset_net(illustration)

library = layer.SpikingSelfAttention(16, num_heads=4)
functional.set_step_mode(library, "m")
x2 = x.detach().clone().requires_grad_(True)
y2 = library(x2)
y2.sum().backward()
functional.reset_net(library)

result = {"y": y, "x_grad": x.grad, "y_library": y2, "x_grad_library": x2.grad,
          "library_params": {k: p for k, p in library.named_parameters()}}
