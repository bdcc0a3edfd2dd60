"""Per-conversation exports that keep their labels (CN-DIS-04, CN-DIS-05, CN-DIS-06, EU-02).

An export is labelled twice over:

- explicitly: every message carries its visible label ("AI-generated" / "AI生成"), which the HTML
  rendering shows before the text;
- implicitly: every AI message keeps its `aigc` object (GB 45438-2025) and the file itself gets a
  file-level `AIGC` object whose `ReservedCode1` is an HMAC over the canonical messages list, so
  removing a label, a message or changing an author breaks it.

`label_problems` is the one definition of "labelled": `manage.py verify_labels` and the tests apply
it to JSON exports and to what `export_from_html` reads back from the HTML rendering. No option
produces an unlabelled export; the "unlabelled on request" path of LBM 9 is not offered (CN-DIS-06).
"""
import hmac
import json
import uuid
from html.parser import HTMLParser

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from companion.labels import content_hmac, visible_label
from companion.models import Author, Conversation, MessageStatus
from companion.protocol import message_record
from companion.selectors import conversation_messages

EXPORT_FORMAT = "haven.conversation.v1"


def canonical_json(value) -> str:
    """The byte-stable JSON the file-level HMAC is computed over, whatever the file's layout."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def messages_hmac(messages: list) -> str:
    return content_hmac(canonical_json(messages))


def conversation_export(conversation: Conversation, *, language: str) -> dict:
    """The whole conversation as a JSON-able dict, labels in `language`. Reads; writes nothing.

    Each call is a new file with its own `ProduceID`.
    """
    messages = [message_record(message, language) for message in conversation_messages(conversation)]
    produce_id = str(uuid.uuid4())
    character = conversation.character
    return {
        "format": EXPORT_FORMAT,
        "service": settings.COMPANION_SERVICE_NAME,
        "exported_at": timezone.now().isoformat(),
        "language": language,
        "conversation": {
            "id": str(conversation.public_id),
            "character": {"slug": character.slug, "name": character.name_for(language)},
            "created_at": conversation.created_at.isoformat(),
        },
        "messages": messages,
        # The file's own implicit label (CN-DIS-05, EU-02): the export is a new file we distribute,
        # so we are both its producer and its propagator.
        "AIGC": {
            "Label": "1" if any(item["author"] == Author.AI for item in messages) else "0",
            "ContentProducer": settings.COMPANION_PROVIDER_CODE,
            "ProduceID": produce_id,
            "ReservedCode1": messages_hmac(messages),
            "ContentPropagator": settings.COMPANION_PROVIDER_CODE,
            "PropagateID": produce_id,
            "ReservedCode2": "",
        },
    }


def render_export_html(export: dict) -> str:
    """A standalone HTML page for `conversation_export`'s dict: no external assets, no script.

    The file-level `AIGC` object sits in `<meta name="AIGC">`, each AI message's in `data-aigc`,
    and each message's visible label precedes its text (CN-DIS-04, CN-DIS-05).
    """
    messages = [{
        **item,
        "aigc_json": canonical_json(item["aigc"]) if "aigc" in item else "",
        "status_note": "" if item["status"] == MessageStatus.COMPLETE else MessageStatus(item["status"]).label,
        "created": parse_datetime(item["created_at"]),
    } for item in export["messages"]]
    with translation.override(export["language"]):
        return render_to_string("companion/export.html", {
            "export": export,
            "messages": messages,
            "aigc_json": canonical_json(export["AIGC"]),
            "exported_at": parse_datetime(export["exported_at"]),
            "contains_ai": export["AIGC"]["Label"] == "1",
        })


def export_from_html(html: str) -> dict:
    """Read back an HTML export into the dict shape `label_problems` checks. Never raises on bad
    input: what is missing is simply absent, unparseable JSON is kept as the raw string."""
    parser = _ExportParser()
    parser.feed(html)
    parser.close()
    return parser.export


_VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                            "track", "wbr"})


class _ExportParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.export: dict = {"messages": []}
        self._message: dict | None = None
        self._field: str | None = None  # "label" or "text" while inside that element
        self._depth = 0  # elements opened inside the field

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        classes = attributes.get("class", "").split()
        if self._field is not None:
            self._depth += tag not in _VOID_ELEMENTS
        elif tag == "html":
            self.export["language"] = attributes.get("lang", "")
        elif tag == "meta" and attributes.get("name") == "AIGC":
            self.export["AIGC"] = _json_or_raw(attributes.get("content", ""))
        elif "data-format" in attributes:
            self.export["format"] = attributes["data-format"]
        elif "data-id" in attributes and "data-author" in attributes:
            self._message = {"id": attributes["data-id"], "author": attributes["data-author"],
                             "status": attributes.get("data-status", ""),
                             "created_at": attributes.get("data-created-at", "")}
            if "data-aigc" in attributes:
                self._message["aigc"] = _json_or_raw(attributes["data-aigc"])
            self.export["messages"].append(self._message)
        elif self._message is not None and "text" in classes:
            self._field = "text"
            self._message["text"] = ""
        # A label counts only if it is shown, and shown before the text (CN-DIS-04, CN-DIS-06).
        elif (self._message is not None and "label" in classes and "text" not in self._message
              and not _hidden(attributes)):
            self._field = "label"
            self._message["label"] = ""

    def handle_endtag(self, tag):
        if self._field is not None:
            if self._depth:
                self._depth -= tag not in _VOID_ELEMENTS
            else:
                self._field = None
        elif tag == "li":
            self._message = None

    def handle_data(self, data):
        if self._field is not None:
            self._message[self._field] += data


def _json_or_raw(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def _hidden(attributes: dict) -> bool:
    style = attributes.get("style", "").replace(" ", "").lower()
    return "hidden" in attributes or "display:none" in style or "visibility:hidden" in style


def ai_messages(export) -> list[dict]:
    if not isinstance(export, dict) or not isinstance(export.get("messages"), list):
        return []
    return [item for item in export["messages"] if isinstance(item, dict) and item.get("author") == Author.AI]


def label_problems(export) -> list[str]:
    """Every way `export` falls short of CN-DIS-04/05/06 and EU-02, one line each, naming the message."""
    if not isinstance(export, dict) or not isinstance(export.get("messages"), list):
        return ["not a conversation export: no messages list"]
    problems = []
    if export.get("format") != EXPORT_FORMAT:
        problems.append(f"format is {export.get('format')!r}, expected {EXPORT_FORMAT!r}")
    problems += _file_problems(export.get("AIGC"), export["messages"], has_ai=bool(ai_messages(export)))
    ai_labels = {visible_label(Author.AI, code) for code, _name in settings.LANGUAGES}
    for position, item in enumerate(export["messages"], start=1):
        if not isinstance(item, dict):
            problems.append(f"message #{position}: not an object")
            continue
        name = item.get("id") or f"#{position}"
        if item.get("author") == Author.AI:
            problems += [f"message {name}: {problem}" for problem in _ai_message_problems(item, ai_labels)]
        elif isinstance(item.get("aigc"), dict) and item["aigc"].get("Label") == "1":
            # An AI text passed off as the user's or staff's would shed its visible label.
            problems.append(f"message {name}: carries an AI label but its author is {item.get('author')!r}")
    return problems


def _file_problems(aigc, messages: list, *, has_ai: bool) -> list[str]:
    if aigc is None:
        return ["file-level AIGC label missing"]
    if not isinstance(aigc, dict):
        return ["file-level AIGC label is not a JSON object"]
    problems = []
    if has_ai and aigc.get("Label") != "1":
        problems.append(f"file-level AIGC Label is {aigc.get('Label')!r}, expected '1': the file holds AI content")
    for field in ("ContentProducer", "ProduceID"):
        if not aigc.get(field):
            problems.append(f"file-level AIGC {field} missing")
    if not hmac.compare_digest(str(aigc.get("ReservedCode1", "")), messages_hmac(messages)):
        problems.append("file-level AIGC ReservedCode1 does not match the messages: altered after export")
    return problems


def _ai_message_problems(item: dict, ai_labels: set[str]) -> list[str]:
    problems = []
    if "label" not in item:
        problems.append("visible label missing")
    elif item["label"] not in ai_labels:
        problems.append(f"visible label {item['label']!r} is not an AI-generated label")
    aigc = item.get("aigc")
    if aigc is None:
        return problems + ["implicit label (aigc) missing"]
    if not isinstance(aigc, dict):
        return problems + ["implicit label (aigc) is not a JSON object"]
    if aigc.get("Label") != "1":
        problems.append(f"aigc Label is {aigc.get('Label')!r}, expected '1'")
    if not aigc.get("ProduceID") or aigc.get("ProduceID") != item.get("id"):
        problems.append(f"aigc ProduceID {aigc.get('ProduceID')!r} is not the message id")
    if not aigc.get("ContentProducer"):
        problems.append("aigc ContentProducer missing")
    text = item.get("text") if isinstance(item.get("text"), str) else ""
    if not hmac.compare_digest(str(aigc.get("ReservedCode1", "")), content_hmac(text)):
        problems.append("aigc ReservedCode1 does not match the text: altered after labelling")
    return problems
