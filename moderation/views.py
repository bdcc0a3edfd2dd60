"""Compliance pages for the feature library and the safety reply templates (CN-CON-03, CN-CRI-03).

Compliance officers edit, approve and retire; operators and regulators read. The two-person rule
is enforced by the services, whatever the page sends.
"""
import json
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.models import Role
from accounts.selectors import audit_events, usernames
from moderation import library, protocol, safety_replies
from moderation.forms import (AuditFilterForm, FeatureTermForm, NewSafetyTemplateForm, SafetyTemplateForm,
                              TemplateFilterForm, TermFilterForm, resources_as_text)
from moderation.models import FeatureTerm, Library, SafetyTemplate, Status

READ_ROLES = (Role.COMPLIANCE, Role.OPERATOR, Role.REGULATOR)
PAGE_SIZE = 50


def staff_only(*, write: bool):
    """Anonymous users go to the login page; others need a staff role (compliance to write)."""
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            can_edit = request.user.has_role(Role.COMPLIANCE)
            if not can_edit and (write or not any(request.user.has_role(role) for role in READ_ROLES[1:])):
                raise PermissionDenied
            request.can_edit = can_edit
            request.can_read_audit = can_edit or request.user.has_role(Role.REGULATOR)
            return view(request, *args, **kwargs)
        return wrapped
    return decorator


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _filters(form) -> dict:
    return {name: value for name, value in form.cleaned_data.items() if value} if form.is_valid() else {}


@require_GET
@staff_only(write=False)
def index(request):
    return render(request, "moderation/index.html", {
        "term_drafts": FeatureTerm.objects.filter(status=Status.DRAFT).count(),
        "term_count": FeatureTerm.objects.filter(status=Status.APPROVED).count(),
        "template_drafts": SafetyTemplate.objects.filter(status=Status.DRAFT).count(),
        "template_count": len(safety_replies.served_template_ids()),
        "features_version": library.published_number(Library.FEATURES),
        "replies_version": library.published_number(Library.SAFETY_REPLIES),
        "can_edit": request.can_edit,
    })


# --- Feature library --------------------------------------------------------------------------

@require_GET
@staff_only(write=False)
def term_list(request):
    form = TermFilterForm(request.GET or None)
    filters = _filters(form)
    terms = library.feature_terms(category=filters.get("category", ""), status=filters.get("status", ""),
                                  language=filters.get("language", ""), query=filters.get("q", ""))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "moderation/term_list.html", {
        "form": form if form.is_bound else TermFilterForm(), "page": _page(request, terms),
        "query": query.urlencode(), "can_edit": request.can_edit,
        "version": library.published_number(Library.FEATURES)})


@require_GET
@staff_only(write=False)
def term_detail(request, term_id: int):
    term = get_object_or_404(FeatureTerm.objects.select_related("author", "approver", "retired_by"), pk=term_id)
    return render(request, "moderation/term_detail.html", {
        "term": term, "can_edit": request.can_edit,
        "can_approve": request.can_edit and term.is_draft and term.author_id != request.user.pk})


@require_http_methods(["GET", "POST"])
@staff_only(write=True)
def term_create(request):
    form = FeatureTermForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            term = library.create_term(author=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error("text", error)
        else:
            messages.success(request, gettext("Draft saved. It has no effect until another compliance officer "
                                               "approves it."))
            return redirect("moderation:term_detail", term.pk)
    return render(request, "moderation/term_form.html", {"form": form, "term": None})


@require_http_methods(["GET", "POST"])
@staff_only(write=True)
def term_edit(request, term_id: int):
    term = get_object_or_404(FeatureTerm, pk=term_id)
    if not term.is_draft:
        messages.error(request, gettext("Only drafts can be edited. Retire the term and write a new draft instead."))
        return redirect("moderation:term_detail", term.pk)
    initial = {field: getattr(term, field) for field in library.TERM_FIELDS}
    form = FeatureTermForm(request.POST or None, initial=initial, term_id=term.pk)
    if request.method == "POST" and form.is_valid():
        try:
            library.update_term(user=request.user, term_id=term.pk, **form.cleaned_data)
        except ValidationError as error:
            form.add_error("text", error)
        except library.ApprovalRefused as error:
            messages.error(request, str(error))
            return redirect("moderation:term_detail", term.pk)
        else:
            messages.success(request, gettext("Draft updated."))
            return redirect("moderation:term_detail", term.pk)
    return render(request, "moderation/term_form.html", {"form": form, "term": term})


@require_POST
@staff_only(write=True)
def term_approve(request, term_id: int):
    term = get_object_or_404(FeatureTerm, pk=term_id)
    try:
        library.approve_term(approver=request.user, term_id=term.pk)
    except library.ApprovalRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, gettext("Approved. The term takes effect in every chat within a few minutes."))
    return redirect("moderation:term_detail", term.pk)


@require_POST
@staff_only(write=True)
def term_retire(request, term_id: int):
    term = get_object_or_404(FeatureTerm, pk=term_id)
    try:
        library.retire_term(user=request.user, term_id=term.pk)
    except library.ApprovalRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, gettext("Retired. The term stops matching within a few minutes."))
    return redirect("moderation:term_detail", term.pk)


@require_GET
@staff_only(write=False)
def versions(request):
    selected = request.GET.get("library")
    if selected not in Library.values:
        selected = Library.FEATURES
    return render(request, "moderation/versions.html", {
        "libraries": Library.choices, "selected": selected,
        "page": _page(request, library.library_versions(selected))})


# --- Safety reply templates -------------------------------------------------------------------

@require_GET
@staff_only(write=False)
def template_list(request):
    form = TemplateFilterForm(request.GET or None)
    templates = safety_replies.safety_templates(**_filters(form))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "moderation/template_list.html", {
        "form": form if form.is_bound else TemplateFilterForm(), "page": _page(request, templates),
        "served": safety_replies.served_template_ids(), "query": query.urlencode(), "can_edit": request.can_edit,
        "version": library.published_number(Library.SAFETY_REPLIES)})


@require_GET
@staff_only(write=False)
def template_detail(request, template_id: int):
    template = get_object_or_404(SafetyTemplate.objects.select_related("author", "approver", "retired_by"),
                                 pk=template_id)
    history = SafetyTemplate.objects.filter(level=template.level, category=template.category,
                                            language=template.language, region=template.region).order_by("-version")
    return render(request, "moderation/template_detail.html", {
        "template": template, "history": history, "served": safety_replies.served_template_ids(),
        "can_edit": request.can_edit,
        "can_approve": request.can_edit and template.is_draft and template.author_id != request.user.pk})


@require_http_methods(["GET", "POST"])
@staff_only(write=True)
def template_create(request):
    form = NewSafetyTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = safety_replies.create_template(author=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, gettext("Draft saved. It is served only after another compliance officer "
                                              "approves it."))
            return redirect("moderation:template_detail", template.pk)
    return render(request, "moderation/template_form.html", {"form": form, "source": None, "template": None})


@require_http_methods(["GET", "POST"])
@staff_only(write=True)
def template_new_version(request, template_id: int):
    source = get_object_or_404(SafetyTemplate, pk=template_id)
    form = SafetyTemplateForm(request.POST or None, initial={
        "text": source.text, "resources": resources_as_text(source.resources)})
    if request.method == "POST" and form.is_valid():
        try:
            template = safety_replies.draft_new_version(author=request.user, template_id=source.pk,
                                                        **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, gettext("New version saved as a draft. The approved version stays in use "
                                              "until this one is approved."))
            return redirect("moderation:template_detail", template.pk)
    return render(request, "moderation/template_form.html", {"form": form, "source": source, "template": None})


@require_http_methods(["GET", "POST"])
@staff_only(write=True)
def template_edit(request, template_id: int):
    template = get_object_or_404(SafetyTemplate, pk=template_id)
    if not template.is_draft:
        messages.error(request, gettext("Only drafts can be edited. Write a new version instead."))
        return redirect("moderation:template_detail", template.pk)
    form = SafetyTemplateForm(request.POST or None, initial={
        "text": template.text, "resources": resources_as_text(template.resources), "note": template.note})
    if request.method == "POST" and form.is_valid():
        try:
            safety_replies.update_template(user=request.user, template_id=template.pk, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        except library.ApprovalRefused as error:
            messages.error(request, str(error))
            return redirect("moderation:template_detail", template.pk)
        else:
            messages.success(request, gettext("Draft updated."))
            return redirect("moderation:template_detail", template.pk)
    return render(request, "moderation/template_form.html", {"form": form, "source": None, "template": template})


@require_POST
@staff_only(write=True)
def template_approve(request, template_id: int):
    template = get_object_or_404(SafetyTemplate, pk=template_id)
    try:
        safety_replies.approve_template(approver=request.user, template_id=template.pk)
    except library.ApprovalRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, gettext("Approved. This version is served within a few minutes."))
    return redirect("moderation:template_detail", template.pk)


@require_POST
@staff_only(write=True)
def template_retire(request, template_id: int):
    template = get_object_or_404(SafetyTemplate, pk=template_id)
    try:
        safety_replies.retire_template(user=request.user, template_id=template.pk)
    except library.ApprovalRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, gettext("Retired."))
    return redirect("moderation:template_detail", template.pk)


# --- Public crisis protocol (no login) -----------------------------------------------------

def _duration(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}


@require_GET
def safety_protocol(request):
    """US-CA-02: the published protocol, readable logged out, built from the templates chat serves
    now (CN-CRI-02..08 in plain words, US-NY-01)."""
    return render(request, "moderation/protocol.html", {
        "packs": protocol.published_protocol(get_language() or settings.LANGUAGE_CODE),
        "response_target": _duration(int(settings.COMPANION_CRISIS_SLA_SECONDS)),
        "remote_screening": bool(settings.MODERATION_PROVIDERS),
    })


# --- Audit log ----------------------------------------------------------------------------------

AUDIT_ROLES = (Role.COMPLIANCE, Role.REGULATOR)


@require_GET
def audit_log(request):
    """BX-11, CN-DAT-02: the hash-chained audit log, filtered, for compliance officers and regulators
    (operators act in it; they do not read it). Reading it is itself audited; `?verify=1` recomputes
    the whole chain, as `manage.py verify_audit` does."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not any(request.user.has_role(role) for role in AUDIT_ROLES):
        raise PermissionDenied
    request.can_edit = request.user.has_role(Role.COMPLIANCE)
    request.can_read_audit = True
    form = AuditFilterForm(request.GET or None)
    filters = _filters(form)
    page = _page(request, audit_events(**filters))
    names = usernames(row.actor_id for row in page)
    labels = audit.ACTIONS
    rows = [{"event": row, "label": labels.get(row.action, row.action), "actor": names.get(row.actor_id),
             "details": json.dumps(row.data, ensure_ascii=False, sort_keys=True) if row.data else ""}
            for row in page]
    report = audit.verify_chain() if request.GET.get("verify") == "1" else None
    audit.record("audit.viewed", data={key: str(value) for key, value in filters.items()} | (
        {"verified": report.ok} if report is not None else {}))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("verify", None)
    return render(request, "moderation/audit_log.html", {
        "form": form if form.is_bound else AuditFilterForm(), "page": page, "rows": rows,
        "query": query.urlencode(), "report": report, "retention_days": audit.retention_days()})
