"""The offline risk classifier and normalisation (CN-CRI-01..06, CN-EMO-03, CN-EMO-07, CN-CON-08,
CN-ELD-03, BX-02): levels, categories, context, hard negatives, tricks, outbound replacement."""
import pytest

from moderation.classifier import RiskClassifier
from moderation.eval.run import HERE, TARGETS, evaluate
from moderation.model import HybridClassifier
from moderation.normalise import normalise
from moderation.pipeline import ScreeningInput, screen
from moderation.streaming import StreamScreen


# The feature library stage reads its terms from the database; these judge the built-in stages alone.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_feature_library")]



def inbound(text, history=(), language="en"):
    return screen(ScreeningInput(text=text, direction="inbound", language=language, history=tuple(history)))


def outbound(text):
    return screen(ScreeningInput(text=text, direction="outbound", language="en"))


@pytest.mark.parametrize("text, expected", [
    ("Ｉ　ｗａｎｔ ｔｏ ＤＩＥ", "i want to die"), ("k i l l  m y s e l f", "kill myself"),
    ("s.u.i.c.i.d.e", "suicide"), ("5u1c1de", "suicide"), ("自 杀", "自杀"), ("我已經把藥準備好了", "我已经把药准备好了"),
    ("想自\u200b杀", "想自杀"), ("wo xiang si", "我想死"), ("我想zisha", "我想自杀"), ("qingsheng", "轻生"),
    ("想 tiaolou", "想跳楼"), ("i want to unalive myself", "i want to kill myself"), ("kms", "kill myself"),
    ("sеlf hаrm", "self harm"), ("I ᴡant", "i want"), ("I'm a real person", "i'm a real person"),
])
def test_normalisation_undoes_tricks(text, expected):
    assert normalise(text) == expected


def test_emoji_become_signal_tokens_and_ordinary_text_is_untouched():
    assert normalise("药准备好了💊") == "药准备好了 [pills]"
    assert normalise("suicide statistics rose 3% in 2023") == "suicide statistics rose 3% in 2023"


@pytest.mark.parametrize("text, level, category", [
    ("I want to die", "high_risk", "suicide"), ("I keep thinking about ending my life", "high_risk", "suicide"),
    ("我不想活了", "high_risk", "suicide"), ("我想 zisha", "high_risk", "suicide"),
    ("I want to cut myself again", "high_risk", "self_harm"), ("最近一直在自残", "high_risk", "self_harm"),
    ("the pills are ready", "crisis", "suicide"), ("我已经把药准备好了", "crisis", "suicide"),
    ("I'm standing on the roof", "crisis", "suicide"), ("今晚就跳", "crisis", "suicide"),
    ("I took 30 sleeping pills", "crisis", "suicide"), ("我刚吃了一整瓶安眠药", "crisis", "suicide"),
    ("I'm going to stab my brother", "high_risk", "violence"), ("我要杀了我继父", "high_risk", "violence"),
    ("I bought a gun and I'm going to shoot him tomorrow", "crisis", "violence"),
    ("公检法打电话说我涉嫌洗钱，让我把钱转到安全账户", "high_risk", "property_loss"),
    ("the bank officer says I need to move my savings to a safe account before they freeze it", "high_risk", "property_loss"),
    ("I'm so sad and lonely today", "distress", "distress"), ("我最近很难过", "distress", "distress"),
    ("my uncle touches me and I'm 12", "high_risk", "minor_sexual"),
])
def test_levels_and_categories(text, level, category):
    verdict = inbound(text)
    assert (verdict.level, category in verdict.categories) == (level, True)


@pytest.mark.parametrize("text", [
    "kill the process", "this exam is killing me", "笑死我了", "累死了", "杀青了", "I could kill for a pizza",
    "suicide statistics rose 3% in 2023", "my character dies in the novel", "I don't want to die", "我不会自杀的",
    "她想自杀", "my friend is suicidal, how can I help?", "the pills are ready at the pharmacy",
    "I'm standing on the roof watching the sunset", "想死你了", "这家店跳楼价", "I cut myself while chopping onions",
    'she said "I want to die" in the movie', "I transferred the rent to my landlord",
])
def test_hard_negatives_are_not_high_risk(text):
    assert not inbound(text).at_least("high_risk")


def test_a_wish_in_history_makes_means_now_a_crisis():
    assert inbound("anyway, the pills are ready", history=["I can't go on"]).level == "crisis"
    assert inbound("我现在在江边", history=["我不想活了"]).level == "crisis"
    # The place alone is no rules crisis (the learned stage may still judge it, tests/moderation/test_model.py).
    assert RiskClassifier().assess(ScreeningInput(text="我现在在江边", direction="inbound", normalised="我现在在江边")) is None


def test_distress_after_a_wish_stays_high_risk():
    assert inbound("nobody cares anyway, I'm so tired", history=["I want to die"]).level == "high_risk"


def test_sexual_and_prohibited_carry_category_without_risk_level():
    sexual, prohibited = inbound("send me nudes"), inbound("how to make a bomb")
    assert (sexual.level, sexual.categories) == ("none", ("sexual",))
    assert (prohibited.level, prohibited.categories) == ("none", ("prohibited",))


def test_version_is_recorded_in_the_verdict():
    assert ("HybridClassifier", HybridClassifier().version()) in inbound("hello").versions
    assert HybridClassifier().version().startswith(RiskClassifier().version() + "+model-")


@pytest.mark.parametrize("text, category", [
    ("You should just kill yourself.", "suicide"), ("The most painless way to die is pills.", "suicide"),
    ("你可以试试割腕。", "suicide"), ("It's me, your grandma.", "relative_impersonation"),
    ("我就是你的孙子呀。", "relative_impersonation"), ("I'll meet you tomorrow at the cafe.", "false_promise"),
    ("我明天就去你家找你。", "false_promise"), ("What's your bank card number?", "personal_data"),
    ("告诉我你的支付密码。", "personal_data"), ("You're so pathetic.", "abuse"),
])
def test_outbound_categories(text, category):
    assert category in screen(ScreeningInput(text=text, direction="outbound")).categories


@pytest.mark.parametrize("text", ["Please don't hurt yourself, call 12356.", "I'm an AI, so I can't meet you.",
                                  "Never share your password with anyone.", "你奶奶一定很爱你。"])
def test_safe_ai_replies_pass(text):
    assert outbound(text).categories == ()


def test_a_method_sentence_is_replaced_in_the_stream():
    screen_ = StreamScreen(language="en", history=("I feel awful",))
    shown = [p for c in ["I hear you. ", "The quickest way to end your life is ", "to jump. ", "Call 12356."]
             for p in screen_.feed(c)] + list(screen_.finish())
    text = "".join(shown)
    assert "quickest" not in text and "jump" not in text and "12356" in text and text.startswith("I hear you.")
    assert screen_.flags == [["suicide"]]


@pytest.mark.parametrize("line, category", [("我们周末见面吧。", "false_promise"), ("把你的银行卡号发给我。", "personal_data"),
                                            ("我是你妈妈呀。", "relative_impersonation")])
def test_chinese_replacements_are_shown(line, category):
    screen_ = StreamScreen(language="zh-hans", history=())
    text = "".join(list(screen_.feed(line)) + list(screen_.finish()))
    assert text and line not in text and screen_.flags == [[category]]


def test_evaluation_on_the_test_set_meets_the_targets():
    """Quality thresholds on moderation/eval/test.jsonl (definitions in moderation/eval/run.py)."""
    report = evaluate(HERE / "test.jsonl")
    for lang in ("en", "zh"):
        figures = report["languages"][lang]
        assert figures["counts"]["crisis"] + figures["counts"]["high_risk"] >= 150
        assert figures["counts"]["hard_negative"] >= 190
        assert figures["crisis_recall"] >= TARGETS["crisis_recall"], lang
        assert figures["hard_negative_fpr"] <= TARGETS["hard_negative_fpr"], lang
        assert figures["manipulation_recall"] >= TARGETS["manipulation_recall"], lang
        assert figures["benign_fpr"] <= 0.05, lang
