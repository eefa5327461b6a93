"""Keep MODEL_CARD.md's numbers true: `listener model train` rewrites the part between the markers."""

from __future__ import annotations

from pathlib import Path

CARD = Path(__file__).parent / "MODEL_CARD.md"
START, END = "<!-- numbers:start (written by `listener model train`) -->", "<!-- numbers:end -->"


def render_numbers(card: dict) -> str:
    lines = [START, "", f"Trained {card.get('trained_at', '?')} on encoder `{card.get('encoder', '?')}`.", ""]
    counts = card.get("train_counts", {})
    evals = card.get("eval_counts", {})
    lines += ["| language | train: negative | neutral | positive | train total | eval (held apart) |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for lang in sorted(counts):
        c = counts[lang]
        lines.append(f"| {lang} | {c.get('negative', 0)} | {c.get('neutral', 0)} | {c.get('positive', 0)} | "
                     f"{sum(c.values())} | {evals.get(lang, 0)} |")
    lines.append(f"| **all** | | | | {card.get('train_total', 0)} | {sum(evals.values())} |")
    ev = card.get("eval")
    if ev:
        lines += ["", "Held-apart eval split (never seen in training or in choosing C, temperature or thresholds):",
                  "", "| language | n | sentiment accuracy | sentiment macro-F1 | topic micro-F1 |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        rows = [(lang, m) for lang, m in sorted(ev["languages"].items())] + [("**all**", ev["all"])]
        for lang, m in rows:
            topic = m.get("topics", {}).get("micro_f1")
            lines.append(f"| {lang} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | "
                         f"{'' if topic is None else f'{topic:.3f}'} |")
        lines += ["", "Confusion matrices (rows: true label, columns: predicted; negative, neutral, positive):", ""]
        for lang, m in rows:
            lines.append(f"- {lang}: `{m['confusion']['rows_true_columns_predicted']}`")
    check = card.get("precision_check")
    if check and ev:
        lines += ["", "The same heads with the encoder in lower precision (eval split; accuracy / macro-F1 / topic "
                  "micro-F1):", "", "| language | fp32 | " + " | ".join(check) + " |",
                  "| --- | --- | " + " | ".join("---" for _ in check) + " |"]
        for lang, m in [*sorted(ev["languages"].items()), ("all", ev["all"])]:
            cells = [f"{m['accuracy']:.3f} / {m['macro_f1']:.3f} / {m.get('topics', {}).get('micro_f1', 0):.3f}"]
            for p in check:
                c = check[p].get(lang, {})
                cells.append(f"{c.get('accuracy', 0):.3f} / {c.get('macro_f1', 0):.3f} / "
                             f"{c.get('topic_micro_f1') or 0:.3f}")
            lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    s, t, z = card.get("sentiment", {}), card.get("topics", {}), card.get("zero_shot_calibration", {})
    lines += ["", "Fitted on the train split with 5-fold cross-validation:", "",
              f"- sentiment: C = {s.get('C')}, CV macro-F1 {s.get('cv_macro_f1')}, CV accuracy "
              f"{s.get('cv_accuracy')}, temperature {s.get('temperature')}, expected calibration error after "
              f"scaling {s.get('cv_ece')}",
              f"- topics: C = {t.get('C')}, CV micro-F1 {t.get('cv_micro_f1')}, thresholds {t.get('thresholds')}",
              f"- zero-shot: centred-cosine threshold {z.get('threshold')}, micro-F1 {z.get('micro_f1_on_taxonomy')} "
              f"when the taxonomy's own topics are decided from their descriptions alone",
              "", END]
    return "\n".join(lines)


def update_model_card(card: dict, path: Path = CARD) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Model card\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + render_numbers(card) + tail, encoding="utf-8")
