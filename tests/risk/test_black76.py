"""Black-76 kernel against py_vollib (the oracle), finite differences, put-call parity, implied vol."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.typing import NDArray

from risk import black76

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black import black as vollib_black
    from py_vollib.black.greeks import analytical as vollib_greeks
    from py_vollib.black.implied_volatility import implied_volatility as vollib_iv

N = 3000


def random_options(n: int, seed: int) -> tuple[NDArray[np.float64], ...]:
    """Forwards of BTC/ETH size, strikes within e^{+-1} of the forward, a day to two years, 5%-200% vol."""
    rng = np.random.default_rng(seed)
    forward = rng.uniform(500.0, 150_000.0, n)
    strike = forward * np.exp(rng.uniform(-1.0, 1.0, n))
    t = rng.uniform(1.0 / 365.0, 2.0, n)
    rate = rng.uniform(0.0, 0.08, n)
    vol = rng.uniform(0.05, 2.0, n)
    is_call = rng.random(n) < 0.5
    return forward, strike, t, rate, vol, is_call


def oracle(fn: object, opts: tuple[NDArray[np.float64], ...]) -> NDArray[np.float64]:
    forward, strike, t, rate, vol, is_call = opts
    flags = np.where(is_call, "c", "p")
    return np.array(
        [fn(f, *a) for f, *a in zip(flags, forward, strike, t, rate, vol, strict=True)]  # type: ignore[operator]
    )


def relative_error(mine: NDArray[np.float64], ref: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.abs(mine - ref) / np.maximum(np.abs(ref), np.finfo(float).tiny)


def test_prices_agree_with_py_vollib_to_1e10_relative_on_thousands_of_options() -> None:
    opts = random_options(N, seed=1)
    mine = black76.price(*opts)
    ref = oracle(vollib_black, opts)
    assert relative_error(mine, ref).max() <= 1e-10
    # The sample does reach far out of the money, where a naive formula loses its digits.
    assert (ref < 1e-20).sum() > 10


@pytest.mark.parametrize("name", ["delta", "gamma", "vega", "theta", "rho"])
def test_greeks_agree_with_py_vollib(name: str) -> None:
    opts = random_options(N, seed=2)
    mine = getattr(black76.greeks(*opts), name)
    ref = oracle(getattr(vollib_greeks, name), opts)
    assert relative_error(mine, ref).max() <= 1e-10


def test_greeks_agree_with_central_finite_differences() -> None:
    forward, strike, t, rate, vol, is_call = random_options(N, seed=3)
    # Finite differences need a price that moves: keep options with some time value.
    g = black76.greeks(forward, strike, t, rate, vol, is_call)
    keep = g.vega > 1e-6 * forward
    forward, strike, t, rate, vol, is_call = (a[keep] for a in (forward, strike, t, rate, vol, is_call))
    g = black76.greeks(forward, strike, t, rate, vol, is_call)

    def p(f: object = forward, tt: object = t, r: object = rate, v: object = vol) -> NDArray[np.float64]:
        return black76.price(f, strike, tt, r, v, is_call)

    h = forward * 1e-6
    delta = (p(f=forward + h) - p(f=forward - h)) / (2 * h)
    h = forward * 1e-4
    gamma = (p(f=forward + h) - 2 * p() + p(f=forward - h)) / (h * h)
    vega = (p(v=vol + 1e-5) - p(v=vol - 1e-5)) / 2e-5 * 0.01
    day = 1.0 / 365.0
    theta = -(p(tt=t + 1e-4 * day) - p(tt=t - 1e-4 * day)) / 2e-4
    rho = (p(r=rate + 1e-5) - p(r=rate - 1e-5)) / 2e-5 * 0.01
    scale = forward * 1e-9  # price units: what rounding of a price of the forward's size leaves

    def close(mine: NDArray[np.float64], fd: NDArray[np.float64], rtol: float, atol: object) -> bool:
        return bool((np.abs(mine - fd) <= rtol * np.abs(fd) + atol).all())

    assert close(g.delta, delta, 1e-6, 1e-8)
    assert close(g.gamma * forward, gamma * forward, 1e-4, 1e-7)
    assert close(g.vega, vega, 1e-6, scale)
    assert close(g.theta, theta, 1e-5, scale)
    assert close(g.rho, rho, 1e-6, scale)


def test_put_call_parity_holds_to_1e12() -> None:
    forward, strike, t, rate, vol, _ = random_options(N, seed=4)
    call = black76.price(forward, strike, t, rate, vol, True)
    put = black76.price(forward, strike, t, rate, vol, False)
    parity = np.exp(-rate * t) * (forward - strike)
    assert (np.abs(call - put - parity) <= 1e-12 * np.maximum(forward, strike)).all()


def test_implied_vol_round_trips() -> None:
    opts = random_options(N, seed=5)
    forward, strike, t, rate, vol, is_call = opts
    prices = black76.price(*opts)
    iv, flags = black76.implied_vol(prices, forward, strike, t, rate, is_call)
    assert (flags == black76.IvFlag.OK).all()
    # Re-pricing the implied vol gives back the price (always), and the vol itself wherever the price
    # still carries it (time value not lost under the intrinsic value's rounding).
    repriced = black76.price(forward, strike, t, rate, iv, is_call)
    assert (np.abs(repriced - prices) <= 1e-12 * prices + 1e-18 * forward).all()
    intrinsic = np.maximum(np.where(is_call, 1, -1) * (forward - strike), 0)
    informative = black76.greeks(*opts).vega * 100 > 1e-6 * np.maximum(prices, intrinsic)
    np.testing.assert_allclose(iv[informative], vol[informative], rtol=1e-8)
    assert informative.mean() > 0.9


def test_implied_vol_matches_py_vollib() -> None:
    forward, strike, t, rate, vol, is_call = random_options(200, seed=6)
    vol = np.clip(vol, 0.2, 1.5)
    strike = forward * np.exp(np.clip(np.log(strike / forward), -0.3, 0.3))
    prices = black76.price(forward, strike, t, rate, vol, is_call)
    ref = np.array(
        [
            vollib_iv(p, f, k, r, tt, "c" if c else "p")
            for p, f, k, r, tt, c in zip(prices, forward, strike, rate, t, is_call, strict=True)
        ]
    )
    iv, _ = black76.implied_vol(prices, forward, strike, t, rate, is_call)
    np.testing.assert_allclose(iv, ref, rtol=1e-9)


def test_bad_prices_are_flagged_and_never_stop_the_batch() -> None:
    f = 100_000.0
    prices = np.array([5_000.0, 1.0, 100_001.0, np.nan, 5_000.0, 5_000.0, -1.0, 20_000.0])
    strikes = np.array([100_000.0, 80_000.0, 100_000.0, 100_000.0, 100_000.0, 0.0, 90_000.0, 80_000.0])
    times = np.array([0.25, 0.25, 0.25, 0.25, 0.0, 0.25, 0.25, 0.25])
    iv, flags = black76.implied_vol(prices, f, strikes, times, 0.0, True)
    F = black76.IvFlag
    assert list(flags) == [
        F.OK, F.BELOW_INTRINSIC, F.ABOVE_BOUND, F.INVALID_INPUT, F.NOT_POSITIVE_TIME, F.INVALID_INPUT,
        F.INVALID_INPUT, F.OK,
    ]  # fmt: skip
    assert np.isnan(iv[1:7]).all()
    assert 0.24 < iv[0] < 0.26
    assert iv[7] == 0.0  # exactly intrinsic: no time value, zero volatility


def test_expired_and_zero_vol_price_at_intrinsic() -> None:
    prices = black76.price(110.0, [100.0, 120.0], 0.0, 0.05, 0.5, [True, False])
    np.testing.assert_array_equal(prices, [10.0, 10.0])
    assert black76.price(110.0, 100.0, 1.0, 0.0, 0.0, True) == pytest.approx(10.0)
