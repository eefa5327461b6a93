"""The issue-12 targets printed beside `listener model eval` numbers."""

from listener.nlp.targets import check_targets


def _block(accuracy, macro_recall, neutral=None, pn=None):
    out = {"accuracy": accuracy, "macro_recall": macro_recall, "two_class": neutral is None, "per_class": {}}
    if neutral is not None:
        out["per_class"]["neutral"] = {"recall": neutral, "support": 10}
        out["positive_negative"] = {"accuracy": pn}
    return out


def test_targets_are_checked_per_set_and_neutral_recall_on_every_three_way_set():
    report = {"sets": {"sst2": _block(0.91, 0.91), "tweeteval": _block(0.7, 0.65, neutral=0.59, pn=0.9),
                       "astd": _block(0.7, 0.66, neutral=0.8, pn=0.87), "mine": _block(0.8, 0.8, neutral=0.61, pn=0.9)}}
    rows = {(r["set"], r["metric"]): r["met"] for r in check_targets(report)}
    assert rows == {("sst2", "accuracy"): True, ("tweeteval", "macro_recall"): False,
                    ("astd", "positive_negative"): False, ("astd", "macro_recall"): True,
                    ("tweeteval", "neutral_recall"): False, ("astd", "neutral_recall"): True,
                    ("mine", "neutral_recall"): True}


def test_a_report_without_the_public_sets_has_no_targets():
    assert check_targets({"languages": {"en": _block(0.9, 0.9)}}) == []
