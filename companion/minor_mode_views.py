"""Minor mode pages (CN-MIN-05, CN-MIN-06): the person's page (why minor mode is on, the appeal
form and its status, /privacy/minor-mode/) and the compliance team's appeal queue with its
deadlines (/compliance/minor-appeals/). Nothing here can switch minor mode off except a compliance
officer's decision on an appeal. Also the yearly minors' audit sign-off (CN-MIN-15,
/compliance/minors-audit/)."""
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit, minor_mode
from accounts.forms import MinorAppealDecisionForm, MinorModeAppealForm
from accounts.models import AgeCue, AgeCueKind, AppealStatus, AuditEvent, MinorModeAppeal, MinorsAuditSignOff
from accounts.policies import AgeBand
from accounts.selectors import usernames
from companion import minors_audit
from companion.staff_pages import officer_gate

PAGE_SIZE = 50
REFUSALS = {
    "not_in_minor_mode": _("Minor mode is not on for a suspected age, so there is nothing to appeal."),
    "pending": _("You already have an appeal waiting for a decision."),
    "decided": _("This appeal has already been decided."),
    "note_needed": _("The ID check did not match: write in the note what proved the age."),
}


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def minor_mode_page(request):
    user = request.user
    suspected = user.minor_mode_since is not None
    form = MinorModeAppealForm(request.POST or None, region=user.region)
    if request.method == "POST" and request.POST.get("action") == "turn_on":
        if request.POST.get("confirm") == "yes" and minor_mode.choose_minor_mode(user=user):
            messages.success(request, gettext("Minor mode is on. To leave it you will need to appeal."))
        else:
            messages.error(request, gettext("Tick the box to confirm that you want minor mode."))
        return redirect("minor_mode")
    if request.method == "POST":
        if not suspected:
            messages.error(request, REFUSALS["not_in_minor_mode"])
            return redirect("minor_mode")
        if form.is_valid():
            number = form.cleaned_data["id_number"]
            try:
                minor_mode.file_appeal(user=user, explanation=form.cleaned_data["explanation"],
                                       id_birth_date=form.id_birth_date, id_last4=number[-4:])
            except minor_mode.AppealRefused as refusal:
                messages.error(request, REFUSALS[refusal.code])
            else:
                messages.success(request, gettext("Appeal sent. Minor mode stays on until we decide, by the date "
                                                  "shown below."))
            return redirect("minor_mode")
    appeals = list(MinorModeAppeal.objects.filter(user=user).order_by("-filed_at"))
    cues = (AgeCue.objects.filter(user=user).values_list("kind", flat=True).distinct() if suspected else [])
    return render(request, "companion/minor_mode.html", {
        "suspected": suspected, "by_age": user.age_band in (AgeBand.CHILD, AgeBand.MINOR),
        "cues": [AgeCueKind(kind).label for kind in sorted(set(cues))], "form": form, "appeals": appeals,
        "pending": any(item.status == AppealStatus.PENDING for item in appeals)})


@require_GET
def staff_list(request):
    if (refused := officer_gate(request, write=False)) is not None:
        return refused
    now = timezone.now()
    queue = (MinorModeAppeal.objects.select_related("user", "decided_by")
             .annotate(open_first=Case(When(status=AppealStatus.PENDING, then=Value(0)), default=Value(1),
                                       output_field=IntegerField()))
             .order_by("open_first", "due_at", "id"))
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    overdue_count = MinorModeAppeal.objects.filter(status=AppealStatus.PENDING, due_at__lt=now).count()
    return render(request, "companion/minor_appeals/staff_list.html", {
        "page": page, "rows": [{"appeal": item, "overdue": minor_mode.overdue(item, now)} for item in page],
        "overdue_count": overdue_count, "query": ""})


@require_GET
def staff_detail(request, public_id):
    if (refused := officer_gate(request, write=False)) is not None:
        return refused
    appeal = MinorModeAppeal.objects.select_related("user", "decided_by").filter(public_id=public_id).first()
    if appeal is None:
        raise Http404
    audit.record("minor_mode.appeal_viewed", subject_type="minor_appeal", subject_id=appeal.public_id)
    cues = list(AgeCue.objects.filter(user=appeal.user).order_by("created_at").values("kind", "weight", "age",
                                                                                      "created_at"))
    for cue in cues:
        cue["label"] = AgeCueKind(cue["kind"]).label
    history = list(AuditEvent.objects.filter(subject_type="minor_appeal", subject_id=str(appeal.public_id))
                   .order_by("id"))
    names = usernames(row.actor_id for row in history)
    return render(request, "companion/minor_appeals/staff_detail.html", {
        "appeal": appeal, "person": appeal.user, "cues": cues, "overdue": minor_mode.overdue(appeal, timezone.now()),
        "form": MinorAppealDecisionForm(), "can_edit": request.can_edit,
        "history": [{"event": row, "label": audit.ACTIONS.get(row.action, row.action),
                     "actor": names.get(row.actor_id)} for row in history]})


@require_POST
def staff_decide(request, public_id):
    if (refused := officer_gate(request, write=True)) is not None:
        return refused
    if not MinorModeAppeal.objects.filter(public_id=public_id).exists():
        raise Http404
    form = MinorAppealDecisionForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("minor_appeal_staff_detail", public_id)
    grant = form.cleaned_data["decision"] == "grant"
    try:
        minor_mode.decide_appeal(staff=request.user, appeal_id=public_id, grant=grant, note=form.cleaned_data["note"])
    except minor_mode.AppealRefused as refusal:
        messages.error(request, REFUSALS[refusal.code])
    else:
        messages.success(request, gettext("Decided: minor mode has ended for this person.") if grant
                         else gettext("Decided: minor mode stays on."))
    return redirect("minor_appeal_staff_detail", public_id)


# --- CN-MIN-15: the yearly minors' audit, signed off by a compliance officer ---------------------------

@require_http_methods(["GET", "POST"])
def minors_audit_page(request):
    """The audit due now (last year's): its state, the evidence pack as it stands, the sign-off."""
    if (refused := officer_gate(request, write=request.method == "POST")) is not None:
        return refused
    status = minors_audit.audit_status()
    if request.method == "POST":
        try:
            minors_audit.sign_off(officer=request.user, year=status.year, note=request.POST.get("note", "")[:4000])
        except minors_audit.AlreadySigned:
            messages.error(request, gettext("This year's audit is already signed off."))
        else:
            messages.success(request, gettext("Signed off. The evidence pack and its hash are kept."))
        return redirect("minors_audit")
    pack = status.sign_off.pack if status.sign_off else minors_audit.minors_pi_audit(year=status.year)
    sections = [(name, SECTION_LABELS[name], pack[name]) for name in minors_audit.SECTIONS]
    past = list(MinorsAuditSignOff.objects.select_related("signed_by").exclude(year=status.year)[:10])
    return render(request, "companion/minors_audit.html", {
        "status": status, "sections": sections, "pack_json": json.dumps(pack, ensure_ascii=False, indent=2),
        "past": past, "can_edit": request.can_edit})


SECTION_LABELS = {
    "population": _("Minors served"), "consents": _("Consents"), "staff_access": _("Staff access to minors' data"),
    "sharing": _("Sharing with third parties"), "deletions": _("Deletions"), "incidents": _("Incidents"),
}
