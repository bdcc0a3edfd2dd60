import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import audit
from accounts.consents import missing_for_chat
from accounts.identity import needs_phone_verification
from guardians.selectors import chat_gate
from companion import llm, notices, sanctions
from companion.console import may_use_console
from companion.crisis import sla_seconds
from companion.exports import conversation_export, render_export_html
from companion.health import run_checks
from companion.labels import copy_suffix, disclosure_text
from companion.models import CaseOutcome, CaseStatus, Conversation, RiskLevel
from companion.sanction_forms import ImposeSanctionForm, LiftSanctionForm, SanctionFilterForm
from companion.selectors import (CharacterBlocked, CharacterUnavailable, ConversationNotFound,
                                 access_character_by_slug, access_current_conversation, characters_for)
from companion.time_limits import current_lock, lock_text
from moderation.models import Category as RiskCategory


@require_GET
def home(request):
    language = get_language()
    characters = [
        {"slug": c.slug, "name": c.name_for(language), "tagline": c.tagline_for(language), "avatar": c.avatar,
         "role": c.get_role_display()}
        for c in characters_for(request.user)
    ]
    return render(request, "companion/home.html", {"characters": characters})


@login_required
@require_GET
def chat(request, character_slug: str):
    try:
        character = access_character_by_slug(request.user, character_slug)
    except CharacterBlocked:  # CN-MIN-09: the minor is told who turned it off, unlike adult-only ones (404)
        return render(request, "companion/character_blocked.html", status=403)
    except CharacterUnavailable:
        if notices.archive_open(character_slug=character_slug):  # CN-SVC-01: ended, still readable
            return redirect("notice_archive", character_slug)
        raise Http404 from None
    if missing_for_chat(request.user):  # CN-REG-01, CN-DAT-07: a new or missing consent is asked first
        return redirect(reverse("reconsent") + "?" + urlencode({"next": request.get_full_path()}))
    if needs_phone_verification(request.user):  # CN-REG-04: the texted code comes before the first chat
        return redirect(reverse("phone_verification") + "?" + urlencode({"next": request.get_full_path()}))
    gate = chat_gate(request.user)
    if gate.blocking or gate.prompt:  # CN-REG-03, CN-MIN-03/04, CN-ELD-01, BX-13: contacts first
        return redirect(reverse("guardians:contacts") + "?" + urlencode({"next": request.get_full_path()}))
    language = get_language()
    blocking = sanctions.blocking_sanction(request.user.pk)
    if blocking is not None:  # CN-CRI-09: a suspended or terminated account sees why, and how to appeal
        return render(request, "companion/sanctions_notice.html",
                      {"notice": sanctions.notice_frame(blocking, language)}, status=403)
    lock = current_lock(request.user, timezone.now())
    if lock is not None:  # CN-MIN-10: a minor over today's limit or in rest hours: why, and when chat reopens
        return render(request, "companion/time_locked.html",
                      {"reason": lock.reason, "text": lock_text(lock, language)}, status=403)
    provider = llm.provider()
    return render(request, "companion/chat.html", {
        "character": character,
        "character_name": character.name_for(language),
        "disclosure": disclosure_text(language, character.name_for(language)),
        "copy_suffix": copy_suffix(language),
        "model_label": f"{provider.name}:{provider.model}",
        "chat_strings": chat_strings(language),
    })


EXPORT_FORMATS = {
    "json": ("application/json; charset=utf-8", lambda export: json.dumps(export, ensure_ascii=False, indent=2)),
    "html": ("text/html; charset=utf-8", render_export_html),
}


# CN-DIS-06: the export view reads no query parameters, so nothing can ask for an unlabelled file.
@login_required
@never_cache
@require_GET
def export(request, character_slug: str, file_format: str):
    return conversation_download(request, _current_conversation_or_404(request, character_slug), file_format)


def conversation_download(request, conversation: Conversation, file_format: str, **audit_details) -> HttpResponse:
    """The labelled JSON or HTML file of one conversation, as an attachment; the download is audited."""
    content_type, render = EXPORT_FORMATS[file_format]
    content = render(conversation_export(conversation, language=get_language()))
    audit.record("data.exported", actor=request.user, subject_type="conversation", subject_id=conversation.pk,
                 data={"format": file_format, **audit_details})
    return _attachment(content, content_type=content_type, filename=(
        f"haven-{conversation.character.slug}-{timezone.localdate().isoformat()}.{file_format}"))


def _current_conversation_or_404(request, character_slug: str) -> Conversation:
    try:
        return access_current_conversation(request.user, character_slug)
    except (CharacterUnavailable, ConversationNotFound):
        raise Http404 from None


def _attachment(content: str, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def chat_strings(language: str) -> dict:
    """Interface text the chat script needs, translated on the server."""
    return {
        "copySuffix": copy_suffix(language),
        "connected": gettext("Connected"),
        "connecting": gettext("Connecting…"),
        "reconnecting": gettext("Connection lost. Reconnecting…"),
        "stopped": gettext("Stopped"),
        "failed": gettext("Could not be completed"),
        "interrupted": gettext("Interrupted"),
        "notSent": gettext("Not sent"),
        "copy": gettext("Copy"),
        "report": gettext("Report"),
        "appeal": gettext("Appeal this decision"),
        "copied": gettext("Copied with its AI label"),
        "you": gettext("You"),
        "closed": {
            "exit": gettext("You have left this chat."),
            "blocked": gettext("This character is not available to you."),
            "time_limit": gettext("Today's time limit is reached."),
            "curfew": gettext("Chat is closed during rest hours."),
            "suspended": gettext("This account is suspended."),
            "service_ended": gettext("This service has ended."),
        },
        "modes": {"ai": gettext("AI"), "waiting": gettext("Waiting for a human"), "human": gettext("Human staff")},
        "reminderTitles": {
            "disclosure": gettext("You are talking to an AI"),
            "continuous_use": gettext("Time for a pause"),
            "break": gettext("Time for a break"),
            "dependence": gettext("A gentle reminder"),
            "time_limit": gettext("Time limit"),
            "curfew": gettext("Rest hours"),
        },
    }


@never_cache
@require_GET
def healthz(request):
    checks = run_checks()
    healthy = all(result.startswith("ok") for result in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


@login_required
@require_GET
@never_cache
def console(request):
    """The safety team's console (CN-CRI-05, CN-CRI-08): the page; everything live runs on /ws/console/."""
    if not may_use_console(request.user):
        raise PermissionDenied
    return render(request, "companion/console.html", {
        "sla_seconds": sla_seconds(), "ws_path": "/ws/console/",
        "outcomes": list(CaseOutcome.choices),
        "levels": {value: str(label) for value, label in RiskLevel.choices},
        "statuses": {value: str(label) for value, label in CaseStatus.choices},
        "categories": {**{value: str(label) for value, label in RiskCategory.choices},
                       "distress": str(RiskLevel.DISTRESS.label)},
    })


# --- Sanctions (CN-CRI-09, CN-CON-04) ---------------------------------------------------------

def _sanctions_page(request, *, form=None, lift_forms=None, status=200):
    """The list, and for compliance officers the impose form; regulators see pseudonyms only."""
    filters = SanctionFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    can_impose = sanctions.may_impose_sanctions(request.user)
    show_usernames = not request.user.has_role("regulator") or can_impose
    if form is None and can_impose:
        form = ImposeSanctionForm(initial=sanctions.case_prefill(request.GET["case"]) if "case" in request.GET else None)
    now = timezone.now()
    rows = [sanctions.sanction_record(item, include_username=show_usernames, now=now)
            for item in sanctions.sanctions_list(status=chosen.get("status", ""), kind=chosen.get("kind", ""))[:200]]
    kinds = dict(sanctions.SanctionKind.choices)
    for row in rows:
        row["kind_label"] = kinds[row["kind"]]
        row["lift_form"] = (lift_forms or {}).get(row["id"]) or LiftSanctionForm(prefix=row["id"])
    return render(request, "companion/sanctions.html", {
        "filters": filters if filters.is_bound else SanctionFilterForm(), "rows": rows, "form": form,
        "can_impose": can_impose, "can_export": sanctions.may_export_sanctions(request.user),
        "show_usernames": show_usernames}, status=status)


def _sanctions_access(request, check):
    """Anonymous users go to the login page; staff without the right role get 403."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not check(request.user):
        raise PermissionDenied
    return None


@require_GET
@never_cache
def sanctions_page(request):
    return _sanctions_access(request, sanctions.may_view_sanctions) or _sanctions_page(request)


@require_POST
@never_cache
def sanction_impose(request):
    if (refused := _sanctions_access(request, sanctions.may_impose_sanctions)) is not None:
        return refused
    form = ImposeSanctionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            sanction = sanctions.impose_sanction(
                actor=request.user, kind=data["kind"], reason=data["reason"], evidence=data["evidence"],
                days=data["days"], user_id=data.get("user_id"),
                case_id=str(data["case"]) if data.get("case") else None)
        except sanctions.SanctionRefused as error:
            error.show_on(form)
        else:
            messages.success(request, gettext("Sanction %(id)s imposed. The user has been told.")
                             % {"id": sanction.public_id})
            return redirect("sanctions")
    return _sanctions_page(request, form=form, status=400)


@require_POST
@never_cache
def sanction_lift(request, sanction_id):
    if (refused := _sanctions_access(request, sanctions.may_impose_sanctions)) is not None:
        return refused
    form = LiftSanctionForm(request.POST, prefix=str(sanction_id))
    if form.is_valid():
        try:
            sanctions.lift_sanction(actor=request.user, sanction_id=str(sanction_id),
                                    reason=form.cleaned_data["reason"])
        except sanctions.SanctionRefused as error:
            if error.code == "not_found":
                raise Http404 from None
            form.add_error("reason", error.message)
        else:
            messages.success(request, gettext("Sanction %(id)s lifted.") % {"id": sanction_id})
            return redirect("sanctions")
    return _sanctions_page(request, lift_forms={str(sanction_id): form}, status=400)


@require_GET
@never_cache
def sanctions_export(request):
    """Export for the authorities (CN-CRI-09): every sanction with reason, evidence ids, staff and
    times; no chat text. Users appear by pseudonym; compliance officers also get the user name."""
    if (refused := _sanctions_access(request, sanctions.may_export_sanctions)) is not None:
        return refused
    include_usernames = sanctions.may_impose_sanctions(request.user)
    now = timezone.now()
    export = {
        "generated_at": now.isoformat(),
        "service": settings.COMPANION_SERVICE_NAME,
        "sanctions": [sanctions.sanction_record(item, include_username=include_usernames, now=now)
                      for item in sanctions.sanctions_list()],
    }
    audit.record("sanctions.exported", actor=request.user, data={"count": len(export["sanctions"]),
                                                                 "usernames": include_usernames})
    return _attachment(json.dumps(export, ensure_ascii=False, indent=2),
                       content_type="application/json; charset=utf-8",
                       filename=f"sanctions-{timezone.localdate().isoformat()}.json")
