"""SecurityListRequest (x) -> SecurityList (y): the listed instruments with their option fields.

SecurityListRequestType (559): 0 one symbol, 4 all securities. SecurityType (167) narrows "all" to
OPT (options) or FUT (perpetuals). Large lists go out in fragments of ``FRAGMENT`` instruments with
TotNoRelatedSym and LastFragment (893), as FIX 4.4 allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from fixgw import fields as f
from fixgw.outbound import Pairs, clean
from fixgw.wire import FixMessage, format_decimal
from matching.instruments import Instrument

FRAGMENT = 100
LAST_FRAGMENT = 893


def instrument_fields(inst: Instrument) -> Pairs:
    spec = inst.spec
    pairs: Pairs = [(f.SYMBOL, inst.symbol), (f.SECURITY_TYPE, "OPT" if inst.is_option else "FUT")]
    if inst.is_option:
        maturity = datetime.fromtimestamp(inst.expiry_ns / 1e9, UTC)
        pairs += [
            (f.MATURITY_MONTH_YEAR, maturity.strftime("%Y%m")),
            (f.MATURITY_DATE, maturity.strftime("%Y%m%d")),
            (f.PUT_OR_CALL, "1" if inst.is_call else "0"),
            (f.STRIKE_PRICE, format_decimal(spec.strike or Decimal(0))),
        ]
    pairs += [
        (f.CONTRACT_MULTIPLIER, format_decimal(spec.multiplier)),
        (f.CURRENCY, "USDC"),
        (f.ROUND_LOT, format_decimal(spec.lot_size)),
        (f.MIN_TRADE_VOL, format_decimal(spec.min_qty)),
        (f.MIN_PRICE_INCREMENT, format_decimal(spec.tick_size)),  # FIX 5.0's tag, in our dictionary
        # a nested group last: the parser leaves the outer entry when the nested group ends
        (f.NO_UNDERLYINGS, "1"),
        (f.UNDERLYING_SYMBOL, inst.underlying),
    ]
    return pairs


def security_list(message: FixMessage, instruments: Mapping[str, Instrument]) -> list[tuple[str, Pairs]]:
    request_id = clean(message.get(f.SECURITY_REQ_ID)) or "NONE"
    kind = message.get(f.SECURITY_LIST_REQUEST_TYPE)
    head: Pairs = [(f.SECURITY_REQ_ID, request_id), (f.SECURITY_RESPONSE_ID, f"SL-{request_id}")]
    if kind not in ("0", "4"):
        return [
            (
                "y",
                [*head, (f.SECURITY_REQUEST_RESULT, "4")],  # 4: not supported
            )
        ]
    if kind == "0":
        inst = instruments.get(message.get(f.SYMBOL))
        chosen = [inst] if inst is not None and inst.active else []
    else:
        wanted = message.get(f.SECURITY_TYPE)
        chosen = [
            i
            for i in instruments.values()
            if i.active and (not wanted or wanted == ("OPT" if i.is_option else "FUT"))
        ]
        chosen.sort(key=lambda i: (i.underlying, i.expiry_ns, i.spec.strike or 0, i.symbol))
    if not chosen:
        return [("y", [*head, (f.SECURITY_REQUEST_RESULT, "2")])]  # 2: no instruments found
    replies: list[tuple[str, Pairs]] = []
    for start in range(0, len(chosen), FRAGMENT):
        part = chosen[start : start + FRAGMENT]
        pairs: Pairs = [
            *head,
            (f.SECURITY_REQUEST_RESULT, "0"),
            (f.TOT_NO_RELATED_SYM, str(len(chosen))),
            (LAST_FRAGMENT, "Y" if start + FRAGMENT >= len(chosen) else "N"),
            (f.NO_RELATED_SYM, str(len(part))),
        ]
        for inst in part:
            pairs += instrument_fields(inst)
        replies.append(("y", pairs))
    return replies
