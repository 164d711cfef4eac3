"""Russian first, English second: Flask-Babel with the catalogs in
`translations/` (compiled by reports/i18n.py when the app starts; the .mo
files are build output, not kept in git).

Hours are formatted by `ledger.hours`, never by Babel's format_timedelta,
which rounds 3 h 30 min to "4 часа". Dates use Babel ("30 ноября").
"""
from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date
from flask import Flask, g, request
from flask_babel import Babel, get_locale

from ledger.hours import format_hm, format_hours
from reports.i18n import LANGUAGES, TRANSLATIONS, compile_catalogs


def select_locale() -> str:
    lang = g.get("lang")
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(LANGUAGES, default="ru") if request else "ru"


def lang() -> str:
    return str(get_locale() or "ru")[:2]


def hours(duration_s: int) -> str:
    return format_hours(duration_s, lang())


def day(value: date | datetime | None, fmt: str = "d MMMM") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, fmt, locale=lang())


def month(label: str) -> str:
    """`2026-11` → «Ноябрь 2026» / "November 2026"; other labels as they are."""
    try:
        year, number = (int(x) for x in label.split("-"))
        return format_date(date(year, number, 1), "LLLL yyyy", locale=lang()).capitalize()
    except ValueError:
        return label


def short_month(label: str) -> str:
    try:
        year, number = (int(x) for x in label.split("-"))
        return format_date(date(year, number, 1), "LLL", locale=lang()).rstrip(".")
    except ValueError:
        return label


def init_app(app: Flask) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "ru")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(hours=hours, hm=format_hm, day=day, month=month, short_month=short_month)
    app.jinja_env.globals.update(lang=lang)
