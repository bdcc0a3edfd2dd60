"""CN-DAT-10: a sensitive feature (remote screening, the training extract) runs only while a
compliance officer's personal-information impact assessment of it is in force."""
import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditEvent
from companion.models import ImpactAssessment
from moderation.pipeline import ScreeningInput
from moderation.remote import OpenAIModeration
from tests.fakes.openai_server import Script
from tests.fixtures import client_for, staff

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def gate_on(settings):
    settings.COMPANION_IMPACT_ASSESSMENT_GATE = True
    cache.clear()
    yield
    cache.clear()


def record(client, feature: str, review_by: dt.date):
    return client.post("/compliance/assessments/", {
        "feature": feature, "summary": "Messages go to the screening service under contract.",
        "risks": "Disclosure of sensitive content.", "measures": "No identifiers sent; contract; deletion in 24 h.",
        "review_by": review_by.isoformat()})


def test_remote_screening_sends_nothing_until_an_assessment_is_recorded(demo, fake_openai):
    stage = OpenAIModeration(base_url=fake_openai.base_url, timeout=1.0)
    fake_openai.scripts.extend([Script(moderation={}), Script(moderation={})])
    item = ScreeningInput(text="hello there", direction="inbound", language="en")
    assert stage.assess(item) is None and fake_openai.requests == []  # off: nothing left the service
    officer = staff("compliance")
    response = record(client_for(officer), "remote_moderation", timezone.localdate() + dt.timedelta(days=365))
    assert response.status_code == 302
    stage.assess(item)
    assert len(fake_openai.requests) == 1  # in force: the stage runs
    row = ImpactAssessment.objects.get()
    assert row.recorded_by == officer
    assert AuditEvent.objects.filter(action="data.impact_assessment_recorded", actor_id=officer.pk).count() == 1
    with time_machine.travel(timezone.now() + dt.timedelta(days=400)):
        cache.clear()
        assert stage.assess(item) is None and len(fake_openai.requests) == 1  # past its review date: off again


def test_the_training_extract_refuses_without_an_assessment(demo, tmp_path):
    with pytest.raises(CommandError, match="impact assessment"):
        call_command("export_training_data", "--output", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    record(client_for(staff("compliance")), "training_export", timezone.localdate() + dt.timedelta(days=30))
    call_command("export_training_data", "--output", str(tmp_path / "y"))
    assert (tmp_path / "y" / "manifest.json").exists()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_shows_each_features_state_and_only_officers_record(demo, language):
    officer, regulator = staff("compliance"), staff("regulator", language=language)
    page = client_for(regulator, language).get("/compliance/assessments/").content.decode()
    assert 'data-feature="remote_moderation" data-in-force="no"' in page and 'data-testid="assessment-form"' not in page
    assert ("影响评估" in page) if language == "zh-hans" else ("impact assessments" in page)
    assert record(client_for(regulator), "remote_moderation", timezone.localdate() + dt.timedelta(days=30)).status_code == 403
    assert client_for(staff("operator")).get("/compliance/assessments/").status_code == 403
    bad = record(client_for(officer), "remote_moderation", timezone.localdate() + dt.timedelta(days=5 * 365))
    assert bad.status_code == 200 and not ImpactAssessment.objects.exists()  # review at most three years ahead
    record(client_for(officer), "remote_moderation", timezone.localdate() + dt.timedelta(days=30))
    page = client_for(officer, language).get("/compliance/assessments/").content.decode()
    assert 'data-feature="remote_moderation" data-in-force="yes"' in page
    assert 'data-feature="training_export" data-in-force="no"' in page


async def test_the_remote_model_gets_nothing_until_its_assessment_is_recorded(demo, fake_openai):
    """The chat model host is entrusted processing: without an assessment the reply fails as
    `llm_unavailable` and the model gets no request; once recorded, replies stream."""
    from channels.db import database_sync_to_async

    from tests.fixtures import UserFactory, frames_until, join

    adult = await database_sync_to_async(UserFactory)()
    communicator, _, _ = await join(adult)
    await communicator.send_json_to({"type": "message", "text": "Hello?", "client_id": "a1"})
    frames = await frames_until(communicator, "message_end")
    assert any(f["type"] == "error" and f["code"] == "llm_unavailable" for f in frames)
    assert frames[-1]["status"] == "failed" and fake_openai.requests == []
    officer = await database_sync_to_async(staff)("compliance")
    response = await database_sync_to_async(lambda: record(client_for(officer), "remote_llm",
                                                           timezone.localdate() + dt.timedelta(days=90)))()
    assert response.status_code == 302
    fake_openai.scripts.append(Script(chunks=["Hello, ", "friend."]))
    await communicator.send_json_to({"type": "message", "text": "Hello again?", "client_id": "a2"})
    frames = await frames_until(communicator, "message_end")
    assert frames[-1]["status"] == "complete" and len(fake_openai.requests) == 1
    await communicator.disconnect()
