"""Benchmark: mentions/s of the TransformerScorer against the naive way, and peak RSS.

    python bench/bench_model.py [--n 1000] [--naive-n 200] [--precision auto] [--json]

The naive way is what one writes first: one text at a time through a `transformers` pipeline
("feature-extraction") on the same fp32 model, mean-pooled, then the same heads, and, when the bundled heads
have a fine-tuned sentiment branch, that branch run on the same text's states (one text at a time, fp32),
mixed with the head as the scorer mixes them, and the heads' n-gram models mixed in: the same outputs as the
scorer. `--naive-without-branch`
leaves the branch out, as this benchmark's naive way did before the branch existed. The scorer batches by token
length (32 per batch), runs in inference mode with the thread count set to the cores, and, where the CPU
does bf16 natively (AMX or AVX512_BF16), in bf16. The CPU's model, its relevant flags and what `auto`
chose (and why) are printed with the numbers. Each side runs in its own process so the peak RSS (resource.getrusage) of one does not hide the
other's. Texts are the bundled labelled examples (English, Persian, Arabic; median ~27 tokens), repeated to n.
The first pass over the texts is reported apart: it includes oneDNN's one-off kernel compilation for each new
batch shape (bf16); the warm rate is the median of three further passes (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _texts(n: int) -> list[tuple[str, str]]:
    from listener.nlp.data import bundled_files, read_labelled

    examples = read_labelled(bundled_files()).examples
    rows = [(e.text, e.lang or "en") for e in examples]
    return [rows[i % len(rows)] for i in range(n)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_scorer(n: int, precision: str | None, reps: int = 3) -> dict:
    from datetime import datetime, timezone

    from listener.model import Mention
    from listener.nlp import load_scorer

    t0 = time.perf_counter()
    scorer = load_scorer(precision=precision)
    load_s = time.perf_counter() - t0
    texts = _texts(n)
    now = datetime.now(timezone.utc)

    def mentions():
        return [Mention(source="bench", native_id=str(i), text=t, lang=l, published_at=now)
                for i, (t, l) in enumerate(texts)]

    batch = mentions()
    t0 = time.perf_counter()
    scorer.score(batch)  # first pass: includes one-off kernel preparation for each new batch shape
    cold = n / (time.perf_counter() - t0)
    rates = []
    for _ in range(reps):  # the machine is shared: report the median and the best of a few warm passes
        batch = mentions()
        t0 = time.perf_counter()
        scorer.score(batch)
        rates.append(n / (time.perf_counter() - t0))
    rates.sort()
    return {"mode": "scorer", "precision": scorer.encoder.info.precision, "n": n, "load_s": round(load_s, 2),
            "first_pass_per_s": round(cold, 1), "per_s": round(rates[len(rates) // 2], 1),
            "best_per_s": round(rates[-1], 1), "peak_rss_mb": round(_peak_rss_mb()),
            "scored": sum(m.sentiment is not None for m in batch),
            "sentiment_branch_layers": scorer.branch.k if scorer.branch is not None else 0}


def run_naive(n: int, with_branch: bool = True) -> dict:
    import numpy as np
    import torch
    from transformers import BertModel, PreTrainedTokenizerFast, pipeline
    from transformers.utils import logging as hf_logging

    from listener.nlp.branch import load_branch
    from listener.nlp.encoder import E5Tokenizer, default_model_dir
    from listener.nlp.heads import BUNDLED_HEADS, Heads

    hf_logging.disable_progress_bar()
    folder = default_model_dir()
    t0 = time.perf_counter()
    model = BertModel.from_pretrained(str(folder), add_pooling_layer=False)
    ours = E5Tokenizer(folder)
    tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), bos_token="<s>",
                                  eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    extractor = pipeline("feature-extraction", model=model, tokenizer=tok, device="cpu")
    heads = Heads.load(BUNDLED_HEADS)
    branch = load_branch(BUNDLED_HEADS, model.config, base_model=model) if with_branch else None
    load_s = time.perf_counter() - t0
    texts = _texts(n)
    extractor(ours.normalise("query: warm up"))
    t0 = time.perf_counter()
    for text, lang in texts:
        query = ours.normalise("query: " + text)
        hidden = np.asarray(extractor(query, truncation=True)[0])
        emb = hidden.mean(0)
        emb /= np.linalg.norm(emb)
        probs = heads.sentiment.predict_proba(emb[None])
        heads.topics.predict(emb[None])
        if branch is not None:
            ids = tok(query, truncation=True, max_length=512, return_tensors="pt")
            with torch.inference_mode():
                if branch.start == 0:
                    states = model.embeddings(input_ids=ids["input_ids"])
                else:
                    states = model(**ids, output_hidden_states=True).hidden_states[branch.start]
                pooled = branch.pooled(states, ids["attention_mask"]).numpy()
            probs = branch.mix * branch.predict_proba(pooled) + (1 - branch.mix) * probs
        if heads.lexical is not None:
            probs = heads.lexical.mix(probs, [text], [lang])
    rate = n / (time.perf_counter() - t0)
    return {"mode": "naive", "precision": "fp32", "n": n, "load_s": round(load_s, 2), "per_s": round(rate, 1),
            "peak_rss_mb": round(_peak_rss_mb()), "threads": torch.get_num_threads(),
            "sentiment_branch_layers": branch.k if branch is not None else 0}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    except OSError:
        return "?"


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="mentions for the scorer")
    parser.add_argument("--naive-n", type=int, default=200, help="mentions for the naive way (slow)")
    parser.add_argument("--precision", default=None, help="auto, fp32, bf16 or int8 (default: auto)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--naive-without-branch", action="store_true",
                        help="the naive way without the sentiment branch (embedding and heads only)")
    parser.add_argument("--child", choices=["scorer", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "scorer":
        print(json.dumps(run_scorer(args.n, args.precision)))
        return
    if args.child == "naive":
        print(json.dumps(run_naive(args.naive_n, with_branch=not args.naive_without_branch)))
        return

    from listener.nlp.encoder import default_model_dir

    default_model_dir()  # convert once, outside the measured processes
    precision = ["--precision", args.precision] if args.precision else []
    scorer = _child(["--child", "scorer", "--n", str(args.n), *precision])
    naive = _child(["--child", "naive", "--naive-n", str(args.naive_n)]
                   + (["--naive-without-branch"] if args.naive_without_branch else []))
    # the same scorer in fp32, for the "at least 2x fp32" target of a faster precision
    fp32 = scorer if scorer["precision"] == "fp32" else _child(["--child", "scorer", "--n", str(args.n),
                                                                "--precision", "fp32"])
    from listener.nlp.encoder import NATIVE_BF16_FLAGS, cpu_flags, precision_choice

    flags = cpu_flags()
    shown = sorted(f for f in flags if f.startswith(("avx512", "amx", "avx2", "avx_vnni", "fma")))
    chosen, why = precision_choice("auto", flags)
    result = {"cores": len(os.sched_getaffinity(0)), "cpu": _cpu_model(), "cpu_flags": shown,
              "native_bf16": [f for f in NATIVE_BF16_FLAGS if f in flags], "auto": chosen, "auto_reason": why,
              "scorer": scorer, "naive": naive, "scorer_fp32": fp32,
              "vs_fp32": round(scorer["per_s"] / fp32["per_s"], 2),
              "speedup": round(scorer["per_s"] / naive["per_s"], 2),
              "targets": {"speedup>=8": scorer["per_s"] >= 8 * naive["per_s"],
                          "vs_fp32>=2": scorer["per_s"] >= 2 * fp32["per_s"],
                          "peak_rss<=1500MB": scorer["peak_rss_mb"] <= 1500}}
    if scorer["precision"] == "fp32":  # the 2x target is for a faster precision; here there is none to compare
        result["targets"]["vs_fp32>=2"] = "n/a: the scorer ran fp32 (" + why + ")"
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"cpu: {result['cpu']}, cores: {result['cores']}")
    print(f"cpu flags: {' '.join(result['cpu_flags'])}")
    print(f"auto precision: {result['auto']} ({result['auto_reason']})")
    print(f"scorer ({scorer['precision']}, batched): {scorer['per_s']} mentions/s warm (median of 3, best "
          f"{scorer['best_per_s']}), "
          f"{scorer['first_pass_per_s']} first pass, load {scorer['load_s']} s, peak RSS {scorer['peak_rss_mb']} MB")
    if scorer.get("sentiment_branch_layers"):
        print(f"sentiment from the fine-tuned branch ({scorer['sentiment_branch_layers']} layer(s) more per text)")
    what = (f"with the {naive['sentiment_branch_layers']}-layer branch" if naive["sentiment_branch_layers"]
            else "embedding and heads only")
    print(f"naive (pipeline, one at a time, fp32, {what}): {naive['per_s']} mentions/s, "
          f"peak RSS {naive['peak_rss_mb']} MB")
    if fp32 is not scorer:
        print(f"scorer (fp32, batched): {fp32['per_s']} mentions/s warm, peak RSS {fp32['peak_rss_mb']} MB; "
              f"{scorer['precision']} is {result['vs_fp32']}x that")
    print(f"speed-up over naive: {result['speedup']}x; targets met: {result['targets']}")


if __name__ == "__main__":
    main()
