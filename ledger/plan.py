"""The tariff options for a development plan (the seed: 160 h = 2×80, 4×40
or 8×20). The full calculator with its recommendation lives on the
manager's page; this is the arithmetic both use."""
from __future__ import annotations

from dataclasses import dataclass

TARIFFS_H = (20, 40, 80, 120)


@dataclass(frozen=True)
class TariffOption:
    tariff_h: int
    months: int
    bought_s: int  # hours paid for over those months
    spare_s: int  # bought but not needed by the plan (would burn if unused)
    monthly_price_minor: int
    total_price_minor: int


def tariff_options(plan_s: int, hour_price_minor: int, tariffs_h: tuple[int, ...] = TARIFFS_H) -> list[TariffOption]:
    if type(plan_s) is not int or plan_s < 0:
        raise ValueError("a plan is a non-negative number of seconds")
    options = []
    for tariff_h in tariffs_h:
        per_month_s = tariff_h * 3600
        months = -(-plan_s // per_month_s) if plan_s else 0
        monthly = tariff_h * hour_price_minor
        options.append(TariffOption(tariff_h, months, months * per_month_s, months * per_month_s - plan_s,
                                    monthly, monthly * months))
    return options
