"""Rounding of one entry's duration, applied when its posting is made.

One strategy per mode, each with a stable id (the contract stores the id).
Pure functions on integers: the record itself is never changed, and usage is
always a sum of postings of rounded durations (PRODUCT.md rule 6: no rounding
unless the contract asks for it).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoundingRule:
    mode: str = "none"  # none | up | down | nearest
    step_s: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("none", "up", "down", "nearest"):
            raise ValueError(f"unknown rounding mode: {self.mode}")
        if self.step_s < 0:
            raise ValueError("rounding step must not be negative")


def round_seconds(duration_s: int, rule: RoundingRule) -> int:
    """`duration_s` rounded by `rule`; exact integer arithmetic.

    `nearest` rounds a half step up (7.5 min → 15 min on a 15-minute step), as
    an integrator would expect; a zero duration stays zero in every mode.
    """
    if duration_s < 0:
        raise ValueError("a duration is never negative")
    step = rule.step_s
    if rule.mode == "none" or step <= 1 or duration_s == 0:
        return duration_s
    whole, rest = divmod(duration_s, step)
    if rest == 0:
        return duration_s
    if rule.mode == "up":
        return (whole + 1) * step
    if rule.mode == "down":
        return whole * step
    return (whole + 1) * step if rest * 2 >= step else whole * step
