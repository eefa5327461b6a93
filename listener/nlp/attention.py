"""Attention for short texts: plain matrix products where PyTorch's fused CPU kernel is slower.

Most mentions are short (the bundled examples' median is 29 tokens with the prefix). For such lengths
PyTorch's `scaled_dot_product_attention` on CPU (its flash kernel, run per batch row and head) took about twice
as long as two batched matrix products and a softmax on contiguous tensors, in bf16 and fp32 alike, and was a
quarter of the encoder's time (profiled on bench/bench_model.py's texts; the linear layers are the rest).
From about 100 tokens the fused kernel wins (it never builds the length x length matrix), so longer batches
still use it. Registered with transformers' attention and mask interfaces under one name, so the encoder and
the sentiment branch (which builds its mask from the same config) both use it; nothing else changes.
"""

from __future__ import annotations

NAME = "listener_sdpa"
#: keys up to this length take the matrix-product path (measured: ~2x faster at 32 and 64, slower at 128)
SHORT = 96

_registered = False


def short_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0,
                            scaling: float | None = None, is_causal: bool | None = None, **kwargs):
    """transformers' attention signature: (batch, heads, length, head_dim) in, (batch, length, heads,
    head_dim) out. Inference only (no dropout), bidirectional: what the encoder and the branch run."""
    import torch

    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if key.shape[2] > SHORT or module.training or kwargs.get("output_attentions") or is_causal:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    # q, k and v arrive as transposed views of the projections: contiguous copies make the batched products
    # about 3x faster and cost a few percent of them
    scores = torch.matmul(query.contiguous(), key.contiguous().transpose(-1, -2))
    # The softmax runs in fp32 whatever the weights: PyTorch's bf16 softmax on CPU was a tenth of the bf16
    # encoder's time (profiled on bench/bench_model.py's texts), more than both matrix products here, and the
    # fp32 one with its two conversions was faster (paired runs on an AVX512_BF16 EPYC: +3.6 % mentions/s,
    # median of 10). The result is the same to bf16's rounding: the bf16 kernel also sums in fp32.
    scores = scores.float().mul_(scale)
    if attention_mask is not None:  # sdpa's mask: True where a token may be attended to
        if attention_mask.dtype == torch.bool:
            scores.masked_fill_(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores.add_(attention_mask)
    weights = torch.softmax(scores, dim=-1).to(value.dtype)
    return torch.matmul(weights, value.contiguous()).transpose(1, 2).contiguous(), None


def register() -> str:
    """Make NAME known to transformers (attention and mask builder); returns NAME for attn_implementation."""
    global _registered
    if not _registered:
        from transformers import AttentionInterface, AttentionMaskInterface
        from transformers.masking_utils import sdpa_mask

        AttentionInterface.register(NAME, short_attention_forward)
        AttentionMaskInterface.register(NAME, sdpa_mask)
        _registered = True
    return NAME
