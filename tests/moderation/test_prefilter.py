"""The literal prefilter in front of the rules (docs/performance.md, "Screening"): it must skip only rules
that cannot match, so the rules' hits are the same with and without it."""
import json

import pytest

from moderation import classifier
from moderation.eval.run import HERE
from moderation.normalise import normalise
from moderation.prefilter import Gate, required_literals


@pytest.mark.parametrize("pattern, expected", [
    (r"\bkill myself\b", {"kill myself"}),
    (r"\b(kill|hang) myself\b", {"kill myself", "hang myself"}),  # exact pieces are joined
    (r"我想(死|自杀)", {"我想死", "我想自杀"}),
    (r"(死|自杀)了", {"死了", "自杀了"}),
    (r"(死|自杀)+了", {"了"}),  # a repeat is required but not exact; equally short: the smaller set
    (r"[的得]要死", {"的要死", "得要死"}),
    (r"a|b.*", {"a", "b"}),
    (r"x.*yz", {"yz"}),
    (r"(x)?y", {"y"}),
    (r"\w+", None), (r"(?i)die", None), (r"a|\d", None),
])
def test_required_literals(pattern, expected):
    found = required_literals(pattern)
    assert (set(found) if found is not None else None) == expected


def test_gate_names_the_rules_that_could_match():
    gate = Gate([r"\bkill myself\b", r"我想(死|自杀)", r"\w+"])
    assert gate.candidates("i want to kill myself") == {0, 2}
    assert gate.candidates("我想自杀") == {1, 2}
    assert gate.candidates("hello") == {2}


def _texts():
    for name in ("dev.jsonl", "test.jsonl"):
        for line in (HERE / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            yield item["text"]
            yield from item.get("history", ())


@pytest.mark.parametrize("rules", [classifier._INBOUND, classifier._OUTBOUND], ids=["inbound", "outbound"])
def test_the_gate_never_changes_what_the_rules_find(rules):
    ungated = classifier._RuleSet([])
    ungated.rules = rules.rules
    ungated.gate = Gate([r"\w*"] * len(rules.rules))  # every rule always runs
    texts = [classifier._mask(normalise(text)) for text in _texts()]
    assert len(texts) > 1000
    assert all(rules.hits(text, checked=True) == ungated.hits(text, checked=True) for text in texts)
