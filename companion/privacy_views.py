"""`/privacy/data/`: copy and delete one's data (CN-DAT-04, CN-DAT-05, CN-DAT-09): a conversation's
messages one by one at `/privacy/data/conversations/<id>/`. The consent part of the privacy centre is
accounts.views.privacy_centre at `/privacy/`."""
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import get_language, gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from companion import privacy
from companion.models import Conversation, DataExport, ExportStatus, MessageStatus
from companion.protocol import message_record
from companion.selectors import conversation_messages


@login_required
@never_cache
@require_GET
def data_page(request):
    exports = list(DataExport.objects.filter(user=request.user).defer("archive")[:5])
    conversations = (Conversation.objects.filter(user=request.user).select_related("character")
                     .order_by("-updated_at"))
    language = get_language()
    return render(request, "companion/privacy_data.html", {
        "exports": exports, "now": timezone.now(),
        "preparing": any(item.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for item in exports),
        "conversations": [{"conversation": item, "name": item.character.name_for(language),
                           "messages": item.messages.count()} for item in conversations],
    })


@login_required
@require_POST
def request_export(request):
    privacy.start_export(user=request.user)
    messages.success(request, gettext("We are preparing your copy. This page updates until it is ready."))
    return redirect("privacy_data")


@login_required
@never_cache
@require_GET
def download_export(request, public_id):
    try:
        export, payload = privacy.export_file(user=request.user, public_id=public_id)
    except DataExport.DoesNotExist:
        raise Http404 from None
    response = HttpResponse(payload, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(
        True, f"haven-data-{timezone.localtime(export.finished_at):%Y%m%d}.zip")
    return response


def _refused(request, refusal: privacy.PrivacyRefused):
    messages.error(request, refusal.message)
    return redirect("privacy_data")


@login_required
@require_POST
def delete_conversation(request, public_id):
    try:
        count = privacy.delete_conversation(user=request.user, public_id=public_id)
    except privacy.PrivacyRefused as refusal:
        return _refused(request, refusal)
    messages.success(request, ngettext("Conversation deleted (%(count)d message).",
                                       "Conversation deleted (%(count)d messages).", count) % {"count": count})
    return redirect("privacy_data")


@login_required
@never_cache
@require_GET
def conversation_page(request, public_id):
    """One of the user's conversations, message by message, each with its label and a delete button.
    Someone else's conversation is a 404, as a missing one is."""
    conversation = get_object_or_404(Conversation.objects.select_related("character"), public_id=public_id,
                                     user=request.user)
    language = get_language()
    rows = [{**message_record(message, language), "created": message.created_at,
             "streaming": message.status == MessageStatus.STREAMING}
            for message in conversation_messages(conversation)]
    return render(request, "companion/privacy_conversation.html", {
        "conversation": conversation, "name": conversation.character.name_for(language), "rows": rows,
    })


@login_required
@require_POST
def delete_message(request, public_id):
    try:
        conversation_id = privacy.delete_message(user=request.user, public_id=public_id)
    except privacy.PrivacyRefused as refusal:
        if refusal.code == "not_found":
            raise Http404 from None
        messages.error(request, refusal.message)
        conversation = (Conversation.objects.filter(user=request.user, messages__public_id=public_id)
                        .values_list("public_id", flat=True).first())
        return redirect("privacy_conversation", conversation) if conversation else redirect("privacy_data")
    messages.success(request, gettext("Message deleted."))
    return redirect("privacy_conversation", conversation_id)


CONFIRM_WORD = "DELETE"


def _unconfirmed(request):
    """Deleting everything asks for the word typed out; without it, back to the page, nothing done."""
    if request.POST.get("confirm", "").strip().upper() == CONFIRM_WORD:
        return None
    messages.error(request, gettext("Type %(word)s to confirm.") % {"word": CONFIRM_WORD})
    return redirect("privacy_data")


@login_required
@require_POST
def delete_everything(request):
    if (unconfirmed := _unconfirmed(request)) is not None:
        return unconfirmed
    try:
        count = privacy.delete_all_conversations(user=request.user)
    except privacy.PrivacyRefused as refusal:
        return _refused(request, refusal)
    messages.success(request, ngettext("%(count)d conversation deleted.", "%(count)d conversations deleted.", count)
                     % {"count": count})
    return redirect("privacy_data")


@login_required
@require_POST
def close_account(request):
    if (unconfirmed := _unconfirmed(request)) is not None:
        return unconfirmed
    try:
        privacy.close_account(user=request.user, password=request.POST.get("password", ""))
    except privacy.PrivacyRefused as refusal:
        return _refused(request, refusal)
    logout(request)
    messages.success(request, gettext("Your account is closed and your personal data has been deleted."))
    return redirect("home")
