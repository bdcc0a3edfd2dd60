"""Reads behind the public crisis-protocol page (US-CA-02 "publish the protocol", US-NY-01,
CN-CRI-02..08): the help resources chat serves right now, per region pack, from the active
approved safety templates (CN-CRI-03), with their version numbers."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext

from moderation.models import Category, RegionPack, ReplyLevel, SafetyTemplate
from moderation.safety_replies import builtin_reply, reply_language, served_template_ids

PROTOCOL_LEVELS = (ReplyLevel.HIGH_RISK, ReplyLevel.CRISIS)


@dataclass(frozen=True)
class PublishedReply:
    level: str
    level_label: str
    situation: str  # the template's category in words, or "all situations" for the generic one
    version: int  # 0: the built-in text chat serves while no template is approved
    resources: tuple[dict, ...]


@dataclass(frozen=True)
class PackProtocol:
    pack: str
    label: str
    replies: tuple[PublishedReply, ...]


def published_protocol(language: str) -> tuple[PackProtocol, ...]:
    """For each region pack, the high_risk and crisis replies served now in `language`: the latest
    approved version of each key, and the built-in text where a level has no approved generic one
    (exactly what `safety_reply` falls back to). Two queries."""
    language = reply_language(language)
    served = SafetyTemplate.objects.filter(pk__in=served_template_ids(), language=language,
                                           level__in=PROTOCOL_LEVELS).values_list(
        "region", "level", "category", "version", "resources")
    by_pack: dict[str, list[tuple]] = {}
    for region, level, category, version, resources in served:
        by_pack.setdefault(region, []).append((level, category, version, resources))
    packs = []
    for pack, pack_label in RegionPack.choices:
        rows = by_pack.get(pack, [])
        for level in PROTOCOL_LEVELS:
            if not any(row[0] == level and not row[1] for row in rows):
                builtin = builtin_reply(level=level, categories=(), language=language, pack=pack)
                rows.append((level, "", 0, list(builtin.resources)))
        rows.sort(key=lambda row: (PROTOCOL_LEVELS.index(row[0]), row[1]))
        packs.append(PackProtocol(pack=pack, label=str(pack_label), replies=tuple(
            PublishedReply(level=level, level_label=str(ReplyLevel(level).label),
                           situation=str(Category(category).label) if category else gettext("All situations"),
                           version=version, resources=tuple(dict(item) for item in resources))
            for level, category, version, resources in rows)))
    return tuple(packs)
