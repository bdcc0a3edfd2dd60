"""Pages for complaints, reports and appeals: the public help page and form (CN-CMP-01/02), the
person's status page, and the compliance team's queue and ticket page (/compliance/complaints/)."""
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.models import AuditEvent
from accounts.selectors import usernames
from companion import complaints
from companion.complaint_forms import (
    AnswerForm,
    ComplaintForm,
    EscalateForm,
    MinorAccessApproveForm,
    MinorAccessRequestForm,
    ResolveForm,
    StaffFilterForm,
)
from companion.models import Complaint, ComplaintKind, ComplaintTarget, Message
from companion.reports import month_bounds
from companion.staff_pages import officer_gate

PAGE_SIZE = 50


@require_GET
def help_page(request):
    """CN-CMP-02: the published process and deadlines, and the way in; works signed out."""
    mine = complaints.complaints_of(request.user)[:50] if request.user.is_authenticated else []
    return render(request, "companion/complaints/help.html", {
        "deadlines": complaints.published_deadlines(), "mine": mine})


def _over_rate_limit(request) -> bool:
    """The public form is open to everyone: at most COMPANION_COMPLAINTS_PER_HOUR per client address."""
    key = f"complaints:{request.META.get('REMOTE_ADDR', '')}:{timezone.now():%Y%m%d%H}"
    cache.add(key, 0, 3600)
    return cache.incr(key) > settings.COMPANION_COMPLAINTS_PER_HOUR


def _reported_message(request, message_id: str) -> Message | None:
    """The owner's own message the form is about, to show it back; None if not theirs."""
    if not request.user.is_authenticated or not message_id:
        return None
    try:
        public_id = uuid.UUID(message_id)
    except ValueError:
        return None
    return Message.objects.filter(public_id=public_id, conversation__user=request.user).first()


@require_http_methods(["GET", "POST"])
def new_complaint(request):
    """File a complaint, report or appeal. Links from a chat message, a character, a sanction
    notice or the help page prefill what it is about."""
    signed_in = request.user.is_authenticated
    language = get_language()
    if request.method == "POST":
        form = ComplaintForm(request.POST, language=language, signed_in=signed_in)
        if form.is_valid():
            if _over_rate_limit(request):
                form.add_error(None, gettext("Too many submissions from your network. Please try again in an hour."))
            else:
                data = form.cleaned_data
                try:
                    complaint = complaints.file_complaint(
                        user=request.user if signed_in else None, kind=data["kind"], target=data["target"],
                        category=data.get("category") or "", text=data["text"],
                        contact_email=data.get("contact_email", ""), language=language,
                        message_id=data["message"], character_slug=data["character"], sanction_id=data["sanction"])
                except complaints.ComplaintRefused as refusal:
                    refusal.show_on(form)
                else:
                    messages.success(request, gettext("Received. Your reference is %(reference)s.")
                                     % {"reference": complaint.reference})
                    return redirect("complaint_status", complaint.public_id)
    else:
        initial = {key: request.GET.get(key, "") for key in ("kind", "target", "category", "message", "character",
                                                             "sanction")}
        if initial["message"] and not initial["target"]:
            initial["target"] = ComplaintTarget.REPLY
        if initial["character"] and not initial["target"]:
            initial["target"] = ComplaintTarget.CHARACTER
        initial["kind"] = initial["kind"] or (ComplaintKind.REPORT if not signed_in else ComplaintKind.COMPLAINT)
        form = ComplaintForm(initial=initial, language=language, signed_in=signed_in)
    message_id = (form.data.get("message") if form.is_bound else form.initial.get("message")) or ""
    return render(request, "companion/complaints/form.html", {
        "form": form, "about_message": _reported_message(request, message_id),
        "deadlines": complaints.published_deadlines()})


@require_GET
def complaint_status(request, public_id):
    try:
        complaint = complaints.access_own_complaint(request.user, public_id)
    except Complaint.DoesNotExist:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise Http404 from None
    return render(request, "companion/complaints/status.html", {
        "complaint": complaint,
        "character_name": complaint.character.name_for(get_language()) if complaint.character else ""})


# --- staff ----------------------------------------------------------------------------------------

@require_GET
def staff_list(request):
    if (refused := officer_gate(request, write=False)) is not None:
        return refused
    form = StaffFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    now = timezone.now()
    queue = complaints.staff_queue(status=filters.get("status", ""), kind=filters.get("kind", ""),
                                   overdue=bool(filters.get("overdue")), now=now)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    local = timezone.localtime(now)
    stats = complaints.complaint_stats(*month_bounds(local.year, local.month), now=now)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "companion/complaints/staff_list.html", {
        "form": form if form.is_bound else StaffFilterForm(), "page": page, "query": query.urlencode(),
        "rows": [{"complaint": item, "overdue": complaints.overdue_reason(item, now)} for item in page],
        "stats": stats, "month": local, "can_edit": request.can_edit})


@require_GET
def staff_detail(request, public_id):
    """The ticket, the message it is about (a staff read of chat text with a case reference,
    CN-DAT-02: recorded in the audit log) and its history."""
    if (refused := officer_gate(request, write=False)) is not None:
        return refused
    complaint = (Complaint.objects.select_related("user", "character", "sanction", "message", "assignee",
                                                  "answered_by", "resolved_by").filter(public_id=public_id).first())
    if complaint is None:
        raise Http404
    audit.record("complaint.viewed", subject_type="complaint", subject_id=complaint.public_id,
                 data={"kind": complaint.kind})
    history = list(AuditEvent.objects.filter(subject_type="complaint", subject_id=str(complaint.public_id))
                   .order_by("id"))
    names = usernames(row.actor_id for row in history)
    now = timezone.now()
    minor_message = complaints.message_of_minor(complaint)  # CN-DAT-02: a second approver first
    access = list(complaint.minor_access.select_related("requester", "approver")) if minor_message else []
    return render(request, "companion/complaints/staff_detail.html", {
        "minor_message": minor_message,
        "may_read_message": not minor_message or complaints.minor_access_granted(complaint, request.user, now),
        "access_requests": access, "access_form": MinorAccessRequestForm(),
        "complaint": complaint, "overdue": complaints.overdue_reason(complaint, now),
        "history": [{"event": row, "label": audit.ACTIONS.get(row.action, row.action),
                     "actor": names.get(row.actor_id)} for row in history],
        "answer_form": AnswerForm(initial={"answer": complaint.answer}), "resolve_form": ResolveForm(),
        "escalate_form": EscalateForm(), "can_edit": request.can_edit,
        "own_decision": complaint.sanction is not None and complaint.sanction.actor_id == request.user.pk})


STAFF_ACTIONS = {
    "assign": (None, lambda staff, complaint_id, data: complaints.assign_complaint(
        staff=staff, complaint_id=complaint_id)),
    "answer": (AnswerForm, lambda staff, complaint_id, data: complaints.answer_complaint(
        staff=staff, complaint_id=complaint_id, answer=data["answer"])),
    "resolve": (ResolveForm, lambda staff, complaint_id, data: complaints.resolve_complaint(
        staff=staff, complaint_id=complaint_id, outcome=data["outcome"], answer=data["answer"])),
    "escalate": (EscalateForm, lambda staff, complaint_id, data: complaints.escalate_complaint(
        staff=staff, complaint_id=complaint_id, note=data["note"])),
    # CN-DAT-02: reading a minor's message needs a second officer's approval.
    "request-access": (MinorAccessRequestForm, lambda staff, complaint_id, data: complaints.request_minor_access(
        staff=staff, complaint_id=complaint_id, reason=data["reason"])),
    "approve-access": (MinorAccessApproveForm, lambda staff, complaint_id, data: complaints.approve_minor_access(
        staff=staff, complaint_id=complaint_id, request_id=data["request"])),
}
DONE_MESSAGES = {"assign": _("You have taken this up."), "answer": _("Answer sent. The person has been told."),
                 "resolve": _("Resolved. The person has been told."),
                 "escalate": _("Escalated: the person has been told the new date."),
                 "request-access": _("Asked: another compliance officer must approve before you can read it."),
                 "approve-access": _("Approved for 24 hours, for that officer only.")}


@require_POST
def staff_action(request, public_id, action: str):
    if (refused := officer_gate(request, write=True)) is not None:
        return refused
    if action not in STAFF_ACTIONS:
        raise Http404
    form_class, act = STAFF_ACTIONS[action]
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("complaint_staff_detail", public_id)
    try:
        act(request.user, str(public_id), form.cleaned_data if form else {})
    except complaints.ComplaintRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, DONE_MESSAGES[action])
    return redirect("complaint_staff_detail", public_id)
