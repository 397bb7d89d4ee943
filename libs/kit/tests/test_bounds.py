"""A bus message carrying an absurd decimal is dead-lettered with the reason naming the field;
the messages behind it are processed."""

from __future__ import annotations

import json

from robson_contracts import DeadLetter, encode
from robson_contracts import subjects as s
from robson_kit.bus import Bus, headers_for
from robson_kit.service import Service
from robson_kit.testing import read_stream, wait_until

from .test_messaging import decisions, make_signal, seen


async def test_message_with_absurd_decimal_is_dead_lettered_naming_the_field(bus: Bus, sample: Service) -> None:
    absurd = make_signal("sig-absurd")
    data = json.loads(encode(absurd))
    data["price"] = "1e999999"
    await bus.publish_raw(s.subject_for(absurd), json.dumps(data).encode(), headers_for(absurd))
    await bus.publish(make_signal("sig-next"))

    async def letters() -> list[DeadLetter] | None:
        return await read_stream(bus, s.ALL_DEAD_LETTERS) or None

    (letter,) = await wait_until(letters, message="dead letter")
    assert letter.reason_code == "INVALID_MESSAGE"
    assert "price" in letter.reason and "1e18" in letter.reason
    await wait_until(lambda: _one_decision(bus), message="next message processed")
    assert await seen(sample, "sig-next") == 1 and await seen(sample, "sig-absurd") == 0


async def _one_decision(bus: Bus) -> bool:
    return len(await decisions(bus)) == 1
