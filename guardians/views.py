from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Role
from guardians import services
from guardians.forms import ContactForm
from guardians.selectors import ContactNotFound, access_contact_by_id, contacts_of, portal_alerts
from guardians.texts import level_label

ALERTS_SHOWN = 100


@login_required
@require_http_methods(["GET", "POST"])
def contacts(request):
    """List the user's contacts and add one (CN-CRI-07)."""
    form = ContactForm(request.POST or None, initial={"language": request.user.language})
    if request.method == "POST" and form.is_valid():
        if _saved(form, lambda data: services.add_contact(user=request.user, **data)):
            messages.success(request, gettext("Contact added."))
            return redirect("guardians:contacts")
    return render(request, "guardians/contacts.html", {
        "contacts": contacts_of(request.user), "form": form, "is_minor": request.user.is_minor,
        "is_guardian": request.user.has_role(Role.GUARDIAN)})


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request, contact_id: int):
    contact = _own_contact(request, contact_id)
    initial = {name: getattr(contact, name) for name in ("name", "relationship", "email", "phone", "language")}
    form = ContactForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        if _saved(form, lambda data: services.update_contact(user=request.user, contact_id=contact.pk, **data)):
            messages.success(request, gettext("Contact saved."))
            return redirect("guardians:contacts")
    return render(request, "guardians/contact_edit.html", {"contact": contact, "form": form})


@login_required
@require_POST
def contact_deactivate(request, contact_id: int):
    try:
        services.deactivate_contact(user=request.user, contact_id=contact_id)
    except ContactNotFound:
        raise Http404 from None
    messages.success(request, gettext("Contact deactivated. They will not be told about safety concerns."))
    return redirect("guardians:contacts")


@login_required
def guardian_alerts(request):
    """Portal alerts for a guardian account, newest first (CN-MIN-07); no chat content exists here."""
    if not request.user.has_role(Role.GUARDIAN):
        raise PermissionDenied
    alerts = [{"alert": alert, "level": level_label(alert.level)}
              for alert in portal_alerts(request.user)[:ALERTS_SHOWN]]
    return render(request, "guardians/alerts.html", {"alerts": alerts})


def _own_contact(request, contact_id: int):
    try:
        return access_contact_by_id(request.user, contact_id)
    except ContactNotFound:
        raise Http404 from None


def _saved(form: ContactForm, save) -> bool:
    """Run the service; put its refusal or field errors on the form instead of a 500."""
    try:
        save(form.cleaned_data)
    except services.ContactRefused as refusal:
        form.add_error(None, refusal.message)
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    except ContactNotFound:
        raise Http404 from None
    else:
        return True
    return False
