"""position: in-process mark-to-market of 10,000 open positions (P&L, MFE/MAE, drawdown,
trailing-stop candidate) through the service's MarkBook, on seeded random-walk prices."""

from __future__ import annotations

import random
import time
from decimal import Decimal

from robson_position.domain.markbook import Mark, MarkBook

from bench.common import Metric, at_least, info, median

POSITIONS = 10_000
SYMBOLS = 500
UPDATES = 20_000
RUNS = 3


def _book(rng: random.Random) -> tuple[MarkBook, list[str]]:
    book = MarkBook()
    symbols = [f"S{i:03d}USDT" for i in range(SYMBOLS)]
    for n in range(POSITIONS):
        entry = Decimal(rng.randint(1000, 100000)) / 10
        book.put(symbols[n % SYMBOLS], Mark(f"p{n}", n % 2 == 0, entry, Decimal("0.5"),
                                           trail_pct=Decimal("1.5") if n % 3 == 0 else None))
    return book, symbols


def _prices(rng: random.Random, symbols: list[str]) -> list[tuple[str, Decimal]]:
    last = {s: Decimal(rng.randint(1000, 100000)) / 10 for s in symbols}
    out = []
    for _ in range(UPDATES):
        s = rng.choice(symbols)
        last[s] = (last[s] * Decimal(1 + rng.uniform(-0.002, 0.002))).quantize(Decimal("0.01"))
        out.append((s, last[s]))
    return out


def run() -> list[Metric]:
    rng = random.Random(42)
    rates, marks_rates = [], []
    for _ in range(RUNS):
        book, symbols = _book(rng)
        updates = _prices(rng, symbols)
        marked = 0
        started = time.perf_counter()
        for symbol, price in updates:
            marked += book.on_price(symbol, price)
        elapsed = time.perf_counter() - started
        rates.append(len(updates) / elapsed)
        marks_rates.append(marked / elapsed)
    return [
        at_least("position.mark_price_updates_per_s", median(rates), "updates/s", 20_000,
                 note=f"{POSITIONS} open positions over {SYMBOLS} symbols ({POSITIONS // SYMBOLS} per symbol)"),
        info("position.position_marks_per_s", median(marks_rates), "marks/s",
             note="one mark = P&L, MFE/MAE, peak/drawdown and trailing candidate of one position"),
    ]
