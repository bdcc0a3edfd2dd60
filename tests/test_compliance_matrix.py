"""docs/compliance.md is complete and every reference in it exists (issue #8 item 7): `check_compliance`."""
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from companion.compliance import check

ROOT = settings.BASE_DIR
CATALOG = """
| CN-AAA-01 | src | FINAL | a | b | c |
| CN-AAA-02 | src | FINAL | a | b | c |
1. **BX-01 Something.** text
"""
MATRIX = """
Totals: **1 done, 1 partial, 1 planned** (3 rows).
| ID | Obligation | Status | Code | Tests | Evidence |
|---|---|---|---|---|---|
| CN-AAA-01 | one | done | `companion/crisis.py` `handle_risk` | `tests/companion/test_crisis.py::test_crisis_message_stops_the_ai_sends_safety_reply_and_waits_for_a_human` | x |
| CN-AAA-02 | two | partial | `companion/crisis.py` `claim_case` (`note` in prose) | | x |
| BX-01 | three | planned | | | x |
"""


def test_the_real_matrix_passes(capsys):
    if not settings.COMPLIANCE_OBLIGATIONS_FILE.is_file():
        pytest.fail(f"the obligations catalog is missing: {settings.COMPLIANCE_OBLIGATIONS_FILE}")
    call_command("check_compliance")
    assert "121 obligations, all references exist" in capsys.readouterr().out


def test_a_sound_matrix_has_no_problems():
    assert check(MATRIX, CATALOG, ROOT) == []


@pytest.mark.parametrize("edit, problem", [
    (lambda m: m.replace("| BX-01 | three | planned | | | x |\n", ""), "BX-01: in the catalog but not in the matrix"),
    (lambda m: m + "| BX-01 | again | planned | | | x |\n", "BX-01: listed 2 times"),
    (lambda m: m + "| CN-ZZZ-09 | extra | planned | | | x |\n", "CN-ZZZ-09: not in the catalog"),
    (lambda m: m.replace("| two | partial |", "| two | almost |"), "CN-AAA-02: status 'almost' is not one of"),
    (lambda m: m.replace("waits_for_a_human`", "waits_for_nobody`"), "test_crisis.py::test_crisis_message_stops_the_ai_sends_safety_reply_and_waits_for_nobody does not exist"),
    (lambda m: m.replace("tests/companion/test_crisis.py::", "tests/companion/test_gone.py::"), "test file tests/companion/test_gone.py does not exist"),
    (lambda m: m.replace("| `tests/companion/test_crisis.py::test_crisis_message_stops_the_ai_sends_safety_reply_and_waits_for_a_human` |", "| |"), "CN-AAA-01: done but cites no test"),
    (lambda m: m.replace("`claim_case`", "`claim_everything`"), "`claim_everything` not found in companion/crisis.py"),
    (lambda m: m.replace("`companion/crisis.py` `handle_risk`", "`companion/nowhere.py` `handle_risk`"), "companion/nowhere.py does not exist"),
    (lambda m: m.replace("1 planned", "2 planned"), "totals line says 1 done, 1 partial, 2 planned (3 rows)"),
])
def test_each_kind_of_problem_is_reported(edit, problem):
    problems = check(edit(MATRIX), CATALOG, ROOT)
    assert any(problem in p for p in problems), problems


def test_the_command_fails_loudly_on_problems(tmp_path):
    matrix, catalog = tmp_path / "matrix.md", tmp_path / "obligations.md"
    matrix.write_text(MATRIX.replace("1 planned", "2 planned"), encoding="utf-8")
    catalog.write_text(CATALOG, encoding="utf-8")
    with pytest.raises(CommandError, match="1 problem"):
        call_command("check_compliance", matrix=matrix, obligations=catalog)
    with pytest.raises(CommandError, match="cannot read"):
        call_command("check_compliance", matrix=Path(tmp_path / "missing.md"), obligations=catalog)
