"""Checks that docs/compliance.md (the compliance matrix) is complete and points at things that exist.

`check(matrix_text, obligations_text, root)` returns a list of problems (empty means all is well):

- every obligation ID of the catalog (../shared/obligations.md) has exactly one row, and no row names
  an ID the catalog lacks;
- every status is `done`, `partial` or `planned`; a `done` row cites at least one test;
- every cited test (`tests/x.py::test_name`, or `::test_name` continuing the file before it, in the
  Tests column) is a `def`/`async def` in that file;
- every code path in the Code column exists, and every name cited after it (`path` `name`, not
  those in parenthesised notes) occurs in that file;
- the totals line ("Totals: **N done, M partial, K planned** (R rows)") matches the rows.

Used by `manage.py check_compliance` (issue #8 item 7) and its test, so a stale reference fails CI.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

STATUSES = ("done", "partial", "planned")
_ID = r"(?:CN|US|EU)-[A-Z0-9]+(?:-[A-Z0-9]+)*|BX-\d+"
_CATALOG_ROW = re.compile(rf"^\| ({_ID}) \|", re.M)
_CATALOG_BX = re.compile(r"\*\*(BX-\d+) ")
_TICKED = re.compile(r"`([^`]+)`")
_TEST_REF = re.compile(r"^((?:tests|e2e)/[\w/]+\.py)?::(\w+)")
_PATH = re.compile(r"^[\w./-]+\.(?:py|html|js|css|json|md|txt|jsonl|gz)$")
_TOTALS = re.compile(r"Totals: \*\*(\d+) done, (\d+) partial, (\d+) planned\*\* \((\d+) rows\)")


@dataclass(frozen=True)
class Row:
    id: str
    status: str
    code: str
    tests: str


def catalog_ids(obligations_text: str) -> list[str]:
    return _CATALOG_ROW.findall(obligations_text) + _CATALOG_BX.findall(obligations_text)


def matrix_rows(matrix_text: str) -> list[Row]:
    rows = []
    for line in matrix_text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and re.fullmatch(_ID, cells[0]):
            rows.append(Row(id=cells[0], status=cells[2], code=cells[3], tests=cells[4]))
    return rows


def _test_names(path: Path) -> set[str]:
    return set(re.findall(r"^\s*(?:async\s+)?def (test_\w+)", path.read_text(encoding="utf-8"), re.M))


def check(matrix_text: str, obligations_text: str, root: Path) -> list[str]:
    problems: list[str] = []
    rows = matrix_rows(matrix_text)
    ids = catalog_ids(obligations_text)
    counts = Counter(row.id for row in rows)
    problems += [f"{i}: in the catalog but not in the matrix" for i in ids if i not in counts]
    problems += [f"{i}: listed {n} times" for i, n in counts.items() if n > 1]
    problems += [f"{i}: not in the catalog" for i in counts if i not in set(ids)]
    tests_cache: dict[str, set[str] | None] = {}
    files_cache: dict[str, str | None] = {}

    def read(path: str) -> str | None:
        if path not in files_cache:
            file = root / path
            files_cache[path] = file.read_text(encoding="utf-8", errors="replace") if file.is_file() else None
        return files_cache[path]

    for row in rows:
        if row.status not in STATUSES:
            problems.append(f"{row.id}: status {row.status!r} is not one of {', '.join(STATUSES)}")
        current, cited = None, 0
        for ref in _TICKED.findall(row.tests):
            match = _TEST_REF.match(ref)
            if not match:
                continue
            current = match.group(1) or current
            if current is None:
                problems.append(f"{row.id}: test {ref} names no file")
                continue
            if current not in tests_cache:
                tests_cache[current] = _test_names(root / current) if (root / current).is_file() else None
            names = tests_cache[current]
            if names is None:
                problems.append(f"{row.id}: test file {current} does not exist")
            elif match.group(2) not in names:
                problems.append(f"{row.id}: {current}::{match.group(2)} does not exist")
            cited += 1
        if row.status == "done" and not cited:
            problems.append(f"{row.id}: done but cites no test")
        for segment in row.code.split(";"):
            ticked = _TICKED.findall(re.sub(r"\([^()]*\)", "", segment))  # names in (notes) are prose
            if not ticked or not _PATH.match(ticked[0]):
                continue
            text = read(ticked[0])
            if text is None:
                problems.append(f"{row.id}: {ticked[0]} does not exist")
                continue
            for name in ticked[1:]:
                word = re.sub(r"\(.*", "", name).split(".")[-1].strip()
                if re.fullmatch(r"\w+", word) and not re.search(rf"\b{re.escape(word)}\b", text):
                    problems.append(f"{row.id}: `{name}` not found in {ticked[0]}")
    totals = _TOTALS.search(matrix_text)
    status_counts = Counter(row.status for row in rows)
    expected = (status_counts["done"], status_counts["partial"], status_counts["planned"], len(rows))
    if totals is None:
        problems.append("the totals line is missing")
    elif tuple(map(int, totals.groups())) != expected:
        problems.append("totals line says {} done, {} partial, {} planned ({} rows); the rows give "
                        "{} / {} / {} ({})".format(*totals.groups(), *expected))
    return problems
