"""Durable consumers of paper: its order commands, and market ticks + candles in stream order."""

from __future__ import annotations

from functools import partial

from nats.js.api import DeliverPolicy
from robson_contracts import Candle, TradeTick
from robson_contracts import subjects as s
from robson_kit.consumer import ConsumerSpec

from robson_paper.handlers.commands import COMMANDS, handle_command
from robson_paper.handlers.market import handle_market, wants_market
from robson_paper.runtime import Runtime


def consumer_specs(runtime: Runtime) -> list[ConsumerSpec]:
    return [
        ConsumerSpec("paper_commands", s.ORDERS, (s.PAPER_ORDER_COMMANDS,),
                     partial(handle_command, runtime=runtime), accepts=COMMANDS),
        # One consumer for ticks and candles keeps their stream order: a candle arrives after
        # the ticks of its period, so its path only fills gaps. Durable, so after a crash it
        # resumes where it stopped and replays what was published meanwhile (catch-up).
        # NEW: a first start does not replay the whole retained history.
        # No inbox: a price at or before the last processed market time is ignored, and that
        # time is written in the same transaction as anything the price filled.
        # A tick that can fill nothing moves the last price in memory only (``wants``: no
        # transaction; the price is stored on the MARKET_WRITE_SECONDS schedule).
        # Paced (kit: pull): live, a price is seen up to PACED_FETCH_SECONDS later (its event
        # time, which fills use, is unchanged); a lockstep replay turns pacing off.
        ConsumerSpec("paper_market", s.MARKET, (s.ALL_TICKS, s.ALL_CANDLES),
                     partial(handle_market, runtime=runtime), accepts=(TradeTick, Candle),
                     deliver_policy=DeliverPolicy.NEW, record_inbox=False,
                     wants=partial(wants_market, runtime=runtime), paced=True),
    ]
