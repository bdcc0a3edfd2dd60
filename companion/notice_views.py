"""Pages for service notices (CN-SVC-01) and outages (CN-SVC-02): the user's notices and the
read-only archive of an ended character, the public status page, and the compliance team's page
(/compliance/notices/: compliance officers write, regulators read)."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from companion import notices
from companion.exports import conversation_export, render_export_html
from companion.models import Conversation
from companion.notice_forms import IncidentForm, ResolveIncidentForm, ScheduleNoticeForm
from companion.staff_pages import compliance_gate
from companion.views import conversation_download

# --- users ----------------------------------------------------------------------------------------

def _read_links(conversation: Conversation) -> dict | None:
    """Where the user reads and exports this conversation: the archive once chat has ended by
    notice, else the chat and its usual exports; None when neither is open any more."""
    slug = conversation.character.slug
    if notices.archive_open(character_slug=slug):
        return {"read": reverse("notice_archive", args=[slug]),
                "html": reverse("notice_archive_html", args=[slug]), "json": reverse("notice_archive_json", args=[slug])}
    if conversation.character.is_active:
        return {"read": reverse("chat", args=[slug]),
                "html": reverse("export_html", args=[slug]), "json": reverse("export_json", args=[slug])}
    return None


@require_GET
def my_notices(request):
    """The notices this visitor should see, in full, with the export links for each affected
    conversation (CN-SVC-01 export reminder). Signed out: notices about the whole service."""
    language, now = get_language(), timezone.now()
    conversations = []
    if request.user.is_authenticated:
        conversations = list(Conversation.objects.filter(user=request.user, archived_at=None)
                             .select_related("character").order_by("character__sort_order"))
    items = []
    for notice in notices.notices_for(request.user, now=now):
        affected = [c for c in conversations if notice.character_id in (None, c.character_id)]
        items.append({"notice": notice, "banner": notices.banner(notice, language, now=now),
                      "title": notice.title_for(language), "body": notice.body_for(language),
                      "subject": notice.character.name_for(language) if notice.character_id else "",
                      "conversations": [{"name": c.character.name_for(language), "links": _read_links(c)}
                                        for c in affected]})
    return render(request, "companion/notices/mine.html", {"items": items})


@login_required
@never_cache
@require_GET
def archive(request, character_slug: str):
    """Read-only: the conversation with an ended character, as its labelled HTML export shows it."""
    conversation = _archived_or_404(request, character_slug)
    return HttpResponse(render_export_html(conversation_export(conversation, language=get_language())),
                        content_type="text/html; charset=utf-8")


@login_required
@never_cache
@require_GET
def archive_export(request, character_slug: str, file_format: str):
    """The usual labelled export (CN-DIS-06), open for the export period after the end (CN-SVC-01)."""
    return conversation_download(request, _archived_or_404(request, character_slug), file_format, after_end=True)


def _archived_or_404(request, character_slug: str) -> Conversation:
    try:
        return notices.access_archived_conversation(request.user, character_slug)
    except Conversation.DoesNotExist:
        raise Http404 from None


@require_GET
def status_page(request):
    """CN-SVC-02: the public status page: open outages with their statement, recent ones with
    their incident note."""
    language = get_language()
    incidents = [{"incident": item, "title": item.title_for(language), "statement": item.statement_for(language),
                  "note": item.note_for(language)} for item in notices.recent_incidents()]
    return render(request, "companion/notices/status.html", {"incidents": incidents})


# --- staff ----------------------------------------------------------------------------------------

def _staff(request, *, write: bool):
    return compliance_gate(request, write=write, may_write=notices.may_schedule_notices, may_read=notices.may_read_notices)


def _staff_page(request, *, form=None, incident_form=None, status=200):
    language, now = get_language(), timezone.now()
    periods = notices.notice_periods()
    limit = settings.COMPANION_OUTAGE_STATEMENT_MINUTES
    rows = [{"notice": notice, "phase": notices.notice_phase(notice, now, periods),
             "subject": notice.character.name_for(language) if notice.character_id else "",
             "emailed": notice.emailed_count}
            for notice in notices.staff_notices()[:200]]
    incidents = [{"incident": item, "minutes": notices.statement_minutes(item),
                  "late": notices.statement_late(item, limit),
                  "resolve_form": ResolveIncidentForm(prefix=str(item.public_id)) if item.is_open else None}
                 for item in notices.recent_incidents(now=now)]
    return render(request, "companion/notices/staff.html", {
        "form": form or ScheduleNoticeForm(language=language), "rows": rows,
        "incident_form": incident_form or IncidentForm(), "incidents": incidents, "periods": periods,
        "statement_minutes": limit, "can_edit": request.can_edit}, status=status)


@require_http_methods(["GET", "POST"])
def staff_notices(request):
    """List every notice; compliance officers schedule one (POST)."""
    if (refused := _staff(request, write=request.method == "POST")) is not None:
        return refused
    if request.method == "GET":
        return _staff_page(request)
    form = ScheduleNoticeForm(request.POST, language=get_language())
    if form.is_valid():
        data = form.cleaned_data
        try:
            notices.schedule_notice(
                actor=request.user, kind=data["kind"], character_slug=data["character"],
                effective_at=data["effective_at"], resumes_at=data["resumes_at"], title_zh=data["title_zh"],
                title_en=data["title_en"], body_zh=data["body_zh"], body_en=data["body_en"])
        except notices.NoticeRefused as refusal:
            refusal.show_on(form)
        else:
            messages.success(request, gettext("Notice scheduled. Affected users are being told."))
            return redirect("notice_staff")
    return _staff_page(request, form=form, status=400)


@require_POST
def staff_cancel(request, public_id):
    if (refused := _staff(request, write=True)) is not None:
        return refused
    try:
        notices.cancel_notice(actor=request.user, notice_id=str(public_id))
    except notices.NoticeRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, gettext("Notice cancelled."))
    return redirect("notice_staff")


@require_POST
def staff_open_incident(request):
    if (refused := _staff(request, write=True)) is not None:
        return refused
    form = IncidentForm(request.POST)
    if form.is_valid():
        try:
            notices.open_incident(actor=request.user, **form.cleaned_data)
        except notices.NoticeRefused as refusal:
            refusal.show_on(form)
        else:
            messages.success(request, gettext("Outage statement published."))
            return redirect("notice_staff")
    return _staff_page(request, incident_form=form, status=400)


@require_POST
def staff_resolve_incident(request, public_id):
    if (refused := _staff(request, write=True)) is not None:
        return refused
    form = ResolveIncidentForm(request.POST, prefix=str(public_id))
    if not form.is_valid():
        messages.error(request, gettext("Write the incident note in both languages."))
        return redirect("notice_staff")
    try:
        notices.resolve_incident(actor=request.user, incident_id=str(public_id), **form.cleaned_data)
    except notices.NoticeRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, gettext("Incident resolved."))
    return redirect("notice_staff")
