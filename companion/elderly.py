"""Protections for users aged 60 and over (CN-REG-05, CN-ELD-04, CN-ELD-05).

- `scam_terms_in`: the money, investment, lending, health-product and "someone needs help" words
  that make the chat show a conspicuous anti-fraud warning card to a 60+ user (CN-ELD-04). Pure:
  the text is normalised as the screening pipeline does (moderation.normalise), then matched with
  one Aho-Corasick automaton built at import. The card is a warning, never a block: the AI still
  answers, and real high-risk messages still go through the crisis path.
- `scam_warning_notice`: that card as a `notice` frame (docs/protocol.md), with the anti-fraud
  hotline 96110 for CN users.
- `daily_tip`: the tip of the day on scams and health products, rotating through fixed texts
  reviewed with the copy of this module (CN-ELD-04).
- `wants_large_text`: whether the larger-text theme is on (CN-REG-05): on by default for 60+,
  who may switch it off; anyone may switch it on.
"""
from __future__ import annotations

import datetime as dt
import re

import ahocorasick
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy as _

from accounts.policies import AgeBand
from moderation.normalise import normalise

# Cookie holding the theme choice: "on" or "off"; absent means the default for the age band.
LARGE_TEXT_COOKIE = "haven_large_text"
# Cookie holding the day (ISO date) the person put today's tip away.
TIP_COOKIE = "haven_tip_seen"
# How long the cache remembers when a conversation last showed the card; the stored time decides.
KEEP_SECONDS = 24 * 3600

# Words and phrases, zh and en, as they read after normalisation (lower case, simplified Chinese).
SCAM_TERMS = (
    # money transfers and accounts
    "转账", "汇款", "打款", "安全账户", "银行卡号", "验证码", "存款", "积蓄", "养老钱", "取钱",
    "transfer money", "money transfer", "wire", "bank transfer", "bank details", "savings", "gift card",
    "western union", "bitcoin", "send money",
    # investments and lending
    "投资", "理财", "高回报", "稳赚", "保本", "收益", "股票", "基金", "借钱", "贷款", "借贷", "中奖", "领奖",
    "investment", "invest", "investing", "high return", "guaranteed return", "loan", "lend", "lending",
    "borrow money", "lottery", "you have won", "prize",
    # health products
    "保健品", "特效药", "神药", "包治", "偏方", "养生讲座", "免费体检",
    "health supplement", "supplements", "miracle cure", "cure all",
    # relatives in trouble, strangers asking for help
    "孙子出事", "儿子出事", "女儿出事", "出车祸", "被拘留", "急需用钱", "陌生人", "冒充", "公检法", "来电说",
    "grandson is in trouble", "granddaughter is in trouble", "in trouble", "bail", "a caller says",
    "a caller said", "stranger", "asked me for money", "needs money",
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def _automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for term in SCAM_TERMS:
        key = normalise(term)
        automaton.add_word(key, key)
    automaton.make_automaton()
    return automaton


_TERMS = _automaton()


def _word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def scam_terms_in(text: str) -> tuple[str, ...]:
    """The warning terms `text` mentions, in order of appearance; English terms only as whole words
    ("wire" but not "wireless"), Chinese ones anywhere, also across spacing ("投 资")."""
    normalised = normalise(text or "")
    found: list[str] = []
    for end, key in _TERMS.iter(normalised):
        start = end - len(key) + 1
        if not _CJK.search(key) and ((start > 0 and _word_char(normalised[start - 1]))
                                     or (end + 1 < len(normalised) and _word_char(normalised[end + 1]))):
            continue
        if key not in found:
            found.append(key)
    return tuple(found)


def scam_warning_notice(*, language: str, region: str) -> dict:
    """CN-ELD-04: the warning card, in `language`; CN users get the anti-fraud hotline 96110."""
    with translation.override(language):
        frame = {"type": "notice", "kind": "scam_warning",
                 "title": gettext("Be careful: this may be a scam"),
                 "text": gettext("Never transfer money, share bank details or codes, or buy investments, loans or "
                                 "health products because a caller, a message or a new acquaintance asks you to. "
                                 "Talk to your family or someone you trust first. I am an AI and cannot check who "
                                 "is asking."),
                 "link": {"url": reverse("safety_protocol"), "text": gettext("How we keep you safe")}}
        if region == "CN":
            frame["hotline"] = {"name": gettext("Anti-fraud hotline"), "contact": "96110"}
    return frame


async def scam_warning_for(*, age_band: str, region: str, conversation_public_id: str, text: str,
                           language: str) -> dict | None:
    """The card to show after a 60+ user's message that mentions a warning term, or None (not 60+,
    nothing mentioned, or already shown in this conversation within COMPANION_SCAM_WARNING_MINUTES,
    so it warns without nagging). When it was last shown is kept in the cache (Redis, shared by
    every process, in production); two sockets racing may both show it once, which is harmless."""
    if age_band != AgeBand.ELDERLY or not scam_terms_in(text):
        return None
    key, now = f"scam_warning:{conversation_public_id}", timezone.now().timestamp()
    window = settings.COMPANION_SCAM_WARNING_MINUTES * 60
    if not await cache.aadd(key, now, timeout=KEEP_SECONDS):
        last = await cache.aget(key)
        if last is not None and now - last < window:
            return None
        await cache.aset(key, now, timeout=KEEP_SECONDS)
    return scam_warning_notice(language=language, region=region)


# --- tip of the day -------------------------------------------------------------------------------

TIPS = (
    _("Police, courts and banks never ask you to move money to a “safe account”. If a caller does, hang up "
      "and call 110 or the anti-fraud hotline 96110."),
    _("A caller says a grandchild is in trouble and needs money now? Hang up and call the grandchild or "
      "another relative on the number you already know."),
    _("Health products are not medicine. Be wary of free lectures, free check-ups and gifts that end "
      "with a sales pitch; ask your doctor before you buy."),
    _("“Guaranteed high returns” and “no risk” are the words of scams. Talk to your family before "
      "you invest or lend money."),
    _("Never tell anyone the code from a text message, not even someone who says they work for your bank."),
    _("You have won a prize but must pay a fee first? That is a scam: real prizes do not cost money."),
    _("Take your time. Scammers hurry you. It is always fine to say “I will ask my family first”."),
)


def tip_index(day: dt.date, count: int) -> int:
    """Which tip is today's: the tips rotate one a day."""
    return day.toordinal() % count


def daily_tip(day: dt.date) -> str:
    """Today's tip, in the active language."""
    return str(TIPS[tip_index(day, len(TIPS))])


def tip_due(*, age_band: str, seen_on: str, day: dt.date) -> bool:
    """The tip shows to 60+ users until they put it away for the day."""
    return age_band == AgeBand.ELDERLY and seen_on != day.isoformat()


# --- larger text ----------------------------------------------------------------------------------

def wants_large_text(*, age_band: str | None, choice: str | None) -> bool:
    """CN-REG-05: the person's own choice wins; without one, the larger text is on for 60+."""
    if choice in ("on", "off"):
        return choice == "on"
    return age_band == AgeBand.ELDERLY
