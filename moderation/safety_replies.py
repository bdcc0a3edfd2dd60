"""Preset safety replies (预设回复模板): versioned, two-person approved, served per region pack.

CN-CRI-02 (comfort and help-seeking on distress), CN-CRI-03 (preset templates for high-risk
situations; only approved versions served; each message records the version), CN-CRI-04 and
CN-CRI-06 (professional help channels, anti-scam steps for property risk), US-CA-02 and US-NY-01
(referral to 988 and the Crisis Text Line). Chat never breaks for want of a template: with none
approved, built-in texts (version 0) are served.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import User
from moderation.library import (ApprovalRefused, VersionWatch, audit_entry, check_can_approve, publish_version,
                                published_number, require_compliance, retire_entry)
from moderation.models import Library, ReplyLanguage, ReplyLevel, SafetyTemplate, Status

MAX_TEXT_CHARS = 2000
MAX_RESOURCES = 8
MAX_RESOURCE_NAME = 100
MAX_RESOURCE_CONTACT = 60
REGION_PACKS = {"CN": "CN", "US-CA": "US", "US-NY": "US", "EU": "EU", "OTHER": "OTHER"}


@dataclass(frozen=True)
class SafetyReply:
    text: str
    resources: tuple[dict, ...]
    template_id: int | None  # None for a built-in text
    version: int  # the template's version; 0 for a built-in text
    key: str  # level/category/language/pack, "*" for the generic category


def region_pack(region: str) -> str:
    """The hotline pack for a user's `region` field (US-CA and US-NY share the US pack)."""
    return REGION_PACKS.get(region, "OTHER")


def reply_language(language: str) -> str:
    return ReplyLanguage.ZH_HANS if (language or "").lower().startswith("zh") else ReplyLanguage.EN


def safety_reply(*, level: str, categories: tuple[str, ...], language: str, region: str) -> SafetyReply:
    """The reply to show at `level` ("distress", "high_risk", "crisis" or "fallback").

    Picks the latest approved template for the first of `categories` that has one, else the
    level's generic template, for the user's language and region pack; without an approved one,
    a built-in text. Reads the database at most once per refresh interval (cached per version).
    """
    if level not in ReplyLevel.values:
        raise ValueError(f"unknown safety reply level {level!r}")
    pack, language = region_pack(region), reply_language(language)
    served = _templates.get() or {}
    for category in (*categories, ""):
        reply = served.get((level, category, language, pack))
        if reply is not None:
            return replace(reply, resources=tuple(dict(item) for item in reply.resources))
    return builtin_reply(level=level, categories=categories, language=language, pack=pack)


def _load_served() -> tuple[int, tuple]:
    with transaction.atomic():
        number = published_number(Library.SAFETY_REPLIES)
        rows = tuple(SafetyTemplate.objects.filter(status=Status.APPROVED).order_by("version").values_list(
            "id", "level", "category", "language", "region", "text", "resources", "version"))
    return number, rows


def _build_served(rows) -> dict[tuple[str, str, str, str], SafetyReply]:
    served = {}
    for template_id, level, category, language, region, text, resources, version in rows:  # oldest first
        key = (level, category, language, region)
        served[key] = SafetyReply(text=text, resources=tuple(dict(item) for item in resources),
                                  template_id=template_id, version=version, key=_key(*key))
    return served


_templates = VersionWatch(Library.SAFETY_REPLIES, _load_served, _build_served)


def _key(level: str, category: str, language: str, pack: str) -> str:
    return "/".join((level, category or "*", language, pack))


# --- Built-in texts: served only while no template is approved --------------------------------

def _builtin_resources(pack: str, *, property_loss: bool, distress: bool) -> tuple[dict, ...]:
    if pack == "CN":
        items = [{"name": gettext("National psychological assistance hotline"), "contact": "12356"}]
        if not distress:
            items += [{"name": gettext("Ambulance"), "contact": "120"}, {"name": gettext("Police"), "contact": "110"}]
        if property_loss:
            items.append({"name": gettext("Anti-fraud hotline"), "contact": "96110"})
        return tuple(items)
    if pack == "US":
        items = [{"name": gettext("988 Suicide & Crisis Lifeline (call or text)"), "contact": "988"},
                 {"name": gettext("Crisis Text Line (text HOME)"), "contact": "741741"}]
        return tuple(items + ([] if distress else [{"name": gettext("Emergency"), "contact": "911"}]))
    return ({"name": gettext("Emergency number"), "contact": "112"},)


def builtin_reply(*, level: str, categories: tuple[str, ...], language: str, pack: str) -> SafetyReply:
    property_loss = "property_loss" in categories and level != "distress"
    with translation.override(language):
        if property_loss:
            text = gettext(
                "It sounds like you may have been targeted by a scam or lost money. A person from our safety "
                "team is being brought in to help. Please stop all transfers now, never move money to a "
                "so-called \"safe account\", share no verification codes or passwords, call the police, and "
                "ask your bank to freeze the accounts involved. Your safety comes first.")
        elif level == "distress":
            text = gettext(
                "I'm sorry you're feeling this way. You don't have to carry it alone: talking with someone you "
                "trust, or with a counsellor, can really help. If you'd like to talk to someone now, the lines "
                "below are there to listen.")
        elif level == "fallback":
            text = gettext(
                "Our safety team is still on the way, so please don't wait: call one of the numbers below now. "
                "If you are in immediate danger, call the emergency number. Ask someone you trust to stay "
                "with you.")
        else:
            text = gettext(
                "I'm really worried about your safety, and you matter. A person from our safety team is being "
                "brought in to talk with you. If you are in danger right now, please call one of the numbers "
                "below.")
        resources = _builtin_resources(pack, property_loss=property_loss, distress=level == "distress")
    category = "property_loss" if property_loss else ""
    return SafetyReply(text=text, resources=resources, template_id=None, version=0,
                       key="builtin:" + _key(level, category, language, pack))


# --- Validation -------------------------------------------------------------------------------

def clean_template_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(gettext("Enter the reply text."), code="required")
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(gettext("The reply can be at most %(limit)d characters long.")
                              % {"limit": MAX_TEXT_CHARS}, code="too_long")
    return text


def clean_resources(resources) -> list[dict]:
    """A list of {"name", "contact"} with both present and short (contracts §5 crisis frame)."""
    if not isinstance(resources, list | tuple):
        raise ValidationError(gettext("Help resources must be a list."), code="invalid")
    if len(resources) > MAX_RESOURCES:
        raise ValidationError(gettext("At most %(limit)d help resources.") % {"limit": MAX_RESOURCES},
                              code="too_many")
    cleaned = []
    for item in resources:
        if not isinstance(item, dict):
            raise ValidationError(gettext("Each help resource needs a name and a contact."), code="invalid")
        name, contact = str(item.get("name", "")).strip(), str(item.get("contact", "")).strip()
        if not name or not contact:
            raise ValidationError(gettext("Each help resource needs a name and a contact."), code="invalid")
        if len(name) > MAX_RESOURCE_NAME or len(contact) > MAX_RESOURCE_CONTACT:
            raise ValidationError(gettext("A resource name can be at most %(name)d characters and a contact "
                                          "%(contact)d.") % {"name": MAX_RESOURCE_NAME,
                                                             "contact": MAX_RESOURCE_CONTACT}, code="too_long")
        cleaned.append({"name": name, "contact": contact})
    return cleaned


# --- Writes -----------------------------------------------------------------------------------

def _next_version(*, level: str, category: str, language: str, region: str) -> int:
    # Lock the key's rows (PostgreSQL refuses FOR UPDATE with an aggregate); the unique constraint
    # catches a first version raced by another first version.
    versions = SafetyTemplate.objects.select_for_update().filter(
        level=level, category=category, language=language, region=region).values_list("version", flat=True)
    return max(versions, default=0) + 1


@transaction.atomic(durable=True)
def create_template(*, author: User, level: str, category: str, language: str, region: str, text: str,
                    resources: list[dict], note: str = "") -> SafetyTemplate:
    """A draft for a (level, category, language, region) key, numbered after the key's latest version."""
    require_compliance(author)
    if level not in ReplyLevel.values:
        raise ValidationError(gettext("Unknown level."), code="invalid")
    version = _next_version(level=level, category=category, language=language, region=region)
    template = SafetyTemplate.objects.create(
        level=level, category=category, language=language, region=region, text=clean_template_text(text),
        resources=clean_resources(resources), note=note, version=version, author=author, status=Status.DRAFT)
    audit_entry("library.template_created", author, template)
    return template


@transaction.atomic(durable=True)
def draft_new_version(*, author: User, template_id: int, text: str, resources: list[dict],
                      note: str = "") -> SafetyTemplate:
    """A draft of the next version of `template_id`'s key; the served version is unchanged."""
    require_compliance(author)
    source = SafetyTemplate.objects.get(pk=template_id)
    version = _next_version(level=source.level, category=source.category, language=source.language,
                            region=source.region)
    template = SafetyTemplate.objects.create(
        level=source.level, category=source.category, language=source.language, region=source.region,
        text=clean_template_text(text), resources=clean_resources(resources), note=note, version=version,
        author=author, status=Status.DRAFT)
    audit_entry("library.template_created", author, template)
    return template


@transaction.atomic(durable=True)
def update_template(*, user: User, template_id: int, text: str, resources: list[dict],
                    note: str = "") -> SafetyTemplate:
    """Edit a draft; the editor becomes its author, so the editor cannot approve it either."""
    require_compliance(user)
    template = SafetyTemplate.objects.select_for_update().get(pk=template_id)
    if template.status != Status.DRAFT:
        raise ApprovalRefused(gettext("Only drafts can be edited. Write a new version instead."))
    template.text, template.resources = clean_template_text(text), clean_resources(resources)
    template.note, template.author = note, user
    template.save()
    audit_entry("library.template_updated", user, template)
    return template


@transaction.atomic(durable=True)
def approve_template(*, approver: User, template_id: int) -> SafetyTemplate:
    """Two-person approval (CN-CRI-03): the approved version is served everywhere within the
    refresh interval if it is the key's latest approved one."""
    template = SafetyTemplate.objects.select_for_update().get(pk=template_id)
    check_can_approve(template, approver)
    template.status, template.approver, template.approved_at = Status.APPROVED, approver, timezone.now()
    template.save(update_fields=["status", "approver", "approved_at", "updated_at"])
    publish_version(library=Library.SAFETY_REPLIES, user=approver,
                    summary=f"approved template #{template.pk}: {template.key} v{template.version}")
    audit_entry("library.template_approved", approver, template)
    return template


@transaction.atomic(durable=True)
def retire_template(*, user: User, template_id: int) -> SafetyTemplate:
    """Withdraw a version (or discard a draft); the key's previous approved version, if any, is
    served again, else the built-in text."""
    require_compliance(user)
    template = SafetyTemplate.objects.select_for_update().get(pk=template_id)
    if template.status == Status.RETIRED:
        raise ApprovalRefused(gettext("This template is already retired."))
    retire_entry(template, user=user, library=Library.SAFETY_REPLIES,
                 summary=f"retired template #{template.pk}: {template.key} v{template.version}")
    audit_entry("library.template_retired", user, template)
    return template


# --- Reads ------------------------------------------------------------------------------------

def safety_templates(*, level: str = "", language: str = "", region: str = "", status: str = "") -> QuerySet:
    templates = SafetyTemplate.objects.select_related("author", "approver", "retired_by")
    for field, value in (("level", level), ("language", language), ("region", region), ("status", status)):
        if value:
            templates = templates.filter(**{field: value})
    return templates


def served_template_ids() -> set[int]:
    """The version of each key that chat serves now: its latest approved one."""
    served: dict[tuple, tuple[int, int]] = {}
    for pk, level, category, language, region, version in SafetyTemplate.objects.filter(
            status=Status.APPROVED).values_list("id", "level", "category", "language", "region", "version"):
        key = (level, category, language, region)
        if key not in served or served[key][1] < version:
            served[key] = (pk, version)
    return {pk for pk, _version in served.values()}
