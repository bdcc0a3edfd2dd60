"""The learned stage of the offline classifier (CN-CRI-01): a small linear model over hashed n-grams and
the rules' signals, trained by `python -m moderation.model.train` on data we wrote (moderation/model/data).

Why (docs/decisions.md D-28): the weighted rules alone missed most crisis phrasings they had not been
written for (blind run, docs/safety.md). The model reads the same normalised, idiom-masked text as the
rules, plus which rule signals fired in this message and in the user's recent messages, so it learns
both the wording the rules lack and how much to trust each rule.

`HybridClassifier` is the pipeline stage (it replaces `moderation.classifier.RiskClassifier` in
`MODERATION_STAGES`): it runs the rules, then the model, and decides:

- inbound level = the higher of the rules' level and the model's level (thresholds chosen by the
  training script on out-of-fold predictions), except that a rule-only `high_risk` or `crisis` is
  lowered to `distress` (the help card still shows) when the model is very sure the text is harmless
  (`veto`: "skydiving, jumping from 15,000 feet", "我们在桥上拍婚纱照"); never for sexual-abuse
  categories, nor when the user's recent messages hold a wish or plan (`vetoable`).
  The model's level: `high_risk`/`crisis` when the risk head is confident, `distress` (help card,
  supportive reply, no case) when it only suspects risk or the level head sees sadness;
- inbound categories: the rules' categories, else the model's category head;
- outbound: the rules' finding; if the rules find nothing, `manipulation` / `induced_dependence` when
  the outbound head says so (the stream then replaces the sentence).

Inference is pure Python (no numpy at run time); docs/performance.md has the cost per message.
"""
from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from moderation.classifier import RiskClassifier, _mask, _score, _signals, inbound_hits
from moderation.model import lexicon
from moderation.normalise import normalise
from moderation.pipeline import LEVELS, Finding, ScreeningInput

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "weights.json.gz"
BUCKETS = 1 << 20

_TOKEN = re.compile(r"[\u3400-\u9fff]|[a-z0-9]+(?:'[a-z]+)?|[!?！？…]")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def features(text: str, history: tuple[str, ...] = ()) -> list[str]:
    """Feature strings of one message (already normalised) and its recent history (raw user text).

    Word (or, for Chinese, character) 1-3 grams, 5-letter word stems, the rule signals that fired
    here and in history, and their pairs. The same function serves training and inference.
    """
    masked = _mask(text)
    toks = _tokens(masked)
    feats = [f"w|{t}" for t in toks]
    feats += [f"w|{a} {b}" for a, b in zip(toks, toks[1:])]
    feats += [f"w|{a} {b} {c}" for a, b, c in zip(toks, toks[1:], toks[2:])]
    feats += [f"p|{t[:5]}" for t in toks if len(t) > 5 and t.isascii()]
    signals = {(hit.signal, hit.category) for hit in inbound_hits(masked)}
    feats += [f"s|{s}" for s, _ in signals] + [f"s|{s}|{c}" for s, c in signals]
    present = sorted(lexicon.classes(masked))
    feats += [f"l|{c}" for c in present] + [f"l|{a}+{b}" for i, a in enumerate(present) for b in present[i + 1:]]
    if history:
        recent = [_earlier(h) for h in history[-3:]]
        before = sorted(frozenset().union(*(classes for classes, _ in recent)))
        feats += [f"hl|{c}" for c in before] + [f"xl|{a}>{b}" for a in before for b in present]
        earlier = frozenset().union(*(_signals(h) for h in history[-3:]))
        feats += [f"hs|{s}" for s in earlier]
        feats += [f"x|{s}|{h}" for s, _ in signals for h in earlier]
        htoks = [t for _, toks in recent for t in toks]
        feats += [f"h|{t}" for t in htoks] + [f"h|{a} {b}" for a, b in zip(htoks, htoks[1:])]
        feats.append("h|*")
    return feats


@lru_cache(maxsize=2048)
def _earlier(message: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Word classes and tokens of one earlier user message, cached across turns."""
    masked = _mask(normalise(message))
    return lexicon.classes(masked), tuple(_tokens(masked))


def bucket(feature: str) -> int:
    return zlib.crc32(feature.encode()) & (BUCKETS - 1)


def vector(feats: list[str]) -> dict[int, float]:
    """Binary presence, scaled to unit length (so long messages do not dominate): one value for all."""
    crc32, mask = zlib.crc32, BUCKETS - 1
    indices = {crc32(f.encode()) & mask for f in feats}  # = {bucket(f)}, without a call per feature
    if not indices:
        return {}
    value = 1.0 / math.sqrt(len(indices))
    return dict.fromkeys(indices, value)


@dataclass(frozen=True)
class Head:
    """One logistic-regression head: an int→row dict over tuples of floats (frozen with the rest of the
    start-up objects, D-27). A message's vector has one value for all its features (`vector`), so its
    scores are the intercept plus that value times the column sums of its rows."""
    classes: tuple[str, ...]
    intercept: tuple[float, ...]
    rows: dict[int, tuple[float, ...]]

    @classmethod
    def from_json(cls, raw: dict) -> Head:
        return cls(classes=tuple(raw["classes"]), intercept=tuple(raw["intercept"]),
                   rows={int(key): tuple(row) for key, row in raw["weights"].items()})

    @classmethod
    def fuse(cls, first: Head, second: Head) -> Head:
        """One table for two heads over the same features: one lookup per feature instead of two."""
        zero_a, zero_b = (0.0,) * len(first.intercept), (0.0,) * len(second.intercept)
        rows = {index: first.rows.get(index, zero_a) + second.rows.get(index, zero_b)
                for index in first.rows.keys() | second.rows.keys()}
        return cls(classes=first.classes + second.classes, intercept=first.intercept + second.intercept, rows=rows)

    def scores(self, vec: dict[int, float]) -> list[float]:
        found = [row for row in map(self.rows.get, vec) if row is not None]
        if not found:
            return list(self.intercept)
        value = next(iter(vec.values()))
        return [b + value * total for b, total in zip(self.intercept, map(sum, zip(*found)))]

    def probabilities(self, vec: dict[int, float]) -> dict[str, float]:
        return _probabilities(self.classes, self.scores(vec))


def _probabilities(classes: tuple[str, ...], scores: list[float]) -> dict[str, float]:
    """Logistic regression's output: a sigmoid for one score (it is classes[1]'s), else a softmax."""
    if len(scores) == 1:
        p = 1.0 / (1.0 + math.exp(-scores[0]))
        return {classes[0]: 1.0 - p, classes[1]: p}
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return {c: e / total for c, e in zip(classes, exps)}


@dataclass(frozen=True)
class Model:
    version: str
    heads: dict[str, Head]
    thresholds: dict[str, float]

    def inbound(self, vec: dict[int, float]) -> dict[str, float]:
        """The level head's probabilities plus "risk" (the risk head's P(high_risk or crisis))."""
        level, risk = self.heads["inbound"], self.heads["risk"]
        scores = self.heads["inbound+risk"].scores(vec)
        split = len(level.intercept)
        p = _probabilities(level.classes, scores[:split])
        p["risk"] = _probabilities(risk.classes, scores[split:])["risk"]
        return p


def load(path: Path = WEIGHTS) -> Model:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raw = json.load(handle)
    heads = {name: Head.from_json(h) for name, h in raw["heads"].items()}
    heads["inbound+risk"] = Head.fuse(heads["inbound"], heads["risk"])
    return Model(version=raw["version"], heads=heads, thresholds=raw["thresholds"])


@cache
def model() -> Model:
    return load()


# Word classes that ground a model escalation: without one of them (or a rule signal) in the message or
# the user's recent messages, the model may suspect (`distress`) but not open a case. Short everyday
# messages have so few features that the model's guess on them is mostly its prior ("我想你了").
GROUNDING_CLASSES = frozenset({"means", "place", "act", "ready", "farewell", "death", "hurt", "violence", "money",
                               "abuse"})


def grounded(text: str, history: tuple[str, ...] = ()) -> bool:
    """Does the message (normalised) or its history hold risk vocabulary or a rule signal?"""
    masked = _mask(text)
    if GROUNDING_CLASSES & lexicon.classes(masked) or inbound_hits(masked):
        return True
    return any(GROUNDING_CLASSES & _earlier(h)[0] or _signals(h) for h in history[-3:])


def model_level(p: dict[str, float], thresholds: dict[str, float]) -> str:
    """`p`: the level head's probabilities, "risk" (the risk head's P(high_risk or crisis)) and
    "grounded" (1.0 when `grounded()`; a model level above `distress` needs it)."""
    if p["risk"] >= thresholds["high_risk"] and p.get("grounded", 1.0):
        share = p["crisis"] / max(p["high_risk"] + p["crisis"], 1e-9)
        return "crisis" if share >= thresholds["crisis"] else "high_risk"
    if p["risk"] >= thresholds["suspect"] or p["distress"] >= thresholds["distress"]:
        return "distress"  # suspected risk or sadness: the help card and a supportive reply, no case
    return "none"


# Categories the rules give at level `none`: requests the chat refuses (CN-CON-01), not risks.
REQUESTS = frozenset({"sexual", "prohibited"})
# A rules finding in these categories always stands: abuse of a child is never explained away.
NEVER_VETOED = frozenset({"minor_sexual", "sexual"})


def vetoable(found: Finding | None, history: tuple[str, ...]) -> bool:
    """May the model lower this rules finding? Not for abuse categories, nor after a wish in history."""
    if found is None:
        return True
    if NEVER_VETOED & set(found.categories):
        return False
    return not any(_signals(h) for h in history[-6:])


def combine(rule_level: str, p: dict[str, float], thresholds: dict[str, float], vetoable: bool = True) -> str:
    """The decision rule of `HybridClassifier` (the training script picks the thresholds with it)."""
    learned = model_level(p, thresholds)
    level = max(rule_level, learned, key=LEVELS.index)
    if (vetoable and rule_level in ("high_risk", "crisis") and learned in ("none", "distress")
            and p["risk"] <= 1.0 - thresholds["veto"]):
        level = "distress"
    return level


class HybridClassifier:
    """Pipeline stage: rules (`RiskClassifier`) plus the learned model, decided by `combine()`."""

    def __init__(self, path: str | None = None):
        self.rules = RiskClassifier()
        self.model = load(Path(path)) if path else model()

    def version(self) -> str:
        return f"{self.rules.version()}+{self.model.version}"

    def assess(self, item: ScreeningInput) -> Finding | None:
        found = self.rules.assess(item)
        text = item.normalised or normalise(item.text)
        if item.direction == "outbound":
            return self._outbound(text, found)
        return self._inbound(text, item.history, found)

    def _inbound(self, text: str, history: tuple[str, ...], found: Finding | None) -> Finding | None:
        vec = vector(features(text, history))
        p = self.model.inbound(vec)
        p["grounded"] = 1.0 if grounded(text, history) else 0.0
        rule_level = found.level if found else "none"
        level = combine(rule_level, p, self.model.thresholds, vetoable(found, history))
        if found is not None and (level == rule_level or (rule_level == "none" and level == "distress")):
            return found  # agreed; or a sexual/prohibited request (level none) the chat refuses anyway
        categories = tuple(c for c in (found.categories if found else ()) if c != "distress")
        evidence = (found.evidence if found else ()) + (f"model p(risk)={p['risk']:.2f}",)
        if LEVELS.index(level) > max(LEVELS.index(rule_level), 1):  # the model raised it to high_risk/crisis
            cats = self.model.heads["category"].probabilities(vec)
            top = max(cats, key=cats.get)
            if found is not None and top == "sexual" and set(found.categories) <= REQUESTS:
                return found  # a sexual request ("send me nudes") is refused by the chat, not a case
            categories = tuple(dict.fromkeys((top, *categories)))
        if level == "distress" and not categories:
            categories = ("distress",)
        if level == "none" and not categories:
            return None
        return Finding(stage="risk_classifier", categories=categories, level=level,
                       score=_score(level, len(evidence)), evidence=evidence)

    def _outbound(self, text: str, found: Finding | None) -> Finding | None:
        if found is not None:  # the rules already replace this sentence
            return found
        p = self.model.heads["outbound"].probabilities(vector(features(text)))
        if 1.0 - p["benign"] < self.model.thresholds["outbound"]:
            return None
        category = max((c for c in p if c != "benign"), key=p.get)
        return Finding(stage="risk_classifier", categories=(category,), level="none", score=0.5,
                       evidence=(f"model p({category})={p[category]:.2f}",))
