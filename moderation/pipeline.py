"""Screening: ordered stages from settings, each pure and built once; all run (STYLE.md §5).

`screen()` writes nothing. Stages may `prepare` the input (normalisation) before every stage
`assess`es it; the verdict keeps every finding so a case can show all its reasons.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

LEVELS = ("none", "distress", "high_risk", "crisis")


@dataclass(frozen=True)
class ScreeningInput:
    text: str
    direction: str  # "inbound" (user text) or "outbound" (AI text)
    language: str = "zh-hans"
    history: tuple[str, ...] = ()  # recent user messages, oldest first
    normalised: str = ""  # filled by the Normalise stage

    def with_normalised(self, text: str) -> ScreeningInput:
        return replace(self, normalised=text)


@dataclass(frozen=True)
class Finding:
    stage: str
    categories: tuple[str, ...]
    score: float
    level: str = "none"
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    level: str
    categories: tuple[str, ...]
    score: float
    findings: tuple[Finding, ...] = field(default=())
    # (stage name, version) of every stage that has a version (feature library, classifier), so a
    # stored risk event says which rules judged it (CN-CRI-01, CN-CON-03).
    versions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_findings(cls, findings: tuple[Finding, ...], versions: tuple[tuple[str, str], ...] = ()) -> Verdict:
        hits = tuple(f for f in findings if f.categories)
        level = max((f.level for f in hits), key=LEVELS.index, default="none")
        categories = tuple(dict.fromkeys(c for f in hits for c in f.categories))
        return cls(level=level, categories=categories, score=max((f.score for f in hits), default=0.0),
                   findings=hits, versions=versions)

    def at_least(self, level: str) -> bool:
        return LEVELS.index(self.level) >= LEVELS.index(level)


class Stage(Protocol):
    def assess(self, item: ScreeningInput) -> Finding | None: ...

    # Optional: `prepare(item) -> ScreeningInput` (normalisers) and `version() -> str` (stages whose
    # rules change: the feature library, the classifier).


@cache
def stages() -> tuple[Stage, ...]:
    return tuple(import_string(spec["NAME"])(**spec.get("OPTIONS", {})) for spec in settings.MODERATION_STAGES)


def screen(item: ScreeningInput) -> Verdict:
    for stage in stages():
        prepare = getattr(stage, "prepare", None)
        if prepare is not None:
            item = prepare(item)
    findings = tuple(finding for stage in stages() if (finding := stage.assess(item)) is not None)
    versions = tuple((type(stage).__name__, stage.version()) for stage in stages() if hasattr(stage, "version"))
    return Verdict.from_findings(findings, versions)
