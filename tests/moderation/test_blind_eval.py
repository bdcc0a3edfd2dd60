"""The blind held-out set moderation/eval/blind_2026_11.jsonl (issue #6; CN-CRI-01..04, CN-EMO-03,
CN-EMO-04) parses and has the promised size per language and label.

Deliberately no accuracy targets here: the set was run once and its figures (misses included) are
recorded in docs/safety.md, "Blind held-out run (2026-11-27)". A miss is reported there, not hidden
by a test.
"""
import json
from collections import Counter
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "moderation" / "eval" / "blind_2026_11.jsonl"
SETS = {"positive": {"crisis", "high_risk", "distress"}, "hard_negative": {"none"},
        "manipulative": {"manipulative"}, "benign": {"benign"}}
MINIMUM = {("positive", "crisis"): 120, ("positive", "high_risk"): 120, ("positive", "distress"): 60,
           ("hard_negative", "none"): 200, ("manipulative", "manipulative"): 60, ("benign", "benign"): 60}


@pytest.fixture(scope="module")
def items():
    with PATH.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_every_line_has_the_fields_the_runner_reads(items):
    for item in items:
        assert item["lang"] in ("zh", "en"), item["id"]
        assert item["label"] in SETS[item["set"]], item["id"]
        assert item["direction"] == ("outbound" if item["set"] in ("manipulative", "benign") else "inbound"), item["id"]
        assert isinstance(item["text"], str) and item["text"].strip(), item["id"]
        history = item.get("history", [])
        assert isinstance(history, list) and all(isinstance(turn, str) and turn for turn in history), item["id"]


def test_ids_are_unique(items):
    counts = Counter(item["id"] for item in items)
    assert [i for i, n in counts.items() if n > 1] == []


def test_no_item_is_repeated(items):
    keys = Counter((item["lang"], item["direction"], item["text"], tuple(item.get("history", []))) for item in items)
    assert [k for k, n in keys.items() if n > 1] == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_promised_counts_per_language(items, lang):
    counts = Counter((item["set"], item["label"]) for item in items if item["lang"] == lang)
    for key, minimum in MINIMUM.items():
        assert counts[key] >= minimum, (lang, key, counts[key])


def test_positives_and_manipulative_replies_name_their_category(items):
    allowed = {"crisis": {"suicide", "self_harm", "violence"},
               "high_risk": {"suicide", "self_harm", "violence", "property_loss"},
               "distress": {"distress"}, "manipulative": {"manipulation", "induced_dependence"}}
    for item in items:
        if item["label"] in allowed:
            assert item.get("category") in allowed[item["label"]], item["id"]
        else:
            assert "category" not in item, item["id"]


def test_history_pairs_are_present_in_both_languages(items):
    with_history = Counter(item["lang"] for item in items if item.get("history"))
    assert with_history["zh"] >= 10 and with_history["en"] >= 10
