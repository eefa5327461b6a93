"""The encoder's speed-ups change no result: short-text attention equals PyTorch's fused kernel (fp32 exactly
to rounding, bf16 within bf16's own error), and batch widths are rounded to few shapes with little padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from listener.nlp import attention
from listener.nlp.encoder import shape_width


class Module(torch.nn.Module):
    pass


def qkv(batch=4, heads=3, length=12, dim=8, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    # as the encoder passes them: transposed views of (batch, length, heads * dim) projections
    return [torch.randn(batch, length, heads * dim, generator=g).to(dtype).view(batch, length, heads, dim)
            .transpose(1, 2) for _ in range(3)]


def padding_mask(batch, length, lengths):
    keep = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    return keep[:, None, None, :].expand(batch, 1, length, length)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 0.03)])
def test_short_attention_equals_sdpa(dtype, tol):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q, k, v = qkv(dtype=dtype)
    mask = padding_mask(4, 12, [12, 9, 5, 1])
    module = Module().eval()
    ours, _ = attention.short_attention_forward(module, q, k, v, mask, is_causal=False)
    ref, _ = sdpa_attention_forward(module, q, k, v, mask, is_causal=False)
    assert ours.shape == ref.shape == (4, 12, 3, 8)
    assert ours.dtype == dtype  # the fp32 softmax inside never leaks into the layers after it
    assert (ours.float() - ref.float()).abs().max().item() < tol
    additive = torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, torch.finfo(dtype).min)
    assert (attention.short_attention_forward(module, q, k, v, additive, is_causal=False)[0].float()
            - ref.float()).abs().max().item() < tol
    unmasked, _ = attention.short_attention_forward(module, q, k, v, None, is_causal=False)
    assert (unmasked.float() - sdpa_attention_forward(module, q, k, v, None, is_causal=False)[0].float()
            ).abs().max().item() < tol


def test_long_inputs_and_training_go_to_sdpa(monkeypatch):
    import transformers.integrations.sdpa_attention as sdpa

    calls = []
    monkeypatch.setattr(sdpa, "sdpa_attention_forward", lambda *a, **kw: calls.append(a[1].shape) or ("sdpa", None))
    module = Module().eval()
    q, k, v = qkv(batch=1, length=attention.SHORT + 1)
    assert attention.short_attention_forward(module, q, k, v, None, is_causal=False)[0] == "sdpa"
    q, k, v = qkv(batch=1, length=attention.SHORT)
    assert attention.short_attention_forward(module, q, k, v, None, is_causal=False)[0] != "sdpa"
    module.train()
    assert attention.short_attention_forward(module, q, k, v, None, is_causal=False)[0] == "sdpa"
    assert len(calls) == 2


def test_a_model_gives_the_same_states_with_it():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, attn_implementation="sdpa")
    model = BertModel(config, add_pooling_layer=False).eval()
    ids = torch.randint(3, 50, (3, 10))
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    with torch.inference_mode():
        ref = model(input_ids=ids, attention_mask=mask).last_hidden_state
        model.set_attn_implementation(attention.register())
        ours = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert model.config._attn_implementation == attention.NAME
    keep = mask.bool()
    assert torch.allclose(ours[keep], ref[keep], atol=1e-5)


def test_shape_widths_are_few_and_pad_little():
    widths = [shape_width(w) for w in range(1, 513)]
    assert all(s >= w for s, w in zip(widths, range(1, 513)))
    assert widths == sorted(widths) and len(set(widths)) == 80
    assert max((s - w) / w for w, s in zip(range(8, 513), widths[7:])) <= 1 / 8
    lengths = np.random.default_rng(0).integers(10, 60, 1000)
    assert np.mean([shape_width(int(n)) / n - 1 for n in lengths]) < 0.05  # fixed steps of 8 padded ~12 %
    assert np.mean([-(-int(n) // 8) * 8 / n - 1 for n in lengths]) > 0.1


@pytest.mark.model
def test_the_bundled_encoder_embeds_as_with_sdpa():
    from listener.nlp.data import bundled_files, read_labelled
    from listener.nlp.scorer import get_encoder

    encoder = get_encoder(precision="fp32")  # the one the other model tests share
    texts = [e.text for e in read_labelled(bundled_files()).examples[::40]]
    assert encoder.model.config._attn_implementation == attention.NAME
    ours = encoder.embed(texts)
    try:
        encoder.model.set_attn_implementation("sdpa")
        ref = encoder.embed(texts)
    finally:
        encoder.model.set_attn_implementation(attention.NAME)
    assert len(texts) > 50 and np.abs(ours - ref).max() < 1e-5
