"""Russian first: every message on a page has its Russian, the catalogs in
the repository are the ones the code asks for, and hours are ours (never
Babel's rounding)."""
from __future__ import annotations

from babel.messages.pofile import read_po

from handlers.i18n import TRANSLATIONS
from ledger.hours import format_hours
import pytest

from ledger.plan import REASON_CODES, recommend
from tools.i18n import build, extract

H = 3600


def test_every_message_has_russian():
    assert build(check=True) == []


def test_committed_catalogs_match_the_code():
    """`python tools/i18n.py` was run after the last change of a message."""
    wanted = {m.id for m in extract() if m.id}
    with (TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        ru = read_po(handle)
    have = {m.id for m in ru if m.id}
    assert wanted == have
    assert all(m.string and (not isinstance(m.string, tuple) or all(m.string)) for m in ru if m.id)


def test_hours_are_not_rounded():
    assert format_hours(3 * 3600 + 30 * 60) == "3 ч 30 мин"
    assert format_hours(3 * 3600 + 30 * 60, "en") == "3 h 30 min"
    assert format_hours(600) == "10 мин"


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_calculator_reasons_are_all_said(tmp_path, lang):
    """Every reason code the calculator can give is said in words, in both
    languages (Russian ones in Cyrillic)."""
    from flask import g

    from app import create_app
    from handlers.manager import reason_text

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'i18n.db'}", "INSTANCE_PATH": str(tmp_path)})
    cases = {
        "nothing_needed": recommend(0, 2500_00),
        "no_tariff_fits_budget": recommend(160 * H, 2500_00, monthly_budget_minor=100),
        "no_tariff_fits_contact": recommend(160 * H, 2500_00, meetings_per_month=1, tariffs_h=(40, 80)),
        "least_spare": recommend(160 * H, 2500_00),
        "urgency_met": recommend(160 * H, 2500_00, months_wanted=4),
        "urgency_unmet": recommend(160 * H, 2500_00, months_wanted=1),
    }
    assert set(cases) == set(REASON_CODES)
    with app.test_request_context():
        g.lang = lang
        for code, rec in cases.items():
            assert rec.reason == code
            text = reason_text(rec)
            assert text and ("%(" not in text)
            assert any("а" <= c <= "я" for c in text.lower()) == (lang == "ru"), text
