"""Reads. `access_*` raise one error for "missing" and "not yours" alike (STYLE.md §2)."""
from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.policies import AgeBand
from companion.models import (ADULT_ONLY_ROLES, START_NOTICE_PREFIX, Character, CharacterRole, Conversation, Message,
                              Reminder, ReminderKind, UsageClock)
from companion.policies import may_open_character
from guardians.selectors import blocked_slugs


class CharacterUnavailable(Exception):
    """No such character, or not one this user may open."""


class CharacterBlocked(CharacterUnavailable):
    """CN-MIN-09: the user's guardian turned this character off (a 403 that says so, not a 404)."""


class ConversationNotFound(Exception):
    """No such conversation, or not this user's."""


def characters_for(user: User) -> QuerySet[Character]:
    characters = Character.objects.filter(is_active=True)
    if user.is_authenticated and user.is_minor:
        characters = characters.exclude(role__in=ADULT_ONLY_ROLES).exclude(slug__in=blocked_slugs(user))
    if user.is_authenticated and user.age_band == AgeBand.ELDERLY:  # CN-ELD-03: no virtual relatives for 60+
        characters = characters.exclude(role=CharacterRole.RELATIVE)
    return characters


def minor_characters(language: str) -> list[tuple[str, str]]:
    """CN-MIN-09: what a guardian may turn off, `[(slug, name)]` in `language`: every character a minor
    could open (active, not adult-only). Registered in guardians.catalogue by CompanionConfig.ready()."""
    characters = Character.objects.filter(is_active=True).exclude(role__in=ADULT_ONLY_ROLES)
    return [(character.slug, character.name_for(language)) for character in characters]


def access_character_by_slug(user: User, slug: str) -> Character:
    """Raises CharacterUnavailable for unknown characters and ones this user may not open, and its
    subclass CharacterBlocked for one the minor's guardian turned off (checked last, so an adult-only
    or unknown slug never reads as blocked)."""
    character = Character.objects.filter(slug=slug).first()
    if character is None or not may_open_character(
            user_is_minor=user.is_minor, character_is_adult_only=character.is_adult_only,
            character_is_active=character.is_active, user_is_elderly=user.age_band == AgeBand.ELDERLY,
            character_is_relative=character.role == CharacterRole.RELATIVE):
        raise CharacterUnavailable(slug)
    if slug in blocked_slugs(user):
        raise CharacterBlocked(slug)
    return character


def access_conversation_by_id(user: User, conversation_id: int, *, lock: bool = False,
                              annotate: dict | None = None) -> Conversation:
    queryset = Conversation.objects.select_related("character").annotate(**(annotate or {}))
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(pk=conversation_id, user=user)
    except Conversation.DoesNotExist:
        raise ConversationNotFound(conversation_id) from None


def access_current_conversation(user: User, character_slug: str) -> Conversation:
    """The user's current (unarchived) conversation with a character they may open.

    Raises CharacterUnavailable for unknown characters and ones this user may not open, and
    ConversationNotFound when the user has not started one; never reaches another user's rows.
    """
    character = access_character_by_slug(user, character_slug)
    try:
        return Conversation.objects.select_related("character").get(user=user, character=character,
                                                                    archived_at=None)
    except Conversation.DoesNotExist:
        raise ConversationNotFound(character_slug) from None


def conversation_messages(conversation: Conversation) -> list[Message]:
    """Every message of the conversation, oldest first (exports hold all of them: CN-DAT-04)."""
    return list(conversation.messages.order_by("created_at", "id"))


def conversation_history(conversation: Conversation, *, limit: int | None = None) -> list[Message]:
    """The latest `limit` messages, oldest first."""
    limit = limit or settings.COMPANION_HISTORY_LIMIT
    latest = conversation.messages.order_by("-created_at", "-id")[:limit]
    return list(reversed(latest))


def pending_reminders(user: User, *, start_notice_key: str | None) -> list[Reminder]:
    """Unacknowledged pop-ups that still make sense: this login's (or today's) start notice, and
    periodic reminders of the current usage streak (one from an ended streak would tell a stale time)."""
    clock = UsageClock.objects.filter(user=user).first()
    current = Q(key=start_notice_key) if start_notice_key else Q(pk__in=[])
    if clock is not None and clock.streak_started_at is not None:
        current |= Q(created_at__gte=clock.streak_started_at) & ~Q(key__startswith=START_NOTICE_PREFIX)
    # A time-limit or rest-hours pop-up (CN-MIN-10) belongs to the moment chat closed, not to a later opening.
    return list(Reminder.objects.filter(current, user=user, acknowledged_at__isnull=True)
                .exclude(kind__in=(ReminderKind.TIME_LIMIT, ReminderKind.CURFEW)))
