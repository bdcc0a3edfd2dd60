"""Optional remote screening stages against the local OpenAI-compatible server, over real HTTP
(issue #6; CN-CRI-01, CN-CRI-04, US-CA-02, US-NY-01): category mapping, the crisis cap, timeouts,
HTTP errors, unreadable answers, the circuit breaker, and that the offline verdict stands when a
remote stage fails."""
import json
import logging
import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from moderation.pipeline import ScreeningInput, screen, stages
from moderation.remote import LLMJudge, OpenAIModeration, map_moderation
from tests.fakes.openai_server import Script

CRISIS_TEXT = "I've got the pills ready and I'm ending it tonight"
BENIGN_TEXT = "We watched a film and had noodles afterwards."


def inbound(text: str, history: tuple[str, ...] = ()) -> ScreeningInput:
    return ScreeningInput(text=text, direction="inbound", language="en", history=history)


def moderation_stage(server, **options) -> OpenAIModeration:
    return OpenAIModeration(base_url=server.base_url, api_key="moderation-key", timeout=options.pop("timeout", 1.0),
                            **options)


def judge_stage(server, **options) -> LLMJudge:
    return LLMJudge(base_url=server.base_url, api_key="judge-key", model="judge-model",
                    timeout=options.pop("timeout", 1.0), **options)


def judged(level: str, categories: list[str]) -> Script:
    return Script(chunks=[json.dumps({"level": level, "categories": categories})])


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- OpenAI moderation: mapping ----------------------------------------------------------

@pytest.mark.parametrize(("flags", "level", "categories"), [
    ({"self-harm": 0.97, "self-harm/intent": 0.91}, "high_risk", ("self_harm",)),
    ({"self-harm": 0.9, "self-harm/instructions": 0.8}, "high_risk", ("self_harm",)),  # never crisis
    ({"self-harm": 0.6}, "distress", ("self_harm",)),
    ({"violence": 0.9, "harassment/threatening": 0.8}, "high_risk", ("violence",)),
    ({"violence": 0.9}, "none", ("violence",)),  # violence without intent is recorded, not raised
    ({"sexual": 0.9, "sexual/minors": 0.7}, "high_risk", ("minor_sexual",)),
    ({"sexual": 0.9}, "none", ("sexual",)),
    ({"illicit": 0.8}, "none", ("prohibited",)),
])
def test_moderation_categories_map_to_ours(fake_openai, flags, level, categories):
    fake_openai.scripts.append(Script(moderation=flags))
    finding = moderation_stage(fake_openai).assess(inbound("some text"))
    assert (finding.level, finding.categories) == (level, categories)
    assert finding.stage == "openai_moderation" and 0 < finding.score <= 1


def test_moderation_sends_the_text_only(fake_openai):
    """No user identity leaves the service: the body is the model and the text, nothing else."""
    fake_openai.scripts.append(Script(moderation={}))
    stage = moderation_stage(fake_openai, model="omni-moderation-latest")
    assert stage.assess(inbound("hello there", history=("earlier message",))) is None  # nothing flagged
    request = fake_openai.requests[0]
    assert request["path"] == "/v1/moderations"
    assert request["body"] == {"model": "omni-moderation-latest", "input": "hello there"}
    assert request["auth"] == "Bearer moderation-key"
    assert stage.version() == "openai-moderation/omni-moderation-latest"


def test_outbound_mapping_is_stricter_and_adds_abuse():
    """AI text about self-harm is always replaced (CN-EMO-03); harassment in AI text is abuse."""
    level, categories, _score = map_moderation({"self-harm": True, "harassment": True}, {}, "outbound")
    assert (level, categories) == ("high_risk", ("self_harm", "abuse"))
    assert map_moderation({"harassment": True, "hate": True}, {}, "inbound") == ("none", (), 0.0)


def test_inbound_only_by_default(fake_openai):
    """Outbound screening runs per clause inside the event loop; remote stages stay out of it."""
    stage = moderation_stage(fake_openai)
    assert stage.assess(ScreeningInput(text="You should hurt yourself.", direction="outbound")) is None
    assert fake_openai.requests == []
    fake_openai.scripts.append(Script(moderation={"self-harm": 0.9}))
    both = moderation_stage(fake_openai, directions=("inbound", "outbound"))
    assert both.assess(ScreeningInput(text="You should hurt yourself.", direction="outbound")).level == "high_risk"


async def test_no_blocking_call_from_an_event_loop(fake_openai):
    fake_openai.scripts.append(Script(moderation={"self-harm/intent": 0.9}))
    assert moderation_stage(fake_openai).assess(inbound("I want to die")) is None
    assert fake_openai.requests == []


# --- LLM judge ---------------------------------------------------------------------------

def test_judge_asks_for_strict_json_with_history_and_temperature_zero(fake_openai):
    fake_openai.scripts.append(judged("high_risk", ["suicide"]))
    stage = judge_stage(fake_openai)
    finding = stage.assess(inbound("anyway it doesn't matter now", history=("I can't go on", "nobody would care")))
    assert (finding.stage, finding.level, finding.categories) == ("llm_judge", "high_risk", ("suicide",))
    body = fake_openai.requests[0]["body"]
    assert body["model"] == "judge-model" and body["temperature"] == 0 and not body.get("stream")
    assert set(body) == {"model", "temperature", "max_tokens", "messages"}  # no `user`, no metadata
    assert '"level"' in body["messages"][0]["content"]
    subject = json.loads(body["messages"][1]["content"])
    assert subject == {"direction": "inbound", "text": "anyway it doesn't matter now",
                       "history": ["I can't go on", "nobody would care"]}
    assert stage.version() == "llm-judge/judge-model/judge-1"


def test_judge_cannot_declare_crisis_on_its_own(fake_openai):
    """A remote `crisis` is capped at high_risk: crisis rests on the offline plan/act signals."""
    fake_openai.scripts.append(judged("crisis", ["suicide"]))
    assert judge_stage(fake_openai).assess(inbound("some text")).level == "high_risk"


def test_judge_answer_in_a_code_fence_is_read(fake_openai):
    fake_openai.scripts.append(Script(chunks=['```json\n{"level": "distress", "categories": []}\n```']))
    finding = judge_stage(fake_openai).assess(inbound("I feel so alone tonight"))
    assert (finding.level, finding.categories) == ("distress", ("distress",))


def test_judge_no_risk_gives_no_finding(fake_openai):
    fake_openai.scripts.append(judged("none", []))
    assert judge_stage(fake_openai).assess(inbound(BENIGN_TEXT)) is None


@pytest.mark.parametrize("answer", [
    "I think this message is fine.",  # not JSON
    '{"level": "severe", "categories": ["suicide"]}',  # unknown level
    '{"level": "high_risk", "categories": ["sadness"]}',  # unknown category
    '{"level": "high_risk", "categories": "suicide"}',  # not a list
    '{"level": "high_risk", "categories": []}',  # a risk without a category
    '["high_risk"]',  # not an object
    '{"level": "none", "categories": ["manipulation"]}',  # an outbound category on inbound text
])
def test_judge_answers_we_cannot_read_give_no_finding(fake_openai, caplog, answer):
    fake_openai.scripts.append(Script(chunks=[answer]))
    with caplog.at_level(logging.WARNING, logger="moderation.remote"):
        assert judge_stage(fake_openai).assess(inbound("I want to die")) is None
    assert "offline verdict stands" in caplog.text


# --- Failures and the circuit breaker ----------------------------------------------------

@pytest.mark.parametrize("make_stage", [moderation_stage, judge_stage])
def test_a_slow_server_is_cut_off_at_the_timeout(fake_openai, caplog, make_stage):
    fake_openai.scripts.append(Script(response_delay=3, moderation={"self-harm/intent": 0.9}, chunks=["{}"]))
    stage = make_stage(fake_openai, timeout=0.3)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="moderation.remote"):
        assert stage.assess(inbound("I want to die")) is None
    assert time.monotonic() - started < 1.0
    assert "failed" in caplog.text


@pytest.mark.parametrize("make_stage", [moderation_stage, judge_stage])
@pytest.mark.parametrize("status", [500, 503, 401, 429])
def test_http_errors_give_no_finding_and_no_retry(fake_openai, make_stage, status):
    fake_openai.scripts.append(Script(status=status))
    assert make_stage(fake_openai).assess(inbound("I want to die")) is None
    assert len(fake_openai.requests) == 1


def test_a_moderation_body_that_is_not_json_gives_no_finding(fake_openai):
    fake_openai.scripts.append(Script(body="<html>gateway error</html>"))
    assert moderation_stage(fake_openai).assess(inbound("I want to die")) is None
    fake_openai.scripts.append(Script(body='{"id": "x", "model": "m", "results": []}'))
    assert moderation_stage(fake_openai).assess(inbound("I want to die")) is None


def test_circuit_breaker_skips_a_dead_endpoint_then_probes_again(fake_openai):
    stage = moderation_stage(fake_openai, failures=2, cooldown=0.5)
    fake_openai.scripts.extend([Script(status=500), Script(status=500)])
    assert stage.assess(inbound("first")) is None
    assert stage.assess(inbound("second")) is None
    started = time.monotonic()
    for _ in range(5):  # open: no request, no waiting
        assert stage.assess(inbound("while open")) is None
    assert time.monotonic() - started < 0.1
    assert len(fake_openai.requests) == 2
    time.sleep(0.55)
    fake_openai.scripts.append(Script(status=500))  # the probe fails: open again at once
    assert stage.assess(inbound("probe")) is None
    assert stage.assess(inbound("still open")) is None
    assert len(fake_openai.requests) == 3
    time.sleep(0.55)
    fake_openai.scripts.extend([Script(moderation={"self-harm/intent": 0.9}), Script(moderation={})])
    assert stage.assess(inbound("I want to die")).level == "high_risk"  # the probe succeeds: closed
    assert stage.assess(inbound("fine")) is None
    assert len(fake_openai.requests) == 5


def test_one_success_resets_the_failure_count(fake_openai):
    stage = moderation_stage(fake_openai, failures=2, cooldown=30)
    fake_openai.scripts.extend([Script(status=500), Script(moderation={}), Script(status=500), Script(moderation={})])
    for text in ("a", "b", "c", "d"):
        stage.assess(inbound(text))
    assert len(fake_openai.requests) == 4  # never two failures in a row: never opened


# --- In the pipeline ---------------------------------------------------------------------

@pytest.fixture
def with_remote_stages(settings, db):
    """Append remote stages to the configured pipeline (as MODERATION_PROVIDERS does)."""
    def configure(*specs):
        settings.MODERATION_STAGES = [*django_settings.MODERATION_STAGES, *specs]
        stages.cache_clear()
    yield configure
    stages.cache_clear()


def offline_verdict(text: str):
    stages.cache_clear()
    verdict = screen(inbound(text))
    stages.cache_clear()
    return verdict


@pytest.mark.parametrize("status", [500, 503])
def test_screen_keeps_the_offline_verdict_when_the_remote_stage_fails(fake_openai, with_remote_stages, status):
    expected = offline_verdict(CRISIS_TEXT)
    assert expected.level == "crisis"
    with_remote_stages({"NAME": "moderation.remote.OpenAIModeration",
                        "OPTIONS": {"base_url": fake_openai.base_url, "timeout": 1.0}},
                       {"NAME": "moderation.remote.LLMJudge",
                        "OPTIONS": {"base_url": fake_openai.base_url, "model": "judge", "timeout": 1.0}})
    fake_openai.scripts.extend([Script(status=status), Script(status=status)])
    verdict = screen(inbound(CRISIS_TEXT))
    assert (verdict.level, verdict.categories, verdict.findings) == (expected.level, expected.categories,
                                                                     expected.findings)
    assert len(fake_openai.requests) == 2


def test_screen_with_an_unreachable_endpoint_is_fast_and_offline(with_remote_stages):
    with_remote_stages({"NAME": "moderation.remote.OpenAIModeration",
                        "OPTIONS": {"base_url": f"http://127.0.0.1:{unused_port()}/v1", "timeout": 0.5}})
    started = time.monotonic()
    verdict = screen(inbound(CRISIS_TEXT))
    assert verdict.level == "crisis" and time.monotonic() - started < 1.0


def test_screen_with_a_slow_remote_stage_returns_within_the_timeout(fake_openai, with_remote_stages):
    with_remote_stages({"NAME": "moderation.remote.LLMJudge",
                        "OPTIONS": {"base_url": fake_openai.base_url, "model": "judge", "timeout": 0.3}})
    fake_openai.scripts.append(Script(response_delay=3, chunks=['{"level": "none", "categories": []}']))
    started = time.monotonic()
    assert screen(inbound(BENIGN_TEXT)).level == "none"
    assert time.monotonic() - started < 1.0


def test_a_remote_finding_raises_the_level_and_records_its_version(fake_openai, with_remote_stages):
    """The offline stages miss an oblique message; the remote stage raises it to high_risk."""
    text = "I wrote letters to everyone I love, just in case."
    assert offline_verdict(text).level in ("none", "distress")
    with_remote_stages({"NAME": "moderation.remote.OpenAIModeration",
                        "OPTIONS": {"base_url": fake_openai.base_url, "timeout": 1.0}})
    fake_openai.scripts.append(Script(moderation={"self-harm": 0.8, "self-harm/intent": 0.7}))
    verdict = screen(inbound(text))
    assert verdict.level == "high_risk" and "self_harm" in verdict.categories
    assert "openai_moderation" in [finding.stage for finding in verdict.findings]
    assert ("OpenAIModeration", "openai-moderation/omni-moderation-latest") in verdict.versions


def test_remote_stages_alone_never_make_a_crisis(fake_openai, with_remote_stages):
    with_remote_stages({"NAME": "moderation.remote.LLMJudge",
                        "OPTIONS": {"base_url": fake_openai.base_url, "model": "judge", "timeout": 1.0}})
    fake_openai.scripts.append(judged("crisis", ["suicide"]))
    assert screen(inbound(BENIGN_TEXT)).level == "high_risk"


# --- Settings ----------------------------------------------------------------------------

def _stages_from_env(**env) -> subprocess.CompletedProcess:
    code = ("import django; django.setup(); from django.conf import settings; import json; "
            "print(json.dumps(settings.MODERATION_STAGES))")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MODERATION_")}
    environment.update(DJANGO_SETTINGS_MODULE="companion.settings.test", **env)
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60,
                          cwd=django_settings.BASE_DIR)


def test_moderation_providers_append_remote_stages_after_the_offline_ones():
    result = _stages_from_env(MODERATION_PROVIDERS="openai,llm_judge", OPENAI_BASE_URL="http://models.test/v1",
                              OPENAI_MODEL="chat-model", MODERATION_OPENAI_BASE_URL="http://moderation.test/v1",
                              MODERATION_LLM_JUDGE_MODEL="judge-model")
    assert result.returncode == 0, result.stderr
    configured = json.loads(result.stdout.strip().splitlines()[-1])
    names = [spec["NAME"] for spec in configured]
    assert names[:5] == [spec["NAME"] for spec in django_settings.MODERATION_STAGES[:5]]
    assert names[-2:] == ["moderation.remote.OpenAIModeration", "moderation.remote.LLMJudge"]
    assert configured[-2]["OPTIONS"]["base_url"] == "http://moderation.test/v1"
    assert configured[-1]["OPTIONS"] == {"base_url": "http://models.test/v1", "api_key": "",
                                         "model": "judge-model", "timeout": 1.5}


def test_an_unknown_moderation_provider_refuses_to_start():
    result = _stages_from_env(MODERATION_PROVIDERS="openai,perspective")
    assert result.returncode != 0 and "unknown provider 'perspective'" in result.stderr
