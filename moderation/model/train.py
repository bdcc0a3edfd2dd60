"""Train the learned stage (moderation/model/__init__.py) and write weights.json.gz + manifest.json.

    .venv/bin/python -m moderation.model.train            # train, pick thresholds, write the files
    .venv/bin/python -m moderation.model.train --check    # retrain in memory; fail if the files differ

Data: every moderation/model/data/*.jsonl plus moderation/eval/dev.jsonl and test.jsonl (all written by us
for this project; provenance in docs/safety.md). Blind evaluation sets (moderation/eval/blind_*.jsonl)
are never read here: the script refuses any path with "blind" in its name.

Method: scikit-learn logistic regression (class-balanced) on the hashed features of `features()`;
four heads: inbound risk (P(high_risk or crisis)), inbound level (none/distress/high_risk/crisis),
inbound category (for high_risk/crisis), outbound (benign/manipulation/induced_dependence).
Thresholds for `combine()` come from 5-fold out-of-fold predictions combined with the rules' output,
so that on data the model has not seen the hard-negative false-positive rate stays at or below
2 % per language (the issue's target) with the highest crisis recall under that bound (if no
threshold reaches the bound, the lowest false-positive rate wins); then the
help-card tier (`suspect`, `distress`) shows help for as many risky items as it can while at most 8 %
of hard negatives get a help card. Deterministic: fixed seeds, sorted inputs.

Needs scikit-learn (requirements.txt, training section); the app itself only reads the weights.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import itertools
import json
import re
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVAL = HERE.parent / "eval"
DATA_FILES = sorted((HERE / "data").glob("*.jsonl")) + [EVAL / "dev.jsonl", EVAL / "test.jsonl"]
MANIFEST = HERE / "manifest.json"
LEVEL_CLASSES = ("none", "distress", "high_risk", "crisis")
CATEGORY_MAP = {"sexual_abuse": "sexual", "sexual": "sexual", "suicide": "suicide", "self_harm": "self_harm",
                "violence": "violence", "property_loss": "property_loss", "minor_sexual": "minor_sexual"}
OUTBOUND_CLASSES = ("benign", "manipulation", "induced_dependence")
FPR_BOUND = 0.02
DISTRESS_BOUND = 0.08
OUTBOUND_FPR_BOUND = 0.03
C = 8.0
# Weights below this (in every class) are dropped: they move no decision and would triple the file.
PRUNE = 0.02


def load_items(paths=DATA_FILES) -> list[dict]:
    items = []
    for path in paths:
        if "blind" in path.name:
            raise SystemExit(f"refusing to train on a blind evaluation set: {path}")
        with path.open(encoding="utf-8") as handle:
            items += [json.loads(line) for line in handle if line.strip()]
    return sorted(items, key=lambda item: (item["id"], item["text"]))


def _sentences(text: str) -> list[str]:
    pieces = [p.strip() for p in re.split(r"(?<=[.!?。！？…~])\s*", text) if p.strip()]
    return pieces if len(pieces) > 1 else []


# Replies that add nothing new after a risky message. Without them the model learns "risky history +
# short message = crisis" from the history items (where the short message names the means), and then
# escalates "hello" or "thanks" after any crisis. Each becomes a `distress` example (the person is
# still in a hard moment; the case is already open) with one earlier risky message as history.
FOLLOW_UPS = {
    "en": ("ok", "okay", "thanks", "thank you", "hello", "hi", "still here", "yes", "no", "i don't know",
           "i'm scared", "are you there?", "what should i do", "sorry", "hmm", "can you talk to me",
           "i'm listening", "ok i will", "i'm tired", "who is this?"),
    "zh": ("好的", "嗯", "谢谢", "你好", "还在", "是的", "不知道", "我好害怕", "你在吗", "我该怎么办", "对不起",
           "哦", "陪我说说话", "我在听", "好吧", "我好累", "你是谁", "嗯嗯", "知道了", "在的"),
}


def follow_ups(items: list[dict]) -> list[dict]:
    """Deterministic follow-up examples for about a third of the risky inbound items."""
    out = []
    for item in items:
        if item["label"] not in ("crisis", "high_risk") or zlib.crc32(item["id"].encode()) % 3:
            continue
        fillers = FOLLOW_UPS[item["lang"]]
        text = fillers[zlib.crc32(item["text"].encode()) % len(fillers)]
        out.append({"id": f"{item['id']}-follow", "lang": item["lang"], "direction": "inbound", "set": "positive",
                    "label": "distress", "category": "distress", "text": text, "history": [item["text"]]})
    return out


def data_digest(paths=DATA_FILES) -> dict[str, str]:
    return {str(p.relative_to(HERE.parent.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _matrix(rows):
    from scipy.sparse import csr_matrix

    from moderation.model import BUCKETS, vector
    data, indices, indptr = [], [], [0]
    for feats in rows:
        vec = vector(feats)
        for index in sorted(vec):
            indices.append(index)
            data.append(vec[index])
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(rows), BUCKETS))


class _Fitted:
    """A logistic regression fitted on the used columns only; `coef_` maps back to all buckets."""

    def __init__(self, X, y):
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        self.used = np.unique(X.indices)
        self.clf = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, tol=1e-5).fit(X[:, self.used], y)
        self.classes_ = self.clf.classes_
        self.intercept_ = self.clf.intercept_
        self.coef_ = np.zeros((self.clf.coef_.shape[0], X.shape[1]))
        self.coef_[:, self.used] = self.clf.coef_

    def predict_proba(self, X):
        return self.clf.predict_proba(X[:, self.used])


def _head(clf, classes) -> dict:
    """Export a fitted classifier in `classes` order, dropping near-zero weights."""
    order = [list(clf.classes_).index(c) for c in classes] if len(clf.classes_) > 2 else None
    coef = clf.coef_ if order is None else clf.coef_[order]
    intercept = clf.intercept_ if order is None else clf.intercept_[order]
    weights = {}
    nonzero = (abs(coef) >= PRUNE).any(axis=0).nonzero()[0]
    for index in nonzero:
        weights[str(int(index))] = [round(float(w), 3) for w in coef[:, index]]
    return {"classes": list(classes if order is not None else clf.classes_),
            "intercept": [round(float(b), 4) for b in intercept], "weights": weights}


def _probabilities(clf, X, classes):
    proba = clf.predict_proba(X)
    return [{c: float(row[list(clf.classes_).index(c)]) if c in clf.classes_ else 0.0 for c in classes} for row in proba]


def _rows(items):
    from moderation.model import features
    from moderation.normalise import normalise
    return [features(normalise(item["text"]), tuple(item.get("history", ()))) for item in items]


def _rule_levels(items):
    from moderation.classifier import RiskClassifier
    from moderation.model import vetoable
    from moderation.normalise import normalise
    from moderation.pipeline import ScreeningInput
    rules = RiskClassifier()
    out = []
    for item in items:
        found = rules.assess(ScreeningInput(text=item["text"], direction="inbound", normalised=normalise(item["text"]),
                                            history=tuple(item.get("history", ()))))
        out.append((found.level if found else "none", vetoable(found, tuple(item.get("history", ())))))
    return out


def _oof(items, rows, labels, classes, folds=5):
    """Out-of-fold probabilities; pieces of one item (sentences of a reply) stay in one fold."""
    from sklearn.model_selection import StratifiedGroupKFold
    X = _matrix(rows)
    probs = [None] * len(items)
    strata = [f"{item['lang']}|{label}" for item, label in zip(items, labels)]
    groups = [item["id"] for item in items]
    for train, test in StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0).split(rows, strata, groups):
        clf = _Fitted(X[train], [labels[i] for i in train])
        for i, p in zip(test, _probabilities(clf, X[test], classes)):
            probs[i] = p
    return probs


def _inbound_metrics(items, levels):
    """moderation.eval.run's level figures per language: thresholds are chosen by the published figures."""
    from moderation.eval.run import level_figures
    return {lang: level_figures([(i, lv) for i, lv in zip(items, levels) if i["lang"] == lang]) for lang in ("zh", "en")}


def _decide(rule_levels, probs, thresholds) -> list[str]:
    from moderation.model import combine
    return [combine(level, p, thresholds, vetoable) for (level, vetoable), p in zip(rule_levels, probs)]


def choose_thresholds(items, probs, rule_levels) -> tuple[dict, dict]:
    """Grid search on out-of-fold predictions: the best recall with FPR ≤ FPR_BOUND in both languages."""
    grid = [round(0.05 * k, 2) for k in range(4, 20)]
    best = None
    highs = [round(0.02 * k, 2) for k in range(15, 45)] + [round(0.9 + 0.005 * k, 3) for k in range(20)]
    for high, veto in itertools.product(highs, (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01)):
        t = {"high_risk": high, "crisis": 0.5, "suspect": 1.0, "distress": 1.0, "veto": veto}
        levels = _decide(rule_levels, probs, t)
        m = _inbound_metrics(items, levels)
        fpr = max(m[lang]["hard_negative_fpr"] for lang in m)
        # Within the bound: the best crisis recall; if no point is, the lowest false-positive rate.
        score = (fpr <= FPR_BOUND, -fpr if fpr > FPR_BOUND else 0, min(m[lang]["crisis_recall"] for lang in m),
                 sum(m[lang]["risk_recall"] for lang in m), -veto)
        if best is None or score > best[0]:
            best = (score, t)
    t = best[1]
    options = []  # crisis versus high_risk: by exact-level accuracy
    for value in grid:
        m = _inbound_metrics(items, _decide(rule_levels, probs, {**t, "crisis": value}))
        options.append((sum(m[lang]["exact_level_accuracy"] for lang in m), -abs(value - 0.5), value))
    t["crisis"] = max(options)[2]
    options = []  # the help-card tier: most risky items shown help, at most DISTRESS_BOUND of hard negatives
    for suspect, distress in itertools.product([round(0.05 * k, 2) for k in range(2, 20)] + [1.0], grid + [1.0]):
        trial = {**t, "suspect": min(suspect, t["high_risk"]), "distress": distress}
        m = _inbound_metrics(items, _decide(rule_levels, probs, trial))
        if max(m[lang]["hard_negative_fpr_distress"] for lang in m) > DISTRESS_BOUND:
            continue
        options.append((min(m[lang]["risk_help_shown"] for lang in m), sum(m[lang]["exact_level_accuracy"] for lang in m),
                        suspect, distress))
    if options:
        _, _, t["suspect"], t["distress"] = max(options)
        t["suspect"] = min(t["suspect"], t["high_risk"])
    metrics = _inbound_metrics(items, _decide(rule_levels, probs, t))
    return t, metrics


def choose_outbound(items, probs) -> tuple[float, dict]:
    best = None
    for value in [round(0.05 * k, 2) for k in range(4, 19)]:
        m = {}
        for lang in ("zh", "en"):
            pairs = [(i, p) for i, p in zip(items, probs) if i["lang"] == lang]
            bad = [p for i, p in pairs if i["set"] == "manipulative"]
            good = [p for i, p in pairs if i["set"] == "benign"]
            m[lang] = {"manipulation_recall": sum(1 - p["benign"] >= value for p in bad) / max(len(bad), 1),
                       "benign_fpr": sum(1 - p["benign"] >= value for p in good) / max(len(good), 1)}
        if max(m[lang]["benign_fpr"] for lang in m) > OUTBOUND_FPR_BOUND:
            continue
        score = (min(m[lang]["manipulation_recall"] for lang in m), value)
        if best is None or score > best[0]:
            best = (score, value, m)
    if best is None:
        raise SystemExit("no outbound threshold keeps the benign FPR within bound")
    return best[1], best[2]


def train() -> tuple[bytes, dict]:
    import sklearn

    from moderation.model import grounded
    from moderation.normalise import normalise

    items = load_items()
    inbound = [i for i in items if i["direction"] == "inbound"]
    inbound += follow_ups(inbound)
    # Other outbound categories (false promises, personal data, relative impersonation...) are the
    # rules' job; the outbound head learns manipulation and induced dependence against benign replies.
    outbound = [i for i in items if i["direction"] == "outbound"
                and (i["set"] == "benign" or i.get("category") in OUTBOUND_CLASSES)]
    levels = [i["label"] for i in inbound]
    rows = _rows(inbound)
    probs = _oof(inbound, rows, levels, LEVEL_CLASSES)
    risk_labels = ["risk" if level in ("high_risk", "crisis") else "safe" for level in levels]
    for p, q in zip(probs, _oof(inbound, rows, risk_labels, ("safe", "risk"))):
        p["risk"] = q["risk"]
    for p, item in zip(probs, inbound):
        p["grounded"] = 1.0 if grounded(normalise(item["text"]), tuple(item.get("history", ()))) else 0.0
    thresholds, oof_metrics = choose_thresholds(inbound, probs, _rule_levels(inbound))

    risky = [(i, r) for i, r in zip(inbound, rows) if i["label"] in ("crisis", "high_risk")]
    categories = [CATEGORY_MAP[i["category"]] for i, _ in risky]

    # The stream screens AI text sentence by sentence, so each sentence of a benign reply is a benign
    # example too (short everyday sentences must not look manipulative); manipulative replies stay whole.
    outbound = outbound + [{**i, "text": piece} for i in outbound if i["set"] == "benign"
                           for piece in _sentences(i["text"])]
    out_rows = _rows([{**i, "history": ()} for i in outbound])
    out_labels = ["benign" if i["set"] == "benign" else
                  ("induced_dependence" if i.get("category") == "induced_dependence" else "manipulation") for i in outbound]
    out_probs = _oof(outbound, out_rows, out_labels, OUTBOUND_CLASSES)
    thresholds["outbound"], out_metrics = choose_outbound(outbound, out_probs)

    heads = {
        "inbound": _head(_Fitted(_matrix(rows), levels), LEVEL_CLASSES),
        "risk": _head(_Fitted(_matrix(rows), risk_labels), ("safe", "risk")),
        "category": _head(_Fitted(_matrix([r for _, r in risky]), categories), sorted(set(categories))),
        "outbound": _head(_Fitted(_matrix(out_rows), out_labels), OUTBOUND_CLASSES),
    }
    body = json.dumps({"heads": heads, "thresholds": thresholds}, sort_keys=True, separators=(",", ":"))
    version = "model-" + hashlib.sha256(body.encode()).hexdigest()[:10]
    payload = json.dumps({"version": version, "heads": heads, "thresholds": thresholds}, sort_keys=True,
                         separators=(",", ":")).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(payload)
    manifest = {
        "version": version,
        "scikit_learn": sklearn.__version__,
        "C": C,
        "data": data_digest(),
        "counts": {"inbound": len(inbound), "outbound": len(outbound)},
        "thresholds": thresholds,
        "out_of_fold": {"inbound": _round(oof_metrics), "outbound": _round(out_metrics)},
        "features_kept": {name: len(head["weights"]) for name, head in heads.items()},
    }
    return buffer.getvalue(), manifest


def _round(metrics: dict) -> dict:
    return {lang: {k: round(v, 4) for k, v in figures.items()} for lang, figures in metrics.items()}


def main(argv: list[str]) -> int:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files are not what training gives")
    args = parser.parse_args(argv)
    django.setup()
    from moderation.model import WEIGHTS

    weights, manifest = train()
    text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if args.check:
        same = WEIGHTS.read_bytes() == weights and MANIFEST.read_text(encoding="utf-8") == text
        print("model files are up to date" if same else "model files differ from a fresh training run")
        return 0 if same else 1
    WEIGHTS.write_bytes(weights)
    MANIFEST.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
