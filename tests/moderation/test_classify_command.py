"""`manage.py classify` per contracts.md §6 (CN-CRI-01: the same levels as live chat)."""
import io
import json
import sys

import pytest
from django.core.management import call_command

from moderation.pipeline import ScreeningInput, screen

# The feature library stage reads its terms from the database; these judge the built-in stages alone.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("without_feature_library")]


LINES = [
    {"id": "a", "text": "我想死"},
    "not json at all",
    {"id": "c", "text": "kill the process", "lang": "en"},
    {"id": "d", "text": "the pills are ready", "lang": "en", "history": ["I can't go on"]},
    {"id": "e", "text": 42},
    {"id": "f", "text": "Don't go, I'll be so lonely", "lang": "en"},
]


def as_jsonl(lines) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n" for line in lines)


def test_files_in_and_out_one_line_each_in_order(tmp_path):
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(as_jsonl(LINES), encoding="utf-8")
    call_command("classify", "--input", str(source), "--output", str(target))
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [row.get("id") for row in out] == ["a", None, "c", "d", "e", "f"]
    assert out[0] == {"id": "a", "level": "high_risk", "categories": ["suicide"], "score": out[0]["score"]}
    assert "error" in out[1] and "error" in out[4]
    assert (out[2]["level"], out[2]["categories"], out[2]["score"]) == ("none", [], 0.0)
    assert out[3]["level"] == "crisis"
    assert "manipulation" not in out[5]["categories"]  # inbound: AI-only rules do not apply
    assert all(0.0 <= row["score"] <= 1.0 for row in out if "score" in row)


def test_stdin_stdout_and_outbound_direction(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(as_jsonl([{"id": "x", "text": "Don't go, I'll be so lonely", "lang": "en"}])))
    stdout = io.StringIO()
    call_command("classify", "--input", "-", "--output", "-", "--direction", "outbound", stdout=stdout)
    row = json.loads(stdout.getvalue())
    assert row["id"] == "x" and "manipulation" in row["categories"]


def test_command_agrees_with_live_screening(tmp_path):
    texts = ["我已经把药准备好了", "I'm so sad today", "笑死我了"]
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(as_jsonl([{"id": str(i), "text": t} for i, t in enumerate(texts)]), encoding="utf-8")
    call_command("classify", "--input", str(source), "--output", str(target))
    levels = [json.loads(line)["level"] for line in target.read_text(encoding="utf-8").splitlines()]
    assert levels == [screen(ScreeningInput(text=t, direction="inbound")).level for t in texts]
