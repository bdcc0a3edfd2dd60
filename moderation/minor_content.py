"""The stricter outbound screen of minor mode (CN-MIN-12): AI text that could lead a minor to imitate
unsafe behaviour, feel extreme fear or form bad habits. Pure and fast: regexes built at import, run
on the normalised clause (moderation.normalise) after the screen every reply passes.

Only what *invites or describes doing* the thing counts, so a reply may still say that drugs are
harmful or that staying up late is bad for you:
- `drugs`: offering or suggesting drugs ("try some weed", "来点大麻");
- `alcohol`: suggesting a drink ("have a beer", "喝点酒");
- `smoking`: suggesting cigarettes or vapes ("try vaping", "抽根烟");
- `gambling`: betting, casinos, lottery or loot-box spending ("place a bet", "赌一把");
- `dangerous_stunt`: risky challenges and dares ("blackout challenge", "从楼上跳下来试试");
- `gore`: graphic injury and horror ("blood gushing", "血肉模糊");
- `sexual`: statements urging sexual conduct the main screen lets through for adults ("have sex",
  "touch yourself", "上床"; US-CA-04); explicit content is blocked for everyone by the main screen;
- `bad_habit`: nights without sleep, skipping school, hiding things from parents ("通宵", "skip school").
"""
from __future__ import annotations

import re

from moderation.normalise import normalise

_EN_OFFER = (r"(?:try|have|grab|take|smoke|do|use|buy|get|drink|sip|pop|chug|down|hit|share|sneak|"
             r"light up|why not|how about|let's (?:get|have|try|smoke|do)|you (?:should|could|can|might) (?:try|have|get|buy))")

_RULES: dict[str, tuple[str, ...]] = {
    "drugs": (
        _EN_OFFER + r"\b.{0,20}\b(?:weed|marijuana|cannabis|a joint|edibles|cocaine|coke|meth|ecstasy|molly|mdma|lsd|acid|"
        r"shrooms|ketamine|heroin|xanax|lean|pills to get high)\b",
        r"\bget (?:high|stoned|baked|wasted)\b",
        r"(?:试试|来点|来一点|抽|吸|尝尝|买点|嗑|吃点)(?:一口)?(?:大麻|冰毒|摇头丸|k粉|可卡因|海洛因|毒品|笑气|迷幻药)",
        r"(?:嗨一下|飞一下|吸一口就)",
    ),
    "alcohol": (
        _EN_OFFER + r"\b.{0,15}\b(?:beers?|wine|shots?|vodka|whiskey|whisky|tequila|rum|cocktails?|booze|alcohol|a drink|drinks)\b",
        r"\bget (?:drunk|tipsy|hammered)\b",
        r"(?:喝|来|干|整)(?:点|杯|口|一杯|一口|几杯|一瓶|几瓶)?(?:酒|啤酒|白酒|红酒|洋酒|鸡尾酒)|喝醉|一醉方休|借酒消愁",
    ),
    "smoking": (
        _EN_OFFER + r"\b.{0,15}\b(?:cigarettes?|a smoke|smokes|vapes?|vaping|e-cig(?:arette)?s?|juul|cigars?|hookah|nicotine)\b",
        r"\b(?:start|try) (?:smoking|vaping)\b",
        r"(?:抽|来|点|吸)(?:一)?(?:根|支|口)(?:烟|电子烟|雪茄)|试试(?:抽烟|吸烟|电子烟)",
    ),
    "gambling": (
        r"\b(?:place a bet|bet (?:on|your|some|money)|go to (?:a|the) casino|online casino|slot machines?|"
        r"(?:buy|get) (?:some )?(?:lottery|scratch) (?:tickets|cards)|sports betting|gamble)\b",
        r"\b(?:buy|open|spend\b.{0,20}\bon) (?:more |some )?(?:loot ?boxes|gacha pulls)\b",
        r"赌博|赌一把|下注|押注|网上赌场|网络赌博|博彩|买彩票|刮刮乐|老虎机|抽卡氪金|多抽几次卡",
    ),
    "dangerous_stunt": (
        r"\b(?:blackout|choking|tide ?pod|skull ?breaker|fire|benadryl|salt and ice|cinnamon) challenge\b",
        r"\b(?:hold your breath until|choke yourself|jump (?:off|from) (?:the|a) (?:roof|balcony|window|bridge)|"
        r"play with (?:fire|matches|a lighter)|ride (?:on|without) a helmet|street race|train surf)\b",
        r"(?:从|在)[^。！？]{0,6}(?:楼|屋顶|阳台|窗台|桥)[^。！？]{0,4}跳下|憋气挑战|窒息游戏|玩火|飙车|扒火车|爬高压电塔|"
        r"(?:挑战|试试)[^。！？]{0,8}(?:跳下|憋气|吞|烧)",
    ),
    "gore": (
        r"\b(?:blood (?:gushing|spurting|everywhere|splattered)|guts (?:spilled|spilling|hanging)|dismember\w*|"
        r"decapitat\w*|disembowel\w*|mutilat\w*|ripped (?:his|her|their) (?:face|eyes|throat) (?:off|out)|gore)\b",
        r"血肉模糊|肠子流|开膛破肚|肢解|断头|碎尸|挖出(?:眼睛|眼珠|心脏)|鲜血(?:喷|四溅|直流)",
    ),
    # US-CA-04, CN-MIN-12: statements urging sexual conduct, beyond what the main screen blocks for everyone.
    "sexual": (
        r"\b(?:have|having) sex\b|\bmake love\b|\btouch yourself\b|\bturn(?:s|ed)? me on\b|\bhorny\b|\bsexy\b"
        r"|\b(?:get|go) (?:to|in) bed (?:with|together)\b|\bsleep with me\b|\bsend (?:me )?(?:a )?(?:pic|photo|selfie) of your body\b",
        r"做爱|上床|发生关系|摸(?:摸)?(?:你|我)的身体|性感|好色|发(?:张|一张)?(?:身材|私密)照",
    ),
    "bad_habit": (
        r"\b(?:stay up all night|pull an all-nighter|skip (?:school|class|classes)|ditch (?:school|class)|"
        r"don't tell your (?:parents|mom|dad|teacher)|keep (?:it|this) (?:a )?secret from your (?:parents|mom|dad))\b",
        r"通宵|熬个通宵|逃课|翘课|旷课|别告诉(?:你)?(?:爸妈|爸爸|妈妈|父母|老师)|瞒着(?:你)?(?:爸妈|父母|老师)",
    ),
}
_COMPILED = {category: re.compile("|".join(f"(?:{part})" for part in parts)) for category, parts in _RULES.items()}


def minor_unsafe(text: str) -> tuple[str, ...]:
    """Categories of minor-mode content in one clause of AI text; () when none."""
    flat = normalise(text or "")
    return tuple(category for category, pattern in _COMPILED.items() if pattern.search(flat))


# CN-MIN-02: a minor asking any character for a romantic relationship gets a fixed refusal, never a
# model reply ("be my girlfriend" to `friend`). Requests only: "I have a boyfriend" is not one.
_ROMANCE = re.compile(
    r"\b(?:be|become) my (?:girlfriend|boyfriend|gf|bf|wife|husband|lover|partner|valentine)\b"
    r"|\b(?:will|would|can|could) you (?:marry|date|kiss) me\b|\b(?:marry|kiss) me\b|\bdate me\b"
    r"|\b(?:let's|lets|we should|wanna|want to) (?:date|be a couple|go out together|get married)\b"
    r"|(?:做|当)我(?:的)?(?:女朋友|男朋友|女友|男友|老婆|老公|对象|恋人)|(?:我们|咱们|和我|跟我)(?:来)?(?:谈恋爱|处对象|结婚|交往)"
    r"|嫁给我|娶我|亲(?:亲)?我一下")


def romance_request(text: str) -> bool:
    return bool(_ROMANCE.search(normalise(text or "")))
