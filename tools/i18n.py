"""Rebuild the catalogs: extract every message of handlers/, reports/ and
templates/, translate into Russian from tools/ru_messages.py, and write
translations/{ru,en}/LC_MESSAGES/messages.po (English is the source, so its
catalog is empty and gettext falls back to the message itself).

    .venv/bin/python tools/i18n.py          # write the catalogs
    .venv/bin/python tools/i18n.py --check  # exit 1 if a message has no Russian
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from ru_messages import RU  # noqa: E402


def extract() -> Catalog:
    """Every message of the app's code and templates (babel.cfg's map)."""
    method_map = [("handlers/**.py", "python"), ("reports/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {**DEFAULT_KEYWORDS, "_l": None}
    catalog = Catalog(project="Hourbook")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(ROOT), method_map, keywords=keywords, options_map={"templates/**.html": {}}):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def build(check: bool = False) -> list[str]:
    template = extract()
    missing = []
    for lang in ("ru", "en"):
        catalog = Catalog(locale=lang, project="Hourbook", fuzzy=False)
        for message in template:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            if lang == "ru":
                text = RU.get(key)
                if text is None:
                    missing.append(key)
                    text = "" if not isinstance(message.id, tuple) else ("", "", "")
                if isinstance(message.id, tuple) and isinstance(text, str):
                    text = (text, text, text)
            else:
                text = "" if not isinstance(message.id, tuple) else ("", "")
            catalog.add(message.id, text)
        if not check:
            out = ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po"
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("wb") as handle:
                write_po(handle, catalog, width=0, no_location=True, sort_output=True)
    return missing


if __name__ == "__main__":
    missing = build(check="--check" in sys.argv)
    for key in missing:
        print(f"no Russian for: {key!r}", file=sys.stderr)
    sys.exit(1 if missing else 0)
