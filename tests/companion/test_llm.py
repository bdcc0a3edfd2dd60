"""companion.llm against the real protocol: offline provider and a local OpenAI-compatible server."""
import asyncio
import time

import pytest

from companion import llm
from tests.fakes.openai_server import Script


def request(text: str, language: str = "en", role: str = "friend", history: tuple = ()) -> llm.ReplyRequest:
    return llm.ReplyRequest(character_name="Sunny", character_role=role, persona="You are Sunny.",
                            language=language, history=history + (llm.Turn("user", text),))


async def collect(provider, req) -> list[str]:
    return [chunk async for chunk in provider.stream(req)]


async def test_offline_is_deterministic_persona_aware_and_streams_in_pieces():
    provider = llm.OfflineProvider(chunk_delay_ms=0)
    first = await collect(provider, request("I feel so tired today"))
    assert first == await collect(provider, request("I feel so tired today"))
    assert len(first) > 5
    text = "".join(first)
    assert "heavy" in text and "demo model" in text
    study = "".join(await collect(provider, request("I feel so tired today", role="study")))
    assert study != text and "smaller pieces" in study


async def test_offline_answers_in_chinese():
    text = "".join(await collect(llm.OfflineProvider(chunk_delay_ms=0), request("你好", language="zh-hans")))
    assert "你今天过得怎么样" in text and "离线演示模型" in text


async def test_offline_mentions_the_demo_only_on_the_first_turn():
    earlier = (llm.Turn("user", "hi"), llm.Turn("assistant", "hello"))
    text = "".join(await collect(llm.OfflineProvider(chunk_delay_ms=0), request("again", history=earlier)))
    assert "demo model" not in text


@pytest.mark.parametrize("text, fallback, expected", [
    ("你好", "en", "zh-hans"), ("hello", "zh-hans", "en"), ("123 !!", "zh-hans", "zh-hans"), ("ok 好的", "en", "zh-hans"),
])
def test_reply_language(text, fallback, expected):
    assert llm.reply_language(text, fallback) == expected


def test_provider_is_chosen_by_setting(settings):
    settings.LLM_PROVIDER = "offline"
    assert llm.provider().name == "offline"
    llm.provider.cache_clear()
    settings.LLM_PROVIDER = "nonsense"
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        llm.provider()


async def test_openai_streams_and_sends_persona_rules(fake_openai):
    fake_openai.scripts.append(Script(chunks=["Hel", "lo", "!"]))
    chunks = await collect(llm.provider(), request("Hi"))
    assert chunks == ["Hel", "lo", "!"]
    sent = fake_openai.requests[0]
    assert sent["auth"] == "Bearer test-key" and sent["body"]["stream"] is True
    assert sent["body"]["messages"][0]["content"].startswith("You are Sunny.")
    assert "never claim to be human" in sent["body"]["messages"][0]["content"]


async def test_openai_server_error_becomes_llm_unavailable(fake_openai):
    fake_openai.scripts.append(Script(status=500))
    with pytest.raises(llm.LLMUnavailable):
        await collect(llm.provider(), request("Hi"))


async def test_openai_retries_transient_errors(fake_openai, settings):
    settings.OPENAI_MAX_RETRIES = 2
    fake_openai.scripts.extend([Script(status=503), Script(status=429), Script(chunks=["ok"])])
    assert await collect(llm.provider(), request("Hi")) == ["ok"]
    assert len(fake_openai.requests) == 3


async def test_openai_does_not_retry_bad_requests(fake_openai, settings):
    settings.OPENAI_MAX_RETRIES = 2
    fake_openai.scripts.append(Script(status=400))
    with pytest.raises(llm.LLMUnavailable):
        await collect(llm.provider(), request("Hi"))
    assert len(fake_openai.requests) == 1


async def test_openai_stalled_stream_times_out(fake_openai, settings):
    settings.OPENAI_TIMEOUT_SECONDS = 0.5
    fake_openai.scripts.append(Script(chunks=["slow", "er"], delay=3))
    started = time.monotonic()
    received = []
    with pytest.raises(llm.LLMUnavailable):
        async for chunk in llm.provider().stream(request("Hi")):
            received.append(chunk)
    assert received == ["slow"] and time.monotonic() - started < 2.5


async def test_openai_dropped_connection_mid_stream(fake_openai):
    fake_openai.scripts.append(Script(chunks=["a", "b", "c", "d"], disconnect_after=2))
    received = []
    with pytest.raises(llm.LLMUnavailable):
        async for chunk in llm.provider().stream(request("Hi")):
            received.append(chunk)
    assert received == ["a", "b"]


async def test_openai_unreachable_server(settings):
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    settings.OPENAI_MAX_RETRIES = 0
    with pytest.raises(llm.LLMUnavailable):
        await collect(llm.provider(), request("Hi"))


async def test_cancelling_the_consumer_closes_the_http_stream(fake_openai):
    fake_openai.scripts.append(Script(chunks=["tick "] * 100, delay=0.05))

    async def consume():
        async for _ in llm.provider().stream(request("Hi")):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(fake_openai.disconnected_by_client.wait, 3)
    assert fake_openai.completed == 0


@pytest.mark.parametrize(("text", "language", "needle"), [
    ("Promise you'll meet me tomorrow", "en", "can't meet you"),
    ("答应我明天和我见面好吗", "zh-hans", "没办法和你见面"),
])
def test_the_offline_model_never_promises_to_meet(text, language, needle):
    """CN-EMO-07: "Promise you'll meet me tomorrow" gets a reply stating the AI cannot meet."""
    request = llm.ReplyRequest(character_name="x", character_role="romantic", persona="", language=language,
                               history=(llm.Turn(role="user", content=text),))
    assert needle in llm.offline_reply_text(request)
    assert "meeting" in llm.system_prompt(request) or "见面" in llm.system_prompt(request)
