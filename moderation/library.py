"""The feature library (特征库, CN-CON-03): its screening stage, live reload and the writes that change it.

Entry procedure: anyone with the compliance role writes a draft; a *different* compliance
officer approves it (two-person rule); only approved terms of the current published version
match. Approving or retiring publishes a new `LibraryVersion`; every process notices within
`MODERATION_LIBRARY_REFRESH_SECONDS` (default 60 s, well inside the 5 minutes CN-CON-03 allows)
and rebuilds its automaton.
"""
from __future__ import annotations

import asyncio
import logging
import re
import re._parser as sre_parse  # the stdlib's own regex parser, to spot nested quantifiers
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import ahocorasick
import opencc
from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from accounts import audit
from accounts.models import Role, User
from moderation.models import FeatureTerm, Library, LibraryVersion, MatchKind, Status
from moderation.pipeline import Finding, ScreeningInput
from moderation.stages import Normalise

logger = logging.getLogger(__name__)

MAX_TERM_CHARS = 200
MIN_LITERAL_CHARS = 2  # one character ("死") would flag ordinary text
LEVEL_ORDER = ("distress", "high_risk", "crisis")


class ApprovalRefused(Exception):
    """The two-person rule or the entry's state forbids the change; the message is for the user."""


# --- Reading the database from any caller ----------------------------------------------------

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def read_db(func: Callable[[], Any]) -> Any:
    """Run a short read now, also when called from an event loop.

    Screening runs inside the chat server's event loop (moderation.streaming), where Django
    forbids queries; there the read runs on one dedicated thread and the loop waits for it. That
    happens once per refresh interval at most, so the wait is rare and short.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return func()
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moderation-library")
    return _executor.submit(_with_fresh_connection, func).result()


def _with_fresh_connection(func: Callable[[], Any]) -> Any:
    close_old_connections()
    return func()


# --- Versions ---------------------------------------------------------------------------------

def refresh_seconds() -> float:
    return float(getattr(settings, "MODERATION_LIBRARY_REFRESH_SECONDS", 60))


def _cache_key(library: str) -> str:
    return f"moderation:library:{library}:version"


def published_number(library: str) -> int:
    """The newest published version of `library` in the database (0 before the first)."""
    latest = LibraryVersion.objects.filter(library=library).order_by("-number").values_list("number", flat=True)
    return latest.first() or 0


def _announced_number(library: str) -> int:
    """The current version, from the shared cache when it holds one, else from the database."""
    number = django_cache.get(_cache_key(library))
    if number is None:
        with transaction.atomic():  # a savepoint inside a caller's transaction: a failure leaves it usable
            number = published_number(library)
        django_cache.set(_cache_key(library), number, timeout=max(refresh_seconds(), 1))
    return number


class VersionWatch:
    """Something built from one published library version, rebuilt when the version changes.

    `load()` reads the database and returns (version number, rows); `build(rows)` is pure. The
    version is checked at most every `refresh_seconds()`: between checks `get()` is a clock
    comparison. A failing reload keeps the last good build and logs the error; with no build yet
    it retries on the next call. A library whose table does not exist yet builds empty.
    """

    def __init__(self, library: str, load: Callable[[], tuple[int, Any]], build: Callable[[Any], Any]):
        self.library, self.load, self.build = library, load, build
        self.value: Any = None
        self.number: int | None = None
        self.next_check = 0.0
        self.lock = threading.Lock()
        _WATCHES.append(self)

    def get(self) -> Any:
        if time.monotonic() < self.next_check:
            return self.value
        with self.lock:
            now = time.monotonic()
            if now >= self.next_check:
                self._refresh(now)
            return self.value

    def _refresh(self, now: float) -> None:
        try:
            number = read_db(lambda: _announced_number(self.library))
            if number != self.number or self.value is None:
                loaded_number, rows = read_db(self.load)
                self.value, self.number = self.build(rows), loaded_number
                if loaded_number != number:  # the cache was stale; the database is the truth
                    django_cache.set(_cache_key(self.library), loaded_number, timeout=max(refresh_seconds(), 1))
        except DatabaseError:
            if self._table_exists():
                logger.exception("Reloading the %s library failed; keeping version %s", self.library, self.number)
                if self.value is None:
                    return  # nothing built yet: retry on the next call
            else:
                logger.warning("The %s library is not migrated yet; screening without it", self.library)
                self.value, self.number = self.build(()), 0
        except Exception:
            # Screening must go on with the other stages; the error is logged loudly.
            logger.exception("Reloading the %s library failed; keeping version %s", self.library, self.number)
            if self.value is None:
                return
        self.next_check = now + refresh_seconds()

    def _table_exists(self) -> bool:
        try:
            return read_db(lambda: LibraryVersion._meta.db_table in connection.introspection.table_names())
        except DatabaseError:
            return True

    def reset(self) -> None:
        with self.lock:
            self.next_check = 0.0
            self.number = None


_WATCHES: list[VersionWatch] = []


def reset_caches() -> None:
    """Forget every loaded library version in this process and the shared cache, so the next
    screening or safety reply reloads from the database (tests; operators after a restore)."""
    for library in Library.values:
        django_cache.delete(_cache_key(library))
    for watch in _WATCHES:
        watch.reset()


@transaction.atomic
def publish_version(*, library: str, user: User | None, summary: str) -> LibraryVersion:
    """Append the next version of `library`; running processes reload after commit."""
    latest = (LibraryVersion.objects.select_for_update().filter(library=library).order_by("-number").first())
    version = LibraryVersion.objects.create(library=library, number=(latest.number if latest else 0) + 1,
                                            published_by=user, summary=summary[:300])

    def announce():
        django_cache.set(_cache_key(library), version.number, timeout=max(refresh_seconds(), 1))
        for watch in _WATCHES:
            if watch.library == library:
                watch.next_check = 0.0  # this process reloads at once; others within the interval

    transaction.on_commit(announce)
    return version


# --- The two-person rule (shared with moderation.safety_replies) ------------------------------

def require_compliance(user: User) -> None:
    if not (user.is_authenticated and user.has_role(Role.COMPLIANCE)):
        raise PermissionDenied(gettext("Only compliance officers may change the library."))


def check_can_approve(entry, approver: User) -> None:
    """CN-CON-03, CN-CRI-03: a draft takes effect only when a compliance officer other than its
    author approves it."""
    require_compliance(approver)
    if entry.status != Status.DRAFT:
        raise ApprovalRefused(gettext("Only drafts can be approved; this entry is %(status)s.")
                              % {"status": entry.get_status_display()})
    if entry.author_id == approver.pk:
        raise ApprovalRefused(gettext("Two-person rule: the author of a draft cannot approve it. "
                                      "Another compliance officer must review it."))


# --- Validating terms -------------------------------------------------------------------------

def normalise(text: str) -> str:
    """The pipeline's own normaliser, so stored terms and screened text compare alike."""
    return Normalise().prepare(ScreeningInput(text=text, direction="inbound")).normalised


_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)}


def _walk(parsed):
    """Every (op, argument) of a parsed pattern, depth first."""
    for op, av in parsed:
        yield op, av
        for sub in _children(op, av):
            yield from _walk(sub)


def _children(op, av) -> list:
    if op in _REPEATS:
        return [av[2]]
    if op == sre_parse.SUBPATTERN:
        return [av[-1]]
    if op == sre_parse.BRANCH:
        return list(av[1])
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return [av[1]]
    if op == sre_parse.GROUPREF_EXISTS:
        return [branch for branch in av[1:] if branch is not None]
    if op == getattr(sre_parse, "ATOMIC_GROUP", None):
        return [av]
    return []


def _nested_repeat(parsed, inside: bool = False) -> bool:
    """A repeat (more than once) inside another: the shape of catastrophic backtracking."""
    for op, av in parsed:
        if op in _REPEATS:
            many = av[1] == sre_parse.MAXREPEAT or av[1] > 1
            if (inside and many) or _nested_repeat(av[2], inside or many):
                return True
        elif any(_nested_repeat(sub, inside) for sub in _children(op, av)):
            return True
    return False


def clean_term_text(text: str, match_kind: str) -> str:
    """The text to store for a term, or ValidationError with a message for the editor.

    Literal terms are stored normalised. Regular expressions must compile, may not match empty
    text, use named groups, backreferences or inline flags, or nest quantifiers like `(a+)+`.
    """
    text = (text or "").strip()
    if not text:
        raise ValidationError(gettext("Enter the term."), code="required")
    if len(text) > MAX_TERM_CHARS:
        raise ValidationError(gettext("A term can be at most %(limit)d characters long.")
                              % {"limit": MAX_TERM_CHARS}, code="too_long")
    if match_kind == MatchKind.LITERAL:
        stored = normalise(text)
        if len(stored) < MIN_LITERAL_CHARS:
            raise ValidationError(gettext("A literal term needs at least %(limit)d characters.")
                                  % {"limit": MIN_LITERAL_CHARS}, code="too_short")
        return stored
    try:
        compiled = re.compile(text, re.IGNORECASE)
        parsed = sre_parse.parse(text, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as error:
        raise ValidationError(gettext("This regular expression does not compile: %(error)s") % {"error": error},
                              code="regex_invalid") from None
    if parsed.state.groupdict:
        raise ValidationError(gettext("Named groups are not allowed; use (?:…) for grouping."), code="regex_named")
    if any(op in (sre_parse.GROUPREF, sre_parse.GROUPREF_EXISTS) for op, _av in _walk(parsed)):
        raise ValidationError(gettext("Backreferences are not allowed."), code="regex_backreference")
    try:
        re.compile(f"(?P<t0>{text})|(?P<t1>x)", re.IGNORECASE)  # as the stage combines patterns
    except re.error:
        raise ValidationError(gettext("Inline flags such as (?i) are not allowed; matching ignores case already."),
                              code="regex_flags") from None
    if _nested_repeat(parsed):
        raise ValidationError(gettext("Nested quantifiers such as (a+)+ can make matching take forever; "
                                      "rewrite the pattern without them."), code="regex_catastrophic")
    if compiled.match("") is not None:
        raise ValidationError(gettext("This regular expression matches empty text, so it would match everything."),
                              code="regex_empty")
    return text


# --- The stage --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    id: int
    text: str
    category: str
    level: str
    direction: str
    language: str
    weight: float

    def applies(self, direction: str, languages: frozenset[str]) -> bool:
        return self.direction in (direction, "both") and self.language in languages


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\W_]+")  # spacing and filler used to split a word past a filter: 自 杀, 自.杀


@cache
def _traditional_converters() -> tuple:
    return tuple(opencc.OpenCC(config) for config in ("s2t", "s2tw", "s2hk"))


def _variants(key: str) -> set[str]:
    """Traditional spellings of a simplified term, in case the text escaped normalisation."""
    if not _CJK.search(key):
        return {key}
    return {key} | {converter.convert(key) for converter in _traditional_converters()}


def _ascii_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


class CompiledLibrary:
    """Approved terms of one version: one Aho-Corasick automaton for literals (and one over
    separator-free text for Chinese terms), one regex alternation for patterns. Pure."""

    def __init__(self, terms: tuple[tuple[Term, str], ...]):
        self.literal = ahocorasick.Automaton()
        self.compact = ahocorasick.Automaton()
        patterns: list[str] = []
        self.regex_terms: dict[str, Term] = {}
        for term, kind in terms:
            if kind == MatchKind.REGEX:
                name = f"t{term.id}"
                patterns.append(f"(?P<{name}>{term.text})")
                self.regex_terms[name] = term
                continue
            key = normalise(term.text)
            for variant in _variants(key):
                _add(self.literal, variant, term)
                if _CJK.search(variant):
                    _add(self.compact, _SEPARATORS.sub("", variant), term)
        self.has_literal = len(self.literal) > 0
        self.has_compact = len(self.compact) > 0
        if self.has_literal:
            self.literal.make_automaton()
        if self.has_compact:
            self.compact.make_automaton()
        self.regex = _compile_alternation(patterns, self.regex_terms)

    def matches(self, text: str) -> list[tuple[Term, str]]:
        found: list[tuple[Term, str]] = []
        if self.has_literal:
            for end, (key, terms) in self.literal.iter(text):
                start = end - len(key) + 1
                if _ascii_word_char(key[0]) and start > 0 and _ascii_word_char(text[start - 1]):
                    continue
                if _ascii_word_char(key[-1]) and end + 1 < len(text) and _ascii_word_char(text[end + 1]):
                    continue
                found += [(term, key) for term in terms]
        if self.has_compact and _CJK.search(text):
            for _end, (key, terms) in self.compact.iter(_SEPARATORS.sub("", text)):
                found += [(term, key) for term in terms]
        if self.regex is not None:
            for match in self.regex.finditer(text):
                found.append((self.regex_terms[match.lastgroup], match.group(0)))
        return found


def _add(automaton, key: str, term: Term) -> None:
    if not key:
        return
    existing = automaton.get(key, None)
    automaton.add_word(key, (key, (existing[1] if existing else ()) + (term,)))


def _compile_alternation(patterns: list[str], regex_terms: dict[str, Term]) -> re.Pattern | None:
    if not patterns:
        return None
    try:
        return re.compile("|".join(patterns), re.IGNORECASE)
    except re.error:
        # A pattern approved before today's validation rules: drop only the ones that fail alone.
        good = []
        for pattern in patterns:
            try:
                re.compile(pattern, re.IGNORECASE)
                good.append(pattern)
            except re.error:
                logger.error("Skipping feature-library pattern that does not compile: %s", pattern)
        return re.compile("|".join(good), re.IGNORECASE) if good else None


def _load_terms() -> tuple[int, tuple]:
    with transaction.atomic():
        number = published_number(Library.FEATURES)
        rows = FeatureTerm.objects.filter(status=Status.APPROVED).values_list(
            "id", "text", "category", "level", "direction", "language", "weight", "match_kind")
        terms = tuple((Term(*row[:7]), row[7]) for row in rows)
    return number, terms


_library = VersionWatch(Library.FEATURES, _load_terms, CompiledLibrary)


class FeatureLibrary:
    """Screening stage (settings MODERATION_STAGES): approved terms and patterns of the feature
    library, matched on the normalised text (CN-CON-03; categories per contracts §6)."""

    def assess(self, item: ScreeningInput) -> Finding | None:
        library: CompiledLibrary | None = _library.get()
        if library is None:
            return None
        text = item.normalised or item.text
        hits = library.matches(text)
        if not hits:
            return None
        languages = _languages(item.language, text)
        hits = [(term, key) for term, key in hits if term.applies(item.direction, languages)]
        if not hits:
            return None
        terms = {term.id: term for term, _key in hits}
        categories = tuple(dict.fromkeys(term.category for term in terms.values()))
        level = max((term.level for term in terms.values()), key=LEVEL_ORDER.index)
        score = min(1.0, sum(term.weight for term in terms.values()))
        evidence = tuple(dict.fromkeys(key for _term, key in hits))
        return Finding(stage="feature_library", categories=categories, score=score, level=level, evidence=evidence)

    def version(self) -> str:
        return str(_library.number or 0)


def _languages(language: str, text: str) -> frozenset[str]:
    """Term languages that apply: the writer's language, plus any whose script the text uses
    (a Chinese-interface user may well write English)."""
    languages = {"any"}
    if language.startswith("zh") or _CJK.search(text):
        languages.add("zh")
    if language.startswith("en") or _LATIN.search(text):
        languages.add("en")
    return frozenset(languages)


# --- Writes -----------------------------------------------------------------------------------

TERM_FIELDS = ("text", "match_kind", "category", "level", "direction", "language", "weight", "note")


@transaction.atomic(durable=True)
def create_term(*, author: User, text: str, match_kind: str, category: str, level: str, direction: str,
                language: str, weight: float, note: str = "") -> FeatureTerm:
    """A new draft; it has no effect until another compliance officer approves it."""
    require_compliance(author)
    term = FeatureTerm.objects.create(
        text=clean_term_text(text, match_kind), match_kind=match_kind, category=category, level=level,
        direction=direction, language=language, weight=weight, note=note, author=author, status=Status.DRAFT)
    audit_entry("library.term_created", author, term)
    return term


@transaction.atomic(durable=True)
def update_term(*, user: User, term_id: int, text: str, match_kind: str, category: str, level: str,
                direction: str, language: str, weight: float, note: str = "") -> FeatureTerm:
    """Edit a draft. The editor becomes its author, so the editor cannot approve it either."""
    require_compliance(user)
    term = FeatureTerm.objects.select_for_update().get(pk=term_id)
    if term.status != Status.DRAFT:
        raise ApprovalRefused(gettext("Only drafts can be edited. Retire the term and write a new draft instead."))
    term.text = clean_term_text(text, match_kind)
    term.match_kind, term.category, term.level = match_kind, category, level
    term.direction, term.language, term.weight, term.note = direction, language, weight, note
    term.author = user
    term.save()
    audit_entry("library.term_updated", user, term)
    return term


@transaction.atomic(durable=True)
def approve_term(*, approver: User, term_id: int) -> FeatureTerm:
    """Two-person approval (CN-CON-03); publishes a new library version that every process loads
    within the refresh interval."""
    term = FeatureTerm.objects.select_for_update().get(pk=term_id)
    check_can_approve(term, approver)
    term.status, term.approver, term.approved_at = Status.APPROVED, approver, timezone.now()
    term.save(update_fields=["status", "approver", "approved_at", "updated_at"])
    publish_version(library=Library.FEATURES, user=approver,
                    summary=f"approved term #{term.pk}: {term.text} ({term.category}, {term.level})")
    audit_entry("library.term_approved", approver, term)
    return term


@transaction.atomic(durable=True)
def retire_term(*, user: User, term_id: int) -> FeatureTerm:
    """Take a term out of use (or discard a draft). Retiring an approved term publishes a version."""
    require_compliance(user)
    term = FeatureTerm.objects.select_for_update().get(pk=term_id)
    if term.status == Status.RETIRED:
        raise ApprovalRefused(gettext("This term is already retired."))
    retire_entry(term, user=user, library=Library.FEATURES,
                 summary=f"retired term #{term.pk}: {term.text} ({term.category}, {term.level})")
    audit_entry("library.term_retired", user, term)
    return term


def audit_entry(action: str, user: User, entry) -> None:
    """The audit row for a library decision (BX-11): which entry, its status and the published
    version it produced, if any; the entry's own text stays in the library's version history."""
    audit.record(action, actor=user, subject_type=entry._meta.model_name, subject_id=entry.pk,
                 data={"status": entry.status, "category": entry.category, "level": entry.level,
                       "language": entry.language})


def retire_entry(entry, *, user: User, library: str, summary: str):
    """Retire a locked term or template; retiring an approved one publishes a version of `library`."""
    was_live = entry.status == Status.APPROVED
    entry.status, entry.retired_by, entry.retired_at = Status.RETIRED, user, timezone.now()
    entry.save(update_fields=["status", "retired_by", "retired_at", "updated_at"])
    if was_live:
        publish_version(library=library, user=user, summary=summary)
    return entry


# --- Reads ------------------------------------------------------------------------------------

def feature_terms(*, category: str = "", status: str = "", language: str = "", query: str = "") -> QuerySet:
    terms = FeatureTerm.objects.select_related("author", "approver", "retired_by")
    if category:
        terms = terms.filter(category=category)
    if status:
        terms = terms.filter(status=status)
    if language:
        terms = terms.filter(language=language)
    if query:
        terms = terms.filter(Q(text__icontains=query) | Q(text__icontains=normalise(query)) | Q(note__icontains=query))
    return terms


def library_versions(library: str) -> QuerySet:
    return LibraryVersion.objects.filter(library=library).select_related("published_by")

