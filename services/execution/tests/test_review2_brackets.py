"""Review 2 of execution sizing bracket children to what an entry's fills left held."""

from __future__ import annotations

from decimal import Decimal

from robson_execution.domain.brackets import ChildLeg, Limits, child_quantities

D = Decimal
BTC = Limits(step_size=D("0.00001"), min_qty=D("0.00001"), min_notional=D("5"))


def test_a_partly_filled_long_waits_with_an_oco_whose_stop_leg_is_below_the_minimum_notional() -> None:
    """A LONG bracket (take-profit 51000 for all of it, stop 49000) filled 0.0001 BTC so far.
    The OCO's take-profit leg is worth 5.10 USDT at 51000 and passes the 5 USDT minimum; its
    stop leg is worth 4.90 at 49000 and does not: the exchange refuses the OCO whole
    (NOTIONAL_BELOW_MIN, its peer SIBLING_REJECTED). The child was checked at the take-profit's
    price alone, so it was sent instead of waiting for more fills, as the module promises (and
    as paper does, admitting each leg): position then answers the refusal as a split refused,
    drops every take-profit for good and, the lone stop for 0.0001 refused as well, closes the
    entry's first fill at market while the entry is still filling."""
    legs = [ChildLeg("tp", D("1"), D("51000")), ChildLeg("sl", None, D("49000"))]
    assert child_quantities(legs, D("0.0001"), BTC, entry_done=False) == {}
    assert child_quantities(legs, D("0.0002"), BTC, entry_done=False) == {"tp": D("0.0002")}
