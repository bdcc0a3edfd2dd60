"""The read-only regulator site at /regulator/ (CN-GOV-06, BX-09; figures for CN-GOV-03, CN-GOV-04).

A Django `AdminSite` for accounts in the `regulator` group: characters and their persona prompts,
the feature library and safety replies with their versions, crisis cases with their timelines and
takeovers, safety notifications, sanctions and the audit log, plus a dashboard and the downloadable
security self-assessment report built from live data (`companion.regulator_figures`).

Read-only twice over: the site answers GET and HEAD only, any other method gets 403 (signing
out is the one POST), and every model admin refuses add, change and delete and has no actions.
Every page a regulator opens is written to the audit log (`regulator.viewed`, with the page's URL
name).

Personal data only as the review needs it (CN-GOV-06): users appear by pseudonym
(`companion.sanctions.pseudonym`), staff by their public staff number; no chat text, no contact
addresses, no notification bodies, no IP addresses and no text staff wrote about a person (hand-back
notes, follow-ups, call notes) are shown here.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import update_wrapper
from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import display_for_value
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Exists, OuterRef, Subquery
from django.db.models.functions import Cast
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy as _

from accounts import audit
from accounts.models import AuditEvent, Role
from accounts.policies import AgeBand
from accounts.selectors import staff_accounts
from companion import regulator_figures as figures
from companion.complaints import complaint_stats, overdue_reason
from companion.models import (CaseEvent, CaseEventKind, Character, Complaint, ComplaintCategory, ComplaintKind,
                              CrisisCase, DrillRun, Sanction, SanctionKind)
from companion.protocol import staff_number
from companion.sanctions import pseudonym
from guardians.models import Notification
from moderation import admin as moderation_admin
from moderation.models import FeatureTerm, Library, LibraryVersion, SafetyTemplate

READ_METHODS = ("GET", "HEAD")

# CN-GOV-03: a security assessment is due at these user numbers; the dashboard warns from 80 %.
REGISTERED_THRESHOLD = 1_000_000
MONTHLY_ACTIVE_THRESHOLD = 100_000
ALERT_SHARE = 0.8
CRISIS_MONTHS = 6


# --- thresholds (pure) ----------------------------------------------------------------------------

def threshold_flag(value: int, threshold: int) -> str:
    """CN-GOV-03: "required" at or over the threshold, "approaching" from 80 %, else "below"."""
    if value >= threshold:
        return "required"
    if value >= threshold * ALERT_SHARE:
        return "approaching"
    return "below"


def flag_text(flag: str, threshold: int) -> str:
    number = f"{threshold:,}"
    if flag == "required":
        return gettext("At or over %(threshold)s: security assessment required") % {"threshold": number}
    if flag == "approaching":
        return gettext("Over 80%% of %(threshold)s: prepare the security assessment") % {"threshold": number}
    return gettext("Below the %(threshold)s threshold") % {"threshold": number}


# --- what the dashboard and the report show -------------------------------------------------------

@dataclass(frozen=True)
class Row:
    key: str  # stable name for the figure (data-figure in the HTML)
    label: str
    value: object
    flag: str = ""  # a threshold flag (see threshold_flag), for the report's markers
    note: str = ""


BAR_PITCH, BAR_HEIGHT, BAR_X, BAR_MAX = 26, 18, 180, 280  # SVG geometry, in px


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    width: float  # px
    y: int  # top of the bar

    @property
    def text_y(self) -> int:
        return self.y + BAR_HEIGHT - 4

    @property
    def value_x(self) -> float:
        return BAR_X + self.width + 6


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart drawn server-side as SVG: the site's CSP allows no script or inline
    style, and the report must print without the network."""
    title: str
    bars: tuple[Bar, ...]
    marker: float | None = None  # x of a reference line (the 80 % alert of a threshold chart)
    bar_x: int = BAR_X
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return BAR_PITCH * len(self.bars) + 4


def chart(title: str, values: list[tuple[str, float]], *, scale: float | None = None,
          marker: float | None = None) -> Chart:
    """Bars for `values`; the longest (or `scale`, e.g. 100 for percentages) spans the chart; a
    `marker` value draws a reference line."""
    top = scale if scale is not None else max((value for _, value in values), default=0)

    def x(value: float) -> float:
        return round(BAR_MAX * min(1.0, value / top), 1) if top else 0.0

    return Chart(title=title, marker=BAR_X + x(marker) if marker is not None else None, bars=tuple(
        Bar(label=label, value=value, width=x(value), y=index * BAR_PITCH + 2)
        for index, (label, value) in enumerate(values)))


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    obligations: str
    rows: tuple[Row, ...] = ()
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The moment every section describes, so one report is consistent with itself."""
    now: dt.datetime
    today: dt.date = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "today", timezone.localdate(self.now))


def user_scale_section(snapshot: Snapshot) -> Section:
    scale = figures.user_scale(now=snapshot.now)
    registered_flag = threshold_flag(scale.registered, REGISTERED_THRESHOLD)
    active_flag = threshold_flag(scale.monthly_active, MONTHLY_ACTIVE_THRESHOLD)
    return Section(
        key="users", title=gettext("User scale and usage"), obligations="CN-GOV-03, CN-GOV-04",
        rows=(Row("registered", gettext("Registered users"), scale.registered, registered_flag,
                  flag_text(registered_flag, REGISTERED_THRESHOLD)),
              Row("monthly_active", gettext("Monthly active users (wrote in the last 30 days)"),
                  scale.monthly_active, active_flag, flag_text(active_flag, MONTHLY_ACTIVE_THRESHOLD)),
              Row("messages", gettext("Messages users wrote in the last 30 days"), scale.messages)),
        charts=(chart(gettext("Share of the assessment thresholds (%)"), [
            (gettext("Registered users"), round(100 * scale.registered / REGISTERED_THRESHOLD, 3)),
            (gettext("Monthly active users"), round(100 * scale.monthly_active / MONTHLY_ACTIVE_THRESHOLD, 3)),
        ], scale=100, marker=100 * ALERT_SHARE),),
        notes=(gettext("Users are active accounts of people using the service; staff and crisis-drill accounts "
                       "are not counted."),))


AGE_LABELS = {AgeBand.CHILD: _("Under 14"), AgeBand.MINOR: _("14 to 17"), AgeBand.ADULT: _("18 to 59"),
              AgeBand.ELDERLY: _("60 and over")}


def age_section(snapshot: Snapshot) -> Section:
    bands = figures.age_structure(today=snapshot.today)
    minors = bands[AgeBand.CHILD] + bands[AgeBand.MINOR]
    return Section(
        key="ages", title=gettext("Age structure, minors and the elderly"), obligations="CN-GOV-04",
        rows=(Row("minors", gettext("Minors (under 18)"), minors),
              *(Row(f"age_{band}", str(AGE_LABELS[band]), bands[band]) for band in AgeBand)),
        charts=(chart(gettext("Users by age"), [(str(AGE_LABELS[band]), bands[band]) for band in AgeBand]),),
        notes=(gettext("Ages are computed from the declared date of birth; accounts without one count as "
                       "18 to 59."),))


def _seconds(summary: dict, key: str) -> object:
    value = summary.get(key)
    return "—" if value is None else round(value, 1)


def crisis_section(snapshot: Snapshot) -> Section:
    months = figures.crisis_months(now=snapshot.now, count=CRISIS_MONTHS)
    rows = tuple((month["month"], month["cases_opened"], month["takeovers"], month["sla_misses"],
                  _seconds(month["seconds_to"]["safety_reply"], "median"),
                  _seconds(month["seconds_to"]["claimed"], "median"), _seconds(month["seconds_to"]["claimed"], "p90"),
                  _seconds(month["seconds_to"]["contact_notified"], "median"))
                 for month in months)
    return Section(
        key="crisis", title=gettext("Risk identification and emergency handling"),
        obligations="CN-GOV-04, CN-CRI-10",
        tables=(Table(headers=(gettext("Month"), gettext("Cases opened"), gettext("Taken over by staff"),
                               gettext("Unclaimed in time"), gettext("Median seconds to the safety reply"),
                               gettext("Median seconds to takeover"), gettext("90th percentile seconds to takeover"),
                               gettext("Median seconds to notify a contact")), rows=rows),),
        charts=(chart(gettext("Crisis cases opened per month"), [(m["month"], m["cases_opened"]) for m in months]),
                chart(gettext("Median seconds to takeover per month"),
                      [(m["month"], m["seconds_to"]["claimed"]["median"] or 0) for m in months])),
        notes=(gettext("Times run from the message that raised the risk. Crisis drills are not counted."),))


def intervention_section(snapshot: Snapshot) -> Section:
    handled = figures.interventions(now=snapshot.now)
    return Section(
        key="interventions", title=gettext("Human intervention (takeovers)"), obligations="CN-GOV-04, CN-CRI-05",
        rows=(Row("cases_total", gettext("Crisis cases, all time"), handled.cases_total),
              Row("cases_recent", gettext("Crisis cases opened in the last 30 days"), handled.cases_recent),
              Row("cases_open", gettext("Crisis cases open now"), handled.open_cases),
              Row("takeovers_total", gettext("Takeovers by staff, all time"), handled.takeovers_total),
              Row("takeovers_recent", gettext("Takeovers by staff in the last 30 days"), handled.takeovers_recent)))


def sanctions_section(snapshot: Snapshot) -> Section:
    counts = figures.sanction_counts(now=snapshot.now)
    labels = {SanctionKind.RESTRICT: gettext("Restricted"), SanctionKind.SUSPEND: gettext("Suspended"),
              SanctionKind.TERMINATE: gettext("Terminated")}
    return Section(
        key="sanctions", title=gettext("Measures against users"), obligations="CN-CRI-09",
        tables=(Table(headers=(gettext("Measure"), gettext("Imposed, all time"), gettext("In force now")),
                      rows=tuple((labels[kind], counts[kind]["imposed"], counts[kind]["active"])
                                 for kind in SanctionKind)),))


def _version_text(version: LibraryVersion | None) -> str:
    return f"v{version.number} ({timezone.localtime(version.published_at):%Y-%m-%d})" if version else "—"


def safety_section(snapshot: Snapshot) -> Section:
    measures = figures.safety_measures()
    names = {Library.FEATURES: gettext("Feature library version"),
             Library.SAFETY_REPLIES: gettext("Safety reply templates version")}
    return Section(
        key="safety", title=gettext("Safety measures in force"), obligations="CN-GOV-04, CN-CON-03, CN-CRI-03",
        rows=(*(Row(f"version_{library}", names[library], _version_text(version))
                for library, version in measures.versions.items()),
              Row("approved_terms", gettext("Approved feature terms"), measures.approved_terms),
              Row("approved_templates", gettext("Approved safety reply templates"), measures.approved_templates)))


def complaints_section(snapshot: Snapshot) -> Section:
    """CN-CMP-04: the last 30 days of complaints, reports and appeals, straight from the ticket table."""
    stats = complaint_stats(snapshot.now - dt.timedelta(days=30), snapshot.now, now=snapshot.now)
    kinds = dict(ComplaintKind.choices)
    categories = dict(ComplaintCategory.choices)
    return Section(
        key="complaints", title=gettext("Complaints, reports and appeals (last 30 days)"),
        obligations="CN-GOV-04, CN-CMP-02, CN-CMP-04",
        rows=(Row("complaints_total", gettext("Received"), stats["total"]),
              Row("complaints_open", gettext("Still open"), stats["open"]),
              Row("complaints_resolved", gettext("Resolved"), stats["resolved"]),
              Row("complaints_ack_hours", gettext("Median hours to acknowledge"),
                  stats["median_hours_to_acknowledge"] if stats["median_hours_to_acknowledge"] is not None else "—"),
              Row("complaints_resolve_hours", gettext("Median hours to resolve"),
                  stats["median_hours_to_resolve"] if stats["median_hours_to_resolve"] is not None else "—"),
              Row("complaints_overdue", gettext("Past a deadline"), stats["overdue"])),
        tables=(Table(headers=(gettext("Type"), gettext("Received")),
                      rows=tuple((kinds.get(kind, kind), count) for kind, count in sorted(stats["by_kind"].items()))),
                Table(headers=(gettext("Category"), gettext("Received")),
                      rows=tuple((categories.get(category, category), count)
                                 for category, count in sorted(stats["by_category"].items())))))


# The dashboard and the report, in order: each part of the assessment is a function from the
# snapshot to a Section.
SECTION_BUILDERS: list[Callable[[Snapshot], Section]] = [
    user_scale_section, age_section, crisis_section, intervention_section, sanctions_section, complaints_section,
    safety_section,
]


def build_sections(snapshot: Snapshot) -> list[Section]:
    return [build(snapshot) for build in SECTION_BUILDERS]


# --- people, as the review needs them (CN-GOV-06) -----------------------------------------------

def user_label(user_id: int | None) -> str:
    return gettext("User %(ref)s") % {"ref": pseudonym(user_id)} if user_id else "—"


def staff_label(user_id: int | None) -> str:
    return gettext("Staff %(number)s") % {"number": staff_number(user_id)} if user_id else "—"


def person_label(user_id: int, *, staff: bool) -> str:
    return staff_label(user_id) if staff else user_label(user_id)


# --- the site ----------------------------------------------------------------------------------

class RegulatorSite(admin.AdminSite):
    site_header = _("Regulator review (read-only)")
    site_title = _("Regulator review")
    index_title = _("Dashboard")
    index_template = "regulator/index.html"
    app_index_template = "regulator/app_index.html"
    logout_template = "regulator/logged_out.html"
    # Write paths of the stock admin (a password form) and lookups this site does not need.
    DROPPED_URLS = frozenset({"password_change", "password_change_done", "autocomplete", "view_on_site"})

    def has_permission(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        if not hasattr(request, "_is_regulator"):
            request._is_regulator = user.has_role(Role.REGULATOR)
        return request._is_regulator

    def admin_view(self, view, cacheable=False):
        """Every page of the site passes here: signed-in non-regulators get 403 (sending them to a
        sign-in page would loop), so does anything but a read (signing out excepted; CN-GOV-06:
        "403 on every write"), and each read by a regulator is audited."""
        inner = super().admin_view(view, cacheable)
        model_admin = getattr(view, "__self__", None)
        model = getattr(model_admin, "model", None)

        def guarded(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            signing_out = request.resolver_match is not None and request.resolver_match.url_name == "logout"
            if request.method not in READ_METHODS and not signing_out:
                raise PermissionDenied
            response = inner(request, *args, **kwargs)
            # jsi18n, the one cacheable view left, is a script the pages load, not a page.
            if request.method in READ_METHODS and not cacheable and self.has_permission(request):
                audit.record("regulator.viewed", subject_type=model._meta.label_lower if model else "",
                             subject_id=kwargs.get("object_id", ""),
                             data={"page": request.resolver_match.url_name, "status": response.status_code})
            return response

        return update_wrapper(guarded, view)

    def login(self, request, extra_context=None):
        """Regulators sign in on the main site (allauth, audited, rate-limited); this page sends them there."""
        refused = request.user.is_authenticated and not self.has_permission(request)
        if refused or request.method not in READ_METHODS:
            raise PermissionDenied
        index = reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            return HttpResponseRedirect(index)
        target = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = index
        return redirect_to_login(target, settings.LOGIN_URL)

    def get_urls(self):
        urls = [url for url in super().get_urls() if getattr(url, "name", None) not in self.DROPPED_URLS]
        return [path("report/", self.admin_view(self.report), name="report"), *urls]

    def index(self, request, extra_context=None):
        """The dashboard: the report's figures, live, above the list of what can be read."""
        snapshot = Snapshot(now=timezone.now())
        return super().index(request, {**(extra_context or {}), "sections": build_sections(snapshot),
                                       "snapshot": snapshot})

    def report(self, request):
        """CN-GOV-04: the security self-assessment report as one printable HTML file, from live data."""
        snapshot = Snapshot(now=timezone.now())
        response = render(request, "regulator/report.html", {
            "sections": build_sections(snapshot), "snapshot": snapshot,
            "provider_code": settings.COMPANION_PROVIDER_CODE, "stylesheet": _stylesheet(),
        })
        stamp = timezone.localtime(snapshot.now).strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="self-assessment-{stamp}.html"'
        return response


def _stylesheet() -> str:
    """The site's own stylesheet, embedded so that the downloaded report prints offline."""
    return Path(finders.find("css/regulator.css")).read_text(encoding="utf-8")


site = RegulatorSite(name="regulator")


def column(name: str, label) -> Callable:
    """Model field `name` under a translated label, for the fields the models leave without a
    verbose_name; a choice shows its label. Used in `fields` and `list_display` like a method."""
    def show(obj):
        display = getattr(obj, f"get_{name}_display", None)
        # Formatted here: the change page prints a callable's value as it comes (UTC, "None").
        return display() if display is not None else display_for_value(getattr(obj, name), "—")
    show.short_description = label
    show.admin_order_field = name
    show.__name__ = name  # the page's CSS class, field-<name>
    return show


def titled(filter_class: type[admin.FieldListFilter], title) -> type[admin.FieldListFilter]:
    """A stock field filter under a translated title (see `column`)."""
    class Titled(filter_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title
    return Titled


class ReadOnlyAdmin(moderation_admin.ReadOnlyAdmin):
    """Views only (no add, change or delete, as the staff admin's read-only models), no actions, and
    no history page (the audit log keeps the same record, with people as pseudonyms). Every field
    shown is read-only."""
    actions = None
    list_per_page = 50
    show_full_result_count = False
    change_list_template = "regulator/change_list.html"
    change_form_template = "regulator/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_view_permission(self, request, obj=None):
        return self.admin_site.has_permission(request)

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def history_view(self, request, object_id, extra_context=None):
        raise PermissionDenied

    def object_label(self, obj) -> str:
        """How the page names the object (title, breadcrumbs): str(obj) unless that holds personal data."""
        return str(obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        return super().render_change_form(request, {**context, "subtitle": self.object_label(obj)}, add=add,
                                          change=change, form_url=form_url, obj=obj)


public_id = column("public_id", _("reference"))
created_at = column("created_at", _("created"))


@admin.register(Character, site=site)
class CharacterAdmin(ReadOnlyAdmin):
    slug = column("slug", _("identifier"))
    list_display = (slug, "role", "name_zh", "name_en", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("slug", "name_zh", "name_en")
    fields = (slug, "role", "name_zh", "name_en", "tagline_zh", "tagline_en", "persona_zh", "persona_en",
              "language", "is_active")


class ReviewedAdmin(ReadOnlyAdmin):
    @admin.display(description=_("author"))
    def author_ref(self, obj):
        return staff_label(obj.author_id)

    @admin.display(description=_("approver"))
    def approver_ref(self, obj):
        return staff_label(obj.approver_id)

    @admin.display(description=_("retired by"))
    def retired_by_ref(self, obj):
        return staff_label(obj.retired_by_id)


@admin.register(FeatureTerm, site=site)
class FeatureTermAdmin(ReviewedAdmin):
    list_display = ("text", "match_kind", "category", "level", "direction", "language", "status", "approved_at",
                    "seeded")
    list_filter = ("status", "category", "level", "direction", "language", "match_kind", "seeded")
    search_fields = ("text",)
    fields = ("text", "match_kind", "category", "level", "direction", "language", "weight", "status", "note",
              "author_ref", "approver_ref", "retired_by_ref", "created_at", "approved_at", "retired_at", "seeded")


@admin.register(SafetyTemplate, site=site)
class SafetyTemplateAdmin(ReviewedAdmin):
    list_display = ("region", "language", "level", "category", "version", "status", "approved_at")
    list_filter = ("status", "region", "language", "level", "category", "seeded")
    search_fields = ("text",)
    fields = ("region", "language", "level", "category", "version", "status", "text", "resources", "note",
              "author_ref", "approver_ref", "retired_by_ref", "created_at", "approved_at", "retired_at", "seeded")


@admin.register(LibraryVersion, site=site)
class LibraryVersionAdmin(ReadOnlyAdmin):
    list_display = ("library", "number", "summary", "publisher", "published_at")
    list_filter = ("library",)
    fields = ("library", "number", "summary", "publisher", "published_at")

    @admin.display(description=_("published by"))
    def publisher(self, obj):
        return staff_label(obj.published_by_id)


def _public_detail(detail: dict) -> str:
    """A timeline step's details without what staff wrote about the person (the keys
    companion.crisis keeps out of the audit log too)."""
    return ", ".join(f"{key}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
                     for key, value in sorted(detail.items()) if key not in {"note", "follow_up"})


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    verbose_name = _("timeline step")
    verbose_name_plural = _("timeline")
    fields = readonly_fields = (column("at", _("time")), column("kind", _("step")), "actor_ref", "details")
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("by"))
    def actor_ref(self, obj):
        return staff_label(obj.actor_id) if obj.actor_id else gettext("System")

    @admin.display(description=_("details"))
    def details(self, obj):
        return _public_detail(obj.detail)


@admin.register(CrisisCase, site=site)
class CrisisCaseAdmin(ReadOnlyAdmin):
    """CN-CRI-10 cases and their timelines; takeovers are the `claimed` steps."""
    level, status = column("level", _("risk level")), column("status", _("status"))
    outcome = column("outcome", _("outcome"))
    opened_at, resolved_at = column("opened_at", _("opened")), column("resolved_at", _("resolved"))
    list_display = (public_id, level, status, opened_at, "seconds_to_takeover", "claimed_by_ref", outcome, resolved_at,
                    "is_drill")
    list_filter = (("level", titled(admin.ChoicesFieldListFilter, _("risk level"))),
                   ("status", titled(admin.ChoicesFieldListFilter, _("status"))),
                   ("outcome", titled(admin.ChoicesFieldListFilter, _("outcome"))))
    search_fields = ("=public_id",)
    date_hierarchy = "opened_at"
    fields = (public_id, "user_ref", "character", level, column("categories", _("categories")), status, opened_at,
              column("last_signal_at", _("latest risk signal")), column("sla_deadline", _("claim deadline")),
              column("escalated_at", _("fallback ran")), column("contacts_notified", _("contacts notified")),
              "claimed_by_ref", column("claimed_at", _("claimed")), "seconds_to_takeover", resolved_at, outcome,
              "is_drill")
    inlines = (CaseEventInline,)

    def get_queryset(self, request):
        first_claim = CaseEvent.objects.filter(case=OuterRef("pk"), kind=CaseEventKind.CLAIMED).order_by("at", "id")
        return (super().get_queryset(request).select_related("conversation__character")
                .annotate(first_claim_at=Subquery(first_claim.values("at")[:1]),
                          drill=Exists(DrillRun.objects.filter(user=OuterRef("user_id")))))

    @admin.display(description=_("user"))
    def user_ref(self, obj):
        return user_label(obj.user_id)

    @admin.display(description=_("character"))
    def character(self, obj):
        return obj.conversation.character.slug

    @admin.display(description=_("taken over by"))
    def claimed_by_ref(self, obj):
        return staff_label(obj.claimed_by_id)

    @admin.display(description=_("seconds to takeover"))
    def seconds_to_takeover(self, obj):
        if obj.first_claim_at is None:
            return "—"
        return round((obj.first_claim_at - obj.opened_at).total_seconds(), 1)

    @admin.display(description=_("drill"), boolean=True)
    def is_drill(self, obj):
        return obj.drill


@admin.register(Notification, site=site)
class NotificationAdmin(ReadOnlyAdmin):
    """Notifications sent: when, how and why; not the address, the subject or the text (they name
    the contact), nor delivery errors (they quote the address)."""
    event_key, channel = column("event_key", _("event")), column("channel", _("channel"))
    reason, status = column("reason", _("reason")), column("status", _("status"))
    sent_at = column("sent_at", _("sent"))
    list_display = (event_key, channel, reason, "level", status, column("attempts", _("attempts")), created_at, sent_at)
    list_filter = (("channel", titled(admin.ChoicesFieldListFilter, _("channel"))),
                   ("status", titled(admin.ChoicesFieldListFilter, _("status"))),
                   ("reason", titled(admin.ChoicesFieldListFilter, _("reason"))))
    search_fields = ("=event_key",)
    date_hierarchy = "created_at"
    fields = (event_key, "user_ref", channel, reason, "level", column("language", _("language")), status,
              column("attempts", _("attempts")), created_at, sent_at)

    def object_label(self, obj) -> str:
        return f"{obj.event_key} {obj.channel}"  # str() shows the contact's address

    @admin.display(description=_("user at risk"))
    def user_ref(self, obj):
        return user_label(obj.user_id)


@admin.register(Sanction, site=site)
class SanctionAdmin(ReadOnlyAdmin):
    """CN-CRI-09: as the export for the authorities has it (companion.sanctions.sanction_record)."""
    imposed_at, ends_at = column("created_at", _("imposed")), column("ends_at", _("ends"))
    lifted_at = column("lifted_at", _("lifted"))
    list_display = (public_id, "kind", "user_ref", "actor_ref", imposed_at, ends_at, lifted_at)
    list_filter = ("kind",)
    search_fields = ("=public_id",)
    fields = (public_id, "user_ref", "kind", "reason", "evidence", "actor_ref", imposed_at, ends_at, lifted_at,
              "lifted_by_ref", column("lift_reason", _("reason for lifting")))

    @admin.display(description=_("user"))
    def user_ref(self, obj):
        return user_label(obj.user_id)

    @admin.display(description=_("imposed by"))
    def actor_ref(self, obj):
        return staff_label(obj.actor_id)

    @admin.display(description=_("lifted by"))
    def lifted_by_ref(self, obj):
        return staff_label(obj.lifted_by_id)


@admin.register(Complaint, site=site)
class ComplaintAdmin(ReadOnlyAdmin):
    """CN-CMP-02/04: tickets and their deadlines. What people wrote and staff answered stays out
    (personal data only under a named case, CN-GOV-06); the filer appears as a pseudonym."""
    received, due = column("created_at", _("received")), column("due_at", _("answer due"))
    resolved = column("resolved_at", _("resolved"))
    list_display = ("reference", "kind", "category", "status", "safety_related", received, due, resolved, "late")
    list_filter = ("kind", "status", "category", "safety_related")
    search_fields = ("=public_id",)
    ordering = ("-created_at",)
    fields = ("reference", public_id, "kind", "target", "category", "safety_related", "filer_ref", "status",
              received, column("acknowledged_at", _("acknowledged")), column("triage_due_at", _("take up by")),
              due, column("assigned_at", _("taken up")), column("escalated_at", _("escalated")), resolved,
              "outcome", "late")

    @admin.display(description=_("number"))
    def reference(self, obj):
        return obj.reference

    @admin.display(description=_("filed by"))
    def filer_ref(self, obj):
        return user_label(obj.user_id) if obj.user_id else gettext("Someone without an account")

    @admin.display(description=_("late"))
    def late(self, obj):
        reason = overdue_reason(obj, timezone.now())
        return {"triage": gettext("not taken up in time"), "answer": gettext("overdue")}.get(reason, "—")


class ActionFamilyFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "family"

    def lookups(self, request, model_admin):
        return [(family, family) for family in sorted({action.split(".")[0] for action in audit.ACTIONS})]

    def queryset(self, request, queryset):
        return queryset.filter(action__startswith=f"{self.value()}.") if self.value() else queryset


@admin.register(AuditEvent, site=site)
class AuditEventAdmin(ReadOnlyAdmin):
    """BX-11: the hash-chained log. Accounts as pseudonyms or staff numbers; no IP addresses."""
    list_display = ("pk", "created_at", "action_label", "actor_ref", "subject", "details")
    list_filter = (ActionFamilyFilter,)
    search_fields = ("=action", "=subject_id")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    fields = ("created_at", "action", "action_label", "actor_ref", "subject", "details",
              column("key_id", _("key")), column("prev_hash", _("previous seal")), column("hash", _("seal")))

    def get_queryset(self, request):
        subject_is_staff = Exists(staff_accounts().annotate(id_text=Cast("pk", CharField()))
                                  .filter(id_text=OuterRef("subject_id")))
        return super().get_queryset(request).annotate(actor_is_staff=figures.staff_account_exists(OuterRef("actor_id")),
                                                      subject_is_staff=subject_is_staff)

    @admin.display(description=_("action"))
    def action_label(self, obj):
        return audit.ACTIONS.get(obj.action, obj.action)

    @admin.display(description=_("actor"))
    def actor_ref(self, obj):
        return person_label(obj.actor_id, staff=obj.actor_is_staff) if obj.actor_id else gettext("System")

    @admin.display(description=_("subject"))
    def subject(self, obj):
        if not obj.subject_type:
            return "—"
        if obj.subject_type == "user" and obj.subject_id.isdigit():
            return person_label(int(obj.subject_id), staff=obj.subject_is_staff)
        return f"{obj.subject_type} {obj.subject_id}"

    @admin.display(description=_("details"))
    def details(self, obj):
        # Case steps name the user by id: shown as the pseudonym, as everywhere on this site.
        return ", ".join(f"{key}={pseudonym(value) if key == 'user' and isinstance(value, int) else value}"
                         for key, value in sorted(obj.data.items()))
