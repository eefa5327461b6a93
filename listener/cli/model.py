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
                               help="auto (bf16 on CPUs with AMX, else fp32), fp32, bf16 or int8. "
                                    "Default: $LISTENER_PRECISION or auto.")


@contextlib.contextmanager
def _model_errors():
    """A model that cannot be loaded, or missing files, end in one clear message and exit code 2."""
    from listener.nlp.encoder import ModelUnavailable

    with handle_errors():
        try:
            yield
        except (ModelUnavailable, FileNotFoundError) as err:
            err_console.print(f"[bold red]error[/bold red]: {shown(str(err))}", highlight=False)
            raise typer.Exit(2) from None


@model_app.command()
def train(
    data: list[Path] = typer.Option([], "--data", "-d", help="Labelled JSON Lines files (repeatable). Default: "
                                    "the bundled listener/nlp/data/labelled/*.jsonl."),
    model: Optional[str] = ModelOption,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Folder for the heads. Default: "
                                          "listener/nlp/heads/ for the bundled encoder (and MODEL_CARD.md is "
                                          "updated), the per-user cache for another encoder."),
    json_output: bool = typer.Option(False, "--json", help="Print the training report as JSON."),
):
    """Fit the sentiment and topic heads on the train split and evaluate them on the eval split."""
    from listener.nlp.train import run_training

    with _model_errors():
        report = run_training(model=model, files=data or None, output=output)
    if json_output:
        print_json(report)
        return
    console.print(f"trained on {report['train']} example(s); heads written to {report['heads']}")
    for bad in report["bad_lines"]:
        console.print(f"  [red]{shown(bad['file'])} line {bad['line']}[/red]: {shown(bad['error'])}")
    if "eval" in report:
        render_eval(console, report["eval"], title=f"held-apart eval split ({report['eval']['scored']} lines)")


@model_app.command("eval")
def evaluate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSON Lines: text, label "
                                "(negative/neutral/positive), optional lang and topics per line."),
    model: Optional[str] = ModelOption,
    project: Optional[Path] = ProjectOption,
    precision: Optional[str] = PrecisionOption,
    json_output: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
):
    """Accuracy, macro-F1 and a confusion matrix per language (two-class when the file has no neutral)."""
    from listener.nlp import load_scorer
    from listener.nlp.evaluate import evaluate_file
    from listener.runtime import resolve_project

    with _model_errors():
        loaded = resolve_project(settings(), project)
        chosen = model or settings().model or (loaded.project.model if loaded else None)
        scorer = load_scorer(model=chosen, topics=list(loaded.topics) if loaded else None, precision=precision)
        report = evaluate_file(file, scorer)
    if json_output:
        print_json(report)
    else:
        for bad in report["bad_lines"]:
            err_console.print(f"  [red]line {bad['line']}[/red]: {shown(bad['error'])}", highlight=False)
        render_eval(console, report, title=f"{file} · model {report['model']}")
    if not report.get("scored"):
        raise typer.Exit(1)


@model_app.command()
def info(json_output: bool = typer.Option(False, "--json", help="Print as JSON.")):
    """Where the converted model and the heads are, and what the heads were trained on."""
    from listener.nlp.encoder import cache_dir
    from listener.nlp.heads import BUNDLED_HEADS, Heads
    from listener.nlp.scorer import SUPPORTED_LANGUAGES

    out = {"cache": str(cache_dir()), "heads": str(BUNDLED_HEADS), "languages": sorted(SUPPORTED_LANGUAGES)}
    if Heads.exists(BUNDLED_HEADS):
        card = Heads.load(BUNDLED_HEADS).card
        out.update({k: card.get(k) for k in ("encoder", "trained_at", "train_total", "train_counts")})
    if json_output:
        print_json(out)
    else:
        for key, value in out.items():
            console.print(f"[bold]{key}[/bold]: {shown(str(value))}", highlight=False)


def render_eval(console: Console, report: dict, title: str = "") -> None:
    if title:
        console.print(f"[bold]{shown(title)}[/bold]")
    if report.get("two_class"):
        console.print("two-class file (no neutral label): predictions are the larger of negative and positive")
    summary = Table("language", "n", "accuracy", "macro-F1", "topic micro-F1", title="sentiment and topics")
    rows = list(report.get("languages", {}).items())
    if len(rows) > 1 and "all" in report:
        rows.append(("all", report["all"]))
    for lang, m in rows:
        topic = m.get("topics", {}).get("micro_f1")
        summary.add_row(lang, str(m["n"]), f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}",
                        "" if topic is None else f"{topic:.3f}")
    console.print(summary)
    for lang, m in rows:
        labels = m["confusion"]["labels"]
        table = Table("true \\ predicted", *labels, title=f"confusion matrix: {lang}")
        for label, row in zip(labels, m["confusion"]["rows_true_columns_predicted"]):
            table.add_row(label, *[str(v) for v in row])
        console.print(table)
    if report.get("unscored"):
        console.print(f"unscored (language not covered): {report['unscored']}")


def rescore(
    query: str = typer.Argument("", help="Optional boolean query: only re-score what matches."),
    brand: list[str] = typer.Option([], "--brand", "-b", help="Only these brands."),
    source: list[str] = typer.Option([], "--source", "-s", help="Only these sources."),
    lang: list[str] = typer.Option([], "--lang", "-l", help="Only these languages."),
    sentiment: list[str] = typer.Option([], "--sentiment", help="negative, neutral, positive or unscored."),
    since: Optional[str] = SinceOption,
    until: Optional[str] = UntilOption,
    project: Optional[Path] = ProjectOption,
    batch_size: int = typer.Option(256, min=1, help="Mentions per scoring batch and upsert."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Score stored mentions again (after `listener model train`, a new model or new project topics)."""
    from listener.nlp.rescore import rescore as rescore_store
    from listener.runtime import load_project_scorer, open_settings_store, resolve_project

    with _model_errors():
        filters = build_filters(query, brand, source, lang, sentiment, [], since, until, None, None, True)
        current = settings()
        scorer = load_project_scorer(current, resolve_project(current, project))
        with open_settings_store(current) as store:
            report = rescore_store(store, scorer, filters, batch_size=batch_size)
    if json_output:
        print_json(report)
    else:
        console.print(f"re-scored {report.seen} mention(s): {report.scored} scored, {report.unscored} unscored "
                      f"(language not covered), {report.changed} changed; labels {report.labels}")


def register(app: typer.Typer) -> None:
    """Add `listener model ...` and `listener rescore` to the app."""
    app.add_typer(model_app, name="model")
    app.command("rescore")(rescore)
