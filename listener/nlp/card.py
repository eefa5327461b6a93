"""Keep MODEL_CARD.md's numbers true: `listener model train` rewrites the part between the markers."""

from __future__ import annotations

from pathlib import Path

CARD = Path(__file__).parent / "MODEL_CARD.md"
START, END = "<!-- numbers:start (written by `listener model train`) -->", "<!-- numbers:end -->"


def _f(value) -> str:
    return "" if value is None else f"{value:.3f}"


def render_numbers(card: dict) -> str:
    lines = [START, "", f"Trained {card.get('trained_at', '?')} on encoder `{card.get('encoder', '?')}`"
             f"{', ' + str(card['train_seconds']) + ' s (embedding from the cache, fitting and checks)' if card.get('train_seconds') else ''}.", ""]
    sets = card.get("sets") or {}
    if sets:
        lines += ["| set | lang | train: negative | neutral | positive | dev lines | dev from | dropped from train |",
                  "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
        for name, info in sorted(sets.items()):
            train, dev = info.get("train", {}), info.get("dev", {})
            dropped = ", ".join(f"{v} {k}" for k, v in sorted(info.get("dropped", {}).items())) or ""
            sampled = f" (sampled to {info['train_sampled_to']})" if info.get("train_sampled_to") else ""
            lines.append(f"| {name} | {info.get('lang', '')} | {train.get('negative', 0)} | {train.get('neutral', 0)} | "
                         f"{train.get('positive', 0)}{sampled} | {sum(dev.values())} | {info.get('dev_from', '')} | "
                         f"{dropped} |")
        lines.append(f"| **all** | | | | {card.get('train_total', 0)} (train total) | | | |")
    ev = card.get("eval") or {}
    if ev.get("languages"):
        lines += ["", "Dev parts (never trained on, never used to choose C, temperature or thresholds); fp32 encoder, "
                  "the heads alone:", ""] + _eval_table(ev)
    lexical = card.get("lexical") or {}
    if (lexical.get("eval") or {}).get("languages"):
        shares = ", ".join(f"{lang} {v.get('share')}" for lang, v in sorted((lexical.get("shares") or {}).items()))
        lines += ["", f"Sentiment as it is scored: the heads, the fine-tuned branch and the n-gram models (shares "
                  f"{shares}, trained {lexical.get('trained_at', '?')}), on the same dev parts (encoder in the "
                  f"precision `auto` chose on the training machine):", ""] + _eval_table(lexical["eval"])
    check = card.get("precision_check")
    if check and "fp32" in check:
        precisions = [p for p in ("fp32", "bf16", "int8") if p in check]
        n = check["fp32"]["all"].get("n")
        path = ("the encoder, the heads and the fine-tuned sentiment branch, as they score"
                if check.get("scoring") == "branch" else "the encoder and the heads")
        lines += ["", f"Precision check ({check.get('checked_at', 'with the training')}): {path}, with the encoder "
                  f"in each precision, on a fixed sample of the dev parts ({n} lines with a sentiment label, up to "
                  f"{check.get('per_set', 400)} a set; accuracy / macro-recall / topic micro-F1):", "",
                  "| set | " + " | ".join(precisions) + " |", "| --- | " + " | ".join("---" for _ in precisions) + " |"]
        for name in [*sorted(check["fp32"].get("sets", {})), "all"]:
            cells = []
            for p in precisions:
                c = check[p]["all"] if name == "all" else check[p].get("sets", {}).get(name, {})
                cells.append(" / ".join(_f(c.get(k)) or "–" for k in ("accuracy", "macro_recall", "topic_micro_f1")))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        for p, why in (check.get("skipped") or {}).items():
            lines += ["", f"{p}: {why}."]
    s, t, z = card.get("sentiment", {}), card.get("topics", {}), card.get("zero_shot_calibration", {})
    lines += ["", "Fitted on the train parts:", "",
              f"- sentiment: {'one hidden layer of ' + str(s['hidden']) + ' units, alpha ' + str(s.get('alpha')) + ', ' + str(s.get('iterations')) + ' epochs' if s.get('hidden') else 'logistic regression, C = ' + str(s.get('C'))} "
              f"(measured on {s.get('tuned_on', '5-fold CV')} of the train parts: macro-F1 "
              f"{s.get('cv_macro_f1')}, accuracy {s.get('cv_accuracy')}), temperature {s.get('temperature')}, "
              f"expected calibration error after scaling {s.get('cv_ece')}; every set weighs "
              f"size^{card.get('set_power', 1)}{' x ' + str(card['set_weights']) if card.get('set_weights') else ''}, "
              f"classes balanced within each set",
              f"- topics: {'one hidden layer of ' + str(t['hidden']) + ' units shared by the topics and the gate, alpha ' + str(t.get('alpha')) if t.get('hidden') else 'C = ' + str(t.get('C'))}, CV micro-F1 {t.get('cv_micro_f1')}, thresholds {t.get('thresholds')}"
              + (f"; gate threshold {t['gate_threshold']} (CV false-fire rate {t.get('cv_false_fire')} on "
                 f"{t.get('no_topic_lines')} lines about no topic; micro-F1 without the gate "
                 f"{t.get('cv_micro_f1_without_gate')}); background of {t.get('background_lines')} lines"
                 + (f", topic side refitted {card['topics_trained_at']}" if card.get("topics_trained_at") else "")
                 if "gate_threshold" in t else ""),
              f"- zero-shot: centred-cosine threshold {z.get('threshold')}, micro-F1 {z.get('micro_f1_on_taxonomy')} "
              f"when the taxonomy's own topics are decided from their descriptions alone",
              "", END]
    return "\n".join(lines)


def _eval_table(ev: dict) -> list[str]:
    lines = ["| set / language | n | accuracy | macro-recall | macro-F1 | pos/neg accuracy | neutral recall | "
             "topic micro-F1 |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = [(name, m) for name, m in sorted(ev.get("sets", {}).items())]
    rows += [(f"*{lang}*", m) for lang, m in sorted(ev["languages"].items())] + [("**all**", ev["all"])]
    for name, m in rows:
        lines.append(f"| {name} | {m.get('n')} | {_f(m.get('accuracy'))} | {_f(m.get('macro_recall'))} | "
                     f"{_f(m.get('macro_f1'))} | {_f(m.get('positive_negative_accuracy'))} | "
                     f"{_f(m.get('neutral_recall'))} | {_f(m.get('topic_micro_f1'))} |")
    return lines


def folder_card(folder: Path) -> dict:
    """What the card shows of a heads folder: heads.json, with the n-gram models' card (if any) as `lexical`."""
    from listener.nlp.heads import Heads

    heads = Heads.load(folder)
    return {**heads.card, **({"lexical": heads.lexical.card} if heads.lexical is not None else {})}


def update_model_card(card: dict, path: Path = CARD) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Model card\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + render_numbers(card) + tail, encoding="utf-8")
