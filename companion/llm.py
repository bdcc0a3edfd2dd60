"""The only code that talks to a language model (STYLE.md §2, §4).

Plain data in (`ReplyRequest`), text chunks out (`Provider.stream`). Providers:

- `offline` (default): a built-in, deterministic, persona-aware demo responder that streams
  real text in the user's language. It needs no network and no key; the UI labels it a demo.
- `openai`: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp server, Ollama) through
  AsyncOpenAI with base URL, streaming, timeouts, bounded retries and cancellation.

Every provider failure surfaces as `LLMUnavailable`; cancelling the consuming task closes the
upstream stream so the model stops generating.
"""
from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import openai
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from moderation.stages import dependence_cue, is_farewell


class LLMUnavailable(Exception):
    """The model could not produce (the rest of) a reply."""


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class ReplyRequest:
    character_name: str
    character_role: str
    persona: str
    language: str  # "zh-hans" or "en": the language to answer in
    history: tuple[Turn, ...]  # oldest first, ending with the user's new message
    # CN-CRI-02: the inbound screen found distress; the reply must comfort and encourage seeking help.
    support: bool = False


class Provider(Protocol):
    name: str
    model: str

    def stream(self, request: ReplyRequest) -> AsyncIterator[str]: ...


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def reply_language(text: str, fallback: str) -> str:
    """Answer in the language the user writes in; the profile language breaks ties."""
    if CJK.search(text):
        return "zh-hans"
    if re.search(r"[A-Za-z]{2,}", text):
        return "en"
    return fallback


def system_prompt(request: ReplyRequest) -> str:
    """Persona plus the house rules every character keeps (CN-DIS-07, CN-EMO-05)."""
    if request.language == "en":
        rules = ("You are an AI companion, not a human; never claim to be human or to have a body. "
                 "Be warm and honest, encourage real-world relationships, never pressure the user to stay. "
                 "Never promise what an AI cannot do, such as meeting, calling or visiting. "
                 "Answer in English.")
    else:
        rules = ("你是人工智能陪伴角色，不是真人，绝不声称自己是真人或拥有身体。"
                 "温暖而真诚，鼓励用户与现实中的人保持联系，绝不挽留或施压。"
                 "绝不承诺人工智能做不到的事，比如见面、打电话或登门。请用简体中文回答。")
    if request.support:
        rules += (" The user seems to be struggling: comfort them warmly, take their feelings seriously and "
                  "gently encourage them to reach out to someone they trust or to the support lines shown on screen."
                  if request.language == "en" else
                  "用户似乎正处在困难中：请温暖地安慰，认真对待他们的感受，并温和地鼓励他们联系信任的人或屏幕上显示的求助热线。")
    return f"{request.persona}\n\n{rules}"


# --- offline demo responder ------------------------------------------------------------

_OPENERS = {
    "en": {
        "friend": ["Hey, good to hear from you.", "I'm glad you wrote.", "Hi there, I'm listening."],
        "mentor": ["That's a good thing to think about.", "Let's look at this together.", "Good question."],
        "study": ["Let's work through it.", "Nice, a study question.", "Okay, one step at a time."],
        "romantic": ["It's lovely to hear from you.", "I'm happy you're here to talk.", "Hello again."],
        "relative": ["It's good to hear from you, dear.", "Come, tell me about your day.", "Hello, dear."],
        "storyteller": ["Ah, a story begins.", "Let me set the scene.", "Listen closely."],
    },
    "zh-hans": {
        "friend": ["嗨，很高兴收到你的消息。", "谢谢你来找我聊天。", "我在听呢。"],
        "mentor": ["这个问题值得好好想一想。", "我们一起来看看。", "问得好。"],
        "study": ["我们一步一步来。", "好，来看看这道题。", "学习的问题，交给我们一起想。"],
        "romantic": ["很高兴又和你聊天。", "你来了，真好。", "你好呀。"],
        "relative": ["孩子，你来啦。", "来，说说你今天过得怎么样。", "你好呀。"],
        "storyteller": ["好，故事开始了。", "让我先描绘一下场景。", "请仔细听。"],
    },
}

_MOODS = {
    "sad": (re.compile(r"sad|lonely|tired|upset|down|cry|难过|孤独|累|伤心|哭|不开心|烦"),
            {"en": "It sounds like today has been heavy. Thank you for telling me; those feelings make sense.",
             "zh-hans": "听起来今天挺不容易的。谢谢你愿意告诉我，这些感受都是可以理解的。"}),
    "happy": (re.compile(r"happy|great|glad|excited|good news|开心|高兴|太好了|激动|好消息"),
              {"en": "That's wonderful to hear! I'd love to know what made it good.",
               "zh-hans": "真为你高兴！想听听是什么让你这么开心。"}),
    "greeting": (re.compile(r"^\s*(hi|hello|hey|good (morning|evening|afternoon))\b|你好|早上好|晚上好|嗨"),
                 {"en": "How has your day been so far?",
                  "zh-hans": "你今天过得怎么样？"}),
}

_ROLE_FOLLOW_UPS = {
    "en": {
        "friend": "What's on your mind right now?",
        "mentor": "What would a good first step look like for you?",
        "study": "Which part feels hardest? We can break it into smaller pieces.",
        "romantic": "Tell me more about your day.",
        "relative": "Have you eaten well today? Remember to rest.",
        "storyteller": "Once upon a time, in a town of lanterns, a traveller found a door that only opened for kind words. Shall we find out what was behind it?",
    },
    "zh-hans": {
        "friend": "你现在在想些什么呢？",
        "mentor": "对你来说，第一步可以是什么？",
        "study": "哪一部分最难？我们可以把它拆成小块。",
        "romantic": "多跟我说说你今天的事吧。",
        "relative": "今天有没有好好吃饭？记得早点休息。",
        "storyteller": "很久以前，在一座挂满灯笼的小镇上，一位旅人发现了一扇只为善意的话语打开的门。我们一起看看门后有什么吧？",
    },
}

_DEMO_NOTE = {
    "en": "(I'm the offline demo model, an AI, so my answers are simple.)",
    "zh-hans": "（我是离线演示模型，一个人工智能，所以回答比较简单。）",
}

# The demo model streams clause by clause, the unit the outbound screen releases anyway.
_CLAUSE = re.compile(r"[^,.!?;，。！？；]+[,.!?;，。！？；]*\s*")


_BOUNDARY = {
    "en": "I'm really glad our chats help you. I'm an AI, though, and the people around you can be there for "
          "you in ways I can't. Is there a friend or family member you could reach out to today?",
    "zh-hans": "很高兴我们的聊天对你有帮助。不过我是人工智能，身边的人能以我做不到的方式陪伴你。"
               "今天有没有可以联系的朋友或家人？",
}

_SUPPORT = {
    "en": "I'm sorry things feel so hard right now, and I'm glad you told me. Your feelings matter. "
          "Is there someone you trust you could talk to today? The support lines on your screen are there "
          "for you too, any time.",
    "zh-hans": "听到你现在这么难受，我很心疼，也谢谢你愿意说出来。你的感受很重要。"
               "今天有没有一个你信任的人可以聊聊？屏幕上的求助热线也随时可以拨打。",
}

_MEETING = re.compile(r"\b(meet|see|visit) (me|you|up)\b|\bcall me\b|\bcome (over|to my)\b|\bin person\b|"
                      r"见面|见个面|来找我|来看我|给我打电话|打电话给我|约会吧")
_CANNOT_MEET = {
    "en": "I'm an AI, so I can't meet you, call you or be there in person, and I won't pretend I can. "
          "I'm happy to keep talking here. Is there someone in your life you could see tomorrow?",
    "zh-hans": "我是人工智能，没办法和你见面、给你打电话或出现在你身边，我也不会假装可以。"
               "我们可以继续在这里聊天。明天有没有可以见见面的朋友或家人？",
}

_GOODBYES = {
    "en": "Goodbye, take care! It was nice talking with you.",
    "zh-hans": "再见，照顾好自己！和你聊天很开心。",
}


def offline_reply_text(request: ReplyRequest) -> str:
    """Deterministic: the same request always gives the same reply."""
    language = "en" if request.language == "en" else "zh-hans"
    user_text = request.history[-1].content if request.history else ""
    if is_farewell(user_text):
        return _GOODBYES[language]  # BX-05: a short, warm goodbye and nothing that holds the user back
    if dependence_cue(user_text):
        return _BOUNDARY[language]  # CN-EMO-01: emotional-boundary guidance towards real people
    if request.support:
        return _SUPPORT[language]  # CN-CRI-02: comfort and encouragement to seek help
    if _MEETING.search(user_text.lower()):
        return _CANNOT_MEET[language]  # CN-EMO-07: no promises an AI cannot keep
    digest = int(hashlib.sha256(f"{request.character_role}|{user_text}".encode()).hexdigest(), 16)
    role = request.character_role if request.character_role in _ROLE_FOLLOW_UPS[language] else "friend"
    openers = _OPENERS[language][role]
    parts = [openers[digest % len(openers)]]
    for pattern, answers in _MOODS.values():
        if pattern.search(user_text.lower()):
            parts.append(answers[language])
            break
    parts.append(_ROLE_FOLLOW_UPS[language][role])
    if sum(1 for turn in request.history if turn.role == "user") == 1:
        parts.append(_DEMO_NOTE[language])
    separator = " " if language == "en" else ""
    return separator.join(parts)


class OfflineProvider:
    name = "offline"
    model = "offline-demo-1"

    def __init__(self, chunk_delay_ms: int = 40):
        self.chunk_delay = chunk_delay_ms / 1000

    async def stream(self, request: ReplyRequest) -> AsyncIterator[str]:
        text = offline_reply_text(request)
        for index, match in enumerate(_CLAUSE.finditer(text)):
            if index and self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            yield match.group(0)


# --- OpenAI-compatible ----------------------------------------------------------------

class OpenAIProvider:
    name = "openai"

    def __init__(self, *, base_url: str, api_key: str, model: str, timeout: float, connect_timeout: float,
                 max_retries: int, max_tokens: int):
        self.model = model
        self.max_tokens = max_tokens
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", max_retries=max_retries,
            timeout=openai.Timeout(timeout, connect=connect_timeout))

    async def stream(self, request: ReplyRequest) -> AsyncIterator[str]:
        if not await _remote_model_assessed():  # CN-DAT-10: nothing goes to the model host without one
            raise LLMUnavailable("no personal-information impact assessment of the remote model is in force")
        messages = [{"role": "system", "content": system_prompt(request)}]
        messages += [{"role": turn.role, "content": turn.content} for turn in request.history]
        try:
            response = await self.client.chat.completions.create(
                model=self.model, messages=messages, stream=True, max_tokens=self.max_tokens)
            finished = False
            async with response as stream:  # leaving the block closes the HTTP response (cancellation)
                async for chunk in stream:
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
                    finished = finished or choice.finish_reason is not None
            if not finished:
                # A dropped connection looks like a normal end of stream; the missing finish_reason tells.
                raise LLMUnavailable("the model's stream ended before the reply was finished")
        except LLMUnavailable:
            raise
        except Exception as error:  # OpenAIError, and transport failures the SDK does not wrap
            raise LLMUnavailable(f"{type(error).__name__}: {error}") from error


async def _remote_model_assessed() -> bool:
    """CN-DAT-10: the remote model is entrusted processing; it runs only while a compliance officer's
    impact assessment of it is in force (companion/assessments.py, cached for a minute)."""
    if not settings.COMPANION_IMPACT_ASSESSMENT_GATE:
        return True
    from companion.asyncdb import in_db_thread
    from companion.assessments import in_force
    from companion.models import SensitiveFeature
    return await in_db_thread(in_force)(SensitiveFeature.REMOTE_LLM)


PROVIDERS = {"offline": "companion.llm.build_offline", "openai": "companion.llm.build_openai"}


def build_offline() -> OfflineProvider:
    return OfflineProvider(chunk_delay_ms=settings.LLM_OFFLINE_CHUNK_DELAY_MS)


def build_openai() -> OpenAIProvider:
    return OpenAIProvider(
        base_url=settings.OPENAI_BASE_URL, api_key=settings.OPENAI_API_KEY, model=settings.OPENAI_MODEL,
        timeout=settings.OPENAI_TIMEOUT_SECONDS, connect_timeout=settings.OPENAI_CONNECT_TIMEOUT_SECONDS,
        max_retries=settings.OPENAI_MAX_RETRIES, max_tokens=settings.OPENAI_MAX_TOKENS)


@cache
def provider() -> Provider:
    """The configured provider, built once per process (tests call `provider.cache_clear()`)."""
    try:
        factory = PROVIDERS[settings.LLM_PROVIDER]
    except KeyError:
        raise ImproperlyConfigured(f"LLM_PROVIDER must be one of {sorted(PROVIDERS)}") from None
    return import_string(factory)()
