"""`listener model train|eval|info` and `listener rescore`: thin commands over listener.nlp."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from listener.cli.render import shown
from listener.cli.common import (
    ProjectOption, SinceOption, UntilOption, build_filters, handle_errors, print_json, settings,
)

model_app = typer.Typer(help="Train, evaluate and inspect the sentiment and topic model.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

ModelOption = typer.Option(None, "--model", "-m",
                           help="Hugging Face model name or folder (default: $LISTENER_MODEL, else the bundled "
                                "multilingual-e5-small).")
PrecisionOption = typer.Option(None, "--precision",
                               help="auto (bf16 on CPUs with native bf16: AMX or AVX512_BF16; see `listener model info`), fp32, bf16 or int8. "
                                    "Default: $LISTENER_PRECISION or auto.")


@contextlib.contextmanager
def _model_errors():
    """A model that cannot be loaded, or missing files, end in one clear message and exit code 2."""
    from listener.nlp.corpus import TrainingDataError
    from listener.nlp.encoder import ModelUnavailable

    with handle_errors():
        try:
            yield
        except (ModelUnavailable, FileNotFoundError, TrainingDataError) as err:
            err_console.print(f"[bold red]error[/bold red]: {shown(str(err))}", highlight=False)
            raise typer.Exit(2) from None


HeadsOption = typer.Option(None, "--heads",
                           help="Folder of heads written by `listener model train -o DIR`. Default: "
                                "$LISTENER_HEADS, else the bundled heads.")


@model_app.command()
def train(
    data: list[Path] = typer.Option([], "--data", "-d", help="Labelled JSON Lines files or folders of them "
                                    "(repeatable; lines: text, label, optional lang, set, split, topics). Default: "
                                    "the bundled listener/nlp/data/labelled."),
    model: Optional[str] = ModelOption,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder for the heads. Default: "
                                          "listener/nlp/heads/ for the bundled encoder (and MODEL_CARD.md is "
                                          "updated), the per-user cache for another encoder."),
    max_per_set: int = typer.Option(4000, min=0, help="Train lines kept per set (stratified sample, fixed "
                                    "seed; 0 = all)."),
    max_dev: int = typer.Option(2000, min=1, help="Dev lines per set (own dev split, else carved by seed)."),
    set_power: float = typer.Option(0.0, min=0.0, max=1.0, help="Each set's total weight grows as its size to "
                                    "this power (1: every line counts the same; 0: every set counts the same)."),
    weight: list[str] = typer.Option([], "--weight", help="SET=FACTOR: multiply a set's weight (repeatable), "
                                     "e.g. --weight en=3 to make a project's own examples count more; in the "
                                     "heads and in the fine-tuning."),
    hidden: int = typer.Option(256, min=0, help="Units of one hidden layer in the sentiment head (0: a linear "
                               "head, logistic regression)."),
    precision_check: bool = typer.Option(True, help="Last, score a sample of the dev parts with the encoder "
                                         "in fp32 and int8 (and bf16 where native) and keep the numbers in heads.json "
                                         "(bundled encoder only; `auto` takes int8 only when it stays within a point; "
                                         "see `listener model check-precision`)."),
    only: Optional[str] = typer.Option(None, "--only", help="'topics': refit only the topic side (topic head, "
                                       "zero-shot calibration, background for project topics) and keep the "
                                       "sentiment head in the heads folder untouched; 'lexical': refit only the "
                                       "n-gram models mixed into sentiment, against the heads and branch there."),
    lexical: bool = typer.Option(True, "--lexical/--no-lexical", help="Last for sentiment, fit a word and "
                                 "character n-gram model per language and mix it in at the share that helps on "
                                 "held-out train lines (on the branch's lines, --finetune-per-set, when the folder "
                                 "has a branch, else --max-per-set); --no-lexical removes an old one."),
    finetune: Optional[bool] = typer.Option(None, "--finetune/--no-finetune", help="Also fine-tune the "
                                            "encoder's top layers for sentiment (a branch saved next to the heads). "
                                            "Default: on for the bundled encoder; --no-finetune removes an old "
                                            "branch from the output folder."),
    branch_only: bool = typer.Option(False, "--branch-only", help="Only fine-tune the sentiment branch; keep the "
                                     "heads already in the output folder (the bundled ones when there is none)."),
    layers: int = typer.Option(12, min=1, max=12, help="Top layers the fine-tuning trains (each one costs about a "
                               "layer's forward and backward pass per line in training and a layer's forward pass "
                               "per mention in scoring)."),
    epochs: float = typer.Option(1.5, min=0.01, help="Passes over the weighted train part, at most (training "
                                 "stops early when the dev parts stop improving)."),
    finetune_per_set: int = typer.Option(12000, min=0, help="Train lines kept per set for fine-tuning (0 = all)."),
    binary_two_way: bool = typer.Option(False, "--binary-two-way", help="Fine-tuning: learn the lines of a set "
                                        "without neutral labels between negative and positive only (neutral is "
                                        "then learned only from sets that label it)."),
    init: Optional[Path] = typer.Option(None, "--init", exists=True, file_okay=False, help="Fine-tuning: continue "
                                        "from the branch in this heads folder (same --layers) instead of the "
                                        "base encoder's layers."),
    lr: float = typer.Option(1e-4, min=1e-7, max=1e-2, help="Fine-tuning: peak learning rate of the encoder "
                             "layers (after warm-up; the classifier's is 20x). Lower it with --init."),
    layer_decay: float = typer.Option(1.0, min=0.1, max=1.0, help="Fine-tuning: each layer learns at this factor "
                                      "of the learning rate of the layer above (1: all alike)."),
    average_from: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Fine-tuning: average the weights "
                                                 "of the states evaluated from this share of the steps on, and keep "
                                                 "the average if it scores at least as well as the best state."),
    restart: bool = typer.Option(False, "--restart", help="Ignore a fine-tuning checkpoint of an interrupted "
                                 "run with the same data and options (by default it resumes)."),
    json_output: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
):
    """Fit the sentiment and topic heads on the train parts and evaluate them on the dev parts; for the bundled
    encoder, also fine-tune its top layers for sentiment.

    Embeddings and the fine-tuning's cached states are under $LISTENER_CACHE: an interrupted run resumes.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from listener.cli.common import UserInputError
    from listener.nlp.train import run_training

    set_weights = {}
    with handle_errors():
        for item in weight:
            name, _, factor = item.partition("=")
            try:
                set_weights[name.strip()] = float(factor)
            except ValueError:
                raise UserInputError(f"--weight {item!r}: expected SET=FACTOR, e.g. --weight en=3") from None
    with _model_errors(), Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                   console=err_console, transient=json_output) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int, rate: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, rate="")
            bar.update(tasks[stage], completed=done, total=total, rate=f"{rate:.0f} texts/s" if rate else "")

        from listener.nlp.encoder import is_default

        bundled = is_default(model or None)
        if (finetune or branch_only) and not bundled:
            raise UserInputError("fine-tuning (--finetune, --branch-only) is for the bundled encoder only")
        if only not in (None, "topics", "lexical"):
            raise UserInputError(f"--only {only!r}: 'topics' or 'lexical'")
        if only and (finetune or branch_only):
            raise UserInputError(f"--only {only} refits that part alone: leave out --finetune and --branch-only")
        if only == "lexical" and not lexical:
            raise UserInputError("--only lexical with --no-lexical: choose one")
        do_finetune = (bundled and not only) if finetune is None else finetune
        if branch_only:
            report = {"heads": str(_heads_for_branch(output)), "train": 0, "bad_lines": []}
        elif only == "lexical":
            report = {"heads": str(_existing_heads(output, model)), "train": 0, "bad_lines": []}
        else:
            report = run_training(model=model, files=data or None, output=output,
                                  max_per_set=max_per_set or None, max_dev=max_dev,
                                  set_power=set_power, set_weights=set_weights or None, hidden=hidden,
                                  progress=progress, only=only)
        if do_finetune:
            from listener.nlp.finetune import FinetuneOptions

            opts = FinetuneOptions(k=layers, epochs=epochs, binary_two_way=binary_two_way,
                                   init=str(init) if init else None, lr=lr, head_lr=lr * 20,
                                   layer_decay=layer_decay, average_from=average_from,
                                   set_weights=set_weights or None)
            report["finetune"] = _run_finetune(bar, data, Path(report["heads"]), opts, finetune_per_set or None,
                                               max_dev, restart)
        elif finetune is False:
            from listener.nlp.branch import BRANCH_CARD, BRANCH_WEIGHTS

            for name in (BRANCH_CARD, BRANCH_WEIGHTS):  # heads and an older branch must not be mixed
                (Path(report["heads"]) / name).unlink(missing_ok=True)
        if only != "topics":
            folder = Path(report["heads"])
            if lexical:  # after the branch: its share is chosen against what scores sentiment
                from listener.nlp.branch import branch_declared
                from listener.nlp.lexical_train import run_lexical

                per_set = finetune_per_set if branch_declared(folder) else max_per_set
                report["lexical"] = run_lexical(data or None, folder, model=model, max_per_set=per_set or None,
                                                max_dev=max_dev, set_weights=set_weights or None, progress=progress)
            else:
                from listener.nlp.lexical import LEXICAL_FILE

                (folder / LEXICAL_FILE).unlink(missing_ok=True)  # its shares were chosen for other heads
            if output is None and bundled:
                from listener.nlp.card import folder_card, update_model_card

                update_model_card(folder_card(folder))
        if precision_check and bundled and only != "topics":  # last: the check measures what scores
            report["precision_check"] = _check_and_store(Path(report["heads"]), data, max_dev, progress,
                                                         update_card=output is None)
    if json_output:
        print_json(report)
        return
    if not branch_only:
        console.print(f"trained on {report['train']} line(s); heads written to {shown(report['heads'])}",
                      highlight=False)
    for bad in report["bad_lines"]:
        err_console.print(f"  [red]{shown(bad['file'])} line {bad['line']}[/red]: {shown(bad['error'])}",
                          highlight=False)
    if "eval" in report:
        render_eval(console, report["eval"], title=f"dev parts, never trained on ({report['eval']['lines']} lines)")
    if "finetune" in report:
        ft = report["finetune"]
        info = ft["training"]
        console.print(f"fine-tuned the top {info['k']} layers for sentiment: {info['steps']} steps, best dev "
                      f"{info['best_dev']:.3f} (mean macro-recall over sets), {info['train_seconds']} s; branch "
                      f"written to {shown(ft['branch'])}", highlight=False)
        render_eval(console, ft["eval"], title=f"sentiment branch alone (before mixing with the head) on the dev parts ({ft['eval']['lines']} lines)")
    if "lexical" in report:
        lx = report["lexical"]
        shares = ", ".join(f"{lang} {v['share']:.1f}" for lang, v in lx["shares"].items()) or "none"
        console.print(f"n-gram models fitted on {lx['fit_lines']} line(s); shares chosen on {lx['tuning_lines']} "
                      f"held-out line(s): {shown(shares)}; written to {shown(lx['lexical'])}", highlight=False)
        if "eval" in lx:
            render_eval(console, lx["eval"], title=f"sentiment as scored (heads, branch and n-grams) on the dev "
                                                   f"parts ({lx['eval']['lines']} lines)")


def _check_and_store(folder: Path, data: list[Path], max_dev: int, progress, update_card: bool) -> dict:
    """The precision check (listener/nlp/precision_check.py) on the dev parts of `data`, kept in heads.json
    (and in MODEL_CARD.md's numbers for the bundled heads)."""
    from listener.nlp.corpus import build_corpus
    from listener.nlp.data import LABELLED_DIR
    from listener.nlp.precision_check import run_precision_check, store_precision_check

    dev = build_corpus(data or [LABELLED_DIR], max_per_set=None, max_dev=max_dev).dev  # carving ignores the cap
    check = run_precision_check(folder, dev, progress=progress)
    store_precision_check(folder, check)
    if update_card:
        from listener.nlp.card import folder_card, update_model_card

        update_model_card(folder_card(folder))
    return check


@model_app.command("check-precision")
def check_precision(
    data: list[Path] = typer.Option([], "--data", "-d", help="Labelled JSON Lines files or folders whose dev "
                                    "parts are scored (as for `listener model train`). Default: the bundled "
                                    "listener/nlp/data/labelled."),
    heads: Optional[Path] = HeadsOption,
    max_dev: int = typer.Option(2000, min=1, help="Dev lines per set (own dev split, else carved by seed)."),
    json_output: bool = typer.Option(False, "--json", help="Print the check as JSON."),
):
    """Score a sample of the dev parts (up to 400 lines a set) with the encoder in fp32 and int8 (and bf16 where
    the CPU does it natively), through the heads and their fine-tuned branch, and keep the numbers in the heads
    folder: `auto` takes int8 on a CPU without native bf16 only when it stays within one point of fp32 on every
    set (sentiment accuracy and macro-recall, topic micro-F1). Bundled encoder only."""
    from listener.nlp.heads import BUNDLED_HEADS, INT8_CHECKED, Heads, int8_check
    from listener.nlp.scorer import heads_setting

    folder = heads_setting(heads) or BUNDLED_HEADS
    with _model_errors():
        if not Heads.exists(folder):
            raise FileNotFoundError(f"no trained heads in {folder}: run `listener model train -o {folder}` first")
        progress = (lambda stage, done, total, rate: err_console.print(f"{stage} ({done} of {total})",
                                                                        highlight=False) if done < total else None)
        check = _check_and_store(folder, data, max_dev, progress,
                                 update_card=folder.resolve() == BUNDLED_HEADS.resolve())
    ok, why = int8_check(folder)
    if json_output:
        print_json({**check, "int8_within_a_point": ok, "int8_reason": why})
        return
    precisions = [p for p in ("fp32", "bf16", "int8") if p in check]
    table = Table("set", *[f"{p}: " + " / ".join(k.replace("_", " ") for k in INT8_CHECKED) for p in precisions],
                  title=f"precision check of {shown(str(folder))} ({check['lines']} dev lines, scoring: "
                        f"{check['scoring']})")
    names = sorted(check["fp32"]["sets"])
    for name in names:
        table.add_row(shown(name), *[" / ".join(_num(check[p]["sets"][name].get(k)) for k in INT8_CHECKED)
                                     for p in precisions])
    console.print(table)
    for p, why in check.get("skipped", {}).items():
        console.print(f"{p}: {why}", highlight=False)
    console.print(f"{why}: `auto` {'may take' if ok else 'will not take'} int8 on a CPU without native bf16",
                  highlight=False)


def _existing_heads(output: Optional[Path], model: Optional[str]) -> Path:
    """--only lexical: the folder whose heads (and branch) the n-gram models are mixed with."""
    from listener.nlp.encoder import DEFAULT_MODEL, is_default
    from listener.nlp.heads import Heads
    from listener.nlp.scorer import heads_dir_for

    folder = output or heads_dir_for(DEFAULT_MODEL if is_default(model) else model)
    if not Heads.exists(folder):
        raise FileNotFoundError(f"--only lexical mixes into the heads in {folder}, but there are none: train them "
                                f"first (without --only)")
    return folder


def _heads_for_branch(output: Optional[Path]) -> Path:
    """--branch-only: the output folder keeps its heads; a new folder gets a copy of the bundled ones."""
    import shutil

    from listener.nlp.heads import BUNDLED_HEADS, Heads

    folder = output or BUNDLED_HEADS
    if not Heads.exists(folder):
        folder.mkdir(parents=True, exist_ok=True)
        for item in BUNDLED_HEADS.iterdir():
            if item.suffix in (".npz", ".json") and not item.name.startswith("branch"):
                shutil.copy2(item, folder / item.name)
    return folder


def _run_finetune(bar, data: list[Path], folder: Path, opts, per_set: Optional[int], max_dev: int,
                  restart: bool) -> dict:
    """Fine-tune the sentiment branch with a progress bar: caching states, then steps with loss and dev score."""
    from listener.nlp.finetune import run_finetune

    tasks: dict[str, int] = {}

    def report(r: dict) -> None:
        stage = r["stage"]
        if stage == "evaluated":
            sets = ", ".join(f"{k} {v:.3f}" for k, v in r.get("sets", {}).items())
            err_console.print(f"step {r['step']}: loss {r['loss']:.4f}, dev {r['dev']:.4f} (best {r['best']:.4f}); "
                              f"{shown(sets)}", highlight=False)
            return
        if stage == "resumed":
            err_console.print(f"resuming fine-tuning at step {r['step']} of {r['steps']}")
            return
        if stage == "averaged":
            sets = ", ".join(f"{k} {v:.3f}" for k, v in r.get("sets", {}).items())
            err_console.print(f"average of the last {r['states']} evaluated states: dev {r['dev']:.4f} (best single "
                              f"state {r['best']:.4f}); {shown(sets)}", highlight=False)
            return
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=r.get("steps") or 1, rate="")
        detail = f"{r.get('rate', 0):.0f} lines/s" if r.get("rate") else ""
        if "loss" in r:
            detail += f" loss {r['loss']:.3f}" + (f" best dev {r['best']:.3f}" if r.get("best", -1) >= 0 else "")
        bar.update(tasks[stage], completed=r["step"], total=r.get("steps") or 1, rate=detail)

    return run_finetune(data or None, folder, opts, max_per_set=per_set, max_dev=max_dev, resume=not restart,
                        report=report)


@model_app.command("eval")
def evaluate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines: text, label "
                                "(negative/neutral/positive/mixed), optional lang, set and topics per line; "
                                "a line with topics may leave out the label."),
    model: Optional[str] = ModelOption,
    project: Optional[Path] = ProjectOption,
    precision: Optional[str] = PrecisionOption,
    heads: Optional[Path] = HeadsOption,
    json_output: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
):
    """Sentiment (accuracy, macro-recall, macro-F1, confusion) and topic metrics per language and set.

    Exit code: 0 when every line was read and scored, 1 when no line could be scored, 3 when metrics were
    computed but some lines were skipped (bad lines) or left unscored (language not covered).
    """
    from listener.nlp import load_scorer
    from listener.nlp.evaluate import evaluate_file
    from listener.runtime import resolve_project

    with _model_errors():
        loaded = resolve_project(settings(), project)
        chosen = model or settings().model or (loaded.project.model if loaded else None)
        scorer = load_scorer(model=chosen, topics=list(loaded.topics) if loaded else None, precision=precision,
                             heads=heads)
        report = evaluate_file(file, scorer, cache=True)
    if json_output:
        print_json(report)
    else:
        for bad in report["bad_lines"]:
            err_console.print(f"  [red]line {bad['line']}[/red]: {shown(bad['error'])}", highlight=False)
        render_eval(console, report, title=f"{file} · model {report['model']}")
        if report["bad_lines"]:
            summary = ", ".join(f"{n} {kind}" for kind, n in report["bad_line_summary"].items())
            err_console.print(f"skipped {len(report['bad_lines'])} bad line(s): {shown(summary)}", highlight=False)
        unknown = report.get("all", {}).get("topics", {}).get("unknown_gold_topics")
        if unknown:
            err_console.print(f"[yellow]warning[/yellow]: gold topics this model does not know (left out of the "
                              f"topic scores; add them to the project file): {shown(', '.join(unknown))}",
                              highlight=False)
    if not report.get("scored"):
        raise typer.Exit(1)
    if report["bad_lines"] or report.get("unscored"):
        raise typer.Exit(3)


@model_app.command()
def info(heads: Optional[Path] = HeadsOption,
         precision: Optional[str] = PrecisionOption,
         json_output: bool = typer.Option(False, "--json", help="Print as JSON.")):
    """Where the converted model and the heads are, what the heads were trained on, and which precision
    `auto` picks on this CPU and why."""
    from listener.nlp.encoder import cache_dir, precision_choice
    from listener.nlp.heads import BUNDLED_HEADS, Heads
    from listener.nlp.scorer import SUPPORTED_LANGUAGES, heads_setting, precision_setting

    folder = heads_setting(heads) or BUNDLED_HEADS
    chosen, why = precision_choice(precision_setting(precision), heads=folder)
    out = {"cache": str(cache_dir()), "heads": str(folder), "languages": sorted(SUPPORTED_LANGUAGES),
           "precision": chosen, "precision_reason": why}
    if Heads.exists(folder):
        card = Heads.load(folder).card
        out.update({k: card.get(k) for k in ("encoder", "trained_at", "train_total", "train_counts")})
    else:
        out["heads_missing"] = "no trained heads in this folder: run `listener model train -o DIR`"
    from listener.nlp.branch import BRANCH_CARD, BRANCH_WEIGHTS, branch_declared

    if branch_declared(folder):
        import json

        card = json.loads((folder / BRANCH_CARD).read_text())
        present = (folder / BRANCH_WEIGHTS).exists()
        k, start = card.get("k"), card.get("start")
        layers = f"all {k} layers" if start == 0 else f"the top {k} layer(s) from base layer {start}"
        out["sentiment"] = (f"fine-tuned branch: {layers}, {round(100 * float(card.get('mix', 1.0)))} % of the "
                            f"probabilities (the rest from the head), trained {card.get('trained_at', '?')}"
                            + ("" if present else f" ({BRANCH_WEIGHTS} MISSING: retrain with `listener model train`)"))
    else:
        out["sentiment"] = "the head on frozen embeddings (no fine-tuned branch in this folder)"
    from listener.nlp.lexical import LexicalModel

    lexical = LexicalModel.load(folder)
    if lexical is not None:
        shares = ", ".join(f"{lang} {100 * share:.0f} %" for lang, share in lexical.shares.items())
        out["sentiment"] += (f"; n-gram models mixed in per language ({shares}), trained "
                             f"{lexical.card.get('trained_at', '?')}")
    if json_output:
        print_json(out)
    else:
        for key, value in out.items():
            console.print(f"[bold]{key}[/bold]: {shown(str(value))}", highlight=False)


def _num(value) -> str:
    return "" if value is None else f"{value:.3f}"


def render_eval(console: Console, report: dict, title: str = "") -> None:
    if title:
        console.print(f"[bold]{shown(title)}[/bold]", highlight=False)
    if report.get("two_class") and report.get("all", {}).get("n"):
        console.print("two-class file (no neutral label): predictions are the larger of negative and positive")
    rows = [(name, m) for name, m in report.get("sets", {}).items()]
    rows += list(report.get("languages", {}).items())
    if "all" in report and (len(report.get("languages", {})) > 1 or report.get("sets")):
        rows.append(("all", report["all"]))
    cells = []
    for name, m in rows:
        topics = m.get("topics", {})
        neutral = m.get("per_class", {}).get("neutral", {})
        mixed = m.get("mixed")
        cells.append({"set / language": shown(name), "n": str(m["n"] or topics.get("n", 0)), "unscored": str(m.get("unscored", 0) or ""),
                      "accuracy": _num(m.get("accuracy")), "macro-recall": _num(m.get("macro_recall")),
                      "macro-F1": _num(m.get("macro_f1")),
                      "pos/neg acc": _num(m.get("positive_negative", {}).get("accuracy")),
                      "neutral recall": _num(neutral.get("recall")) if neutral.get("support") else "",
                      "mixed predicted": shown(" / ".join(f"{k[:3]} {v}" for k, v in mixed["predicted"].items()))
                      if mixed else "",
                      "topic micro-F1": _num(topics.get("micro_f1")),
                      "topic false-fire": _num(topics.get("false_fire_rate"))})
    # only the columns some row fills, never wrapped: the table may be wider than an 80-column terminal
    headers = [h for h in (cells[0] if cells else {}) if h in ("set / language", "n") or any(c[h] for c in cells)]
    summary = Table(*headers, title="sentiment and topics")
    for column in summary.columns:
        column.no_wrap = True
    for c in cells:
        summary.add_row(*[c[h] for h in headers])
    Console(file=console.file, width=max(console.width, 200), no_color=console.no_color).print(summary)
    from listener.nlp.targets import check_targets

    targets = check_targets(report)
    if targets:
        table = Table("set", "target", "measured", "met", title="targets (issue 12)")
        for t in targets:
            table.add_row(shown(t["set"]), f"{t['what']} ≥ {t['target']:.2f}", _num(t["measured"]),
                          "yes" if t["met"] else "no")
        console.print(table)
    languages = report.get("languages", {})
    confusion_rows = list(languages.items()) + ([("all", report["all"])] if len(languages) > 1 else [])
    for name, m in confusion_rows:
        if not m.get("n"):  # no sentiment labels here (a topic-only file): nothing to tabulate
            continue
        conf = m["confusion"]
        table = Table("true \\ predicted", *conf.get("columns", conf["labels"]), title=f"confusion matrix: {shown(name)}")
        for label, row in zip(conf["labels"], conf["rows_true_columns_predicted"]):
            table.add_row(label, *[str(v) for v in row])
        console.print(table)
    topics = report.get("all", {}).get("topics")
    if topics and topics.get("per_topic"):
        table = Table("topic", "precision", "recall", "F1", "support",
                      title=f"topics (micro-F1 {_num(topics['micro_f1'])}, macro-F1 {_num(topics['macro_f1'])}, "
                            f"false-fire on {topics['no_topic_lines']} no-topic lines {_num(topics['false_fire_rate'])})")
        for label, t in topics["per_topic"].items():
            table.add_row(shown(label), _num(t["precision"]), _num(t["recall"]), _num(t["f1"]), str(t["support"]))
        console.print(table)
    if report.get("unscored"):
        counts = ", ".join(f"{lang} {n}" for lang, n in report["unscored"].items())
        console.print(f"unscored (language not covered; counted as misses above): {shown(counts)}", highlight=False)


def rescore(
    query: str = typer.Argument("", help="Optional boolean query: only re-score what matches."),
    brand: list[str] = typer.Option([], "--brand", "-b", help="Only these brands."),
    source: list[str] = typer.Option([], "--source", "-s", help="Only these sources."),
    lang: list[str] = typer.Option([], "--lang", "-l", help="Only these languages."),
    sentiment: list[str] = typer.Option([], "--sentiment", help="negative, neutral, positive or unscored."),
    since: Optional[str] = SinceOption,
    until: Optional[str] = UntilOption,
    project: Optional[Path] = ProjectOption,
    heads: Optional[Path] = HeadsOption,
    batch_size: int = typer.Option(256, min=1, help="Mentions per scoring batch and upsert."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Score stored mentions again (after `listener model train`, a new model or new project topics).

    Topics the model does not know (a project's own topics, when run without that project) are kept as they
    were, not dropped: pass --project to score them again.
    """
    from listener.corrections import Corrections
    from listener.nlp.rescore import rescore as rescore_store
    from listener.runtime import load_project_scorer, open_settings_store, resolve_project

    with _model_errors():
        filters = build_filters(query, brand, source, lang, sentiment, [], since, until, None, None, True)
        current = settings()
        scorer = load_project_scorer(current, resolve_project(current, project), heads=heads)
        corrections = Corrections.open_existing(current)  # people's labels outlast the model's
        with open_settings_store(current) as store:
            report = rescore_store(store, scorer, filters, batch_size=batch_size, corrections=corrections)
    if json_output:
        print_json(report)
    else:
        console.print(f"re-scored {report.seen} mention(s): {report.scored} scored, {report.unscored} unscored "
                      f"(language not covered), {report.changed} changed; labels {report.labels}; "
                      f"{report.mixed} mixed (negative and positive both likely)")
        if report.kept_topics:
            console.print(f"kept topics this model does not know (run with --project to re-score them): "
                          f"{shown(', '.join(f'{k} ({v})' for k, v in sorted(report.kept_topics.items())))}",
                          highlight=False)


def register(app: typer.Typer) -> None:
    """Add `listener model ...` and `listener rescore` to the app."""
    app.add_typer(model_app, name="model")
    app.command("rescore")(rescore)
