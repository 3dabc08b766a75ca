"""Time-difference (TD) operators (SpikingJelly 2.0's ``ann2snn.operators``): the spiking form of any ANN function.

A TD operator of ``f`` keeps the running sums ``X_t = x_1 + … + x_t`` of its inputs and outputs the increments
``y_t = f(X_t) − f(X_{t−1})`` (``f(X_0) := 0``), so ``y_1 + … + y_t = f(X_t)``: summed over time, a network of TD
operators computes the ANN on the summed input, exactly (up to rounding). Every operator here is that one mechanism
(:class:`TDModule`) with its own ``f``: softmax, layer/RMS norm, SiLU, GELU, linear, 2-D convolution, matrix and
element-wise products of two sequences, scaled dot-product attention and multi-head attention.

Step mode ``'m'`` (the default): inputs ``[T, *]``; ``'s'``: one step ``[*]`` per call, sums carried between calls
(``sj.functional.reset_net`` clears them). In a converted graph (``time`` set) the 'm' inputs are the time-folded
batch ``[T·N, *]`` (:mod:`sj.ann2snn.modules`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sj.ann2snn.modules import TimeContext
from sj.base import MemoryModule

__all__ = ["SNNElementWiseProduct", "SNNMatrixOperator", "TDConv2d", "TDGELU", "TDLayerNorm", "TDLinear", "TDModule",
           "TDMultiheadAttention", "TDRMSNorm", "TDScaledDotProductAttention", "TDSiLU", "TDSoftmax"]


def _check_sequence(x: torch.Tensor, owner: str, min_rank: int = 2) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < min_rank or x.shape[0] == 0:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{owner} expects a sequence [T, ...] with a non-empty time dimension and at least "
                         f"{min_rank} dimensions, got {got}")


def first_step_only(value: torch.Tensor, started: bool, steps: int | None) -> torch.Tensor:
    """What an input given once contributes to this call: ``value`` at the first step after a reset (``started``
    false), zeros afterwards; ``steps`` ``None`` for one step (``value``'s shape), else ``[steps, *value.shape]``."""
    if steps is None:
        return torch.zeros_like(value) if started else value
    seq = value.new_zeros(steps, *value.shape)
    if not started:
        seq[0] = value
    return seq


class TDModule(MemoryModule):
    """The TD operator of :meth:`ann_forward` (see the module docstring). Subclasses implement ``ann_forward`` (the
    ANN function of one step's inputs) and, when it cannot take a leading time dimension as it is,
    :meth:`sequence_forward`.

    Attributes:
        time: the :class:`~sj.ann2snn.modules.TimeContext` of a converted graph (inputs time-folded in step mode
            ``'m'``), or ``None`` (inputs ``[T, *]``).
        sequence_inputs: how many leading arguments are sequences (the others, e.g. a mask, pass unchanged).
    """

    sequence_inputs = 1

    def __init__(self, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self.register_memory("x_cum", None)
        self.register_memory("y_cum", None)
        self.time: TimeContext | None = None

    def ann_forward(self, *args, **kwargs):
        raise NotImplementedError

    def sequence_forward(self, *cums: torch.Tensor, **kwargs) -> torch.Tensor:
        """``f`` of every step's running sums at once: ``[T, *]`` → ``[T, *out]`` (default: ``ann_forward``)."""
        return self.ann_forward(*cums, **kwargs)

    def check_sequences(self, *seqs: torch.Tensor) -> None:
        """Validate the sequence inputs (``[T, ...]``, one time length)."""
        for x in seqs:
            _check_sequence(x, type(self).__name__)
        if len({x.shape[0] for x in seqs}) > 1:
            raise ValueError(f"{type(self).__name__} expects its inputs to have the same time length, got "
                             f"{[x.shape[0] for x in seqs]}")

    def _carried(self, cums: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...] | None:
        """The running sums of the previous call, if they fit the current inputs (else the sums restart)."""
        prev = self.x_cum if isinstance(self.x_cum, tuple) else (self.x_cum,)
        ok = len(prev) == len(cums) and all(isinstance(p, torch.Tensor) and p.shape == c.shape and
                                            p.dtype == c.dtype and p.device == c.device for p, c in zip(prev, cums))
        return prev if ok else None

    def _store(self, cums: Sequence[torch.Tensor], y_cum: torch.Tensor) -> None:
        self.x_cum = cums[0] if len(cums) == 1 else tuple(cums)
        self.y_cum = y_cum

    def single_step_forward(self, *args, **kwargs) -> torch.Tensor:
        xs, rest = args[:self.sequence_inputs], args[self.sequence_inputs:]
        prev = self._carried(xs)
        cums = xs if prev is None else tuple(p + x for p, x in zip(prev, xs))
        y_cum = self.ann_forward(*cums, *rest, **kwargs)
        last = self.y_cum if prev is not None else None
        y = y_cum - last if isinstance(last, torch.Tensor) and last.shape == y_cum.shape else y_cum
        self._store(cums, y_cum)
        return y

    def multi_step_forward(self, *args, **kwargs) -> torch.Tensor:
        xs, rest = list(args[:self.sequence_inputs]), args[self.sequence_inputs:]
        folded = self.time is not None
        if folded:
            xs = [self.time.unfold(x, type(self).__name__) for x in xs]
            rest = tuple(self.time.unfold(r, type(self).__name__) if self._is_folded_extra(r, args[0]) else r
                         for r in rest)
        self.check_sequences(*xs)
        cums = [x.cumsum(0) for x in xs]
        prev = self._carried([c[0] for c in cums])
        if prev is not None:
            cums = [p + c for p, c in zip(prev, cums)]
        y_cum = self.sequence_forward(*cums, *rest, **kwargs)
        last = self.y_cum if prev is not None else None
        start = last if isinstance(last, torch.Tensor) and last.shape == y_cum.shape[1:] else torch.zeros_like(
            y_cum[0])
        y = torch.diff(y_cum, dim=0, prepend=start.unsqueeze(0))
        self._store([c[-1].clone() for c in cums], y_cum[-1].clone())
        return y.flatten(0, 1) if folded else y

    @staticmethod
    def _is_folded_extra(value: object, first: torch.Tensor) -> bool:
        """An extra tensor argument (a mask) computed from the folded inputs has their batch ``T·N`` first."""
        return isinstance(value, torch.Tensor) and value.dim() == first.dim() and value.shape[0] == first.shape[0]


class _Elementwise(TDModule):
    """TD of a function applied along non-time dimensions only; ``fn`` is the ANN function."""

    fn: Callable[..., torch.Tensor]

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return type(self).fn(x)


class TDSiLU(_Elementwise):
    """TD SiLU."""

    fn = staticmethod(F.silu)


class TDTanh(_Elementwise):
    """TD tanh."""

    fn = staticmethod(torch.tanh)


class TDGELU(TDModule):
    """TD GELU (``approximate='none'`` or ``'tanh'``)."""

    def __init__(self, approximate: str = "none", step_mode: str = "m") -> None:
        super().__init__(step_mode)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"TDGELU: approximate must be 'none' or 'tanh', but got {approximate!r}.")
        self.approximate = approximate

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class TDSoftmax(TDModule):
    """TD softmax along ``dim`` (of the sequence ``[T, *]``: 0 is time and is refused)."""

    def __init__(self, dim: int = -1, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self.dim = dim

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=self.dim)

    def sequence_forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim + x.dim() if self.dim < 0 else self.dim
        if not 0 <= dim < x.dim():
            raise ValueError(f"dim must be in the range [{-x.dim()}, {x.dim() - 1}], but got {self.dim}")
        if dim == 0:
            raise ValueError("TDSoftmax reserves dimension 0 as the time dimension; softmax dim must not resolve to 0.")
        return torch.softmax(x, dim=dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _Normalization(TDModule):
    """TD layer/RMS normalisation over the trailing ``normalized_shape`` (``weight`` of ones when affine)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None, elementwise_affine: bool,
                 step_mode: str, device=None, dtype=None) -> None:
        super().__init__(step_mode)
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = nn.Parameter(torch.ones(self.normalized_shape, device=device, dtype=dtype)) \
            if elementwise_affine else None

    def check_sequences(self, x: torch.Tensor) -> None:
        super().check_sequences(x)
        n = len(self.normalized_shape)
        trailing = tuple(x.shape[1:]) if n > x.dim() - 1 else tuple(x.shape[-n:])
        if trailing != self.normalized_shape:
            raise ValueError(f"{type(self).__name__} expects the trailing shape of x_seq to match normalized_shape="
                             f"{self.normalized_shape}, but got {trailing}.")


class TDLayerNorm(_Normalization):
    """TD ``nn.LayerNorm`` (same parameters and names)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None, step_mode: str = "m") -> None:
        super().__init__(normalized_shape, eps, elementwise_affine, step_mode, device, dtype)
        self.bias = nn.Parameter(torch.zeros(self.normalized_shape, device=device, dtype=dtype)) \
            if elementwise_affine and bias else None

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class TDRMSNorm(_Normalization):
    """TD ``nn.RMSNorm`` (same parameters and names)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None, step_mode: str = "m") -> None:
        super().__init__(normalized_shape, eps, elementwise_affine, step_mode, device, dtype)

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)


def _adopt_parameters(owner: nn.Module, reference: nn.Module) -> None:
    """Take ``reference``'s parameters (so the TD layer is initialised exactly as the torch layer)."""
    for name, p in reference.named_parameters(recurse=False):
        setattr(owner, name, p)
    if getattr(reference, "bias", 0) is None:
        owner.bias = None


class TDLinear(TDModule):
    """TD ``nn.Linear`` (same parameters, names and initialisation): the bias enters once, at the first step."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None,
                 step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self.in_features, self.out_features = in_features, out_features
        _adopt_parameters(self, nn.Linear(in_features, out_features, bias, device=device, dtype=dtype))

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class TDConv2d(TDModule):
    """TD ``nn.Conv2d`` (same arguments, parameters and initialisation); sequences ``[T, N, C, H, W]``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None,
                 step_mode: str = "m") -> None:
        super().__init__(step_mode)
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device=device, dtype=dtype)
        _adopt_parameters(self, conv)
        del conv.weight
        conv.register_parameter("bias", None)
        # the parameters live here, under nn.Conv2d's names; the parameter-less conv keeps the geometry (stride,
        # padding modes) and computes with them: not a submodule, so state_dict holds weight and bias once
        self.__dict__["_geometry"] = conv

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._geometry._conv_forward(x, self.weight, self.bias)

    def check_sequences(self, x: torch.Tensor) -> None:
        super().check_sequences(x)
        if x.dim() != 5:
            raise ValueError(f"TDConv2d expects an input sequence with shape [T, N, C, H, W], but got shape "
                             f"{tuple(x.shape)}.")

    def sequence_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ann_forward(x.flatten(0, 1))
        return y.unflatten(0, x.shape[:2])

    def extra_repr(self) -> str:
        text = self._geometry.extra_repr()  # the geometry has no bias, so it reports bias=False
        return text if self.bias is None else text.replace(", bias=False", "")


class _Product(TDModule):
    """TD of a product of two sequences (broadcast after aligning their ranks)."""

    sequence_inputs = 2
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def ann_forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return type(self).fn(a, b)

    def sequence_forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        while a.dim() < b.dim():
            a = a.unsqueeze(1)
        while b.dim() < a.dim():
            b = b.unsqueeze(1)
        return type(self).fn(a, b)


class SNNMatrixOperator(_Product):
    """TD ``torch.matmul`` of two sequences ``[T, ..., M, N]`` and ``[T, ..., N, P]``."""

    fn = staticmethod(torch.matmul)

    def check_sequences(self, a: torch.Tensor, b: torch.Tensor) -> None:
        for x, name in ((a, "a_seq"), (b, "b_seq")):
            if x.dim() < 3:
                raise ValueError(f"SNNMatrixOperator expects {name} with at least 3 dimensions [T, ..., M, N], got "
                                 f"shape {tuple(x.shape)}.")
        super().check_sequences(a, b)


class SNNElementWiseProduct(_Product):
    """TD element-wise product of two sequences."""

    fn = staticmethod(torch.mul)


class TDScaledDotProductAttention(TDModule):
    """TD ``F.scaled_dot_product_attention(query, key, value, attn_mask)`` (no dropout; ``is_causal`` and
    ``attn_mask`` exclusive)."""

    sequence_inputs = 3

    def __init__(self, is_causal: bool = False, scale: float | None = None, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self.is_causal, self.scale = is_causal, scale

    def ann_forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.is_causal and attn_mask is not None:
            raise ValueError("TDScaledDotProductAttention does not allow attn_mask when is_causal=True; use one "
                             "masking mode at a time.")
        return F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask, dropout_p=0.0,
                                              is_causal=self.is_causal, scale=self.scale)

    def check_sequences(self, *seqs: torch.Tensor) -> None:
        for x in seqs:
            _check_sequence(x, type(self).__name__, 3)
        super().check_sequences(*seqs)

    def extra_repr(self) -> str:
        return f"is_causal={self.is_causal}, scale={self.scale}"


class TDMultiheadAttention(TDModule):
    """TD ``nn.MultiheadAttention`` (``batch_first=True``, no dropout, ``need_weights=False``): TD projections
    ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` around a TD scaled dot-product attention of the heads.
    ``forward`` returns ``(output, None)`` like the torch module."""

    sequence_inputs = 3

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True, device=None, dtype=None, step_mode: str = "m") -> None:
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"TDMultiheadAttention: embed_dim ({embed_dim}) and num_heads ({num_heads}) must be "
                             "positive and embed_dim divisible by num_heads.")
        if dropout != 0.0:
            raise ValueError("TDMultiheadAttention only supports dropout=0.0.")
        if not batch_first:
            raise ValueError("TDMultiheadAttention only supports batch_first=True.")
        super().__init__(step_mode)
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self, name, TDLinear(embed_dim, embed_dim, bias, device, dtype, step_mode))
        self.attention = TDScaledDotProductAttention(step_mode=step_mode)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = False,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, None]:
        if need_weights:
            raise ValueError("TDMultiheadAttention only supports need_weights=False.")
        if key_padding_mask is not None:
            raise ValueError("TDMultiheadAttention does not support key_padding_mask.")
        if not average_attn_weights:
            raise ValueError("TDMultiheadAttention does not support average_attn_weights=False.")
        if is_causal and attn_mask is not None:
            raise ValueError("TDMultiheadAttention does not allow attn_mask when is_causal=True; use one masking "
                             "mode at a time.")
        for m in (self.q_proj, self.k_proj, self.v_proj, self.out_proj, self.attention):
            m.step_mode, m.time = self.step_mode, self.time
        lead = 2 if self.step_mode == "m" and self.time is None else 1  # [T, N, L, E] or [N, L, E] (also folded)
        q, k, v = (self._split(p(x), lead) for p, x in ((self.q_proj, query), (self.k_proj, key),
                                                         (self.v_proj, value)))
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            attn_mask = ~attn_mask  # nn.MultiheadAttention masks True; SDPA keeps True
        if attn_mask is not None and attn_mask.dim() == 3 and attn_mask.shape[0] == q.shape[lead - 1] * self.num_heads:
            attn_mask = attn_mask.reshape(q.shape[lead - 1], self.num_heads, *attn_mask.shape[1:])
        self.attention.is_causal = is_causal
        out = self.attention(q, k, v, attn_mask) if attn_mask is not None else self.attention(q, k, v)
        return self.out_proj(out.transpose(lead, lead + 1).flatten(-2)), None

    def _split(self, x: torch.Tensor, lead: int) -> torch.Tensor:
        if x.dim() != lead + 2 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"TDMultiheadAttention expects input [{'T, ' if lead == 2 else ''}batch, seq, "
                             f"embed_dim={self.embed_dim}], got {tuple(x.shape)}.")
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(lead, lead + 1)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")


def td_module_from_ann(module: nn.Module) -> TDModule | None:
    """The TD operator of a torch module (``nn.Linear``, ``nn.Conv2d``, ``nn.LayerNorm``, ``nn.RMSNorm``, ``nn.GELU``,
    ``nn.SiLU``, ``nn.Tanh``, ``nn.Softmax``) carrying its parameters and training flag, else ``None``."""
    w = getattr(module, "weight", None)
    kw = {"device": w.device, "dtype": w.dtype} if isinstance(w, torch.Tensor) else {}
    if isinstance(module, nn.Linear):
        td: TDModule = TDLinear(module.in_features, module.out_features, module.bias is not None, **kw)
    elif isinstance(module, nn.Conv2d):
        td = TDConv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                      module.dilation, module.groups, module.bias is not None, module.padding_mode, **kw)
    elif isinstance(module, nn.LayerNorm):
        td = TDLayerNorm(module.normalized_shape, module.eps, module.elementwise_affine, module.bias is not None, **kw)
    elif isinstance(module, nn.RMSNorm):
        td = TDRMSNorm(module.normalized_shape, module.eps, module.elementwise_affine, **kw)
    elif isinstance(module, nn.GELU):
        td = TDGELU(approximate=module.approximate)
    elif isinstance(module, nn.SiLU):
        td = TDSiLU()
    elif isinstance(module, nn.Tanh):
        td = TDTanh()
    elif isinstance(module, nn.Softmax):
        if not isinstance(module.dim, int):
            raise ValueError("TD softmax conversion requires nn.Softmax dim to be a literal int.")
        td = TDSoftmax(dim=module.dim + 1 if module.dim >= 0 else module.dim)
    else:
        return None
    with torch.no_grad():
        for name, p in td.named_parameters():
            source = module.get_parameter(name)
            p.copy_(source)
            p.requires_grad_(source.requires_grad)
    return td.train(module.training)

