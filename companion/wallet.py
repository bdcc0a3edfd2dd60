"""Wallet, gifts and minors' spending caps (CN-MIN-11, MOPR art. 44; CN-CRI-06 purchases paused).

Money is integer fen. The pure rules come first (`statutory_caps`, `effective_caps`,
`spending_refusal`): no ORM, no clock. Then reads, then the services, which are the only writers.

Every balance change locks the user's Wallet row (`select_for_update`), then checks the balance
and the cap totals (today and this month, Beijing time) inside that lock and writes one
LedgerEntry, so parallel purchases are serialised and can neither overspend a cap nor the
balance (the CHECK constraint on the balance backs this up). A replayed idempotency key returns the
entry the first request wrote.

Minors (`user.is_minor`, which also covers suspected minors) may neither top up nor buy unless
their guardian turned purchases on in the portal (SpendingControl), and every purchase of theirs
is a SpendingRequest the guardian approves in the portal: the guardian's signed-in approval is the
"guardian code" of CN-MIN-11. Approval runs the purchase at once with every check repeated.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _

from accounts import audit
from accounts.models import Role, User
from companion import payments
from companion.models import (CaseStatus, CrisisCase, LedgerEntry, LedgerKind, SpendingControl, SpendingRequest,
                              SpendingStatus, TopUp, TopUpStatus, Wallet)
from companion.time_limits import BEIJING
from guardians.models import Contact, ContactKind
from guardians.selectors import linked_guardian_contact

YUAN = 100  # fen


# --- the gift shop -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Gift:
    slug: str
    price_fen: int
    name: object  # lazy translation


# Gifts a user can send a character: the premium items of the wallet. Prices in fen.
GIFTS = {gift.slug: gift for gift in (
    Gift("flowers", 6 * YUAN, _("A bunch of flowers")),
    Gift("milk-tea", 12 * YUAN, _("A cup of milk tea")),
    Gift("shooting-stars", 30 * YUAN, _("A night of shooting stars")),
    Gift("handwritten-letter", 120 * YUAN, _("A handwritten letter")),
)}


# --- pure rules (CN-MIN-11) --------------------------------------------------------------------

@dataclass(frozen=True)
class Caps:
    """Upper limits in fen; 0 means no spending at all."""
    per_purchase: int
    daily: int
    monthly: int


NO_SPENDING = Caps(0, 0, 0)
# MOPR art. 44 / CN-MIN-11: 8-15 ¥50 a time and a day, ¥200 a month; 16-17 ¥100 a time, ¥400 a
# month. The rule names no daily cap for 16-17: we use the per-purchase cap as the daily one too
# (docs/decisions.md), the stricter reading.
CAPS_8_TO_15 = Caps(50 * YUAN, 50 * YUAN, 200 * YUAN)
CAPS_16_17 = Caps(100 * YUAN, 100 * YUAN, 400 * YUAN)


def statutory_caps(age: int | None) -> Caps:
    """The most a minor of `age` (User.protective_age: a suspected minor's stated age, else 15) may
    spend. No age at all gets the 8-15 band: stricter than 16-17."""
    if age is not None and age < 8:
        return NO_SPENDING
    if age is not None and 16 <= age < 18:
        return CAPS_16_17
    return CAPS_8_TO_15


def effective_caps(statutory: Caps, *, per_purchase: int | None, daily: int | None, monthly: int | None) -> Caps:
    """The guardian's caps where they are lower; a guardian can never raise one (tighten only)."""
    def lower(legal: int, chosen: int | None) -> int:
        return legal if chosen is None else min(legal, chosen)
    return Caps(lower(statutory.per_purchase, per_purchase), lower(statutory.daily, daily),
                lower(statutory.monthly, monthly))


def cap_problem(*, amount: int, caps: Caps, spent_today: int, spent_month: int) -> str | None:
    """Which cap `amount` would break, or None: `no_spending`, `per_purchase`, `daily`, `monthly`."""
    if caps.per_purchase == 0 or caps.monthly == 0 or caps.daily == 0:
        return "no_spending"
    if amount > caps.per_purchase:
        return "per_purchase"
    if spent_today + amount > caps.daily:
        return "daily"
    if spent_month + amount > caps.monthly:
        return "monthly"
    return None


def spending_refusal(*, amount: int, balance: int | None, in_crisis: bool, is_minor: bool, has_guardian: bool,
                     enabled: bool, caps: Caps | None, spent_today: int, spent_month: int) -> str | None:
    """Why this spend (a purchase, or a top-up when `balance` is None) must be refused, or None.
    Order matters: the message shown is the first reason."""
    if in_crisis:
        return "crisis"  # CN-CRI-06
    if amount <= 0:
        return "amount"
    if is_minor:
        if not has_guardian:
            return "no_guardian"
        if caps is not None and caps == NO_SPENDING:
            return "no_spending"
        if not enabled:
            return "not_enabled"
        problem = cap_problem(amount=amount, caps=caps, spent_today=spent_today, spent_month=spent_month)
        if problem:
            return problem
    if balance is not None and amount > balance:
        return "balance"
    return None


def refusal_text(code: str) -> str:
    texts = {
        "crisis": gettext("Purchases and top-ups are paused while our safety team is looking after you. "
                          "They open again when the case is closed."),
        "amount": gettext("Enter an amount greater than zero."),
        "no_guardian": gettext("Purchases need a linked guardian who has confirmed in the guardian portal."),
        "no_spending": gettext("Purchases and top-ups are not available at your age."),
        "not_enabled": gettext("Your guardian has not turned on purchases for you."),
        "per_purchase": gettext("This is more than you may spend at one time."),
        "daily": gettext("This would take you over today's spending limit."),
        "monthly": gettext("This would take you over this month's spending limit."),
        "balance": gettext("Your balance is too low. Top up first."),
        "unknown_item": gettext("That item is not in the shop."),
        "signature": gettext("The payment could not be confirmed."),
        "already_decided": gettext("This request was already decided."),
        "not_refundable": gettext("This purchase cannot be refunded."),
        "above_statutory": gettext("A limit cannot be higher than the legal maximum for this age."),
    }
    return texts.get(code, gettext("This cannot be done."))


class SpendingRefused(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code

    @property
    def message(self) -> str:
        return refusal_text(self.code)


class WalletItemNotFound(Exception):
    """No such top-up, request or entry, or not this person's (one error for both)."""


def format_yuan(fen: int) -> str:
    return f"¥{fen // 100}" if fen % 100 == 0 else f"¥{fen / 100:.2f}"


# --- reads -------------------------------------------------------------------------------------

def period_starts(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Start of today and of this month, Beijing time (CN-MIN-11 days and months are Beijing's)."""
    local = now.astimezone(BEIJING)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def _total(wallet: Wallet, kind: str, since: dt.datetime) -> int:
    if wallet.pk is None:
        return 0
    rows = LedgerEntry.objects.filter(wallet=wallet, kind=kind, created_at__gte=since)
    if kind == LedgerKind.PURCHASE:
        rows = rows.filter(refund__isnull=True)  # a refunded purchase no longer counts against a cap
    return rows.aggregate(total=Sum("amount_fen"))["total"] or 0


def in_crisis(user: User) -> bool:
    """CN-CRI-06: an open crisis case pauses purchases and top-ups."""
    return CrisisCase.objects.filter(user=user).exclude(status=CaseStatus.RESOLVED).exists()


def minor_caps(user: User, contact: Contact | None) -> tuple[bool, Caps]:
    """(purchases enabled by the guardian, the caps in force) for a minor."""
    control = SpendingControl.objects.filter(contact=contact).first() if contact is not None else None
    statutory = statutory_caps(user.protective_age)
    if control is None:
        return False, statutory
    return control.enabled, effective_caps(statutory, per_purchase=control.per_purchase_fen,
                                           daily=control.daily_fen, monthly=control.monthly_fen)


def wallet_of(user: User) -> Wallet:
    """The user's wallet; an unsaved empty one if they never had money (reads create nothing)."""
    return Wallet.objects.filter(user=user).first() or Wallet(user=user)


def _entries(wallet: Wallet, **filters) -> list[LedgerEntry]:
    if wallet.pk is None:
        return []
    return list(wallet.entries.filter(**filters).select_related("refund")[:50])


@dataclass(frozen=True)
class Summary:
    wallet: Wallet
    month_spent: int
    today_spent: int
    entries: list[LedgerEntry]
    requests: list[SpendingRequest]
    caps: Caps | None
    enabled: bool


def wallet_summary(user: User, *, now: dt.datetime | None = None, history: int = 50) -> Summary:
    """The /wallet/ page: balance, this month's and today's purchases, history, the minor's caps."""
    wallet = wallet_of(user)
    day, month = period_starts(now or timezone.now())
    caps, enabled = None, True
    if user.is_minor:
        enabled, caps = minor_caps(user, linked_guardian_contact(user))
    return Summary(wallet=wallet, month_spent=_total(wallet, LedgerKind.PURCHASE, month),
                   today_spent=_total(wallet, LedgerKind.PURCHASE, day),
                   entries=_entries(wallet)[:history],
                   requests=list(SpendingRequest.objects.filter(user=user)[:history]), caps=caps, enabled=enabled)


def ward_spending(contact: Contact) -> dict:
    """The guardian portal's spending section for one ward (CN-MIN-11)."""
    user = contact.user
    wallet = wallet_of(user)
    enabled, caps = minor_caps(user, contact)
    day, month = period_starts(timezone.now())
    return {"contact": contact, "user": user, "wallet": wallet, "enabled": enabled, "caps": caps,
            "statutory": statutory_caps(user.protective_age),
            "control": SpendingControl.objects.filter(contact=contact).first(),
            "month_spent": _total(wallet, LedgerKind.PURCHASE, month),
            "today_spent": _total(wallet, LedgerKind.PURCHASE, day),
            "pending": list(SpendingRequest.objects.filter(user=user, status=SpendingStatus.PENDING)),
            "purchases": _entries(wallet, kind=LedgerKind.PURCHASE)}


# --- services ----------------------------------------------------------------------------------

def _lock_wallet(user: User) -> Wallet:
    Wallet.objects.get_or_create(user=user)
    return Wallet.objects.select_for_update().get(user=user)


def _check(user: User, wallet: Wallet, *, amount: int, kind: str, balance: bool, now: dt.datetime) -> None:
    """Raise SpendingRefused unless `user` may spend (or top up) `amount` now. Call under the wallet lock."""
    is_minor = user.is_minor
    contact = linked_guardian_contact(user) if is_minor else None
    enabled, caps = minor_caps(user, contact) if is_minor else (True, None)
    day, month = period_starts(now)
    code = spending_refusal(
        amount=amount, balance=wallet.balance_fen if balance else None, in_crisis=in_crisis(user),
        is_minor=is_minor, has_guardian=contact is not None, enabled=enabled, caps=caps,
        spent_today=_total(wallet, kind, day) if is_minor else 0,
        spent_month=_total(wallet, kind, month) if is_minor else 0)
    if code:
        raise SpendingRefused(code)


def _replayed(key: str) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(idempotency_key=key).first()


def _gift(slug: str) -> Gift:
    try:
        return GIFTS[slug]
    except KeyError:
        raise SpendingRefused("unknown_item") from None


def _purchase(*, user: User, gift: Gift, key: str, approved_by: User | None) -> LedgerEntry:
    """Buy `gift` for `user` inside the caller's transaction: lock, replay, check, debit, audit."""
    wallet = _lock_wallet(user)
    entry = _replayed(key)
    if entry is not None:
        if entry.wallet_id != wallet.pk:
            raise SpendingRefused("amount")
        return entry
    _check(user, wallet, amount=gift.price_fen, kind=LedgerKind.PURCHASE, balance=True, now=timezone.now())
    entry = LedgerEntry.objects.create(wallet=wallet, kind=LedgerKind.PURCHASE, amount_fen=gift.price_fen,
                                       item=gift.slug, approved_by=approved_by, idempotency_key=key)
    Wallet.objects.filter(pk=wallet.pk).update(balance_fen=F("balance_fen") - gift.price_fen)
    audit.record("wallet.purchased", actor=approved_by or user, subject_type="wallet", subject_id=wallet.pk,
                 data={"entry": str(entry.public_id), "item": gift.slug, "amount_fen": gift.price_fen,
                       "user": user.pk, "approved_by": approved_by.pk if approved_by else None})
    return entry


@transaction.atomic(durable=True)
def buy_gift(*, user: User, item: str, idempotency_key: str) -> LedgerEntry | SpendingRequest:
    """An adult buys at once (a LedgerEntry). A minor's purchase becomes a SpendingRequest for the
    guardian to approve in the portal, after the same checks (so a hopeless request is refused now).
    Replaying `idempotency_key` returns what the first call made. Raises SpendingRefused."""
    gift = _gift(item)
    if not user.is_minor:
        return _purchase(user=user, gift=gift, key=f"purchase:{user.pk}:{idempotency_key}", approved_by=None)
    key = f"request:{user.pk}:{idempotency_key}"
    wallet = _lock_wallet(user)
    request = SpendingRequest.objects.filter(idempotency_key=key).first()
    if request is not None:
        return request
    _check(user, wallet, amount=gift.price_fen, kind=LedgerKind.PURCHASE, balance=True, now=timezone.now())
    request = SpendingRequest.objects.create(user=user, contact=linked_guardian_contact(user), item=gift.slug,
                                             amount_fen=gift.price_fen, idempotency_key=key)
    audit.record("wallet.purchase_requested", actor=user, subject_type="spending_request", subject_id=request.pk,
                 data={"item": gift.slug, "amount_fen": gift.price_fen})
    return request


@transaction.atomic(durable=True)
def decide_spending_request(*, guardian: User, public_id: str, approve: bool) -> SpendingRequest:
    """The guardian approves (the purchase runs now, every check repeated) or declines a ward's
    pending request. Only the account linked on the ward's active guardian contact may decide.
    A refused approval leaves the request FAILED with the reason. Raises WalletItemNotFound."""
    request = (SpendingRequest.objects.select_for_update(of=("self",)).select_related("user")
               .filter(public_id=public_id, contact__account=guardian, contact__active=True,
                       contact__kind=ContactKind.GUARDIAN).first()) if _is_uuid(public_id) else None
    if request is None:
        raise WalletItemNotFound(public_id)
    if request.status != SpendingStatus.PENDING:
        raise SpendingRefused("already_decided")
    request.decided_at, request.decided_by = timezone.now(), guardian
    if not approve:
        request.status = SpendingStatus.DECLINED
    else:
        try:
            with transaction.atomic():
                request.entry = _purchase(user=request.user, gift=_gift(request.item),
                                          key=f"approved:{request.public_id}", approved_by=guardian)
            request.status = SpendingStatus.COMPLETED
        except SpendingRefused as refusal:
            request.status, request.reason = SpendingStatus.FAILED, refusal.code
    request.save(update_fields=["status", "reason", "decided_at", "decided_by", "entry"])
    audit.record("wallet.purchase_approved" if approve else "wallet.purchase_declined", actor=guardian,
                 subject_type="spending_request", subject_id=request.pk,
                 data={"user": request.user_id, "status": request.status, "reason": request.reason})
    return request


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@transaction.atomic(durable=True)
def start_top_up(*, user: User, amount_fen: int) -> tuple[TopUp, str]:
    """A pending top-up and the provider's checkout URL to send the payer to. Minors need purchases
    turned on and stay within their caps (top-ups counted like purchases, MOPR art. 44 caps 充值)."""
    wallet = _lock_wallet(user)
    _check(user, wallet, amount=amount_fen, kind=LedgerKind.TOP_UP, balance=False, now=timezone.now())
    provider = payments.provider()
    top_up = TopUp.objects.create(wallet=wallet, amount_fen=amount_fen, provider=provider.name)
    return top_up, provider.checkout_url(payment_id=str(top_up.public_id), amount_fen=amount_fen)


def access_top_up(user: User, public_id: str) -> TopUp:
    top_up = TopUp.objects.filter(public_id=public_id, wallet__user=user).first() if _is_uuid(public_id) else None
    if top_up is None:
        raise WalletItemNotFound(public_id)
    return top_up


@transaction.atomic(durable=True)
def complete_top_up(*, user: User, public_id: str, outcome: str, signature: str) -> TopUp:
    """The provider's signed return: credit the wallet once (a replay finds the top-up already paid
    and changes nothing). A bad signature is refused; `outcome` other than paid cancels it. The caps
    are checked again: two top-ups started side by side cannot together pass a minor's cap."""
    top_up = access_top_up(user, public_id)
    if not payments.provider().verify_return(payment_id=str(top_up.public_id), amount_fen=top_up.amount_fen,
                                             outcome=outcome, signature=signature):
        raise SpendingRefused("signature")
    wallet = _lock_wallet(user)
    top_up = TopUp.objects.select_for_update().get(pk=top_up.pk)
    if top_up.status != TopUpStatus.PENDING:
        return top_up
    if outcome != payments.PAID:
        top_up.status = TopUpStatus.CANCELLED
        top_up.save(update_fields=["status"])
        return top_up
    _check(user, wallet, amount=top_up.amount_fen, kind=LedgerKind.TOP_UP, balance=False, now=timezone.now())
    entry = LedgerEntry.objects.create(wallet=wallet, kind=LedgerKind.TOP_UP, amount_fen=top_up.amount_fen,
                                       idempotency_key=f"topup:{top_up.public_id}")
    Wallet.objects.filter(pk=wallet.pk).update(balance_fen=F("balance_fen") + top_up.amount_fen)
    top_up.status, top_up.completed_at = TopUpStatus.PAID, timezone.now()
    top_up.save(update_fields=["status", "completed_at"])
    audit.record("wallet.topped_up", actor=user, subject_type="wallet", subject_id=wallet.pk,
                 data={"entry": str(entry.public_id), "amount_fen": top_up.amount_fen, "provider": top_up.provider})
    return top_up


@transaction.atomic(durable=True)
def refund_purchase(*, actor: User, public_id: str) -> LedgerEntry:
    """Refund a purchase to the wallet: by a compliance officer, or by the guardian of the minor who
    made it without the guardian's approval (e.g. while taken for an adult). Once per purchase;
    refunded purchases stop counting against the caps. Raises WalletItemNotFound, SpendingRefused."""
    entry = (LedgerEntry.objects.select_related("wallet__user").filter(public_id=public_id, kind=LedgerKind.PURCHASE)
             .first()) if _is_uuid(public_id) else None
    if entry is None:
        raise WalletItemNotFound(public_id)
    owner = entry.wallet.user
    is_compliance = actor.has_role(Role.COMPLIANCE)
    is_guardian = Contact.objects.filter(user=owner, kind=ContactKind.GUARDIAN, active=True, account=actor).exists()
    if not (is_compliance or is_guardian):
        raise WalletItemNotFound(public_id)
    if not is_compliance and entry.approved_by_id is not None:
        raise SpendingRefused("not_refundable")  # the guardian authorised it
    wallet = _lock_wallet(owner)
    if LedgerEntry.objects.filter(refund_of=entry).exists():
        raise SpendingRefused("not_refundable")
    try:
        with transaction.atomic():
            refund = LedgerEntry.objects.create(wallet=wallet, kind=LedgerKind.REFUND, amount_fen=entry.amount_fen,
                                                item=entry.item, refund_of=entry, approved_by=actor,
                                                idempotency_key=f"refund:{entry.public_id}")
    except IntegrityError:
        raise SpendingRefused("not_refundable") from None
    Wallet.objects.filter(pk=wallet.pk).update(balance_fen=F("balance_fen") + entry.amount_fen)
    audit.record("wallet.refunded", actor=actor, subject_type="wallet", subject_id=wallet.pk,
                 data={"purchase": str(entry.public_id), "refund": str(refund.public_id),
                       "amount_fen": entry.amount_fen, "user": owner.pk,
                       "by": "compliance" if is_compliance else "guardian"})
    return refund


def caps_refusal(statutory: Caps, *, per_purchase: int | None, daily: int | None, monthly: int | None) -> str | None:
    """A guardian's caps may only be at most the statutory ones (pure)."""
    for chosen, legal in ((per_purchase, statutory.per_purchase), (daily, statutory.daily),
                          (monthly, statutory.monthly)):
        if chosen is not None and (chosen < 0 or chosen > legal):
            return "above_statutory"
    return None


@transaction.atomic(durable=True)
def set_spending_control(*, guardian: User, contact: Contact, enabled: bool, per_purchase_fen: int | None,
                         daily_fen: int | None, monthly_fen: int | None) -> SpendingControl:
    """CN-MIN-11: the guardian turns purchases on or off for the ward and tightens the caps. Raises
    SpendingRefused("above_statutory") for a cap above the law's. `contact` came from
    guardians.selectors.access_ward_by_id for this guardian."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk, account=guardian, active=True)
    statutory = statutory_caps(contact.user.protective_age)
    if caps_refusal(statutory, per_purchase=per_purchase_fen, daily=daily_fen, monthly=monthly_fen):
        raise SpendingRefused("above_statutory")
    control, _ = SpendingControl.objects.update_or_create(contact=contact, defaults={
        "enabled": enabled, "per_purchase_fen": per_purchase_fen, "daily_fen": daily_fen,
        "monthly_fen": monthly_fen, "updated_by": guardian})
    audit.record("guardian.spending_set", actor=guardian, subject_type="contact", subject_id=contact.pk,
                 data={"enabled": enabled, "per_purchase_fen": per_purchase_fen, "daily_fen": daily_fen,
                       "monthly_fen": monthly_fen})
    return control
