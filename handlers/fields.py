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

    def integer(self, name: str, *, required: bool = True, low: int = 1, high: int = 10**9) -> int | None:
        value = self.raw(name)
        if not value:
            if required:
                self.fail(name, _("Required."))
            return None
        if not value.isdigit() or len(value) > 12:
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
