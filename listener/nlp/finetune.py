"""Fine-tune the sentiment branch (the encoder's top k layers + a classifier) on CPU, from cached states.

How (MODEL_CARD.md gives the numbers):
- the output of base layer 12 - k for every train and dev line is computed once and cached on disk in bf16
  (`hiddencache.py`); every epoch starts from it, so a step costs k layers forward and backward;
- batches are drawn with probability proportional to the same per-line weights as the head on frozen
  embeddings (`train.example_weights`: classes balanced within each set, each set's weight growing as its
  size to `set_power`), and sorted by length in pools, so little padding is computed;
- AdamW, linear warm-up and decay, bf16 autocast where the CPU does bf16 natively (torch keeps fp32 master
  weights);
- every `eval_every` steps the dev parts (a fixed sample per set) are scored; the best state by the mean
  over sets of macro-recall is kept, and training stops after `patience` evaluations without a gain. The dev
  parts are never trained on; the temperature is fitted on a small slice of the train part held out of
  training, not on dev;
- a checkpoint (weights, optimiser, step, best state) is written at every evaluation under
  `$LISTENER_CACHE/finetune/`: a second run with the same data and options resumes from it. A file named
  STOP in that folder ends the run at the next evaluation, keeping the best state so far.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from listener.nlp.data import Example

log = logging.getLogger(__name__)

#: called with a dict: {"stage", "step", "steps", "loss", "dev", "best", "rate"} (see `listener model train`)
Report = Callable[[dict], None]


@dataclass
class FinetuneOptions:
    k: int = 12  # top layers fine-tuned: all of them, the bundled run's (MODEL_CARD.md: k = 5, 4, 2, 1 measured lower)
    epochs: float = 1.5  # passes over the (weighted) train part, at most (the bundle: 0.6 passes over every line)
    batch_size: int = 32
    lr: float = 1e-4  # the k layers (the top one; see layer_decay)
    # each layer below the top learns at this factor of the one above (layer-wise learning-rate decay, as in
    # ELECTRA and BEiT fine-tuning): the low layers, which hold what the languages share, move least
    layer_decay: float = 1.0
    head_lr: float = 2e-3  # the classifier, which starts from random weights
    weight_decay: float = 0.01
    warmup: float = 0.05  # share of the steps
    set_power: float = 0.5  # each set's weight ~ size ** set_power (classes balanced within it)
    set_weights: dict[str, float] | None = None  # a set's weight times this (`--weight SET=FACTOR`, as for the heads)
    eval_every: int = 150  # steps
    patience: int = 5  # evaluations without a gain before stopping (counted in the second half of the steps)
    dev_per_set: int = 400  # dev lines per set scored at each evaluation (fixed sample)
    max_tokens: int = 128
    seed: int = 13
    max_steps: int | None = None  # a cap (tests, quick runs)
    init: str | None = None  # a folder with a branch (same k) to continue from, instead of the base layers
    # share of the branch in the scored probabilities (the rest: the head; see branch.py); None: choose_mix
    mix: float | None = None
    # A set whose train part has no neutral line (sst2, snappfood) says which side a text is on, not whether
    # it holds an opinion: with this on, its lines are learned between negative and positive only (the
    # neutral logit is masked out of their loss), as evaluation decides them, and neutral is learned only
    # from the sets that label it.
    binary_two_way: bool = False
    # average the weights of the states at every evaluation from this share of the steps on (stochastic weight
    # averaging, Izmailov et al. 2018): the average is kept instead of the best single state when it scores at
    # least as well on the dev sample. None: off.
    average_from: float | None = None


def _fingerprint(opts: FinetuneOptions, train: Sequence[Example], key: str) -> str:
    h = hashlib.sha256(json.dumps(asdict(opts), sort_keys=True).encode() + key.encode())
    for e in train:
        h.update(e.text.encode())
        h.update((e.label or "").encode())
        h.update((e.set or "").encode())
    return h.hexdigest()[:16]


def _bf16_native() -> bool:
    from listener.nlp.encoder import fast_bf16

    return fast_bf16()


class _States:
    """Cached start-layer states of a list of texts, in RAM as bf16 bits, padded into batches on demand."""

    def __init__(self, cache, texts: Sequence[str], dim: int):
        from listener.nlp.embcache import text_hash

        hashes = [text_hash(t) for t in texts]
        found = cache.get(hashes, dim)
        self.rows = [found[h] for h in hashes]
        self.lengths = np.array([r.shape[0] for r in self.rows])
        self.dim = dim

    def batch(self, idx: Sequence[int]):
        import torch

        width = int(max(self.lengths[i] for i in idx))
        bits = np.zeros((len(idx), width, self.dim), dtype=np.uint16)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            n = self.lengths[i]
            bits[row, :n] = self.rows[i]
            mask[row, :n] = 1
        hidden = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)
        return hidden, torch.from_numpy(mask)


def _batches(lengths: np.ndarray, probs: np.ndarray, batch_size: int, seed: int, pool: int):
    """Pool number `pool` of batches: 64 batches' worth of lines drawn by `probs`, sorted by length."""
    rng = np.random.default_rng([seed, pool])
    draw = rng.choice(len(probs), size=batch_size * 64, p=probs)
    draw = draw[np.argsort(lengths[draw], kind="stable")]
    chunks = [draw[i:i + batch_size] for i in range(0, len(draw), batch_size)]
    order = rng.permutation(len(chunks))
    return [chunks[i] for i in order]


def predict_logits(module, states: _States, idx: Sequence[int] | None = None, batch_size: int = 64,
                   autocast: bool = True) -> np.ndarray:
    import torch

    idx = np.arange(len(states.rows)) if idx is None else np.asarray(idx)
    order = idx[np.argsort(states.lengths[idx], kind="stable")]
    out = {}
    was_training = module.training
    module.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            hidden, mask = states.batch(chunk)
            if not autocast:
                hidden = hidden.float()
            logits = module(hidden, mask).float().numpy()
            out.update(zip(chunk.tolist(), logits))
    module.train(was_training)
    return np.stack([out[i] for i in idx.tolist()])


def dev_score(logits: np.ndarray, examples: Sequence[Example]) -> tuple[float, dict]:
    """Mean over sets of macro-recall; a set without neutral lines is decided between negative and positive."""
    y = np.array([e.sentiment_index for e in examples])
    sets = np.array([e.set or "?" for e in examples])
    per_set = {}
    for name in sorted(set(sets.tolist())):
        rows = sets == name
        yt, lt = y[rows], logits[rows]
        if np.any(yt == 1):
            pred, classes = lt.argmax(1), (0, 1, 2)
        else:
            pred, classes = np.where(lt[:, 2] >= lt[:, 0], 2, 0), (0, 2)
        recalls = [float(np.mean(pred[yt == c] == c)) for c in classes if np.any(yt == c)]
        per_set[name] = round(float(np.mean(recalls)), 4)
    return float(np.mean(list(per_set.values()))), per_set


def binary_lines(sets: Sequence[str], y: np.ndarray) -> np.ndarray:
    """True for the lines of a set with no neutral line among `y` (labels 0/1/2): binary data."""
    sets = np.asarray(sets)
    three_way = {name for name in set(sets.tolist()) if np.any(y[sets == name] == 1)}
    return np.array([name not in three_way for name in sets.tolist()], dtype=bool)


def mask_neutral(logits, rows: np.ndarray):
    """The logits with the neutral one at -inf on `rows`: their softmax (and loss) is negative vs positive."""
    import torch

    if not rows.any():
        return logits
    mask = torch.zeros_like(logits)
    mask[torch.from_numpy(rows), 1] = float("-inf")
    return logits + mask


def _fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    from listener.nlp.heads import softmax

    temps = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))
    nll = [-np.mean(np.log(softmax(logits / t)[np.arange(len(y)), y] + 1e-12)) for t in temps]
    return float(temps[int(np.argmin(nll))])


def _split_tuning(train: Sequence[Example], fraction: float = 0.03, seed: int = 13):
    """A stratified slice of the train part held out of fine-tuning, for the temperature only."""
    from listener.nlp.corpus import _rng, _stratified_take

    by_set: dict[str, list[Example]] = {}
    for e in train:
        by_set.setdefault(e.set or "?", []).append(e)
    fit, tune = [], []
    for name in sorted(by_set):
        rows = by_set[name]
        k = max(1, int(round(fraction * len(rows)))) if len(rows) >= 20 else 0
        chosen, rest = _stratified_take(rows, k, _rng(name + ":tune", seed))
        tune.extend(chosen)
        fit.extend(rest)
    return fit, tune


def finetune(encoder, base_model, train: Sequence[Example], dev: Sequence[Example],
             opts: FinetuneOptions | None = None, report: Report | None = None, resume: bool = True,
             work_dir: str | Path | None = None):
    """Fine-tune a branch on `train` (lines with a 3-way label), early-stopped on `dev`; returns
    (Branch, info dict). `encoder`: the base encoder whose start-layer states are cached (its precision is
    part of the cache key); `base_model`: the fp32 BertModel the branch layers start from."""
    import torch

    from listener.nlp.branch import Branch, build_module, init_from_base
    from listener.nlp.corpus import TrainingDataError, _rng, _stratified_take
    from listener.nlp.encoder import cache_dir
    from listener.nlp.hiddencache import HiddenCache, fill_hidden, hidden_key
    from listener.nlp.train import example_weights

    opts = opts or FinetuneOptions()
    n_layers = base_model.config.num_hidden_layers
    if not 1 <= opts.k <= n_layers:
        raise TrainingDataError(f"--layers must be between 1 and {n_layers}, got {opts.k}")
    start = n_layers - opts.k
    train = [e for e in train if e.sentiment_index is not None]
    dev = [e for e in dev if e.sentiment_index is not None]
    if len({e.sentiment_index for e in train}) < 3:
        raise TrainingDataError("fine-tuning needs train lines of all three labels (negative, neutral, positive)")
    fit, tune = _split_tuning(train, seed=opts.seed)
    unknown = sorted(set(opts.set_weights or {}) - {e.set or "?" for e in train})
    if unknown:
        raise TrainingDataError(f"--weight names set(s) not in the data: {', '.join(unknown)}")
    dev_sample: list[Example] = []
    for name in sorted({e.set or "?" for e in dev}):
        rows = [e for e in dev if (e.set or "?") == name]
        dev_sample.extend(_stratified_take(rows, opts.dev_per_set, _rng(name + ":early", opts.seed))[0])

    started = time.perf_counter()
    key = hidden_key(encoder, start, opts.max_tokens)
    cache = HiddenCache(key)
    texts = [e.text for e in dev] + [e.text for e in train]

    def fill_progress(done, total, rate):
        if report:
            report({"stage": "caching states", "step": done, "steps": total, "rate": rate})

    fill_hidden(encoder, texts, start, cache, max_tokens=opts.max_tokens, progress=fill_progress)
    dim = base_model.config.hidden_size
    fit_states = _States(cache, [e.text for e in fit], dim)
    dev_states = _States(cache, [e.text for e in dev_sample], dim)
    cache.close()
    cache_seconds = time.perf_counter() - started

    y = np.array([e.sentiment_index for e in fit])
    binary = binary_lines([e.set or "?" for e in fit], y) if opts.binary_two_way else np.zeros(len(y), bool)
    weights = example_weights([e.set or "?" for e in fit], y, opts.set_power, opts.set_weights)
    probs = weights / weights.sum()
    steps = opts.max_steps or max(1, int(opts.epochs * len(fit) / opts.batch_size))

    torch.manual_seed(opts.seed)
    config = type(base_model.config).from_dict(base_model.config.to_dict())
    config._attn_implementation = base_model.config._attn_implementation
    config.hidden_dropout_prob = 0.1  # the converted config has none; a little regularises the fine-tuning
    config.attention_probs_dropout_prob = 0.1
    module = build_module(config, opts.k)
    init_from_base(module, base_model, start)
    if opts.init:
        from listener.nlp.branch import load_branch

        previous = load_branch(opts.init, config, base_model=base_model)
        if previous is None or previous.k != opts.k:
            raise TrainingDataError(f"{opts.init}: no branch with {opts.k} layer(s) to continue from")
        module.load_state_dict(previous.module.state_dict())
    module.train()
    groups = [{"params": list(module.classifier.parameters()), "lr": opts.head_lr}]
    for i, layer in enumerate(module.layers):
        groups.append({"params": list(layer.parameters()), "lr": opts.lr * opts.layer_decay ** (opts.k - 1 - i)})
    optim = torch.optim.AdamW(groups, weight_decay=opts.weight_decay)
    warm = max(1, int(opts.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    autocast = _bf16_native()

    work = Path(work_dir) if work_dir else cache_dir() / "finetune" / _fingerprint(opts, train, key)
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / "checkpoint.pt"
    log.info("fine-tuning %d steps; checkpoints in %s (a file named STOP there ends the run early)", steps, work)
    step, best, best_state, history, stale = 0, -1.0, None, [], 0
    # Evaluations without a gain count towards early stopping only in the second half of the schedule: while
    # the learning rate is high the 400-line-a-set sample swings by a point between evaluations, and a
    # 4,000-step run stopped at step 2,700 on such noise, before the decay that gives the best states
    # (2026-12-03). The best state is kept whenever it comes, so waiting costs only time.
    settle = steps // 2
    average_start = steps if opts.average_from is None else int(opts.average_from * steps)
    averaged, n_averaged = None, 0  # running mean of the states evaluated from average_start on
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=True)
        module.load_state_dict(ckpt["module"])
        optim.load_state_dict(ckpt["optim"])
        sched.load_state_dict(ckpt["sched"])
        step, best, stale = int(ckpt["step"]), float(ckpt["best"]), int(ckpt["stale"])
        best_state = ckpt["best_state"]
        history = json.loads(ckpt["history"])
        averaged, n_averaged = ckpt.get("averaged"), int(ckpt.get("n_averaged", 0))
        log.info("resuming fine-tuning at step %d of %d from %s", step, steps, ckpt_path)
        if report:
            report({"stage": "resumed", "step": step, "steps": steps})

    def save_checkpoint() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"module": module.state_dict(), "optim": optim.state_dict(), "sched": sched.state_dict(),
                    "step": step, "best": best, "stale": stale, "best_state": best_state,
                    "history": json.dumps(history), "averaged": averaged, "n_averaged": n_averaged}, tmp)
        tmp.replace(ckpt_path)  # an interruption while writing leaves the previous checkpoint whole

    loss_fn = torch.nn.CrossEntropyLoss()
    bs = opts.batch_size
    pools_per = 64
    t0, seen, running = time.perf_counter(), 0, []
    while step < steps and stale < opts.patience:
        pool, offset = divmod(step, pools_per)
        batches = _batches(fit_states.lengths, probs, bs, opts.seed, pool)
        for idx in batches[offset:]:
            hidden, mask = fit_states.batch(idx)
            target = torch.from_numpy(y[idx])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                logits = module(hidden if autocast else hidden.float(), mask)
            loss = loss_fn(mask_neutral(logits.float(), binary[idx]), target)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optim.step()
            sched.step()
            step += 1
            seen += len(idx)
            running.append(float(loss.detach()))
            if report and step % 10 == 0:
                report({"stage": "fine-tuning", "step": step, "steps": steps, "loss": float(np.mean(running[-50:])),
                        "best": best, "rate": seen / (time.perf_counter() - t0)})
            if step % opts.eval_every == 0 or step >= steps:
                score, per_set = dev_score(predict_logits(module, dev_states, autocast=autocast), dev_sample)
                if step >= average_start:
                    n_averaged += 1
                    state = module.state_dict()
                    if averaged is None:
                        averaged = {k: v.detach().float().clone() for k, v in state.items()}
                    else:
                        for k, v in state.items():
                            averaged[k] += (v.detach().float() - averaged[k]) / n_averaged
                history.append({"step": step, "loss": round(float(np.mean(running[-opts.eval_every:])), 4),
                                "dev": round(score, 4), "sets": per_set})
                if score > best:
                    best, stale = score, 0
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                elif step >= settle:
                    stale += 1
                save_checkpoint()
                if report:
                    report({"stage": "evaluated", "step": step, "steps": steps, "dev": score, "best": best,
                            "sets": per_set, "loss": history[-1]["loss"]})
                if stale >= opts.patience or (work / "STOP").exists():
                    stale = max(stale, opts.patience) if (work / "STOP").exists() else stale
                    break
            if step >= steps:
                break
    if best_state is None:  # no evaluation happened (max_steps below eval_every in a test): keep the last
        best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        save_checkpoint()
    average_score = None
    if n_averaged > 1:
        module.load_state_dict(averaged)
        average_score, average_sets = dev_score(predict_logits(module, dev_states, autocast=autocast), dev_sample)
        history.append({"step": step, "averaged_states": n_averaged, "dev": round(average_score, 4),
                        "sets": average_sets})
        if report:
            report({"stage": "averaged", "step": step, "steps": steps, "states": n_averaged, "dev": average_score,
                    "best": best, "sets": average_sets})
    if average_score is not None and average_score >= best:
        best_dev_kind = f"the average of the last {n_averaged} evaluated states"
        best = average_score
    else:
        best_dev_kind = "the best evaluated state"
        module.load_state_dict(best_state)
    module.eval()
    temperature = 1.0
    if tune:
        tune_states = _States(HiddenCache(key), [e.text for e in tune], dim)
        temperature = _fit_temperature(predict_logits(module, tune_states, autocast=autocast),
                                       np.array([e.sentiment_index for e in tune]))
    info = {"k": opts.k, "start": start, "steps": step, "planned_steps": steps, "best_dev": round(best, 4),
            "early_stopped": stale >= opts.patience, "kept": best_dev_kind, "train_lines": len(fit), "tuning_lines": len(tune),
            "dev_lines_for_early_stopping": len(dev_sample), "options": asdict(opts),
            "cache_seconds": round(cache_seconds), "train_seconds": round(time.perf_counter() - started),
            "bf16_autocast": autocast, "history": history}
    # run_finetune replaces a mix of None by choose_mix; alone, the branch is all of it
    return Branch(module, start, temperature, {"training": info, "mix": 1.0 if opts.mix is None else opts.mix}), info


class _BranchOnly:
    """What evaluate_examples needs from a scorer, for sentiment probabilities computed beforehand."""

    topic_labels: list[str] = []

    def __init__(self, probs: np.ndarray, languages=None):
        from listener.nlp.scorer import SUPPORTED_LANGUAGES

        self._probs = probs
        self.languages = SUPPORTED_LANGUAGES if languages is None else languages

    def predict(self, texts, embeddings=None, langs=None):
        from listener.nlp.scorer import Prediction

        # evaluate_examples passes the chosen lines in order; with languages=None that is every line
        assert len(texts) == len(self._probs)
        return [Prediction(p, [], {}) for p in self._probs]


def branch_probs(branch, encoder, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray:
    """The branch's calibrated probabilities for `texts`, from the cached start-layer states (filled where
    missing; texts cut to the training token cap)."""
    from listener.nlp.heads import softmax
    from listener.nlp.hiddencache import TRAIN_TOKENS, HiddenCache, fill_hidden, hidden_key

    max_tokens = max_tokens or int(branch.card.get("training", {}).get("options", {}).get("max_tokens")
                                   or TRAIN_TOKENS)
    cache = HiddenCache(hidden_key(encoder, branch.start, max_tokens))
    fill_hidden(encoder, list(texts), branch.start, cache, max_tokens=max_tokens)
    states = _States(cache, list(texts), encoder.dim)
    cache.close()
    logits = predict_logits(branch.module, states, autocast=_bf16_native())
    return softmax(logits.astype(np.float64) / branch.temperature)


def evaluate_branch(branch, encoder, dev: Sequence[Example], max_tokens: int | None = None) -> dict:
    """Metrics of the branch alone on the dev parts (`listener model eval` on a dev file measures the full
    scoring path)."""
    from listener.nlp.evaluate import evaluate_examples

    probs = branch_probs(branch, encoder, [e.text for e in dev], max_tokens)
    return evaluate_examples(dev, _BranchOnly(probs), languages=None)


MIX_CHOICES = (0.0, 0.25, 0.5, 0.75, 1.0)


def choose_mix(branch, encoder, heads_folder: str | Path, tune: Sequence[Example]) -> tuple[float, dict]:
    """The share of the branch in the scored probabilities (branch.py): the one of MIX_CHOICES whose mixture
    with the head has the lowest log-loss on `tune`, the train lines held out of fine-tuning (never dev).
    Why log-loss and not accuracy: a few hundred lines a set decide accuracy by a handful of near-ties, while
    log-loss uses every line's probabilities; why choose at all: a weak branch (few layers, little data) gains
    from the head's second opinion, a strong one is only diluted by it."""
    from listener.nlp.heads import Heads

    tune = [e for e in tune if e.sentiment_index is not None]
    if not tune:
        return (branch.mix, {})
    texts = [e.text for e in tune]
    from_branch = branch_probs(branch, encoder, texts)
    from_head = Heads.load(heads_folder).sentiment.predict_proba(encoder.embed(texts))
    y = np.array([e.sentiment_index for e in tune])
    losses = {}
    for mix in MIX_CHOICES:
        p = mix * from_branch + (1 - mix) * from_head
        losses[mix] = round(float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))), 4)
    best = min(MIX_CHOICES, key=lambda m: (losses[m], -m))  # a tie goes to more branch
    return best, {"tuning_lines": len(tune), "log_loss": {str(k): v for k, v in losses.items()}}


def run_finetune(files: Sequence[str | Path] | None, output: str | Path, opts: FinetuneOptions | None = None,
                 max_per_set: int | None = 12000, max_dev: int = 2000, resume: bool = True,
                 report: Report | None = None) -> dict:
    """What `listener model train` adds for the bundled encoder: build the corpus (corpus.py, the same train
    and dev parts as the heads, with a larger cap per set), fine-tune the branch, evaluate it on every dev
    line and save it next to the heads in `output`."""
    import gc

    from transformers import BertModel

    from listener.nlp.corpus import build_corpus
    from listener.nlp.data import LABELLED_DIR
    from listener.nlp.encoder import default_model_dir, load_default_encoder
    from listener.nlp.evaluate import headline_numbers

    opts = opts or FinetuneOptions()
    # the states are computed at the precision `auto` scores with on this CPU, so training sees what scoring sees
    encoder = load_default_encoder(precision="auto")
    base = BertModel.from_pretrained(str(default_model_dir()), add_pooling_layer=False, attn_implementation="sdpa")
    corpus = build_corpus(files or [LABELLED_DIR], max_per_set=max_per_set, max_dev=max_dev)
    branch, info = finetune(encoder, base, corpus.train, corpus.dev, opts, report=report, resume=resume)
    if opts.mix is None:
        _, tune = _split_tuning([e for e in corpus.train if e.sentiment_index is not None], seed=opts.seed)
        branch.mix, choice = choose_mix(branch, encoder, output, tune)
        branch.card.update(mix=branch.mix, mix_choice=choice)
    if report:
        report({"stage": "evaluating", "step": 0, "steps": len(corpus.dev)})
    metrics = evaluate_branch(branch, encoder, corpus.dev)
    from datetime import datetime, timezone

    branch.card.update({"encoder": encoder.name, "base": encoder.info.source, "state_precision": encoder.info.precision,
                        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "max_per_set": max_per_set, "sets": corpus.sets, "eval": headline_numbers(metrics)})
    branch.save(output, base)  # matrices stored as differences from the fp32 layers training started from
    del base
    gc.collect()
    return {"branch": str(output), "training": info, "eval": metrics, "train": len(corpus.train),
            "dev": len(corpus.dev), "sets": corpus.sets}
