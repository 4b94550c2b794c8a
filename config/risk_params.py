"""Risk parameters (``config/risk.toml``): scenario grid, contingencies, standard margin, liquidation.

Fractions are plain floats (risk works in float64); the file's ``version`` is carried into every
margin report so a number can be reproduced. Validation happens at load: a bad file stops start-up,
never a margin computation.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_RISK_PATH = Path(__file__).with_name("risk.toml")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnderlyingRisk(_Frozen):
    """Scenario grid and contingencies of one underlying (see risk.toml for each field's meaning)."""

    spot_range: float = Field(gt=0, lt=1)
    spot_steps: int = Field(ge=3, le=41)
    vol_up: float = Field(ge=0)
    vol_down: float = Field(ge=0, le=1)
    vol_power_short: float = Field(ge=0)
    vol_power_long: float = Field(ge=0)
    vol_pivot_days: float = Field(gt=0)
    vol_up_floor: float = Field(ge=0)
    tail_moves: tuple[float, ...] = ()
    short_option_min: float = Field(ge=0)
    delta_contingency: float = Field(ge=0)
    basis_contingency: float = Field(ge=0)
    default_vol: float = Field(gt=0)

    @model_validator(mode="after")
    def _tails_beyond_the_core(self) -> UnderlyingRisk:
        for move in self.tail_moves:
            if move <= -1 or abs(move) <= self.spot_range:
                raise ValueError(f"tail move {move} must be beyond +-spot_range and above -100%")
        return self


class StandardMargin(_Frozen):
    short_option_im: float = Field(gt=0, lt=1)
    short_option_im_floor: float = Field(gt=0, lt=1)
    short_option_mm: float = Field(gt=0, lt=1)
    perp_im: float = Field(gt=0, lt=1)
    perp_mm: float = Field(gt=0, lt=1)


class LiquidationParams(_Frozen):
    fee: float = Field(ge=0, lt=0.1)
    insurance_account: str = Field(min_length=1)
    max_steps: int = Field(ge=1, le=10_000)
    step_share: float = Field(gt=0, le=1)
    level_range: tuple[float, float] = (-0.95, 9.0)
    level_points: int = Field(ge=8, le=4096)


class FundingParams(_Frozen):
    """Perpetual funding: every ``interval_s`` each position pays its notional at the index times the
    premium of the perp's book mid over the index, scaled to the interval (``premium_period_s``: the
    premium is a rate per that long, 8 h as on most venues) and capped at +-``cap`` per interval."""

    interval_s: int = Field(default=28_800, ge=60, le=86_400)
    premium_period_s: int = Field(default=28_800, ge=60)
    cap: float = Field(default=0.0005, gt=0, lt=0.05)


class RiskParams(_Frozen):
    version: str = Field(min_length=1)
    rate: float = 0.0
    maintenance_factor: float = Field(gt=0, le=1)
    stale_after_s: float = Field(gt=0)
    underlyings: dict[str, UnderlyingRisk]
    standard: StandardMargin
    liquidation: LiquidationParams
    funding: FundingParams = FundingParams()

    @classmethod
    def load(cls, path: Path | None = None) -> RiskParams:
        """Read and validate a risk file (the packaged default when ``path`` is None)."""
        with open(path or DEFAULT_RISK_PATH, "rb") as fh:
            return cls.model_validate(tomllib.load(fh))

    def underlying(self, name: str) -> UnderlyingRisk:
        """Parameters of ``name``; raises KeyError for an underlying the file does not cover."""
        return self.underlyings[name]
