"""Incremental indicators agree with batch reference implementations to 1e-9, on real
Binance klines (the committed fixture) and on generated series."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from robson_contracts import Timeframe
from robson_signal.domain import indicators as ind
from robson_signal.domain.klines_csv import parse_klines

from . import reference as ref
from .conftest import REAL_FILE

TOL = 1e-9


def close_enough(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= TOL * max(1.0, abs(b))


def real_series() -> tuple[list[float], list[float], list[float]]:
    bars = list(parse_klines(REAL_FILE.read_text().splitlines(), "BTCUSDT", Timeframe.M5))
    return [b.fhigh for b in bars], [b.flow for b in bars], [b.fclose for b in bars]


HIGHS, LOWS, CLOSES = real_series()


@pytest.mark.parametrize("period", [2, 9, 21, 50])
def test_sma_and_ema_on_real_klines_match_batch_reference(period: int) -> None:
    sma, ema = ind.SMA(period), ind.EMA(period)
    got = [(sma.update(x), ema.update(x)) for x in CLOSES]
    for (s, e), rs, re_ in zip(got, ref.sma(CLOSES, period), ref.ema(CLOSES, period), strict=True):
        assert close_enough(s, rs) and close_enough(e, re_)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_and_atr_on_real_klines_match_wilder_reference(period: int) -> None:
    rsi, atr = ind.RSI(period), ind.ATR(period)
    got_rsi = [rsi.update(c) for c in CLOSES]
    got_atr = [atr.update(h, lo, c) for h, lo, c in zip(HIGHS, LOWS, CLOSES, strict=True)]
    assert all(close_enough(a, b) for a, b in zip(got_rsi, ref.rsi(CLOSES, period), strict=True))
    expected_atr = ref.atr(HIGHS, LOWS, CLOSES, period)
    assert all(close_enough(a, b) for a, b in zip(got_atr, expected_atr, strict=True))
    assert got_rsi[-1] is not None and 0 <= got_rsi[-1] <= 100


def test_bollinger_macd_donchian_on_real_klines_match_batch_reference() -> None:
    boll, macd, don = ind.Bollinger(20, 2.0), ind.MACD(12, 26, 9), ind.Donchian(20)
    for i, (h, lo, c) in enumerate(zip(HIGHS, LOWS, CLOSES, strict=True)):
        band, m, ch = boll.update(c), macd.update(c), don.update(h, lo)
        rb, rm, rd = (
            ref.bollinger(CLOSES, 20, 2.0)[i],
            ref.macd(CLOSES, 12, 26, 9)[i],
            ref.donchian(HIGHS, LOWS, 20)[i],
        )
        assert (
            (band is None) == (rb is None)
            and (m is None) == (rm is None)
            and (ch is None) == (rd is None)
        )
        if band is not None:
            assert all(
                close_enough(a, b)
                for a, b in zip((band.lower, band.middle, band.upper), rb, strict=True)
            )
        if m is not None:
            assert close_enough(m.macd, rm[0]) and close_enough(m.signal, rm[1])
            if m.signal is not None:
                assert close_enough(m.histogram, rm[0] - rm[1])
        if ch is not None:
            assert (ch.upper, ch.lower) == rd


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), min_size=1, max_size=120),
    st.integers(min_value=2, max_value=30),
)
def test_incremental_ema_rsi_bollinger_match_reference_on_any_series(
    xs: list[float], n: int
) -> None:
    ema, rsi, boll = ind.EMA(n), ind.RSI(n), ind.Bollinger(n, 2.0)
    got = [(ema.update(x), rsi.update(x), boll.update(x)) for x in xs]
    for (e, r, b), re_, rr, rb in zip(
        got, ref.ema(xs, n), ref.rsi(xs, n), ref.bollinger(xs, n, 2.0), strict=True
    ):
        assert close_enough(e, re_)
        assert close_enough(r, rr)
        assert (b is None) == (rb is None)
        if b is not None:
            assert abs(b.middle - rb[1]) <= TOL * max(1.0, abs(rb[1]))


def test_macd_with_fast_not_shorter_than_slow_is_refused() -> None:
    with pytest.raises(ValueError, match="fast period"):
        ind.MACD(26, 12)
