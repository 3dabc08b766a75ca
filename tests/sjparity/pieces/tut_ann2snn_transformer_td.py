# ruff: noqa
"""Tutorial ann2snn_transformer, "Transformer TD-equivalent conversion": TransformerTDEquivalentRecipe on a BERT-like
classifier (one small self-attention layer instead of BERT-base on SST-2), the converted model run in multi-step mode
on the [embedding, 0, 0, ...] sequence with the static attention mask, summed over time."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import ann2snn, functional


class SelfAttention(nn.Module):  # a BERT-like layer, small (the tutorial converts BERT-base)
    def __init__(self, d=8, heads=2):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.softmax = nn.Softmax(dim=-1)
        self.out = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def split(self, x):
        n, s, _ = x.shape
        return x.view(n, s, self.heads, self.dh).permute(0, 2, 1, 3)

    def forward(self, hidden, mask):
        q, k, v = self.split(self.query(hidden)), self.split(self.key(hidden)), self.split(self.value(hidden))
        probs = self.softmax(torch.matmul(q, k.transpose(-1, -2)) / self.dh ** 0.5 + mask)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(hidden.shape)
        return self.norm(F.gelu(self.out(context)) + hidden)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = SelfAttention()
        self.pooler = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.classifier = nn.Linear(8, 2)

    def forward(self, embedding_output, extended_attention_mask):
        return self.classifier(self.pooler(self.attention(embedding_output, extended_attention_mask)[:, 0]))


model = Classifier().eval()
embedding_output = torch.randn([3, 5, 8])
attention_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.float32)
extended_attention_mask = (1.0 - attention_mask[:, None, None, :]) * -10000.0

recipe = ann2snn.TransformerTDEquivalentRecipe(time_steps=4)
converted = ann2snn.Converter(recipe=recipe, device="cpu").convert(model).eval()

with torch.no_grad():
    functional.set_step_mode(converted, "m")
    functional.reset_net(converted)
    embedding_seq = torch.zeros(
        converted.time_steps,
        *embedding_output.shape,
        device=embedding_output.device,
        dtype=embedding_output.dtype,
    )
    embedding_seq[0] = embedding_output
    logits = converted(embedding_seq, extended_attention_mask).sum(dim=0)
    ann_logits = model(embedding_output, extended_attention_mask)

result = {"logits": logits, "ann_logits": ann_logits, "time_steps": converted.time_steps}
