"""Pure parts: live marks, who a token says it is, sessions, the read allowlist, figures."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from robson_dashboard.adapters.sessions import Sessions
from robson_dashboard.domain.allowlist import readable
from robson_dashboard.domain.figures import equity_curve, open_risk
from robson_dashboard.domain.live import LivePosition
from robson_dashboard.domain.session import LOCAL_OPERATOR, can, identity_of

from .fake_services import position_view

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def jwt(claims: dict[str, object]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJFZERTQSJ9.{part}.c2lnbmF0dXJl"


def test_live_mark_of_a_long_moves_pnl_percent_and_r_with_the_price() -> None:
    live = LivePosition.from_view(position_view("p1", "a1", remaining="0.5", realized="100"))
    assert live is not None
    mark = live.mark(Decimal("51000"))
    assert Decimal(mark["unrealized_pnl"]) == Decimal("500")  # (51000 − 50000) × 0.5
    assert Decimal(mark["unrealized_pct"]) == Decimal("2")
    assert Decimal(mark["r"]) == Decimal("0.6")  # (100 banked + 500) / 1000 initial risk


def test_live_mark_of_a_short_gains_when_the_price_falls() -> None:
    live = LivePosition.from_view(position_view("p1", "a1") | {"side": "SHORT"})
    assert live is not None
    assert Decimal(live.mark(Decimal("49000"))["unrealized_pnl"]) == Decimal("500")


def test_position_that_holds_nothing_is_not_tracked() -> None:
    assert LivePosition.from_view(position_view("p1", "a1", status="PENDING_ENTRY")) is None
    assert LivePosition.from_view(position_view("p1", "a1", remaining="0")) is None
    assert LivePosition.from_view(position_view("p1", "a1", status="CLOSED")) is None


def test_identity_of_a_jwt_reads_its_claims_for_display_only() -> None:
    who = identity_of(jwt({"sub": "alice", "scopes": ["read"], "accounts": ["a1"], "exp": 1_900_000_000}))
    assert (who.subject, who.scopes, who.accounts) == ("alice", ("read",), ("a1",))
    assert can(who, "read") and not can(who, "trade")
    assert can(identity_of(jwt({"sub": "bob", "scopes": ["admin"]})), "trade")


def test_identity_without_a_token_is_the_local_operator_and_an_opaque_token_is_judged_by_services() -> None:
    assert identity_of(None).subject == LOCAL_OPERATOR
    opaque = identity_of("not-a-jwt")
    assert opaque.subject == "token holder" and can(opaque, "admin")


def test_sessions_end_at_the_token_expiry_and_the_oldest_goes_past_the_bound() -> None:
    sessions = Sessions(max_sessions=2, hours=12)
    expiring = jwt({"sub": "a", "exp": int((T0 + timedelta(minutes=5)).timestamp())})
    short = sessions.open(expiring, "token", now=T0)
    assert sessions.get(short.session_id, now=T0 + timedelta(minutes=4)) is short
    assert sessions.get(short.session_id, now=T0 + timedelta(minutes=6)) is None
    first, second, third = (sessions.open(None, "operator", now=T0) for _ in range(3))
    assert sessions.get(first.session_id, now=T0) is None
    assert sessions.get(third.session_id, now=T0) is third and sessions.get(second.session_id, now=T0)


def test_allowlist_reads_listed_routes_and_refuses_everything_else() -> None:
    assert readable("position", "positions") and readable("position", "positions/p-1")
    assert readable("decision", "approvals") and readable("entry_gate", "accounts/a1/risk")
    assert not readable("position", "positions/../resync")
    assert not readable("paper", "accounts/a1/reset")
    assert not readable("execution", "accounts/a1/keys")
    assert not readable("nats", "positions")


def test_equity_curve_adds_every_close_in_time_order_and_open_risk_counts_stops() -> None:
    positions = [
        {"status": "CLOSED", "closes": [{"at": "2024-01-02T00:00:00+00:00", "realized_pnl": "-5"}]},
        {"status": "PARTIALLY_CLOSED", "side": "LONG", "entry_price": "100", "stop_loss": "90",
         "remaining_quantity": "2", "unrealized_pnl": "3",
         "closes": [{"at": "2024-01-01T00:00:00+00:00", "realized_pnl": "10"}]},
    ]
    curve = equity_curve(Decimal("1000"), positions)
    assert [p["equity"] for p in curve] == ["1010", "1005"]
    assert open_risk(positions) == {"at_risk": "20", "unrealized_pnl": "3"}
