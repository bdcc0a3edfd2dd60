"""The hash-chained audit log (BX-11, CN-DAT-02): writing, tamper detection, the database guard,
retention, concurrency, the hooks on real paths and the staff page."""
import datetime as dt
import threading

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client
from django.urls import reverse

from accounts import audit
from accounts.models import AuditEvent
from tests.fixtures import UserFactory, client_for, staff

PASSWORD = "correct-horse-battery"


class guard_lifted:
    """Tampering as an attacker with database access would: past the append-only trigger."""

    def __enter__(self):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_guard")
            else:
                cursor.execute("DROP TRIGGER accounts_auditevent_no_update")
        return self

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE accounts_auditevent ENABLE TRIGGER accounts_auditevent_guard")
            else:
                cursor.execute("CREATE TRIGGER accounts_auditevent_no_update BEFORE UPDATE ON accounts_auditevent "
                               "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")


def verify(*args) -> tuple[int, str, str]:
    """Run `manage.py verify_audit`; (exit status, stdout, stderr)."""
    import io
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
        return 0, out.getvalue(), err.getvalue()
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)


def five_rows():
    return [audit.record("auth.login", actor=None, subject_type="user", subject_id=n, data={"n": n}, ip="10.0.0.1")
            for n in range(5)]


# --- the chain ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_rows_chain_and_verify():
    rows = five_rows()
    assert rows[0].prev_hash == audit.GENESIS
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    status, out, _ = verify()
    assert status == 0 and "5 rows checked" in out and "chain intact" in out
    assert f"head {rows[-1].pk}:{rows[-1].hash}" in out


@pytest.mark.django_db
def test_record_refuses_unknown_actions_and_values_that_would_not_round_trip():
    with pytest.raises(ValueError):
        audit.record("auth.logn")
    with pytest.raises(TypeError):
        audit.record("auth.login", data={"seconds": 1.5})
    with pytest.raises(TypeError):
        audit.record("auth.login", data={"when": dt.date.today()})
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_an_edited_row_is_named():
    rows = five_rows()
    with guard_lifted():
        AuditEvent.objects.filter(pk=rows[2].pk).update(data={"n": 99})
    status, _, err = verify()
    assert status == 1
    assert f"row {rows[2].pk}: edited" in err and "tampered" in err


@pytest.mark.django_db
def test_an_edit_with_a_recomputed_hash_fails_without_the_key():
    """Rebuilding the chain after an edit needs AUDIT_CHAIN_KEYS, which the database does not hold."""
    rows = five_rows()
    forged_key = b"attacker-guess"
    with guard_lifted():
        previous = rows[1].hash
        for row in rows[2:]:
            row.refresh_from_db()
            data = {"n": 99} if row.pk == rows[2].pk else row.data
            payload = audit.canonical(created_at=row.created_at, action=row.action, actor_id=row.actor_id,
                                      subject_type=row.subject_type, subject_id=row.subject_id, ip=row.ip, data=data)
            digest = audit.row_hash(forged_key, previous, payload)
            AuditEvent.objects.filter(pk=row.pk).update(data=data, prev_hash=previous, hash=digest)
            previous = digest
    report = audit.verify_chain()
    assert {problem.row_id for problem in report.problems} == {row.pk for row in rows[2:]}
    assert {problem.kind for problem in report.problems} == {"edited"}


@pytest.mark.django_db
def test_a_removed_row_breaks_the_link_of_the_next(settings):
    rows = five_rows()
    with guard_lifted():
        AuditEvent.objects.filter(pk=rows[2].pk).delete()
    report = audit.verify_chain()
    assert [(problem.row_id, problem.kind) for problem in report.problems] == [(rows[3].pk, "broken_link")]


@pytest.mark.django_db
def test_rows_cut_off_the_end_are_caught_by_an_exported_anchor(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors" / "audit.jsonl")
    rows = five_rows()
    assert audit.export_anchor() == (rows[-1].pk, rows[-1].hash)
    assert verify("--anchors", settings.AUDIT_ANCHOR_FILE)[0] == 0
    with guard_lifted():
        AuditEvent.objects.filter(pk__in=[rows[-1].pk, rows[-2].pk]).delete()
    assert audit.verify_chain().ok  # the shorter chain is consistent in itself...
    status, _, err = verify("--anchors", settings.AUDIT_ANCHOR_FILE)
    assert status == 1 and f"row {rows[-1].pk}: missing_anchor" in err  # ...but the anchor exported earlier is gone
    (tmp_path / "bad.jsonl").write_text("not json\n")
    status, _, err = verify("--anchors", str(tmp_path / "bad.jsonl"))
    assert status != 0 and "bad.jsonl:1: not an audit anchor" in err
    assert verify("--anchors", str(tmp_path / "missing.jsonl"))[0] != 0


@pytest.mark.django_db
def test_rows_sealed_with_a_retired_key_still_verify_while_the_key_is_listed(settings):
    settings.AUDIT_CHAIN_KEYS = ["old-key"]
    old = audit.record("auth.login", actor=None)
    settings.AUDIT_CHAIN_KEYS = ["new-key", "old-key"]
    new = audit.record("auth.logout", actor=None)
    assert old.key_id != new.key_id
    assert audit.verify_chain().ok
    settings.AUDIT_CHAIN_KEYS = ["new-key"]
    report = audit.verify_chain()
    assert [(problem.row_id, problem.kind) for problem in report.problems] == [(old.pk, "unknown_key")]


# --- the database guard and retention ----------------------------------------------------------------

@pytest.mark.django_db
def test_the_database_refuses_to_change_a_row():
    row = audit.record("auth.login", actor=None)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).update(action="auth.logout")
    row.refresh_from_db()
    assert row.action == "auth.login"


@pytest.mark.django_db
def test_postgresql_refuses_to_delete_rows_younger_than_184_days():
    if connection.vendor != "postgresql":
        pytest.skip("the delete guard is a PostgreSQL trigger (CI runs this on PostgreSQL)")
    row = audit.record("auth.login", actor=None)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).delete()
    # Nor can the purge be talked into it by a clock set forward: the database uses its own.
    with pytest.raises(DatabaseError):
        audit.purge_expired(now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400))
    assert AuditEvent.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_daily_job_purges_a_prefix_past_retention_and_the_chain_still_verifies(settings, tmp_path):
    now = dt.datetime.now(dt.timezone.utc)
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors.jsonl")
    with time_machine.travel(now - dt.timedelta(days=200), tick=False):
        old = [audit.record("auth.login", actor=None, data={"n": n}) for n in range(3)]
        audit.export_anchor()  # an anchor of a row the purge will remove
    with time_machine.travel(now - dt.timedelta(days=100), tick=False):
        kept = audit.record("auth.login", actor=None, data={"n": 3})
    from accounts.tasks import audit_daily
    result = audit_daily.delay().get()
    assert result["purged"] == 3  # the job also appended today's anchor
    assert not AuditEvent.objects.filter(pk__in=[row.pk for row in old]).exists()
    purge = AuditEvent.objects.get(action="audit.purged")
    assert purge.data["through_id"] == old[-1].pk and purge.data["through_hash"] == old[-1].hash
    assert AuditEvent.objects.filter(pk=kept.pk).exists()
    assert audit.verify_chain().ok and verify("--anchors", settings.AUDIT_ANCHOR_FILE)[0] == 0
    assert audit_daily.delay().get()["purged"] == 0  # idempotent
    assert AuditEvent.objects.filter(action="audit.purged").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_purge_that_empties_the_log_still_leaves_a_verifiable_chain():
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=300), tick=False):
        five_rows()
    assert audit.purge_expired() == 5
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["audit.purged"]
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_a_first_row_following_nothing_recorded_is_reported():
    rows = five_rows()
    with guard_lifted():
        AuditEvent.objects.filter(pk=rows[0].pk).delete()
    report = audit.verify_chain()
    assert [(problem.row_id, problem.kind) for problem in report.problems] == [(rows[1].pk, "broken_link")]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (CI=true)")
    errors = []

    def writer(n):
        try:
            for i in range(15):
                with transaction.atomic():
                    audit.record("auth.login", actor=None, data={"writer": n, "i": i})
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert AuditEvent.objects.count() == 60
    assert AuditEvent.objects.values("prev_hash").distinct().count() == 60  # no fork
    assert audit.verify_chain().ok


# --- hooks on real paths ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_sign_in_failure_and_sign_out_are_audited_with_the_address():
    user = UserFactory(username="amy")
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.post(reverse("account_login"), {"login": "amy", "password": "wrong-password-123"})
    client.post(reverse("account_login"), {"login": "amy", "password": PASSWORD})
    client.post(reverse("account_logout"))
    rows = list(AuditEvent.objects.order_by("id").values_list("action", "actor_id", "subject_id", "ip"))
    assert rows == [("auth.login_failed", None, str(user.pk), "203.0.113.7"),
                    ("auth.login", user.pk, str(user.pk), "203.0.113.7"),
                    ("auth.logout", user.pk, str(user.pk), "203.0.113.7")]
    assert "wrong-password" not in str(list(AuditEvent.objects.values()))


@pytest.mark.django_db
def test_role_changes_from_either_side_and_admin_site_edits_are_audited():
    admin = UserFactory(is_staff=True, is_superuser=True)
    user = UserFactory()
    operators = Group.objects.create(name="operator")
    user.groups.add(operators)
    operators.user_set.remove(user)
    assert list(AuditEvent.objects.filter(action__startswith="role.").order_by("id")
                .values_list("action", "subject_id", "data")) == [
        ("role.granted", str(user.pk), {"role": "operator"}), ("role.revoked", str(user.pk), {"role": "operator"})]

    client = client_for(admin)
    response = client.post(reverse("admin:auth_group_add"), {"name": "auditors"})
    assert response.status_code == 302
    row = AuditEvent.objects.get(action="admin.added")
    assert (row.actor_id, row.subject_type) == (admin.pk, "auth.group")
    assert row.subject_id == str(Group.objects.get(name="auditors").pk)
    response = client.post(reverse("admin:accounts_user_change", args=[user.pk]), {
        "username": user.username, "email": user.email, "is_active": "on", "groups": [operators.pk],
        "birth_date": user.birth_date.isoformat(), "region": "CN", "language": "en",
        "date_joined_0": "2026-01-01", "date_joined_1": "10:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "10:00:00"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AuditEvent.objects.filter(action="role.granted", subject_id=str(user.pk), actor_id=admin.pk).exists()
    change = AuditEvent.objects.get(action="admin.changed")
    assert change.actor_id == admin.pk and change.subject_type == "accounts.user"


@pytest.mark.django_db
def test_contact_changes_and_exports_are_audited_without_personal_details(demo):
    from companion.services import open_chat
    user = UserFactory(language="en")
    client = client_for(user)
    response = client.post(reverse("guardians:contacts"), {
        "kind": "emergency", "name": "Li Hua", "relationship": "sister", "email": "lihua@example.com",
        "phone": "+8613800138000", "language": "zh-hans"})
    assert response.status_code == 302
    added = AuditEvent.objects.get(action="contact.added")
    assert added.actor_id == user.pk and added.data == {"user": user.pk, "kind": "emergency"}
    assert "Li Hua" not in str(added.data) and "13800138000" not in str(list(AuditEvent.objects.values()))

    open_chat(user=user, character_slug="friend", session_key="s", language="en")
    assert client.get(reverse("export_json", args=["friend"])).status_code == 200
    exported = AuditEvent.objects.get(action="data.exported")
    assert exported.actor_id == user.pk and exported.data == {"format": "json"}
    assert audit.verify_chain().ok


# --- the staff page ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_only_compliance_officers_and_regulators_read_the_audit_log():
    url = reverse("moderation:audit_log")
    assert Client().get(url).status_code == 302  # to the sign-in page
    assert client_for(UserFactory()).get(url).status_code == 403
    assert client_for(staff("operator")).get(url).status_code == 403
    assert client_for(staff("compliance")).get(url).status_code == 200
    assert client_for(staff("regulator")).get(url).status_code == 200
    assert client_for(staff("regulator")).post(url).status_code == 405  # read-only


@pytest.mark.parametrize("language, intact, broken, heading", [
    ("en", "Chain intact", "The chain is broken", "Audit log"),
    ("zh-hans", "链条完整", "链条已断裂", "审计日志"),
])
@pytest.mark.django_db
def test_the_page_filters_verifies_and_shows_tampering(language, intact, broken, heading):
    officer = staff("compliance", username="officer", language=language)
    rows = five_rows()
    audit.record("contact.added", actor=officer, subject_type="contact", subject_id=7, data={"kind": "guardian"})
    client = client_for(officer, language)
    url = reverse("moderation:audit_log")

    page = client.get(url).content.decode()
    assert heading in page and 'data-action="contact.added"' in page and 'data-action="auth.login"' in page
    only_contacts = client.get(url, {"action": "contact.", "actor": "officer"}).content.decode()
    assert 'data-action="contact.added"' in only_contacts and 'data-action="auth.login"' not in only_contacts
    by_subject = client.get(url, {"subject_type": "user", "subject_id": "3"}).content.decode()
    assert by_subject.count('data-action="auth.login"') == 1
    bad_range = client.get(url, {"since": "2026-02-02", "until": "2026-01-01"})
    assert bad_range.status_code == 200 and 'role="alert"' in bad_range.content.decode()

    assert intact in client.get(url, {"verify": "1"}).content.decode()
    with guard_lifted():
        AuditEvent.objects.filter(pk=rows[1].pk).update(ip="10.9.9.9")
    tampered = client.get(url, {"verify": "1"}).content.decode()
    assert broken in tampered and 'data-chain="broken"' in tampered
    # Reading the log is itself audited (CN-DAT-02), filters included.
    viewed = AuditEvent.objects.filter(action="audit.viewed", actor_id=officer.pk).order_by("id")
    assert viewed.count() == 6 and viewed[1].data == {"action": "contact.", "actor": "officer"}
    assert viewed.last().data == {"verified": False}
