"""P&L arithmetic: pure functions on Decimals, shared by the aggregate and the mark book."""

from __future__ import annotations

from decimal import Decimal

from robson_contracts import PositionSide

ZERO = Decimal(0)


def direction(side: PositionSide) -> int:
    return 1 if side is PositionSide.LONG else -1


def gross_pnl(side: PositionSide, entry: Decimal, exit_: Decimal, quantity: Decimal) -> Decimal:
    """Price P&L of ``quantity`` entered at ``entry`` and closed at ``exit_``, before fees."""
    return (exit_ - entry) * quantity * direction(side)


def fee_in_quote(fee: Decimal, fee_asset: str, symbol: str, price: Decimal,
                 base_asset: str = "", quote_asset: str = "") -> Decimal:
    """Fees are normally quote-asset (USDT). A base-asset fee is valued at the fill price;
    any other asset (e.g. BNB) cannot be valued here and is counted as zero: the venue values
    those (``Fill.fee_quote``, used instead of this when set).

    ``base_asset``/``quote_asset``: the symbol's, as its venue told them; without them they are
    read off the symbol's name (wrong where the base ends the quote's name: "T" of TUSDT)."""
    if fee_asset and base_asset and quote_asset:
        return fee if fee_asset == quote_asset else fee * price if fee_asset == base_asset else ZERO
    if symbol.endswith(fee_asset):
        return fee
    if symbol.startswith(fee_asset):
        return fee * price
    return ZERO


def fee_in_base(fee_asset: str, symbol: str, base_asset: str = "") -> bool:
    """The fee was taken in the symbol's base asset (``fee_in_quote`` values it at the price)."""
    if fee_asset and base_asset:
        return fee_asset == base_asset
    return bool(fee_asset) and symbol.startswith(fee_asset) and not symbol.endswith(fee_asset)


def pct_move(side: PositionSide, entry: Decimal, price: Decimal) -> Decimal:
    """Favourable move from entry in percent (negative when adverse)."""
    return (price - entry) / entry * 100 * direction(side)
