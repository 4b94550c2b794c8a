"""Black-76 on the forward, vectorised: prices, Greeks and implied volatility of European options.

Inputs are numpy arrays (or scalars) that broadcast together:
- ``forward`` F and ``strike`` K in USD per coin (> 0), ``t`` in years (> 0), ``rate`` r as a decimal
  (0.05 = 5%), ``vol`` sigma as a decimal (0.6 = 60%), ``is_call`` booleans.
Prices are discounted by exp(-r t), as py_vollib's ``black``. Greeks follow py_vollib's units: delta and
gamma per unit of the forward, vega per 1 vol point, theta per calendar day, rho per 1 rate point.

Accuracy: the out-of-the-money option is computed from the lower tails of the normal distribution (no
cancellation between two numbers close to 1) and the in-the-money one adds the intrinsic value to it,
so the price keeps its relative precision far from the money, where a naive F N(d1) - K N(d2) does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erfcx, ndtr

FloatArray = NDArray[np.float64]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_INV_SQRT_2 = 1.0 / np.sqrt(2.0)
DAYS_PER_YEAR = 365.0


class IvFlag(IntEnum):
    """Why an implied volatility is NaN (``OK`` when it is not)."""

    OK = 0
    BELOW_INTRINSIC = 1  # price under the discounted intrinsic value
    ABOVE_BOUND = 2  # price at or above the discounted forward (call) or strike (put)
    NOT_POSITIVE_TIME = 3  # t <= 0: expired, nothing to imply
    INVALID_INPUT = 4  # non-finite or non-positive forward, strike or price
    NO_CONVERGENCE = 5


@dataclass(frozen=True, slots=True)
class Greeks:
    """Arrays of one shape: price and Greeks in py_vollib's units (see the module docstring)."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray


def _otm_parts(
    forward: FloatArray, strike: FloatArray, total_vol: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Undiscounted out-of-the-money price, the OTM side (+1 call, -1 put) and d1.

    With N(-y) = erfcx(y / sqrt 2) exp(-y^2 / 2) / 2 and F n(d1) = K n(d2), both terms of the OTM price
    share one Gaussian factor, sqrt(F K) exp(-x^2 / (2 s^2) - s^2 / 8) with x = ln(F / K): factoring it
    out leaves a difference of two erfcx values of moderate size, so far out of the money the price keeps
    its relative precision instead of losing it to two rounded exponentials that nearly cancel.
    """
    phi = np.where(forward < strike, 1.0, -1.0)
    x = np.log(forward / strike)
    x_s = x / total_vol
    d1 = x_s + 0.5 * total_vol
    d2 = d1 - total_vol
    gauss = np.sqrt(forward * strike) * np.exp(-0.5 * x_s * x_s - 0.125 * total_vol * total_vol)
    otm = 0.5 * gauss * phi * (erfcx(-phi * d1 * _INV_SQRT_2) - erfcx(-phi * d2 * _INV_SQRT_2))
    return np.maximum(otm, 0.0), phi, d1


def _arrays(*values: ArrayLike) -> list[FloatArray]:
    return [np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(*values)]


def price(
    forward: ArrayLike, strike: ArrayLike, t: ArrayLike, rate: ArrayLike, vol: ArrayLike, is_call: ArrayLike
) -> FloatArray:
    """Discounted Black-76 price. At ``t <= 0`` or ``vol == 0`` the discounted intrinsic value."""
    f, k, tt, r, v = _arrays(forward, strike, t, rate, vol)
    theta_sign = np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        total_vol = v * np.sqrt(np.maximum(tt, 0.0))
        otm, _, _ = _otm_parts(f, k, total_vol)
    otm = np.where(total_vol > 0.0, otm, 0.0)
    return np.exp(-r * np.maximum(tt, 0.0)) * (otm + np.maximum(theta_sign * (f - k), 0.0))


def greeks(
    forward: ArrayLike, strike: ArrayLike, t: ArrayLike, rate: ArrayLike, vol: ArrayLike, is_call: ArrayLike
) -> Greeks:
    """Price and Greeks in one pass. Requires ``t > 0`` and ``vol > 0`` (NaN Greeks otherwise)."""
    f, k, tt, r, v = _arrays(forward, strike, t, rate, vol)
    theta_sign = np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)
    sqrt_t = np.sqrt(tt)
    total_vol = v * sqrt_t
    otm, phi, d1 = _otm_parts(f, k, total_vol)
    n1 = ndtr(phi * d1)
    disc = np.exp(-r * tt)
    value = disc * (otm + np.maximum(theta_sign * (f - k), 0.0))
    # N(theta d1): the tail we computed when theta is the OTM side, its complement otherwise.
    n_theta_d1 = np.where(theta_sign == phi, n1, 1.0 - n1)
    pdf1 = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    disc_pdf = disc * pdf1
    return Greeks(
        price=value,
        delta=theta_sign * disc * n_theta_d1,
        gamma=disc_pdf / (f * total_vol),
        vega=f * disc_pdf * sqrt_t * 0.01,
        theta=(-f * disc_pdf * v / (2.0 * sqrt_t) + r * value) / DAYS_PER_YEAR,
        rho=-tt * value * 0.01,
    )


def implied_vol(
    price_: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    is_call: ArrayLike,
    *,
    tol: float = 1e-13,
    max_iter: int = 100,
) -> tuple[FloatArray, NDArray[np.int8]]:
    """Implied volatility of discounted prices, and a flag per option (``IvFlag``; NaN where not OK).

    Never raises on bad data: each option that cannot be inverted is flagged and the rest of the batch
    is solved. Newton steps on the log of the out-of-the-money time value in total volatility, kept
    inside a bisection bracket, so deep out-of-the-money options converge as well as at-the-money ones.
    """
    p, f, k, tt, r = _arrays(price_, forward, strike, t, rate)
    calls = np.broadcast_to(np.asarray(is_call, dtype=bool), p.shape)
    theta_sign = np.where(calls, 1.0, -1.0)
    flags = np.zeros(p.shape, dtype=np.int8)
    with np.errstate(all="ignore"):
        valid = np.isfinite(p) & np.isfinite(f) & np.isfinite(k) & np.isfinite(tt) & np.isfinite(r)
        valid &= (f > 0) & (k > 0) & (p >= 0)
        flags[~valid] = IvFlag.INVALID_INPUT
        flags[valid & (tt <= 0)] = IvFlag.NOT_POSITIVE_TIME
        undiscounted = p * np.exp(r * tt)
        intrinsic = np.maximum(theta_sign * (f - k), 0.0)
        bound = np.where(calls, f, k)
        time_value = undiscounted - intrinsic
        ok = flags == IvFlag.OK
        flags[ok & (time_value < -1e-15 * bound)] = IvFlag.BELOW_INTRINSIC
        flags[ok & (undiscounted >= bound)] = IvFlag.ABOVE_BOUND
        ok = flags == IvFlag.OK
        # Put-call parity: the OTM option's time value is the same for the call and the put.
        target = np.where(ok, np.maximum(time_value, 0.0), np.nan)
        zero = ok & (target <= 0.0)
        solve = ok & ~zero
        total = _solve_total_vol(target[solve], f[solve], k[solve], tol, max_iter)
    vol = np.full(p.shape, np.nan)
    vol[zero] = 0.0
    solved = np.full(total.shape, IvFlag.OK, dtype=np.int8)
    solved[~np.isfinite(total)] = IvFlag.NO_CONVERGENCE
    flags[solve] = solved
    with np.errstate(invalid="ignore"):
        vol[solve] = total / np.sqrt(tt[solve])
    return vol, flags


def _solve_total_vol(
    target: FloatArray, forward: FloatArray, strike: FloatArray, tol: float, max_iter: int
) -> FloatArray:
    """Total volatility s = sigma sqrt(t) whose undiscounted OTM price equals ``target``."""
    lo = np.zeros_like(target)
    hi = np.full_like(target, 1.0)
    # Grow the upper bracket until it prices above the target (the OTM price rises with s).
    for _ in range(60):
        above = _otm_parts(forward, strike, hi)[0] >= target
        if above.all():
            break
        hi = np.where(above, hi, hi * 2.0)
    log_f_k = np.log(forward / strike)
    # Start near the at-the-money approximation, clipped into the bracket.
    s = np.clip(np.sqrt(2.0 * np.pi) * target / np.sqrt(forward * strike) + 0.5 * np.abs(log_f_k), 1e-8, hi)
    log_target = np.log(target)
    active = np.ones(target.shape, dtype=bool)
    for _ in range(max_iter):
        otm, _, d1 = _otm_parts(forward, strike, s)
        too_high = otm > target
        hi = np.where(too_high, s, hi)
        lo = np.where(too_high, lo, s)
        # d(otm)/ds = forward * pdf(d1) for either side.
        slope = forward * _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (np.log(otm) - log_target) * otm / slope
        candidate = s - step
        inside = np.isfinite(candidate) & (candidate > lo) & (candidate < hi)
        new_s = np.where(inside, candidate, 0.5 * (lo + hi))
        done = np.abs(new_s - s) <= tol * np.maximum(new_s, 1e-300)
        s = np.where(active, new_s, s)
        active &= ~done
        if not active.any():
            return s
    return np.where(active, np.nan, s)
