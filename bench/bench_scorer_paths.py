"""Benchmark: the scorer's short-text attention and width rounding against the path they replaced, in one process.

    LISTENER_THREADS=1 python bench/bench_scorer_paths.py [--n 300] [--reps 10] [--wall]

On a shared machine two benchmark processes run minutes apart see different loads (bench/bench_model.py's
naive and batched runs can differ by 5x between two runs). This one alternates the two paths on the same
loaded scorer, pass by pass, and by default measures CPU seconds of this process (with one thread, that is
the work done, which other processes' load disturbs far less than wall time). "before": PyTorch's
scaled_dot_product_attention everywhere and batch widths rounded to multiples of 8; "now": the encoder as
loaded (listener.nlp.attention, listener.nlp.encoder.shape_width). Prints mentions per CPU second, median and
best of the passes, and the median of the per-pass ratios, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    args = parser.parse_args()

    import listener.nlp.encoder as encoder_module
    from bench.bench_model import _texts
    from listener.model import Mention
    from listener.nlp import load_scorer

    scorer = load_scorer()
    now_width, now_attention = encoder_module.shape_width, scorer.encoder.model.config._attn_implementation
    texts = _texts(args.n)
    at = datetime.now(timezone.utc)

    def use(before: bool) -> None:
        name = "sdpa" if before else now_attention
        scorer.encoder.model.set_attn_implementation(name)
        if scorer.branch is not None:  # the branch builds its mask and attention from its own config copies
            for module in (scorer.branch.module, *scorer.branch._dtypes.values()):
                module.config._attn_implementation = name
        encoder_module.shape_width = (lambda w: -(-w // 8) * 8) if before else now_width

    clock = time.perf_counter if args.wall else time.process_time
    rates: dict[str, list[float]] = {"before": [], "now": []}
    for before in (True, False):  # every batch shape of both paths compiled once, outside the timing
        use(before)
        scorer.score([Mention(source="b", native_id=str(i), text=t, lang=l, published_at=at)
                      for i, (t, l) in enumerate(texts)])
    for _ in range(args.reps):
        for name in rates:
            use(name == "before")
            batch = [Mention(source="b", native_id=str(i), text=t, lang=l, published_at=at)
                     for i, (t, l) in enumerate(texts)]
            t0 = clock()
            scorer.score(batch)
            rates[name].append(args.n / (clock() - t0))
    use(False)
    import torch

    unit = "s" if args.wall else "CPU s"
    print(f"{scorer.encoder.info.precision}, {torch.get_num_threads()} thread(s), load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, values in rates.items():
        print(f"{name:7s} median {statistics.median(values):7.1f} mentions/{unit}, best {max(values):7.1f}")
    pairs = [now / before for before, now in zip(rates["before"], rates["now"])]
    print(f"now / before: median of passes {statistics.median(pairs):.2f}x, "
          f"of medians {statistics.median(rates['now']) / statistics.median(rates['before']):.2f}x")


if __name__ == "__main__":
    main()
