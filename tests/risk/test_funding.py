"""The funding rate from the premium: sign, scaling to the interval, the cap, no price no funding."""

from __future__ import annotations

from config.risk_params import FundingParams
from risk.funding import book_mid, rate_ppb


def test_rate_follows_the_premium_scaled_and_capped() -> None:
    eight_hours = FundingParams(interval_s=28_800, premium_period_s=28_800, cap=0.0005)
    assert rate_ppb(100_020.0, 100_000.0, eight_hours) == 200_000  # +0.02 %: longs pay
    assert rate_ppb(99_990.0, 100_000.0, eight_hours) == -100_000  # shorts pay
    assert rate_ppb(101_000.0, 100_000.0, eight_hours) == 500_000  # +1 % capped at 0.05 %
    assert rate_ppb(90_000.0, 100_000.0, eight_hours) == -500_000
    hourly = FundingParams(interval_s=3_600, premium_period_s=28_800, cap=0.0005)
    assert rate_ppb(100_080.0, 100_000.0, hourly) == 100_000  # 0.08 % per 8 h is 0.01 % an hour
    assert rate_ppb(0.0, 100_000.0, eight_hours) == 0 and rate_ppb(100.0, 0.0, eight_hours) == 0


def test_mid_of_a_two_sided_book_else_the_mark() -> None:
    assert book_mid(99.0, 101.0, 50.0) == 100.0
    assert book_mid(None, 101.0, 50.0) == 50.0 and book_mid(101.0, 101.0, 50.0) == 50.0
