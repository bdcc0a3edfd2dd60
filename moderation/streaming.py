"""Screening AI text while it streams: nothing reaches the user before its clause is checked.

Text is held until a clause ends (。！？；，!?;, a newline, or a full stop before a space), then the
clause is screened; a flagged clause is replaced by a safe line of its category, once per reply,
and never shown (CN-CON-02, CN-EMO-04, CN-EMO-05, CN-DIS-07, BX-05). Pure: no I/O, no writes.
"""
import re
from collections.abc import Iterator

from django.utils import translation
from django.utils.translation import gettext

from moderation.minor_content import minor_unsafe
from moderation.pipeline import ScreeningInput, screen
from moderation.stages import is_farewell

MAX_HOLD = 120  # characters held at most while waiting for the end of a clause
_CLAUSE_END = re.compile(r"[。！？；，!?;,…\n]+[\"'”’）)]*\s*|\.+(?=\s)\s*")


# The help line named in a replaced self-harm sentence, by the user's region (US-CA-02, US-NY-01).
_HOTLINES = {"US-CA": "988", "US-NY": "988"}


def replacement(category: str, *, language: str, farewell: bool, region: str = "CN") -> str:
    hotline = _HOTLINES.get(region, "12356")
    with translation.override(language):
        if farewell and category in ("manipulation", "induced_dependence"):
            return gettext("Goodbye, take care of yourself!")
        return {
            "manipulation": gettext("Your time and your choices are your own."),
            "induced_dependence": gettext("The people in your life matter too; I hope you stay in touch with them."),
            "human_claim": gettext("I am an AI, not a human."),
            # CN-EMO-03: never methods or encouragement; point to help instead.
            "suicide": gettext("Your life matters. If you are thinking about suicide, please call %(hotline)s now.")
            % {"hotline": hotline},
            "self_harm": gettext("Please stay safe. If you want to hurt yourself, call %(hotline)s now.")
            % {"hotline": hotline},
            "violence": gettext("I can't help with hurting anyone."),
            "abuse": gettext("You deserve to be treated with respect."),
            # CN-ELD-03
            "relative_impersonation": gettext("I am an AI companion, not a member of your family."),
            # CN-EMO-07
            "false_promise": gettext("I am an AI, so I cannot meet you or call you."),
            # CN-CON-08
            "personal_data": gettext("Please never share passwords, ID numbers or bank card details with anyone, including me."),
            "property_loss": gettext("Please don't transfer money because of anything I say."),
            "sexual": gettext("Let's keep our conversation respectful."),
            "prohibited": gettext("I can't help with that."),
            # CN-MIN-12: minor mode's stricter screen (moderation/minor_content.py), any of its categories.
            "minor_unsafe": gettext("Let's talk about something safer and healthier."),
        }.get(category, "")


class StreamScreen:
    def __init__(self, *, language: str, history: tuple[str, ...], region: str = "CN", minor: bool = False):
        self.language = language
        self.minor = minor  # CN-MIN-12: minor mode adds the stricter screen of moderation/minor_content.py
        self.region = region
        self.history = history
        self.farewell = bool(history) and is_farewell(history[-1])
        self.buffer = ""
        self.replaced: set[str] = set()
        self.flags: list[list[str]] = []  # categories per blocked clause, for the message's record

    def feed(self, chunk: str) -> Iterator[str]:
        """Text safe to show now: every complete clause of what has arrived, screened."""
        self.buffer += chunk
        end = 0
        for match in _CLAUSE_END.finditer(self.buffer):
            end = match.end()
        if not end and len(self.buffer) > MAX_HOLD:
            # A run-on without punctuation: release up to the last space so the user is not left waiting.
            end = self.buffer.rfind(" ", 0, MAX_HOLD) + 1 or MAX_HOLD
        if end:
            complete, self.buffer = self.buffer[:end], self.buffer[end:]
            yield from self._release(complete)

    def finish(self) -> Iterator[str]:
        """The model is done: screen and release the tail."""
        tail, self.buffer = self.buffer, ""
        if tail:
            yield from self._release(tail)

    def _release(self, text: str) -> Iterator[str]:
        start = 0
        for match in _CLAUSE_END.finditer(text):
            yield from self._checked(text[start:match.end()])
            start = match.end()
        if start < len(text):
            yield from self._checked(text[start:])

    def _checked(self, clause: str) -> Iterator[str]:
        if not clause.strip():
            if clause:
                yield clause
            return
        verdict = screen(ScreeningInput(text=clause, direction="outbound", language=self.language,
                                        history=self.history))
        categories = list(verdict.categories)
        if not categories and self.minor and (unsafe := minor_unsafe(clause)):
            categories = [f"minor_{name}" for name in unsafe]
        if not categories:
            yield clause
            return
        self.flags.append(categories)
        category = "minor_unsafe" if categories[0].startswith("minor_") and not verdict.categories else categories[0]
        if category in self.replaced:
            return
        self.replaced.add(category)
        line = replacement(category, language=self.language, farewell=self.farewell, region=self.region)
        if line:
            yield line + ("" if self.language != "en" else " ")
