"""Wallet pages (CN-MIN-11, CN-CRI-06): /wallet/ for every signed-in user, the sandbox checkout page,
and the guardian's spending page per ward. The guardian pages live here, not in guardians/, because
the wallet models and services are companion's and guardians never imports companion (STYLE.md §1);
they use the guardian role check and ward lookup of guardians."""
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.validators import MaxValueValidator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from companion import payments, wallet
from companion.models import LedgerKind, SpendingControl, SpendingRequest, SpendingStatus
from guardians.selectors import ContactNotFound, access_ward_by_id
from guardians.services import display_name
from guardians.views import guardian_only

MAX_TOP_UP_YUAN = 5000


class TopUpForm(forms.Form):
    amount = forms.IntegerField(label=_("Amount (yuan)"), min_value=1, max_value=MAX_TOP_UP_YUAN)


class BuyForm(forms.Form):
    item = forms.ChoiceField(choices=[(slug, slug) for slug in wallet.GIFTS])
    idempotency_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{8,64}$")


class SpendingControlForm(forms.Form):
    """CN-MIN-11: caps in whole yuan, empty = the legal maximum; the service refuses anything above it."""
    enabled = forms.BooleanField(label=_("Allow purchases and top-ups"), required=False)
    per_purchase = forms.IntegerField(label=_("Most per purchase (yuan)"), min_value=0, required=False)
    daily = forms.IntegerField(label=_("Most per day (yuan)"), min_value=0, required=False)
    monthly = forms.IntegerField(label=_("Most per month (yuan)"), min_value=0, required=False)

    def __init__(self, *args, statutory: wallet.Caps, **kwargs):
        super().__init__(*args, **kwargs)
        for name, legal in (("per_purchase", statutory.per_purchase), ("daily", statutory.daily),
                            ("monthly", statutory.monthly)):
            self.fields[name].validators.append(MaxValueValidator(legal // wallet.YUAN))
            self.fields[name].widget.attrs["max"] = legal // wallet.YUAN

    def fen(self, name: str) -> int | None:
        value = self.cleaned_data[name]
        return None if value is None else value * wallet.YUAN


def _entry_rows(entries) -> list[dict]:
    signs = {LedgerKind.TOP_UP: "+", LedgerKind.REFUND: "+", LedgerKind.PURCHASE: "−"}
    return [{"entry": entry, "amount": signs[entry.kind] + wallet.format_yuan(entry.amount_fen),
             "item": _item_name(entry.item), "refunded": hasattr(entry, "refund")} for entry in entries]


def _item_name(slug: str) -> str:
    gift = wallet.GIFTS.get(slug)
    return str(gift.name) if gift else slug


def _caps_text(caps: wallet.Caps | None) -> dict | None:
    if caps is None:
        return None
    return {"per_purchase": wallet.format_yuan(caps.per_purchase), "daily": wallet.format_yuan(caps.daily),
            "monthly": wallet.format_yuan(caps.monthly)}


@login_required
@require_GET
@never_cache
def wallet_page(request):
    """/wallet/: balance, top up, the gift shop, history, this month's total (CN-MIN-11)."""
    summary = wallet.wallet_summary(request.user)
    return _render_wallet(request, summary, TopUpForm())


def _render_wallet(request, summary, top_up_form, status=200):
    gifts = [{"slug": gift.slug, "name": gift.name, "price": wallet.format_yuan(gift.price_fen),
              "key": uuid.uuid4()} for gift in wallet.GIFTS.values()]
    requests = [{"request": item, "item": _item_name(item.item), "amount": wallet.format_yuan(item.amount_fen),
                 "reason": wallet.refusal_text(item.reason) if item.reason else ""} for item in summary.requests]
    return render(request, "companion/wallet.html", {
        "balance": wallet.format_yuan(summary.wallet.balance_fen),
        "month_spent": wallet.format_yuan(summary.month_spent), "today_spent": wallet.format_yuan(summary.today_spent),
        "entries": _entry_rows(summary.entries), "requests": requests, "gifts": gifts, "form": top_up_form,
        "is_minor": request.user.is_minor, "enabled": summary.enabled, "caps": _caps_text(summary.caps),
        "in_crisis": wallet.in_crisis(request.user)}, status=status)


@login_required
@require_POST
def wallet_top_up(request):
    """Start a top-up and send the payer to the provider's checkout page."""
    form = TopUpForm(request.POST)
    if not form.is_valid():
        return _render_wallet(request, wallet.wallet_summary(request.user), form, status=400)
    try:
        _, url = wallet.start_top_up(user=request.user, amount_fen=form.cleaned_data["amount"] * wallet.YUAN)
    except wallet.SpendingRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("wallet")
    return redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def wallet_sandbox_pay(request, public_id):
    """The sandbox provider's checkout page: the payer confirms (or cancels) and is sent back to our
    signed return URL, as a real provider would. Only while the sandbox is the provider."""
    provider = payments.provider()
    if not isinstance(provider, payments.SandboxProvider):
        raise Http404
    try:
        top_up = wallet.access_top_up(request.user, str(public_id))
    except wallet.WalletItemNotFound:
        raise Http404 from None
    if request.method == "POST":
        outcome = payments.PAID if request.POST.get("action") == "pay" else "cancelled"
        return redirect(provider.return_url(payment_id=str(top_up.public_id), amount_fen=top_up.amount_fen,
                                            outcome=outcome))
    return render(request, "companion/wallet_sandbox.html", {
        "top_up": top_up, "amount": wallet.format_yuan(top_up.amount_fen)})


@login_required
@require_GET
def wallet_topup_return(request, public_id):
    """The provider's return: signed, so only the provider could have made it; replaying it credits
    nothing more (companion.wallet.complete_top_up)."""
    try:
        top_up = wallet.complete_top_up(user=request.user, public_id=str(public_id),
                                        outcome=request.GET.get("outcome", ""), signature=request.GET.get("sig", ""))
    except wallet.WalletItemNotFound:
        raise Http404 from None
    except wallet.SpendingRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("wallet")
    if top_up.status == "paid":
        messages.success(request, gettext("Top-up of %(amount)s received.")
                         % {"amount": wallet.format_yuan(top_up.amount_fen)})
    else:
        messages.info(request, gettext("Top-up cancelled. Nothing was charged."))
    return redirect("wallet")


@login_required
@require_POST
def wallet_buy(request):
    """Buy a gift: at once for adults; for minors a request their guardian approves (CN-MIN-11)."""
    form = BuyForm(request.POST)
    if not form.is_valid():
        messages.error(request, wallet.refusal_text("unknown_item"))
        return redirect("wallet")
    try:
        result = wallet.buy_gift(user=request.user, item=form.cleaned_data["item"],
                                 idempotency_key=form.cleaned_data["idempotency_key"])
    except wallet.SpendingRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("wallet")
    name = _item_name(form.cleaned_data["item"])
    if isinstance(result, SpendingRequest):
        messages.info(request, gettext("We asked your guardian to approve %(item)s. It is bought as soon as "
                                       "they approve in the guardian portal.") % {"item": name})
    else:
        messages.success(request, gettext("You bought %(item)s.") % {"item": name})
    return redirect("wallet")


# --- guardian side (CN-MIN-11) --------------------------------------------------------------------

def _ward(request, contact_id: int):
    try:
        return access_ward_by_id(request.user, contact_id)
    except ContactNotFound:
        raise Http404 from None


def _control_form(contact, data=None) -> SpendingControlForm:
    control = SpendingControl.objects.filter(contact=contact).first()
    initial = {}
    if control is not None:
        initial = {"enabled": control.enabled,
                   **{name: (None if value is None else value // wallet.YUAN) for name, value in (
                       ("per_purchase", control.per_purchase_fen), ("daily", control.daily_fen),
                       ("monthly", control.monthly_fen))}}
    statutory = wallet.statutory_caps(contact.user.protective_age)
    return SpendingControlForm(data, initial=initial, statutory=statutory)


@login_required
@guardian_only
@require_GET
@never_cache
def guardian_spending(request, contact_id: int):
    """Per ward: purchases on or off, caps (tighten only), pending approvals, purchases to refund."""
    contact = _ward(request, contact_id)
    return _render_spending(request, contact, _control_form(contact))


def _render_spending(request, contact, form, status=200):
    data = wallet.ward_spending(contact)
    pending = [{"request": item, "item": _item_name(item.item), "amount": wallet.format_yuan(item.amount_fen)}
               for item in data["pending"]]
    return render(request, "guardians/spending.html", {
        "contact": contact, "name": display_name(contact.user), "form": form, "enabled": data["enabled"],
        "caps": _caps_text(data["caps"]), "statutory": _caps_text(data["statutory"]),
        "no_spending": data["statutory"] == wallet.NO_SPENDING,
        "balance": wallet.format_yuan(data["wallet"].balance_fen),
        "month_spent": wallet.format_yuan(data["month_spent"]), "today_spent": wallet.format_yuan(data["today_spent"]),
        "pending": pending, "purchases": _entry_rows(data["purchases"])}, status=status)


@login_required
@guardian_only
@require_POST
def guardian_spending_settings(request, contact_id: int):
    contact = _ward(request, contact_id)
    form = _control_form(contact, request.POST)
    if not form.is_valid():
        return _render_spending(request, contact, form, status=400)
    try:
        wallet.set_spending_control(guardian=request.user, contact=contact, enabled=form.cleaned_data["enabled"],
                                    per_purchase_fen=form.fen("per_purchase"), daily_fen=form.fen("daily"),
                                    monthly_fen=form.fen("monthly"))
    except wallet.SpendingRefused as refusal:
        form.add_error(None, refusal.message)
        return _render_spending(request, contact, form, status=400)
    messages.success(request, gettext("Saved. The spending settings for %(name)s apply at once.")
                     % {"name": display_name(contact.user)})
    return redirect("guardian_spending", contact_id=contact.pk)


@login_required
@guardian_only
@require_POST
def guardian_spending_decide(request, contact_id: int, public_id, action: str):
    """Approve (the purchase runs now) or decline a ward's pending purchase."""
    contact = _ward(request, contact_id)
    if action not in ("approve", "decline"):
        raise Http404
    try:
        item = wallet.decide_spending_request(guardian=request.user, public_id=str(public_id),
                                              approve=action == "approve")
    except wallet.WalletItemNotFound:
        raise Http404 from None
    except wallet.SpendingRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("guardian_spending", contact_id=contact.pk)
    details = {"item": _item_name(item.item), "name": display_name(contact.user)}
    if item.status == SpendingStatus.COMPLETED:
        messages.success(request, gettext("Approved: %(name)s bought %(item)s.") % details)
    elif item.status == SpendingStatus.DECLINED:
        messages.info(request, gettext("Declined: %(item)s was not bought.") % details)
    else:
        messages.error(request, gettext("Approved, but the purchase was refused: %(reason)s")
                       % {"reason": wallet.refusal_text(item.reason)})
    return redirect("guardian_spending", contact_id=contact.pk)


@login_required
@guardian_only
@require_POST
def guardian_refund(request, contact_id: int, public_id):
    """Refund a ward's purchase that the guardian did not approve."""
    contact = _ward(request, contact_id)
    try:
        wallet.refund_purchase(actor=request.user, public_id=str(public_id))
    except wallet.WalletItemNotFound:
        raise Http404 from None
    except wallet.SpendingRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, gettext("Refunded to %(name)s's wallet.") % {"name": display_name(contact.user)})
    return redirect("guardian_spending", contact_id=contact.pk)
