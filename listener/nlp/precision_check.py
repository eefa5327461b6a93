"""May int8 score in place of fp32? Measure what the product scores with, at each precision, on dev lines.

`auto` (encoder.precision_choice) takes int8 on a CPU without native bf16 only when this check, stored in the
heads folder's heads.json, found int8 within one point of fp32 on every dev set: sentiment accuracy and
macro-recall, and topic micro-F1 (topics are decided on the base embedding, which int8 changes most).

The check runs the whole scoring path: the base encoder in the precision checked, the heads, and the
fine-tuned sentiment branch where the folder carries one, mixed with the head as in scoring. (It once ran
the head alone, before the branch existed; a check that did not see the branch says nothing about what
scores, so `heads.int8_within_a_point` ignores it.)

Run by `listener model train` as its last step and by `listener model check-precision`.
"""

from __future__ import annotations

import gc
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from listener.nlp.data import Example

#: Dev lines per set in the check: every dev line at two or three precisions would cost as much as training.
CHECK_PER_SET = 400


def check_sample(dev: Sequence[Example], per_set: int = CHECK_PER_SET) -> list[Example]:
    """At most `per_set` dev lines of each set, stratified by label, by a fixed seed (the same lines every run)."""
    from listener.nlp.corpus import SEED, _rng, _stratified_take

    out: list[Example] = []
    for name in sorted({e.set or "?" for e in dev}):
        rows = [e for e in dev if (e.set or "?") == name]
        out.extend(_stratified_take(rows, per_set, _rng(name + ":check", SEED))[0])
    return out


def precisions_to_check() -> tuple[tuple[str, ...], dict[str, str]]:
    """fp32 and int8 always (they decide `auto` here); bf16 only where the CPU does it natively: emulated, it
    runs at a seventh of fp32's rate (measured on an AVX2-only AMD EPYC) and `auto` never picks it there."""
    from listener.nlp.encoder import fast_bf16

    if fast_bf16():
        return ("fp32", "bf16", "int8"), {}
    return ("fp32", "int8"), {"bf16": "not checked: emulated on this CPU (no amx_bf16 / avx512_bf16)"}


def run_precision_check(folder: str | Path, dev: Sequence[Example], per_set: int = CHECK_PER_SET,
                        precisions: Sequence[str] | None = None,
                        progress: Callable[[str, int, int, float], None] | None = None) -> dict:
    """The heads in `folder` (with their branch, if any) on a sample of `dev` at each precision; returns what
    heads.json keeps under `precision_check`."""
    from listener.nlp.branch import branch_declared
    from listener.nlp.encoder import load_default_encoder
    from listener.nlp.evaluate import evaluate_examples, headline_numbers
    from listener.nlp.heads import Heads
    from listener.nlp.scorer import TransformerScorer, load_branch_for

    folder = Path(folder)
    skipped: dict[str, str] = {}
    if precisions is None:
        precisions, skipped = precisions_to_check()
    sample = check_sample(dev, per_set)
    out: dict = {"scoring": "branch" if branch_declared(folder) else "head", "lines": len(sample),
                 "per_set": per_set, "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if skipped:
        out["skipped"] = skipped
    for i, precision in enumerate(precisions):
        if progress:
            progress(f"precision check: {precision}", i, len(precisions), 0.0)
        encoder = load_default_encoder(precision=precision)
        heads = Heads.load(folder)
        heads.branch = load_branch_for(folder, encoder)
        metrics = evaluate_examples(sample, TransformerScorer(encoder, heads), languages=None)
        out[precision] = headline_numbers(metrics)
        del encoder, heads
        gc.collect()
    if progress:
        progress(f"precision check: {precisions[-1]}", len(precisions), len(precisions), 0.0)
    return out


def store_precision_check(folder: str | Path, check: dict) -> None:
    """Write `check` into the folder's heads.json (the rest of the card unchanged)."""
    path = Path(folder) / "heads.json"
    card = json.loads(path.read_text(encoding="utf-8"))
    card["precision_check"] = check
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
