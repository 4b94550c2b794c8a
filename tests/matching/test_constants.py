"""The literal constants of matching.native_codes (native ints when compiled) equal their enums."""

from __future__ import annotations

from matching import native_codes as matcher
from matching.types import OrderType, StpMode, TimeInForce, TriggerBy


def test_literal_constants_match_the_enums() -> None:
    pairs = {
        matcher.GTC: TimeInForce.GTC,
        matcher.IOC: TimeInForce.IOC,
        matcher.FOK: TimeInForce.FOK,
        matcher.GTD: TimeInForce.GTD,
    }
    assert all(value == enum for value, enum in pairs.items())
    assert (matcher.LIMIT, matcher.MARKET, matcher.STOP_MARKET, matcher.STOP_LIMIT) == (
        OrderType.LIMIT,
        OrderType.MARKET,
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
    )
    assert (matcher.MARK_TRIGGER, matcher.LAST_TRIGGER) == (TriggerBy.MARK, TriggerBy.LAST)
    assert (matcher.CANCEL_OLDEST, matcher.CANCEL_BOTH, matcher.DECREMENT_AND_CANCEL) == (
        StpMode.CANCEL_OLDEST,
        StpMode.CANCEL_BOTH,
        StpMode.DECREMENT_AND_CANCEL,
    )
