"""Wallet, sandbox top-ups and minors' spending caps (CN-MIN-11, MOPR art. 44; CN-CRI-06 purchases
paused). Everything goes over HTTP through the real views and services; the sandbox provider is
ours and real (it signs with HMAC), so nothing is faked."""
import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.models import AuditEvent, Role
from companion import wallet
from companion.models import (Character, Conversation, CrisisCase, LedgerEntry, LedgerKind, SpendingRequest,
                              SpendingStatus, TopUp, Wallet)
from guardians.models import Contact, ContactKind
from tests.fixtures import UserFactory, client_for, give_contacts, staff


def born(years: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=int(365.25 * years) + 10)


def minor(age: int):
    """A minor with a linked, consenting guardian account (tests/fixtures.py give_contacts)."""
    user = UserFactory(birth_date=born(age))
    contact = Contact.objects.get(user=user, kind=ContactKind.GUARDIAN)
    return user, contact, contact.account


def top_up(client, yuan: int):
    """The whole sandbox flow: our form, the provider's checkout page, its signed return."""
    response = client.post("/wallet/top-up/", {"amount": yuan})
    assert response.status_code == 302, response.content
    checkout = response.url
    if not checkout.startswith("/wallet/sandbox/"):
        return response  # refused: back to /wallet/
    assert client.get(checkout).status_code == 200
    paid = client.post(checkout, {"action": "pay"})
    assert paid.status_code == 302
    back = client.get(paid.url)
    assert back.status_code == 302 and back.url == "/wallet/"
    return paid


def buy(client, item: str, key: str):
    return client.post("/wallet/buy/", {"item": item, "idempotency_key": key}, follow=True)


def balance(user) -> int:
    return Wallet.objects.get(user=user).balance_fen


def enable(guardian, contact, **caps):
    data = {"enabled": "on", **{name: value for name, value in caps.items() if value is not None}}
    return client_for(guardian).post(f"/guardian/wards/{contact.pk}/spending/settings/", data)


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


# --- pure rules ----------------------------------------------------------------------------------

def test_statutory_caps_by_age_band():
    """CN-MIN-11: under 8 nothing; 8-15 ¥50/purchase and day, ¥200/month; 16-17 ¥100, ¥400/month."""
    assert wallet.statutory_caps(7) == wallet.NO_SPENDING
    assert wallet.statutory_caps(8) == wallet.Caps(5000, 5000, 20000)
    assert wallet.statutory_caps(15) == wallet.Caps(5000, 5000, 20000)
    assert wallet.statutory_caps(16) == wallet.Caps(10000, 10000, 40000)
    assert wallet.statutory_caps(17) == wallet.Caps(10000, 10000, 40000)
    assert wallet.statutory_caps(None) == wallet.Caps(5000, 5000, 20000)  # suspected minor, age unknown


def test_guardian_caps_only_tighten():
    legal = wallet.statutory_caps(16)
    assert wallet.effective_caps(legal, per_purchase=2000, daily=None, monthly=99999) == wallet.Caps(2000, 10000, 40000)
    assert wallet.caps_refusal(legal, per_purchase=10001, daily=None, monthly=None) == "above_statutory"
    assert wallet.caps_refusal(legal, per_purchase=10000, daily=0, monthly=None) is None


def test_spending_refusal_order():
    caps = wallet.statutory_caps(12)
    common = {"balance": 100000, "is_minor": True, "has_guardian": True, "enabled": True, "caps": caps,
              "spent_today": 0, "spent_month": 0}
    assert wallet.spending_refusal(amount=100, in_crisis=True, **common) == "crisis"
    assert wallet.spending_refusal(amount=5000, in_crisis=False, **common) is None
    assert wallet.spending_refusal(amount=5001, in_crisis=False, **common) == "per_purchase"
    assert wallet.spending_refusal(amount=3000, in_crisis=False, **{**common, "spent_today": 3000}) == "daily"
    assert wallet.spending_refusal(amount=3000, in_crisis=False, **{**common, "spent_month": 18000}) == "monthly"
    assert wallet.spending_refusal(amount=100, in_crisis=False, **{**common, "enabled": False}) == "not_enabled"
    assert wallet.spending_refusal(amount=100, in_crisis=False, **{**common, "caps": wallet.NO_SPENDING}) \
        == "no_spending"
    assert wallet.spending_refusal(amount=100, in_crisis=False, **{**common, "balance": 99}) == "balance"


# --- adults: sandbox top-up, purchase, idempotency ------------------------------------------------

def test_adult_tops_up_in_the_sandbox_once_however_often_the_return_is_replayed(db):
    user = UserFactory()
    client = client_for(user)
    paid = top_up(client, 50)
    assert balance(user) == 5000
    assert client.get(paid.url).status_code == 302  # the provider's return, replayed
    assert balance(user) == 5000
    assert LedgerEntry.objects.filter(wallet__user=user, kind=LedgerKind.TOP_UP).count() == 1
    assert AuditEvent.objects.filter(action="wallet.topped_up", actor_id=user.pk).count() == 1


def test_forged_or_tampered_return_credits_nothing(db):
    user = UserFactory()
    client = client_for(user)
    checkout = client.post("/wallet/top-up/", {"amount": 20}).url
    top = TopUp.objects.get(wallet__user=user)
    forged = f"/wallet/top-up/{top.public_id}/return/?outcome=paid&sig={'0' * 64}"
    response = client.get(forged, follow=True)
    assert "could not be confirmed" in messages_of(response)
    assert balance(user) == 0 and TopUp.objects.get(pk=top.pk).status == "pending"
    # Someone else's top-up is not found, even with the provider's real signature.
    paid = client.post(checkout, {"action": "pay"})
    assert client_for(UserFactory()).get(paid.url).status_code == 404
    assert balance(user) == 0


def test_cancelled_payment_charges_nothing(db):
    user = UserFactory()
    client = client_for(user)
    checkout = client.post("/wallet/top-up/", {"amount": 20}).url
    cancelled = client.post(checkout, {"action": "cancel"})
    client.get(cancelled.url)
    assert balance(user) == 0 and TopUp.objects.get(wallet__user=user).status == "cancelled"


def test_adult_buys_a_gift_and_sees_the_month_total(db):
    user = UserFactory()
    client = client_for(user)
    top_up(client, 50)
    response = buy(client, "milk-tea", "a1b2c3d4-0001")
    assert "You bought" in messages_of(response)
    assert balance(user) == 5000 - 1200
    page = client.get("/wallet/")
    assert page.context["balance"] == "¥38" and page.context["month_spent"] == "¥12"
    assert AuditEvent.objects.filter(action="wallet.purchased", actor_id=user.pk).exists()


def test_idempotency_key_replay_charges_once(db):
    user = UserFactory()
    client = client_for(user)
    top_up(client, 50)
    for _ in range(3):
        buy(client, "shooting-stars", "replayed-key-0001")
    assert balance(user) == 5000 - 3000
    assert LedgerEntry.objects.filter(wallet__user=user, kind=LedgerKind.PURCHASE).count() == 1


def test_balance_never_goes_negative(db):
    user = UserFactory()
    client = client_for(user)
    top_up(client, 10)
    response = buy(client, "milk-tea", "b1b2c3d4-0001")
    assert "balance is too low" in messages_of(response)
    assert balance(user) == 1000
    assert not LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).exists()


def test_unknown_item_and_get_are_refused(db):
    client = client_for(UserFactory())
    assert "not in the shop" in messages_of(buy(client, "diamond", "c1b2c3d4-0001"))
    assert client.get("/wallet/buy/").status_code == 405
    assert client_for(None).get("/wallet/").status_code == 302  # sign in first


# --- minors (CN-MIN-11) --------------------------------------------------------------------------

def test_minor_top_up_and_purchase_are_off_until_the_guardian_turns_them_on(db):
    user, contact, guardian = minor(16)
    client = client_for(user)
    response = client.post("/wallet/top-up/", {"amount": 10}, follow=True)
    assert "has not turned on purchases" in messages_of(response)
    assert not TopUp.objects.exists()
    assert enable(guardian, contact).status_code == 302
    top_up(client, 10)
    assert balance(user) == 1000
    assert AuditEvent.objects.filter(action="guardian.spending_set", actor_id=guardian.pk).exists()


def test_minor_purchase_without_guardian_approval_is_refused(db):
    """CN-MIN-11 acceptance: the purchase waits for the guardian; nothing is bought or charged."""
    user, contact, guardian = minor(16)
    enable(guardian, contact)
    client = client_for(user)
    top_up(client, 50)
    response = buy(client, "flowers", "d1b2c3d4-0001")
    assert "asked your guardian" in messages_of(response)
    assert balance(user) == 5000
    assert not LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).exists()
    request = SpendingRequest.objects.get(user=user)
    assert request.status == SpendingStatus.PENDING
    # The minor cannot approve their own request, and another guardian cannot either.
    url = f"/guardian/wards/{contact.pk}/spending/{request.public_id}/approve/"
    assert client.post(url).status_code == 403
    other = staff(Role.GUARDIAN)
    assert client_for(other).post(url).status_code == 404
    assert SpendingRequest.objects.get(pk=request.pk).status == SpendingStatus.PENDING


def test_guardian_approves_in_the_portal_and_the_purchase_completes(db):
    user, contact, guardian = minor(16)
    enable(guardian, contact)
    client = client_for(user)
    top_up(client, 50)
    buy(client, "flowers", "e1b2c3d4-0001")
    request = SpendingRequest.objects.get(user=user)
    guardian_client = client_for(guardian)
    page = guardian_client.get(f"/guardian/wards/{contact.pk}/spending/")
    assert str(request.public_id) in page.content.decode()
    response = guardian_client.post(f"/guardian/wards/{contact.pk}/spending/{request.public_id}/approve/",
                                    follow=True)
    assert "Approved" in messages_of(response)
    request.refresh_from_db()
    assert request.status == SpendingStatus.COMPLETED and request.entry.approved_by == guardian
    assert balance(user) == 5000 - 600
    # Deciding twice changes nothing.
    again = guardian_client.post(f"/guardian/wards/{contact.pk}/spending/{request.public_id}/approve/", follow=True)
    assert "already decided" in messages_of(again)
    assert balance(user) == 5000 - 600
    assert AuditEvent.objects.filter(action="wallet.purchase_approved", actor_id=guardian.pk).count() == 1


def test_guardian_declines(db):
    user, contact, guardian = minor(12)
    enable(guardian, contact)
    client = client_for(user)
    top_up(client, 20)
    buy(client, "flowers", "f1b2c3d4-0001")
    request = SpendingRequest.objects.get(user=user)
    client_for(guardian).post(f"/guardian/wards/{contact.pk}/spending/{request.public_id}/decline/")
    assert SpendingRequest.objects.get(pk=request.pk).status == SpendingStatus.DECLINED
    assert balance(user) == 2000


def test_sixteen_year_old_cannot_buy_for_120_yuan(db):
    """CN-MIN-11 acceptance: ¥120 is over the ¥100 per-purchase cap at 16."""
    user, contact, guardian = minor(16)
    enable(guardian, contact)
    client = client_for(user)
    top_up(client, 100)
    response = buy(client, "handwritten-letter", "a2b2c3d4-0001")
    assert "more than you may spend at one time" in messages_of(response)
    assert not SpendingRequest.objects.exists() and balance(user) == 10000


def test_eight_to_fifteen_cannot_pass_fifty_yuan_a_day(db):
    """Two ¥30 requests wait side by side; approving both buys only the first (¥60 > ¥50 a day)."""
    user, contact, guardian = minor(12)
    enable(guardian, contact)
    client = client_for(user)
    top_up(client, 50)
    buy(client, "shooting-stars", "a3b2c3d4-0001")
    buy(client, "shooting-stars", "a3b2c3d4-0002")
    first, second = SpendingRequest.objects.filter(user=user).order_by("created_at", "id")
    guardian_client = client_for(guardian)
    guardian_client.post(f"/guardian/wards/{contact.pk}/spending/{first.public_id}/approve/")
    response = guardian_client.post(f"/guardian/wards/{contact.pk}/spending/{second.public_id}/approve/", follow=True)
    assert "over today's spending limit" in messages_of(response)
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == (SpendingStatus.COMPLETED, SpendingStatus.FAILED)
    assert second.reason == "daily" and balance(user) == 5000 - 3000
    # A third request the same day is refused at once.
    third = buy(client, "shooting-stars", "a3b2c3d4-0003")
    assert "over today's spending limit" in messages_of(third)


def test_top_ups_count_against_a_minors_caps(db):
    user, contact, guardian = minor(12)
    enable(guardian, contact)
    client = client_for(user)
    top_up(client, 50)
    response = client.post("/wallet/top-up/", {"amount": 1}, follow=True)
    assert "over today's spending limit" in messages_of(response)
    assert balance(user) == 5000


def test_under_eight_cannot_spend_at_all(db):
    user, contact, guardian = minor(7)
    response = enable(guardian, contact)
    assert response.status_code in (302, 400)
    page = client_for(guardian).get(f"/guardian/wards/{contact.pk}/spending/")
    assert page.context["no_spending"]
    refused = client_for(user).post("/wallet/top-up/", {"amount": 1}, follow=True)
    assert "not available at your age" in messages_of(refused)


def test_guardian_can_only_tighten_caps(db):
    user, contact, guardian = minor(16)
    response = enable(guardian, contact, per_purchase=120)
    assert response.status_code == 400
    assert not wallet.SpendingControl.objects.exists()
    assert enable(guardian, contact, per_purchase=20, monthly=100).status_code == 302
    client = client_for(user)
    top_up(client, 20)
    assert "more than you may spend at one time" in messages_of(buy(client, "shooting-stars", "a4b2c3d4-0001"))
    # Only the ward's own guardian sees or changes the settings; other roles get 403.
    assert client_for(staff(Role.GUARDIAN)).get(f"/guardian/wards/{contact.pk}/spending/").status_code == 404
    assert client_for(UserFactory()).get(f"/guardian/wards/{contact.pk}/spending/").status_code == 403


def test_a_suspected_minor_without_a_guardian_cannot_spend(db):
    """`user.is_minor` covers suspected minors (CN-MIN-05): with no linked guardian, nothing is bought."""
    user = UserFactory()
    client = client_for(user)
    top_up(client, 50)
    user.minor_mode_since = timezone.now()
    user.save(update_fields=["minor_mode_since"])
    response = buy(client, "flowers", "a8b2c3d4-0001")
    assert "need a linked guardian" in messages_of(response)
    assert balance(user) == 5000 and not SpendingRequest.objects.exists()


# --- refunds --------------------------------------------------------------------------------------

def test_guardian_refunds_a_purchase_made_without_authorisation(db):
    """A purchase made while the account passed for an adult; the birth date is then corrected and
    the guardian linked: the guardian refunds it, once, audited. An approved purchase is not refundable."""
    user = UserFactory()
    client = client_for(user)
    top_up(client, 50)
    buy(client, "shooting-stars", "a5b2c3d4-0001")
    entry = LedgerEntry.objects.get(kind=LedgerKind.PURCHASE)
    user.birth_date = born(15)
    user.save(update_fields=["birth_date"])
    give_contacts(user)
    contact = Contact.objects.get(user=user, kind=ContactKind.GUARDIAN)
    guardian_client = client_for(contact.account)
    url = f"/guardian/wards/{contact.pk}/spending/refund/{entry.public_id}/"
    assert client_for(staff(Role.GUARDIAN)).post(url).status_code == 404
    response = guardian_client.post(url, follow=True)
    assert "Refunded" in messages_of(response)
    assert balance(user) == 5000
    guardian_client.post(url)
    assert LedgerEntry.objects.filter(kind=LedgerKind.REFUND).count() == 1 and balance(user) == 5000
    assert AuditEvent.objects.filter(action="wallet.refunded", actor_id=contact.account_id).count() == 1
    # The refunded ¥30 no longer counts against today's ¥50: a ¥30 request is accepted.
    enable(contact.account, contact)
    assert "asked your guardian" in messages_of(buy(client, "shooting-stars", "a5b2c3d4-0002"))
    request = SpendingRequest.objects.get(user=user)
    guardian_client.post(f"/guardian/wards/{contact.pk}/spending/{request.public_id}/approve/")
    approved = SpendingRequest.objects.get(pk=request.pk).entry
    guardian_client.post(f"/guardian/wards/{contact.pk}/spending/refund/{approved.public_id}/")
    assert not LedgerEntry.objects.filter(refund_of=approved).exists()


def test_compliance_officer_can_refund_any_purchase(db):
    user = UserFactory()
    client = client_for(user)
    top_up(client, 50)
    buy(client, "flowers", "a6b2c3d4-0001")
    entry = LedgerEntry.objects.get(kind=LedgerKind.PURCHASE)
    officer = staff(Role.COMPLIANCE)
    wallet.refund_purchase(actor=officer, public_id=str(entry.public_id))
    assert balance(user) == 5000
    with pytest.raises(wallet.WalletItemNotFound):
        wallet.refund_purchase(actor=UserFactory(), public_id=str(entry.public_id))


# --- CN-CRI-06 ------------------------------------------------------------------------------------

def test_purchases_pause_during_an_open_crisis_case(db):
    user = UserFactory()
    client = client_for(user)
    top_up(client, 50)
    character = Character.objects.create(slug="friend-w", role="friend", name_zh="朋友", name_en="Friend",
                                         tagline_zh="-", tagline_en="-", persona_zh="-", persona_en="-",
                                         avatar="avatars/friend.svg")
    conversation = Conversation.objects.create(user=user, character=character)
    case = CrisisCase.objects.create(user=user, conversation=conversation, level="crisis",
                                     sla_deadline=timezone.now())
    response = buy(client, "flowers", "a7b2c3d4-0001")
    assert "paused while our safety team" in messages_of(response)
    assert client.get("/wallet/").context["in_crisis"]
    assert balance(user) == 5000
    case.status, case.resolved_at = "resolved", timezone.now()
    case.save()
    assert "You bought" in messages_of(buy(client, "flowers", "a7b2c3d4-0002"))


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------

def _parallel(user, calls) -> list:
    """Run each call on its own thread (own connection) while this test holds `user`'s wallet row
    lock; release it only once every call is waiting for that lock, so all of them reach the
    checks at the same moment and only the service's own lock can keep them apart."""
    results = [None] * len(calls)

    def run(index, call):
        try:
            results[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    with transaction.atomic():
        Wallet.objects.select_for_update().get(user=user)
        for thread in threads:
            thread.start()
        waiting = 0
        for _ in range(600):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # the view is otherwise frozen per transaction
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")
                waiting = cursor.fetchone()[0]
            if waiting >= len(calls):
                break
            threading.Event().wait(0.05)
        assert waiting == len(calls), "the requests did not all wait for the wallet lock"
    for thread in threads:
        thread.join()
    return results


needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="SQLite serialises whole-database writes; CI runs this on PostgreSQL")


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_purchases_never_overspend_the_balance():
    """CN-MIN-11 acceptance: 8 parallel ¥30 purchases on ¥100 → exactly 3 succeed, balance ¥10."""
    user = UserFactory()
    top_up(client_for(user), 100)
    clients = [client_for(user) for _ in range(8)]
    codes = _parallel(user, [lambda c=c, i=i: buy(c, "shooting-stars", f"c0ffee00-{i:04d}").status_code
                             for i, c in enumerate(clients)])
    assert codes == [200] * 8
    assert LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).count() == 3
    assert balance(user) == 1000


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_replays_of_one_key_charge_once():
    user = UserFactory()
    top_up(client_for(user), 100)
    clients = [client_for(user) for _ in range(6)]
    codes = _parallel(user, [lambda c=c: buy(c, "flowers", "feedface-0001").status_code for c in clients])
    assert codes == [200] * 6
    assert LedgerEntry.objects.filter(kind=LedgerKind.PURCHASE).count() == 1
    assert balance(user) == 10000 - 600


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_approvals_cannot_pass_a_minors_daily_cap():
    """Five ¥30 requests of a 12-year-old approved at the same moment: only one fits the ¥50 day."""
    user, contact, guardian = minor(12)
    enable(guardian, contact)
    client = client_for(user)
    top_up(client, 50)
    Wallet.objects.filter(user=user).update(balance_fen=20000)  # enough money: only the cap can refuse
    for index in range(5):
        buy(client, "shooting-stars", f"decade00-{index:04d}")
    requests = list(SpendingRequest.objects.filter(user=user))
    assert len(requests) == 5
    clients = [client_for(guardian) for _ in requests]
    codes = _parallel(user, [
        lambda c=c, r=r: c.post(f"/guardian/wards/{contact.pk}/spending/{r.public_id}/approve/").status_code
        for c, r in zip(clients, requests)])
    assert codes == [302] * 5
    statuses = sorted(SpendingRequest.objects.filter(user=user).values_list("status", flat=True))
    assert statuses == [SpendingStatus.COMPLETED] + [SpendingStatus.FAILED] * 4
    assert balance(user) == 20000 - 3000


def test_pages_render_in_chinese(db):
    user, contact, guardian = minor(16)
    for person in (user, guardian):
        person.language = "zh-hans"
        person.save(update_fields=["language"])
    page = client_for(user, "zh-hans").get("/wallet/")
    assert page.status_code == 200 and "钱包" in page.content.decode()
    portal = client_for(guardian, "zh-hans").get(f"/guardian/wards/{contact.pk}/spending/")
    assert portal.status_code == 200 and "消费" in portal.content.decode()
