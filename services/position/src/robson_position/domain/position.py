"""The position aggregate: state machine, fills, realized P&L. Collects the messages it causes.

Every outgoing id is derived from (position, cause, sequence) so reprocessing an input emits
byte-identical messages.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from robson_contracts import (
    ExitReason,
    Message,
    PositionSide,
    PositionStatus,
    derive_id,
)

from robson_position.domain import pnl
from robson_position.domain.lots import LotRules
from robson_position.domain.state import ZERO, Close, OrderKind, PositionState


class InvalidTransition(Exception):
    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


_ALLOWED: dict[PositionStatus, set[PositionStatus]] = {
    PositionStatus.PENDING_ENTRY: {PositionStatus.OPEN, PositionStatus.REJECTED, PositionStatus.CANCELED,
                                   PositionStatus.CLOSING},
    PositionStatus.OPEN: {PositionStatus.PARTIALLY_CLOSED, PositionStatus.CLOSING, PositionStatus.CLOSED},
    PositionStatus.PARTIALLY_CLOSED: {PositionStatus.CLOSING, PositionStatus.CLOSED},
    PositionStatus.CLOSING: {PositionStatus.CLOSED, PositionStatus.PARTIALLY_CLOSED, PositionStatus.OPEN},
    PositionStatus.CLOSED: set(),
    PositionStatus.REJECTED: set(),
    PositionStatus.CANCELED: set(),
}


class Position:
    """Wraps :class:`PositionState`; ``outbox`` holds what this change caused. Not stored, set
    by the handlers (``Runtime.equip``): ``rules``, its venue's lot rules for the symbol when
    known, by which protective orders and partial closes are sized; ``market_price``, the
    symbol's latest tick the process has seen (``s.last_price`` moves on closed candles and
    fills only), by which a refusal "already through the market" is judged."""

    def __init__(self, state: PositionState, rules: LotRules | None = None) -> None:
        self.s = state
        self.outbox: list[Message] = []
        self._seq = 0
        self.rules = rules
        self.market_price: Decimal | None = None

    # --- infrastructure of emitting ----------------------------------------------------

    def next_id(self, cause: Message, kind: str) -> Any:
        self._seq += 1
        return derive_id(kind, self.s.position_id, cause.message_id, self._seq)

    def emit(self, message: Message) -> None:
        self.outbox.append(message)

    def base(self, cause: Message, kind: str, at: datetime) -> dict[str, Any]:
        return {**cause.caused(), "message_id": self.next_id(cause, kind), "occurred_at": at,
                "account_id": self.s.account_id}

    def event_base(self, cause: Message, kind: str, at: datetime) -> dict[str, Any]:
        s = self.s
        return {**self.base(cause, kind, at), "position_id": s.position_id, "trader_id": s.trader_id,
                "symbol": s.symbol, "side": s.side}

    # --- state machine -----------------------------------------------------------------

    def transition(self, to: PositionStatus) -> None:
        if to == self.s.status:
            return
        if to not in _ALLOWED[self.s.status]:
            raise InvalidTransition("ILLEGAL_TRANSITION", f"{self.s.status} → {to} is not allowed")
        self.s.status = to

    # --- fills -------------------------------------------------------------------------

    def seen_fill(self, fill_id: str) -> bool:
        return fill_id in self.s.fill_ids

    def refused_fill(self, fill_id: str) -> None:
        """A fill the position could not take (``InvalidTransition``) is seen all the same: the
        same fill in another message is not refused, and reported, a second time."""
        if fill_id not in self.s.fill_ids:
            self.s.fill_ids.append(fill_id)

    def apply_entry_fill(self, fill_id: str, price: Decimal, qty: Decimal, fee: Decimal,
                         at: datetime, fee_quantity: Decimal = ZERO) -> None:
        """``fee_quantity``: the part of ``qty`` the venue kept as its fee (base-asset fee)."""
        s = self.s
        if not s.is_active:
            raise InvalidTransition("POSITION_FINISHED", f"entry fill on a {s.status} position")
        s.fill_ids.append(fill_id)
        s.entry_quantity += qty
        s.entry_cost += price * qty
        s.entry_fees += fee
        s.entry_fee_quantity += fee_quantity
        if s.status is PositionStatus.PENDING_ENTRY:
            self.transition(PositionStatus.OPEN)
            s.opened_at = at
        self.mark(price)

    def apply_exit_fill(self, fill_id: str, price: Decimal, qty: Decimal, fee: Decimal,
                        reason: ExitReason, at: datetime) -> Close:
        """Realize P&L of one exit fill. Entry fees are charged pro rata; the last close takes
        the remainder so the total is exact."""
        s = self.s
        if not s.holds:
            raise InvalidTransition("NOTHING_HELD", f"exit fill on a {s.status} position")
        qty = min(qty, s.remaining)
        s.fill_ids.append(fill_id)
        charged = sum((c.entry_fees for c in s.closes), ZERO)
        final = qty >= s.remaining
        entry_fee_share = s.entry_fees - charged if final else s.entry_fees * qty / s.entry_quantity
        entry = s.entry_price or price
        realized = pnl.gross_pnl(s.side, entry, price, qty) - fee - entry_fee_share
        close = Close(fill_id=fill_id, quantity=qty, price=price, fees=fee, entry_fees=entry_fee_share,
                      realized_pnl=realized, reason=reason, at=at)
        # Exits at one event time have no market order between them (two legs of one stop); the
        # record keeps them by fill id so it does not depend on the order the bus delivered them.
        insort(s.closes, close, key=lambda c: (c.at, c.fill_id))
        s.exit_quantity += qty
        s.exit_value += price * qty
        s.exit_fees += fee
        s.realized_pnl += realized
        if final:
            self.transition(PositionStatus.CLOSED)
            s.closed_at = at
            s.exit_reason = reason
        elif s.status is PositionStatus.OPEN:
            self.transition(PositionStatus.PARTIALLY_CLOSED)
        self.mark(price)
        return close

    def write_off(self, reason: ExitReason, at: datetime) -> Close:
        """Close the books on what is held when the venue will neither protect nor sell it
        (below its minimum quantity or notional): one close valued at the last price, without
        a fee, so the P&L carries it at what it is worth in the account, where it stays."""
        s = self.s
        quantity = s.remaining
        s.written_off += quantity
        price = s.last_price or s.entry_price
        assert price is not None and quantity > 0
        return self.apply_exit_fill(f"write-off-{s.order_generation}", price, quantity, ZERO,
                                    reason, at)

    # --- marks -------------------------------------------------------------------------

    def mark(self, price: Decimal, high: Decimal | None = None, low: Decimal | None = None) -> None:
        """The best and worst prices seen, and the running peak of total P&L and the largest
        fall from it, over ``best, worst, price`` in that order (prices are positive, so
        "better" is the sign of the difference: ``pnl.pct_move``'s sign without its division)."""
        self.mark_ranges(price, ((high or price, low or price),))

    def mark_ranges(self, price: Decimal, ranges: Iterable[tuple[Decimal, Decimal]]) -> None:
        """``mark(price, high, low)`` for each (high, low) of ``ranges`` in turn, with the state
        read once and written once (every candle marks each holding position this way: the
        book's extremes since the last candle, then the candle's range)."""
        s = self.s
        s.last_price = price
        if not s.holds or not s.entry_quantity:
            return
        entry = s.entry_cost / s.entry_quantity
        long = s.side is PositionSide.LONG
        held_best = start_best = s.best_price
        held_worst = start_worst = s.worst_price
        realized, quantity, sign = s.realized_pnl, s.remaining, 1 if long else -1
        peak = start_peak = s.peak_pnl
        fall = start_fall = s.max_drawdown
        for hi, lo in ranges:
            best, worst = (hi, lo) if long else (lo, hi)
            if held_best is None or (best > held_best if long else best < held_best):
                held_best = best
            if held_worst is None or (worst < held_worst if long else worst > held_worst):
                held_worst = worst
            for p in (best, worst, price):
                total = realized + (p - entry) * quantity * sign
                if total > peak:
                    peak = total
                if peak - total > fall:
                    fall = peak - total
        if held_best is not start_best:
            s.best_price = held_best
        if held_worst is not start_worst:
            s.worst_price = held_worst
        if peak is not start_peak:
            s.peak_pnl = peak
        if fall is not start_fall:
            s.max_drawdown = fall

    def unrealized_at(self, price: Decimal) -> Decimal:
        s = self.s
        if s.entry_price is None or not s.holds:
            return ZERO
        return pnl.gross_pnl(s.side, s.entry_price, price, s.remaining)

    # --- analytics ---------------------------------------------------------------------

    @property
    def initial_risk(self) -> Decimal:
        s = self.s
        if s.initial_stop is None or s.entry_price is None:
            return ZERO
        return abs(s.entry_price - s.initial_stop) * s.entry_quantity

    @property
    def r_multiple(self) -> Decimal | None:
        risk = self.initial_risk
        return (self.s.realized_pnl / risk) if risk else None

    def excursions(self) -> tuple[Decimal, Decimal]:
        """(MFE, MAE) in the quote asset on the entered quantity; MAE is ≤ 0."""
        s = self.s
        if s.entry_price is None:
            return ZERO, ZERO
        mfe = pnl.gross_pnl(s.side, s.entry_price, s.best_price or s.entry_price, s.entry_quantity)
        mae = pnl.gross_pnl(s.side, s.entry_price, s.worst_price or s.entry_price, s.entry_quantity)
        return max(mfe, ZERO), min(mae, ZERO)

    def holding_seconds(self, now: datetime) -> int:
        s = self.s
        if s.opened_at is None:
            return 0
        return int(((s.closed_at or now) - s.opened_at).total_seconds())

    def in_profit(self, price: Decimal | None = None) -> bool:
        s = self.s
        ref = price or s.last_price
        return bool(s.entry_price and ref and pnl.pct_move(s.side, s.entry_price, ref) > 0)

    def stop_at_or_beyond_breakeven(self) -> bool:
        s = self.s
        if s.stop_loss is None or s.entry_price is None:
            return False
        return pnl.pct_move(s.side, s.entry_price, s.stop_loss) >= 0

    def live(self, kind: OrderKind) -> list[str]:
        return [o.order_id for o in self.s.orders.values() if o.live and o.kind is kind]
