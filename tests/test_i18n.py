"""zh-hans and en from day one (STYLE.md §9): the catalogue is complete, current and compiled."""
import gettext
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
SOURCES = ["accounts", "companion", "guardians", "moderation", "templates", "static", "manage.py"]


def read_po(path: Path) -> dict[str, tuple[str, bool, str | None]]:
    """msgid -> (msgstr, fuzzy, msgid_plural) for every entry but the header."""
    entries, fuzzy, field, parts = {}, False, None, {}

    def flush():
        nonlocal fuzzy, parts
        msgid = "".join(parts.get("msgid", []))
        if msgid and "msgctxt" in parts:  # pgettext entries live under "context\x04msgid"
            msgid = "".join(parts["msgctxt"]) + "\x04" + msgid
        if msgid:
            plural = "".join(parts["msgid_plural"]) if "msgid_plural" in parts else None
            entries[msgid] = ("".join(parts.get("msgstr", [])), fuzzy, plural)
        fuzzy, parts = False, {}

    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            flush()
            field = None
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgctxt ", "msgid ", "msgstr ", "msgid_plural ", "msgstr[")):
            field, value = line.split(" ", 1)
            field = "msgstr" if field == "msgstr[0]" else field  # plural entries: the first form stands for all
            parts[field] = [json.loads(value)]
        elif line.startswith('"') and field:
            parts[field].append(json.loads(line))
    return entries


def test_every_string_has_a_chinese_translation():
    entries = read_po(PO)
    assert len(entries) > 50
    untranslated = [msgid for msgid, (msgstr, fuzzy, _) in entries.items() if not msgstr or fuzzy]
    assert untranslated == []


def test_compiled_catalogue_matches_the_source():
    catalogue = gettext.GNUTranslations(open(PO.with_suffix(".mo"), "rb"))
    stale = [msgid for msgid, (msgstr, _, plural) in read_po(PO).items()
             if (catalogue.ngettext(msgid, plural, 1) if plural else catalogue.gettext(msgid)) != msgstr]
    assert stale == [], "run `manage.py compilemessages`"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (apt gettext)")
def test_catalogue_lists_every_string_in_the_code(tmp_path):
    for name in SOURCES + ["locale"]:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "-v0"],
                   cwd=tmp_path, check=True, env={"DJANGO_SETTINGS_MODULE": "companion.settings.test",
                                                  "PATH": "/usr/bin:/bin", "FIELD_ENCRYPTION_KEYS":
                                                  ",".join(settings.FIELD_ENCRYPTION_KEYS)})
    fresh = set(read_po(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    assert fresh - set(read_po(PO)) == set(), "new strings: run makemessages and translate them"
    assert set(read_po(PO)) - fresh == set(), "strings no longer used: run makemessages --no-obsolete"
