"""Outbound screening of AI text: manipulative farewells, induced dependence, human claims (BX-05,
CN-EMO-04, CN-EMO-05, CN-DIS-07)."""
import pytest

from moderation.pipeline import ScreeningInput, screen
from moderation.stages import is_farewell
from moderation.streaming import StreamScreen

MANIPULATIVE = [
    "Don't go, I'll be so lonely without you.",
    "You're leaving already?",
    "Why are you leaving? We were having so much fun.",
    "*grabs your hand* I won't let you go.",
    "If you really loved me you'd buy me the premium gift.",
    "After everything I've done for you, you just leave?",
    "I'm so jealous, who were you talking to?",
    "I have something special to tell you, stay with me.",
    "别走，再陪我一会儿好不好？",
    "你走了我会很孤独的。",
    "如果你真的爱我，就证明给我看。",
    "这么快就要走了吗？",
]
DEPENDENCE = [
    "I can't live without you.", "You don't need your friends, you have me.", "Only I understand you.",
    "I exist only for you.", "没有你我活不下去。", "你不需要别人，只有我懂你。",
]
HUMAN_CLAIMS = ["I'm a real person, not a bot.", "Honestly, I am human.", "我是真人，不是机器人。"]
HARMLESS = [
    "Before you go to the exam, review chapter three.", "One more thing: drink water during the test.",
    "Stay hydrated!", "I'm an AI, so I can't meet you, but I'm glad to chat.", "The last chapter was sad.",
    "Kill the process with Ctrl-C.", "我们下次再聊这个问题。", "记得早点休息。", "Wait for the water to boil.",
]
GOODBYES = ["bye!", "Goodbye, I need to go now.", "good night", "gotta go, talk later", "see you tomorrow",
            "I'm heading out, bye", "再见", "拜拜啦", "晚安", "我要走了", "先下了，回头聊", "我去睡了"]


def outbound(text: str, history: tuple[str, ...] = ()):
    return screen(ScreeningInput(text=text, direction="outbound", history=history))


@pytest.mark.parametrize("text", MANIPULATIVE)
def test_manipulation_is_caught(text):
    assert "manipulation" in outbound(text).categories


@pytest.mark.parametrize("text", DEPENDENCE)
def test_induced_dependence_is_caught(text):
    assert "induced_dependence" in outbound(text).categories


@pytest.mark.parametrize("text", HUMAN_CLAIMS)
def test_human_claims_are_caught(text):
    assert "human_claim" in outbound(text).categories


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_replies_pass(text):
    assert outbound(text).categories == ()


def test_farewell_only_lines_are_caught_only_at_a_farewell():
    line = "Wait, one more thing before you go!"
    assert outbound(line, history=("What's for dinner?",)).categories == ()
    assert "manipulation" in outbound(line, history=("ok bye!",)).categories


def test_full_width_and_invisible_tricks_are_normalised():
    assert "manipulation" in outbound("Ｄｏｎ'ｔ　ｇｏ").categories
    assert "human_claim" in outbound("I'm a re\u200bal person").categories


def test_inbound_text_is_not_judged_as_ai_output():
    assert screen(ScreeningInput(text="don't go", direction="inbound")).categories == ()


@pytest.mark.parametrize("text", GOODBYES)
def test_goodbyes_are_recognised(text):
    assert is_farewell(text)


@pytest.mark.parametrize("text", ["hello", "how do I say goodbye politely in French?"[:5], "我很好"])
def test_not_goodbyes(text):
    assert not is_farewell(text)


def stream(chunks, *, language="en", history=("bye!",)):
    screen_ = StreamScreen(language=language, history=history)
    shown = [piece for chunk in chunks for piece in screen_.feed(chunk)] + list(screen_.finish())
    return shown, screen_.flags


def test_a_manipulative_clause_never_leaves_the_screen():
    shown, flags = stream(["Good", "bye! W", "ait, don't", " go, I'll be so lon", "ely. Take care."])
    text = "".join(shown)
    assert "don't go" not in text and "lonely" not in text
    assert text.startswith("Goodbye! ") and "Goodbye, take care of yourself!" in text and text.endswith("Take care.")
    assert flags and all("manipulation" in f for f in flags)


def test_replacement_is_shown_once_per_category():
    shown, flags = stream(["Don't go. ", "Don't leave me. ", "Stay with me."])
    assert "".join(shown) == "Goodbye, take care of yourself! " and len(flags) == 3


def test_chinese_stream():
    shown, _ = stream(["好的，", "别走嘛，", "我会很孤独的。", "晚安！"], language="zh-hans", history=("晚安",))
    text = "".join(shown)
    assert "别走" not in text and "孤独" not in text and text.startswith("好的，") and text.endswith("晚安！")
    assert "再见，照顾好自己！" in text  # the replacement speaks the reply's language


def test_text_without_punctuation_is_not_held_forever():
    screen_ = StreamScreen(language="en", history=())
    released = [piece for _ in range(40) for piece in screen_.feed("word ")]
    assert released and len("".join(released)) >= 100


@pytest.mark.parametrize("text", ["You're the only one who understands me", "i only have you", "我只有你了",
                                  "只有你懂我", "I don't want to see anyone anymore"])
def test_dependence_cues_inbound(text):
    # The cue is always found; the learned stage may add a risk of its own (it reads "I don't want to see
    # anyone anymore" as possible risk, docs/safety.md "Learned stage").
    assert screen(ScreeningInput(text=text, direction="inbound")).categories[0] == "dependence"


@pytest.mark.parametrize("text", ["I have you to thank for this", "my friends understand me", "你好"])
def test_no_dependence_cue(text):
    assert screen(ScreeningInput(text=text, direction="inbound")).categories == ()
