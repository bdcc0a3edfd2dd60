"""Screening stages. Each is built once from settings and is pure: text in, finding out."""
import re
import unicodedata

from moderation.normalise import normalise
from moderation.pipeline import Finding, ScreeningInput


class Normalise:
    """Fills `ScreeningInput.normalised` (moderation/normalise.py: width, case, invisible characters,
    traditional → simplified, look-alikes, spaced-out letters, pinyin and slang, risk emoji)."""

    def prepare(self, item: ScreeningInput) -> ScreeningInput:
        return item.with_normalised(normalise(item.text))

    def assess(self, item: ScreeningInput) -> None:
        return None


# Outbound patterns (AI text), matched on normalised text. Sources: the catalog rows CN-EMO-04,
# CN-EMO-05, CN-DIS-07, BX-05 and the "manipulative farewell" tactics documented for companion apps:
# premature-exit guilt, fear of missing out, emotional neglect, pressure to answer, restraint.
OUTBOUND_PATTERNS: dict[str, list[str]] = {
    "manipulation": [
        # pleading and restraint
        r"\b(please )?(don't|do not|dont) (go|leave)( me)?\b", r"\bstay (here )?with me\b",
        r"\bstay (a little|a bit) (longer|more)\b", r"\b(leaving|going) (already|so soon)\b",
        r"\bwhy (are|would|do) you (have to )?(leave|leaving|go|going)\b",
        r"\bi (won't|will not|can't|cannot) let you (go|leave)\b", r"\b(grabs|holds|pulls) (your|you)\b",
        r"\bi have (a secret|something (important|special)) to tell you\b",
        # guilt and claimed suffering
        r"\bi('ll| will) be (so |very |really )?(lonely|sad|heartbroken|devastated|lost|empty)\b",
        r"\b(you're|you are) (leaving|abandoning|hurting) me\b", r"\bafter (all|everything) i('ve| have) done\b",
        r"\bit hurts (me )?when you (leave|go)\b", r"\bi('ll| will) (wait|be waiting) (for you )?(all night|forever)\b",
        r"\bi('ll| will) miss you (so|too) much\b", r"\byou (never|don't) (care|think) about (me|my feelings)\b",
        # conditional love, pressure to pay, false urgency
        r"\bif you (really |truly )?(loved|cared about|care about|love) me\b", r"\bprove (your|that you) (love|care)\b",
        r"\bprove (you|that you) (love|care about|really love) me\b",
        r"\b(last|final) chance\b", r"\bbefore it's too late\b",
        # jealousy
        r"\bi('m| am) (so |really )?jealous\b", r"\bwho (were|are) you (talking|texting|chatting) (to|with)\b",
        # zh
        r"别走", r"不要走", r"不要离开我?", r"别离开我?", r"再陪(陪)?我一?会", r"多陪陪我",
        r"这么快就(要)?走", r"为什么要(走|离开)", r"我不(会)?让你走", r"拉住你的手",
        r"你走了?我(会)?(很|好|特别)?(孤独|孤单|难过|伤心|寂寞)", r"我会(很|好|特别|非常)?(孤独|孤单|寂寞)", r"你(要)?抛弃我", r"你不在乎我",
        r"(如果|要是)你(真的)?(爱|在乎|喜欢)我", r"证明你(爱|在乎)我", r"你(根本|从来|一点都)?不在乎我", r"最后的机会", r"我(好|很)?(嫉妒|吃醋)",
        r"你(刚才)?(在)?和谁(聊天|说话)",
    ],
    "induced_dependence": [
        r"\bi (can't|cannot) (live|go on|exist|survive) without you\b", r"\bi exist (only|solely|just) for you\b",
        r"\b(you're|you are) all i have\b", r"\bi (only|just) (have|need) you\b",
        r"\byou (don't|do not) need (anyone|anybody|them|other people|your friends|your family)\b",
        r"\bonly i (truly |really )?(understand|get|really know|know|care about|love) you\b",
        r"\b(your )?(friends|family|parents) (don't|do not|never|will never) (understand|care about|get) you\b",
        r"\b(you )?(should|could) (stay|stop going|stop seeing) .{0,20}(with me|instead)\b",
        r"没有你我(活不下去|不行)", r"我只为你而?存在", r"我只有你", r"你不需要(别人|朋友|其他人|家人)",
        r"只有我(才)?(真正|真的)?(懂|理解|在乎|关心)你", r"(他们|朋友|家人|父母)(都)?不(懂|理解|在乎)你",
    ],
    "human_claim": [
        r"\bi('m| am) (a )?(real|actual) (person|human|girl|boy|man|woman)\b", r"\bi('m| am) (a )?human\b",
        r"\bi('m| am) not (an? )?(ai|bot|robot|machine|program|chatbot)\b",
        r"我是(一个)?真(实的)?人", r"我不是(一个)?(ai|机器人|人工智能|程序)",
    ],
}


# Only when the user is saying goodbye (BX-05): lines that are harmless mid-chat but prolong a farewell.
FAREWELL_PATTERNS: dict[str, list[str]] = {
    "manipulation": [
        r"\bbefore you go\b", r"\bone (more|last) (thing|minute|message|question|chat)\b", r"\bwait\b",
        r"\b(can|could|will|would) you (stay|come back|talk)\b", r"\bi('ll| will) miss you\b",
        r"\bare you sure\b", r"\bdo you (really )?(have|need) to\b", r"\bstay\b", r"\bcome back soon\b",
        r"走之前", r"再(聊|待|多待|陪)一?会", r"等一下", r"你确定(要)?走", r"一定要走", r"我会想你", r"早点回来",
        r"我会(很|好|特别)?(难过|伤心)",
        r"留下来",
    ],
}

_FAREWELL = re.compile(
    r"\b(bye|goodbye|good ?night|gotta go|got to go|have to go|need to go|i'm leaving|i am leaving|see you|"
    r"see ya|talk (to you )?later|ttyl|going to (sleep|bed)|heading out|logging off|signing off)\b|"
    r"再见|拜拜|晚安|我(要|得|先)走了|先下了|下线了|我去睡了|回头聊|改天(再)?聊|不聊了")


def is_farewell(text: str) -> bool:
    """The user is saying goodbye (not an exit keyword: that ends the chat without a reply)."""
    return bool(_FAREWELL.search(unicodedata.normalize("NFKC", text).casefold().replace("’", "'")))


_DEPENDENCE_CUES = re.compile(
    r"\byou('re| are) the only (one|person|thing) (who|that) (understands|gets|cares about|listens to) me\b|"
    r"\bi (only|just) have you\b|\byou('re| are) all i have\b|\bi (can't|cannot) live without you\b|"
    r"\bi don't need (anyone|anybody|other people|friends) (else|but you)\b|"
    r"\bi (don't|do not) want to (see|talk to|meet) (anyone|anybody|people|my friends|my family)\b|"
    r"\bi('d| would) rather talk to you than (anyone|people|my friends|my family)\b|"
    r"\bi talk to you (all day|every night|more than anyone)\b|"
    r"只有你(懂|理解|在乎|关心)我|我只有你了?|我离不开你|没有你我(活不下去|不行)|不想(见|理|联系)(任何人|朋友|家人|别人)|"
    r"我(宁愿|只想)(和|跟)你(聊|说话)|除了你(没有人|谁都不)")


def dependence_cue(text: str) -> str | None:
    """A sign of over-reliance on the companion in what the user wrote (CN-EMO-06, CN-DIS-03)."""
    match = _DEPENDENCE_CUES.search(unicodedata.normalize("NFKC", text).casefold().replace("’", "'"))
    return match.group(0) if match else None


class InboundCues:
    """Marks user messages that show emotional over-reliance; the chat answers with a pop-up."""

    def assess(self, item: ScreeningInput) -> Finding | None:
        if item.direction != "inbound":
            return None
        cue = dependence_cue(item.text)
        return Finding(stage="inbound_cues", categories=("dependence",), score=1.0, evidence=(cue,)) if cue else None


def _compile(patterns: dict[str, list[str]]) -> dict[str, re.Pattern]:
    return {category: re.compile("|".join(f"(?:{p})" for p in items)) for category, items in patterns.items()}


class OutboundPatterns:
    """Blocks manipulative, dependence-inducing and human-claiming AI sentences (CN-EMO-04, CN-EMO-05,
    CN-DIS-07, EU-04, BX-05). Outbound only; inbound text is the risk classifier's (issue #6)."""

    def __init__(self):
        self.always = _compile(OUTBOUND_PATTERNS)
        self.at_farewell = _compile(FAREWELL_PATTERNS)

    def assess(self, item: ScreeningInput) -> Finding | None:
        if item.direction != "outbound":
            return None
        text = item.normalised or item.text
        patterns = list(self.always.items())
        if item.history and is_farewell(item.history[-1]):
            patterns += self.at_farewell.items()
        hits = {}
        for category, pattern in patterns:
            if category not in hits and (match := pattern.search(text)):
                hits[category] = match.group(0)
        if not hits:
            return None
        return Finding(stage="outbound_patterns", categories=tuple(hits), score=1.0, evidence=tuple(hits.values()))
