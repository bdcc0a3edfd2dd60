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
