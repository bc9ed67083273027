"""Every shipped language is complete, and the committed .mo files match their .po sources."""

import gettext
import re
from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}")


def test_all_five_languages_besides_english_are_shipped():
    assert {path.parts[-3] for path in CATALOGUES} >= {"fi", "sv", "nb", "da", "ru"}


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: f"{path.parts[-3]}/{path.name}")
def test_catalogue_is_complete_and_compiled(path):
    catalogue = polib.pofile(str(path))
    compiled = gettext.GNUTranslations(path.with_suffix(".mo").open("rb"))
    for entry in catalogue:
        if entry.obsolete:
            continue
        assert "fuzzy" not in entry.flags, entry.msgid
        if entry.msgid_plural:
            assert all(entry.msgstr_plural.values()), entry.msgid
            continue
        assert entry.msgstr, f"untranslated: {entry.msgid!r}"
        assert sorted(PLACEHOLDER.findall(entry.msgstr)) == sorted(PLACEHOLDER.findall(entry.msgid)), entry.msgid
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        assert compiled._catalog.get(key) == entry.msgstr, f".mo is stale for {entry.msgid!r}: run scripts/po_fill.py"
