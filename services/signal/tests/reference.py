"""Batch reference implementations (whole series at once, textbook formulas) that the
incremental indicators are checked against."""

from __future__ import annotations

import itertools
import math


def sma(xs: list[float], n: int) -> list[float | None]:
    return [None if i + 1 < n else sum(xs[i + 1 - n : i + 1]) / n for i in range(len(xs))]


def ema(xs: list[float], n: int) -> list[float | None]:
    out: list[float | None] = [None] * len(xs)
    if len(xs) < n:
        return out
    value = sum(xs[:n]) / n
    out[n - 1] = value
    k = 2 / (n + 1)
    for i in range(n, len(xs)):
        value = xs[i] * k + value * (1 - k)
        out[i] = value
    return out


def wilder(xs: list[float], n: int) -> list[float | None]:
    out: list[float | None] = [None] * len(xs)
    if len(xs) < n:
        return out
    value = sum(xs[:n]) / n
    out[n - 1] = value
    for i in range(n, len(xs)):
        value = (value * (n - 1) + xs[i]) / n
        out[i] = value
    return out


def rsi(closes: list[float], n: int) -> list[float | None]:
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gains = wilder([max(c, 0) for c in changes], n)
    losses = wilder([max(-c, 0) for c in changes], n)
    out: list[float | None] = [None]
    for g, lo in zip(gains, losses, strict=True):
        out.append(
            None if g is None or lo is None else (
                (50.0 if g == 0 else 100.0) if lo == 0 else 100 - 100 / (1 + g / lo)
            )
        )
    return out


def atr(highs: list[float], lows: list[float], closes: list[float], n: int) -> list[float | None]:
    trs = [highs[0] - lows[0]] + [
        max(highs[i] - lows[i], abs(highs[i] - closes[i - 1]), abs(lows[i] - closes[i - 1]))
        for i in range(1, len(closes))
    ]
    return wilder(trs, n)


def bollinger(xs: list[float], n: int, k: float) -> list[tuple[float, float, float] | None]:
    out: list[tuple[float, float, float] | None] = []
    for i in range(len(xs)):
        if i + 1 < n:
            out.append(None)
            continue
        window = xs[i + 1 - n : i + 1]
        mean = sum(window) / n
        sd = math.sqrt(sum((x - mean) ** 2 for x in window) / n)
        out.append((mean - k * sd, mean, mean + k * sd))
    return out


def macd(
    xs: list[float], fast: int, slow: int, signal: int
) -> list[tuple[float, float | None] | None]:
    f, s = ema(xs, fast), ema(xs, slow)
    line = [None if a is None or b is None else a - b for a, b in zip(f, s, strict=True)]
    start = next(i for i, v in enumerate(line) if v is not None)
    sig = ema([v for v in line[start:] if v is not None], signal)
    out: list[tuple[float, float | None] | None] = [None] * start
    out += [(line[start + j], sig[j]) for j in range(len(sig))]  # type: ignore[misc]
    return out


def donchian(highs: list[float], lows: list[float], n: int) -> list[tuple[float, float] | None]:
    return [
        None if i + 1 < n else (max(highs[i + 1 - n : i + 1]), min(lows[i + 1 - n : i + 1]))
        for i in range(len(highs))
    ]
