"""The message catalogs (translations/, Russian first) for everything that
speaks to people outside a request: reports, e-mails, chat messages. The
web pages use the same catalogs through Flask-Babel (handlers/i18n.py).

The .mo files are build output: compiled from the .po files when missing
or older, written to a temporary file and renamed, so parallel workers
never read half of one.
"""
from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
LANGUAGES = ("ru", "en")


def compile_catalogs(root: Path = TRANSLATIONS) -> None:
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle)
        fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".messages.", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)
            os.replace(tmp, mo)
        except BaseException:
            os.unlink(tmp)
            raise


@lru_cache(maxsize=4)
def translations(language: str) -> Translations:
    compile_catalogs()
    return Translations.load(str(TRANSLATIONS), [language if language in LANGUAGES else "ru"])
