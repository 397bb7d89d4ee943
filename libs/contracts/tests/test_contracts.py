from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from robson_contracts import (
    MESSAGE_TYPES,
    Candle,
    DecodeError,
    Message,
    OrderSpec,
    SubmitOrder,
    TradeDecision,
    decode,
    encode,
    subject_for,
)
from robson_contracts.schema_gen import SCHEMA_DIR, rendered

from .strategies import model_strategy

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(MESSAGE_TYPES))
def test_every_message_round_trips_json_to_model_to_json(name: str) -> None:
    cls = MESSAGE_TYPES[name]

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(model_strategy(cls))
    def round_trip(model: Message) -> None:
        wire = encode(model)
        assert cls.model_validate_json(wire) == model
        again = decode(wire)
        assert again == model
        assert encode(again) == wire
        assert subject_for(model).startswith("robson.")

    round_trip()


def _candle(**overrides: object) -> dict:
    doc = {
        "message_type": "Candle", "occurred_at": "2024-03-01T12:05:00Z", "symbol": "BTCUSDT",
        "timeframe": "5m", "open_time": "2024-03-01T12:00:00Z", "close_time": "2024-03-01T12:05:00Z",
        "open": "100.5", "high": "101", "low": "99.25", "close": "100", "volume": "12.5",
    }
    doc.update(overrides)
    return doc


def test_candle_with_unknown_field_is_rejected() -> None:
    with pytest.raises(DecodeError) as err:
        decode(json.dumps(_candle(surprise=1)).encode())
    assert err.value.reason_code == "INVALID_MESSAGE"
    assert "surprise" in err.value.reason


def test_candle_with_float_price_is_rejected_and_string_is_accepted() -> None:
    with pytest.raises(DecodeError) as err:
        decode(json.dumps(_candle(open=100.5)).encode())
    assert "floats are not accepted" in err.value.reason
    candle = decode(json.dumps(_candle()).encode())
    assert isinstance(candle, Candle) and candle.open == Decimal("100.5")


def test_decimal_serializes_as_plain_string_without_precision_loss() -> None:
    candle = Candle.model_validate(_candle(volume="0.00000001", high="123456789.123456789"))
    doc = json.loads(encode(candle))
    assert doc["volume"] == "0.00000001"
    assert doc["high"] == "123456789.123456789"


def test_unknown_schema_version_and_unknown_type_have_distinct_reason_codes() -> None:
    with pytest.raises(DecodeError) as err:
        decode(json.dumps(_candle(schema_version=2)).encode())
    assert err.value.reason_code == "UNSUPPORTED_VERSION"
    with pytest.raises(DecodeError) as err:
        decode(json.dumps({"message_type": "Nope"}).encode())
    assert err.value.reason_code == "UNKNOWN_TYPE"
    with pytest.raises(DecodeError) as err:
        decode(b"{not json")
    assert err.value.reason_code == "BAD_JSON"


MUTATIONS = ("none", "drop_type", "version_2", "other_type", "unknown_field", "float_field",
             "not_an_object")


def _mutated(doc: dict, mutation: str, other: str) -> bytes:
    doc = dict(doc)
    if mutation == "drop_type":
        del doc["message_type"]
    elif mutation == "version_2":
        doc["schema_version"] = 2
    elif mutation == "other_type":
        doc["message_type"] = other
    elif mutation == "unknown_field":
        doc["surprise"] = 1
    elif mutation == "float_field":
        doc[next(k for k, v in doc.items() if isinstance(v, str) and k != "message_type")] = 1.5
    elif mutation == "not_an_object":
        return json.dumps([doc]).encode()
    return json.dumps(doc).encode()


def _outcome(data: bytes, expected: tuple[type[Message], ...] | None,
             hint: str | None) -> tuple[object, ...]:
    try:
        return ("ok", decode(data, expected, hint))
    except DecodeError as exc:
        return ("error", exc.reason_code, exc.reason)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_decoding_with_the_type_header_gives_what_decoding_without_it_gives(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(MESSAGE_TYPES)), label="type")
    message = data.draw(model_strategy(MESSAGE_TYPES[name]), label="message")
    mutation = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    names = st.sampled_from(sorted(MESSAGE_TYPES))
    wire = _mutated(json.loads(encode(message)), mutation, data.draw(names, label="other"))
    hint = data.draw(st.one_of(st.just(name), names, st.none(), st.just("Nope")), label="hint")
    expected = data.draw(st.one_of(st.none(), names.map(lambda n: (MESSAGE_TYPES[n],)),
                                   st.just((MESSAGE_TYPES[name],))), label="expected")
    assert _outcome(wire, expected, hint) == _outcome(wire, expected, None)


def test_type_header_naming_another_type_than_the_payload_decodes_the_payload() -> None:
    wire = json.dumps(_candle()).encode()
    assert isinstance(decode(wire, None, "TradeTick"), Candle)
    with pytest.raises(DecodeError) as err:
        decode(json.dumps({k: v for k, v in _candle().items() if k != "message_type"}).encode(),
               None, "Candle")
    assert err.value.reason_code == "UNKNOWN_TYPE"  # the header never stands in for the payload


def test_messages_are_frozen() -> None:
    candle = Candle.model_validate(_candle())
    with pytest.raises(ValidationError):
        candle.close = Decimal(1)  # type: ignore[misc]


def test_message_without_correlation_id_is_its_own_correlation_root() -> None:
    candle = Candle.model_validate(_candle())
    assert candle.correlation_id == candle.message_id
    decision = TradeDecision(
        **candle.caused(), occurred_at=NOW, account_id="acc1", decision_id="d1", trader_id="t1",
        symbol="BTCUSDT", decision="WATCH", confidence="0.5",
    )
    assert decision.correlation_id == candle.correlation_id
    assert decision.causation_id == candle.message_id


def test_limit_order_without_price_is_rejected() -> None:
    with pytest.raises(ValidationError, match="need a price"):
        OrderSpec(order_id="o1", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="1")


def test_order_subjects_are_filterable_by_venue_account_and_symbol() -> None:
    order = SubmitOrder(
        occurred_at=NOW, account_id="acc1", venue="PAPER",
        order=OrderSpec(order_id="o1", symbol="ETHUSDT", side="BUY", type="MARKET", quantity="1"),
    )
    assert subject_for(order) == "robson.order.cmd.paper.acc1.ETHUSDT"


def test_committed_schemas_and_asyncapi_are_up_to_date() -> None:
    expected = rendered()
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    stale = sorted(n for n in expected if on_disk.get(n) != expected[n])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale and not extra, (
        f"stale {stale}, unexpected {extra}: run `make schemas` and commit the result"
    )
