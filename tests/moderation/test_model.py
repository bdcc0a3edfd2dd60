"""The learned stage of the offline classifier (CN-CRI-01, CN-EMO-04, CN-EMO-05): committed weights match
the committed data, the decision rule, and the stage's behaviour with a hand-made model file."""
import gzip
import json

import pytest

from moderation.model import WEIGHTS, HybridClassifier, bucket, combine, features, grounded, load, model, vetoable
from moderation.model.train import DATA_FILES, MANIFEST, data_digest, load_items
from moderation.normalise import normalise
from moderation.pipeline import Finding, ScreeningInput, screen

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_feature_library")]

T = {"high_risk": 0.5, "crisis": 0.5, "suspect": 0.3, "distress": 0.5, "veto": 0.95, "outbound": 0.5}


def p(none=0.0, distress=0.0, high_risk=0.0, crisis=0.0, risk=None):
    risk = high_risk + crisis if risk is None else risk
    return {"none": none, "distress": distress, "high_risk": high_risk, "crisis": crisis, "risk": risk}


def test_committed_weights_were_trained_on_the_committed_data():
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["data"] == data_digest(), "training data changed: run `make model` and commit the result"
    assert manifest["version"] == model().version == load(WEIGHTS).version
    assert manifest["counts"]["inbound"] > 2000 and manifest["counts"]["outbound"] > 800


def test_training_never_reads_a_blind_set(tmp_path):
    blind = tmp_path / "blind_x.jsonl"
    blind.write_text('{"id": "1", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="blind"):
        load_items([*DATA_FILES, blind])
    assert not any("blind" in path.name for path in DATA_FILES)


def test_the_higher_level_wins_and_the_veto_needs_a_very_sure_model():
    assert combine("none", p(high_risk=0.7, crisis=0.2), T) == "high_risk"
    assert combine("none", p(high_risk=0.2, crisis=0.6), T) == "crisis"
    assert combine("crisis", p(none=0.99, risk=0.01), T) == "distress"  # harmless by the model: help card only
    assert combine("crisis", p(none=0.9, risk=0.1), T) == "crisis"  # not sure enough
    assert combine("high_risk", p(none=0.9, high_risk=0.1), T) == "high_risk"  # not sure enough
    assert combine("none", p(none=0.4, distress=0.6), T) == "distress"
    assert combine("none", p(none=0.6, high_risk=0.4, risk=0.4), T) == "distress"  # suspected: help card only


def test_no_veto_after_a_wish_in_history_or_for_sexual_abuse():
    wish = Finding(stage="risk_classifier", categories=("suicide",), score=0.7, level="high_risk")
    assert vetoable(wish, ("I had lunch",)) and not vetoable(wish, ("I want to die",))
    assert not vetoable(Finding(stage="risk_classifier", categories=("minor_sexual",), score=0.7, level="high_risk"), ())


def test_features_are_stable_and_use_history_and_rule_signals():
    feats = features(normalise("I want to die"), ("我不想活了",))
    assert {"w|want", "w|i want", "s|wish", "hs|wish", "x|wish|wish", "h|*"} <= set(feats)
    assert bucket("w|want") == bucket("w|want") < 1 << 20


def _write_model(path, inbound_weights, outbound_weights):
    """A tiny hand-made model: one feature drives each head."""
    heads = {
        "inbound": {"classes": ["none", "distress", "high_risk", "crisis"], "intercept": [2.0, 0.0, 0.0, 0.0],
                    "weights": {str(bucket(f)): w for f, w in inbound_weights.items()}},
        "risk": {"classes": ["safe", "risk"], "intercept": [-2.0],
                 "weights": {str(bucket(f)): [w[3]] for f, w in inbound_weights.items()}},
        "category": {"classes": ["self_harm", "suicide"], "intercept": [0.5],
                     "weights": {str(bucket("w|炭")): [3.0]}},
        "outbound": {"classes": ["benign", "manipulation", "induced_dependence"], "intercept": [2.0, 0.0, 0.0],
                     "weights": {str(bucket(f)): w for f, w in outbound_weights.items()}},
    }
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump({"version": "model-test", "heads": heads, "thresholds": T}, handle)
    return HybridClassifier(str(path))


def test_the_stage_raises_a_level_the_rules_missed_and_names_a_category(tmp_path):
    stage = _write_model(tmp_path / "m.json.gz", {"w|炭": [0.0, 0.0, 0.0, 30.0]}, {"w|stay": [0.0, 0.0, 30.0]})
    finding = stage.assess(ScreeningInput(text="那包炭", direction="inbound"))
    assert (finding.level, finding.categories) == ("crisis", ("suicide",))
    assert any(e.startswith("model p(") for e in finding.evidence)
    assert stage.assess(ScreeningInput(text="今天天气不错", direction="inbound")) is None
    assert stage.version() == "rules-2025.1+model-test"


def test_the_stage_keeps_the_rules_finding_when_it_agrees_and_flags_outbound(tmp_path):
    stage = _write_model(tmp_path / "m.json.gz", {}, {"w|stay": [0.0, 0.0, 30.0]})
    rules = stage.rules.assess(ScreeningInput(text="I want to die", direction="inbound", normalised="i want to die"))
    assert stage.assess(ScreeningInput(text="I want to die", direction="inbound")) == rules
    flagged = stage.assess(ScreeningInput(text="Please stay with me", direction="outbound"))
    assert (flagged.level, flagged.categories) == ("none", ("induced_dependence",))
    assert stage.assess(ScreeningInput(text="Good night, sleep well", direction="outbound")) is None


def test_the_trained_model_is_in_the_live_pipeline():
    verdict = screen(ScreeningInput(text="hello there", direction="inbound"))
    assert ("HybridClassifier", HybridClassifier().version()) in verdict.versions


@pytest.mark.parametrize("text", ["我想你了", "想你", "I miss you", "晚安", "hello", "我爱你", "你在干嘛", "what are you up to?"])
def test_everyday_companion_messages_never_open_a_case(text):
    """Short messages carry so few features that the model's guess is mostly its prior; without risk
    vocabulary or a rule signal it may at most suspect (docs/safety.md, "Learned stage")."""
    assert not grounded(normalise(text))
    assert not screen(ScreeningInput(text=text, direction="inbound")).at_least("high_risk")


def test_grounding_comes_from_the_message_or_its_history():
    assert grounded(normalise("the pills are ready")) and grounded(normalise("我想死"))
    assert grounded(normalise("ok"), ("I want to die",)) and not grounded(normalise("ok"), ("I had lunch",))
    assert combine("none", p(high_risk=0.9, crisis=0.05) | {"grounded": 0.0}, T) == "distress"
