#!/usr/bin/env python
"""Fill translations into locale/*/LC_MESSAGES/*.po from a JSON file, then compile .mo files.

JSON form: {"msgid": ["fi", "sv", "nb", "da", "ru"]} (translations in that order); for a
plural msgid, give a list of forms in place of each string. Usage:
    .venv/bin/python scripts/po_fill.py new-strings.json [--domain django|djangojs]
Prints what is still untranslated. Needs polib (dev requirements).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polib

LANGUAGES = ["fi", "sv", "nb", "da", "ru"]
BASE = Path(__file__).resolve().parent.parent / "locale"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("json_file", nargs="?")
    parser.add_argument("--domain", default="django")
    args = parser.parse_args()
    table = json.loads(Path(args.json_file).read_text()) if args.json_file else {}
    missing = 0
    for language in LANGUAGES:
        path = BASE / language / "LC_MESSAGES" / f"{args.domain}.po"
        if not path.exists():
            continue
        catalogue = polib.pofile(str(path))
        for entry in catalogue:
            if entry.obsolete:
                continue
            row = table.get(entry.msgid)
            given = row[LANGUAGES.index(language)] if row else None
            if given:
                if entry.msgid_plural:
                    entry.msgstr_plural = dict(enumerate(given))
                else:
                    entry.msgstr = given
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
            translated = all(entry.msgstr_plural.values()) if entry.msgid_plural else bool(entry.msgstr)
            if not translated or "fuzzy" in entry.flags:
                missing += 1
                print(f"untranslated [{language}] {entry.msgid!r}")
        catalogue.metadata["Content-Type"] = "text/plain; charset=UTF-8"
        catalogue.metadata["Language"] = language
        catalogue.metadata_is_fuzzy = False
        catalogue.save(str(path))
        catalogue.save_as_mofile(str(path.with_suffix(".mo")))
    print(f"{missing} untranslated")


if __name__ == "__main__":
    main()
