"""Which perpetual each traded symbol's market context comes from."""

from __future__ import annotations

from robson_signal.settings import SignalSettings


def test_context_symbols_map_traded_symbols_to_their_perpetuals() -> None:
    s = SignalSettings(context_symbols="BTCUSDT, PEPEUSDT=1000PEPEUSDT")
    assert s.context_map == {"BTCUSDT": "BTCUSDT", "PEPEUSDT": "1000PEPEUSDT"}
    assert s.context_symbol_list == ["BTCUSDT", "PEPEUSDT"]
    assert SignalSettings().context_map == {}
