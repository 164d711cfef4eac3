"""Reading the manager's forms: every field is read through one of these,
which record a message beside the field instead of raising, so a form with
three mistakes shows all three and nothing is written."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import request
from flask_babel import gettext as _

from ledger.hours import parse_hours

MAX_TEXT = 2000
MAX_ID = 2**31 - 1  # the databases' integer keys: a bigger "id" names nothing


def clean_text(value: str) -> bool:
    """Text a person typed: no control characters (a NUL breaks PostgreSQL)
    and no U+FFFD (what a body that was not UTF-8 decodes to)."""
    return "\ufffd" not in value and all(c in "\n\r\t" or c >= " " for c in value)


def body_is_utf8() -> bool:
    """Whether every field of a form-encoded body decodes as UTF-8. Werkzeug
    keeps an undecodable value as its literal %-escapes, which would be
    saved as text; a form like that is broken, not words."""
    from urllib.parse import unquote_to_bytes

    if request.mimetype != "application/x-www-form-urlencoded":
        return True
    for pair in request.get_data(cache=True).split(b"&"):
        for part in pair.split(b"=", 1):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


class Form:
    def __init__(self, data: Any = None) -> None:
        self.data = data if data is not None else request.form
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str:
        value = self.data.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    def text(self, name: str, *, required: bool = False, max_len: int = 255) -> str:
        value = self.raw(name)
        if required and not value:
            self.fail(name, _("Required."))
        elif len(value) > max_len:
            self.fail(name, _("At most %(n)d characters.", n=max_len))
        elif not clean_text(value):
            self.fail(name, _("Contains characters that cannot be saved."))
            return ""
        return value[:max_len]

    def hours(self, name: str, *, required: bool = True, allow_zero: bool = False,
              allow_negative: bool = False) -> int | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, _("Required."))
            return None
        try:
            seconds = parse_hours(value)
        except ValueError:
            self.fail(name, _("Hours as 40, 1.5, 1:30 or 2h 15m."))
            return None
        if seconds < 0 and not allow_negative:
            self.fail(name, _("Must not be negative."))
        elif seconds == 0 and not allow_zero:
            self.fail(name, _("Must not be zero."))
        return seconds

    def money(self, name: str, *, required: bool = False) -> int | None:
        """An amount in roubles (or another currency) with up to two decimals, as minor units."""
        value = self.raw(name).replace(" ", "").replace("\u00a0", "").replace(",", ".")
        if not value:
            if required:
                self.fail(name, _("Required."))
            return None if required else 0
        try:
            amount = Decimal(value)
        except InvalidOperation:
            self.fail(name, _("A sum such as 120000 or 1500.50."))
            return None
        if not amount.is_finite() or amount < 0 or amount > Decimal(10) ** 10 or amount != amount.quantize(Decimal("0.01")):
            self.fail(name, _("A sum such as 120000 or 1500.50."))
            return None
        return int(amount * 100)

    def integer(self, name: str, *, required: bool = True, low: int = 1, high: int = MAX_ID) -> int | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, _("Required."))
            return None
        if not (value.isascii() and value.isdecimal()) or len(value) > 18:
            self.fail(name, _("A whole number."))
            return None
        number = int(value)
        if not low <= number <= high:
            self.fail(name, _("Between %(low)d and %(high)d.", low=low, high=high))
            return None
        return number

    def day(self, name: str, *, required: bool = False) -> date | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, _("Required."))
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(name, _("A date."))
            return None

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.raw(name) or (default or "")
        if value not in options:
            self.fail(name, _("Choose one of the options."))
            return options[0]
        return value

    def flag(self, name: str) -> bool:
        return self.raw(name) in ("1", "on", "yes", "true")


def own_row(session: Any, account: Any, form: Form, model: Any, field: str, missing: str) -> Any:
    """The account's row named by the form's `field`, or None with `missing`
    said: another account's id is answered as if it did not exist."""
    row_id = form.integer(field)
    row = session.get(model, row_id) if row_id else None
    if row is None or row.account_id != account.id:
        form.fail("_", missing)
        return None
    return row
