"""CN-MIN-15: the yearly minors' personal-information audit pack has every section, counted from the tables."""
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.consents import update_consents
from companion.crisis import view_case
from companion.minors_audit import SECTIONS
from companion.models import Character, Conversation, CrisisCase
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db


def test_the_pack_has_every_section_and_counts_staff_reads_of_minors_cases(tmp_path, demo):
    from django.contrib.auth.models import Group
    year = timezone.localdate().year
    baseline = json.loads(_run(tmp_path / "base.json", year))
    teen = UserFactory(birth_date=timezone.localdate() - dt.timedelta(days=365 * 15 + 30))
    child = UserFactory(birth_date=timezone.localdate() - dt.timedelta(days=365 * 12 + 30))
    update_consents(user=teen, granted={"training": True}, source="privacy_centre")
    conversation = Conversation.objects.create(user=teen, character=Character.objects.get(slug="friend"))
    case = CrisisCase.objects.create(user=teen, conversation=conversation, level="crisis", sla_deadline=timezone.now())
    operator = UserFactory()
    operator.groups.add(Group.objects.get(name="operator"))
    view_case(operator=operator, case_id=str(case.public_id))
    view_case(operator=operator, case_id=str(case.public_id))

    pack = json.loads(_run(tmp_path / "pack.json", year))
    assert set(SECTIONS) <= set(pack)
    assert pack["population"]["minors"] - baseline["population"]["minors"] == 2
    assert pack["population"]["under_14"] - baseline["population"]["under_14"] == 1
    assert pack["consents"]["training_opt_ins_ignored"] - baseline["consents"]["training_opt_ins_ignored"] == 1
    # CN-MIN-03: both minors come with a linked guardian who consented (tests/fixtures.py).
    assert pack["consents"]["guardian_consent_in_force"] - baseline["consents"]["guardian_consent_in_force"] == 2
    assert pack["consents"]["guardian_linked"] - baseline["consents"]["guardian_linked"] == 2
    assert pack["staff_access"]["crisis_case_reads"] - baseline["staff_access"]["crisis_case_reads"] == 2
    assert pack["staff_access"]["distinct_staff"] >= 1
    assert pack["incidents"]["crisis_cases_by_level"].get("crisis", 0) >= 1
    assert child.username not in json.dumps(pack) and teen.username not in json.dumps(pack)


def test_a_year_in_the_future_is_refused():
    with pytest.raises(CommandError):
        call_command("minors_pi_audit", "--year", str(timezone.localdate().year + 1))


def _run(path, year) -> str:
    call_command("minors_pi_audit", "--year", str(year), "--output", str(path))
    return path.read_text(encoding="utf-8")


# --- the yearly sign-off and its reminders (CN-MIN-15) ---------------------------------------------

def test_the_audit_state_follows_the_due_date():
    from companion.minors_audit import audit_state
    due = dt.date(2027, 3, 31)
    assert audit_state(today=dt.date(2027, 1, 10), due=due, signed=False) == "upcoming"
    assert audit_state(today=dt.date(2027, 3, 1), due=due, signed=False) == "due_soon"
    assert audit_state(today=dt.date(2027, 3, 31), due=due, signed=False) == "due_soon"
    assert audit_state(today=dt.date(2027, 4, 1), due=due, signed=False) == "overdue"
    assert audit_state(today=dt.date(2027, 4, 1), due=due, signed=True) == "signed"


def test_an_overdue_audit_shows_a_red_alert_in_the_compliance_area_until_it_is_signed(demo):
    import time_machine
    from accounts.models import AuditEvent, MinorsAuditSignOff, Role
    from companion.minors_audit import pack_digest
    from tests.fixtures import client_for, staff
    officer, regulator = staff(Role.COMPLIANCE), staff(Role.REGULATOR)
    UserFactory(minor_mode_since=timezone.now())  # a suspected minor (CN-MIN-05) counts too
    with time_machine.travel(dt.datetime(2027, 2, 1, 2, 0, tzinfo=dt.timezone.utc), tick=False):
        page = client_for(officer).get("/compliance/complaints/").content.decode()
        assert 'data-testid="minors-audit-alert"' not in page  # two months ahead: nothing yet
    with time_machine.travel(dt.datetime(2027, 3, 15, 2, 0, tzinfo=dt.timezone.utc), tick=False):
        page = client_for(regulator).get("/compliance/complaints/").content.decode()
        assert 'data-testid="minors-audit-alert" data-state="due_soon"' in page
    with time_machine.travel(dt.datetime(2027, 4, 2, 2, 0, tzinfo=dt.timezone.utc), tick=False):
        page = client_for(officer).get("/compliance/complaints/").content.decode()
        assert 'data-testid="minors-audit-alert" data-state="overdue"' in page and "flash-error" in page
        assert client_for(UserFactory()).get("/compliance/minors-audit/").status_code == 403
        audit_page = client_for(regulator).get("/compliance/minors-audit/").content.decode()
        assert 'data-state="overdue"' in audit_page and 'data-section="population"' in audit_page
        assert 'data-testid="audit-sign"' not in audit_page  # regulators read only
        assert client_for(regulator).post("/compliance/minors-audit/", {"note": "x"}).status_code == 403
        response = client_for(officer).post("/compliance/minors-audit/", {"note": "No findings."})
        assert response.status_code == 302
        client_for(officer).post("/compliance/minors-audit/", {"note": "again"})
        row = MinorsAuditSignOff.objects.get()
        assert row.year == 2026 and row.signed_by == officer and row.note == "No findings."
        assert row.pack_sha256 == pack_digest(row.pack) and set(SECTIONS) <= set(row.pack)
        assert row.pack["population"]["suspected_minors_in_minor_mode"] == 1
        assert AuditEvent.objects.filter(action="data.minors_audit_signed", subject_id="2026").count() == 1
        page = client_for(officer).get("/compliance/complaints/").content.decode()
        assert 'data-testid="minors-audit-alert"' not in page
        assert row.pack_sha256 in client_for(officer).get("/compliance/minors-audit/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_officers_are_reminded_30_days_before_and_when_overdue_once_each(mailoutbox):
    import time_machine
    from accounts.models import Role
    from companion.tasks import remind_minors_audit
    from tests.fixtures import staff
    officer = staff(Role.COMPLIANCE, email="officer@example.com")
    staff(Role.OPERATOR, email="operator@example.com")
    with time_machine.travel(dt.datetime(2027, 2, 27, 2, 0, tzinfo=dt.timezone.utc), tick=False):
        assert remind_minors_audit.delay().get() == 0  # 32 days ahead
    with time_machine.travel(dt.datetime(2027, 3, 2, 2, 0, tzinfo=dt.timezone.utc), tick=False):
        assert remind_minors_audit.delay().get() == 1
        assert remind_minors_audit.delay().get() == 0
    assert [mail.to for mail in mailoutbox] == [[officer.email]] and "2026" in mailoutbox[0].subject
    assert "/compliance/minors-audit/" in mailoutbox[0].body
    with time_machine.travel(dt.datetime(2027, 4, 1, 2, 0, tzinfo=dt.timezone.utc), tick=False):
        assert remind_minors_audit.delay().get() == 1 and remind_minors_audit.delay().get() == 0
    assert len(mailoutbox) == 2 and "Overdue" in mailoutbox[1].subject
