"""The kit's parse of delivered headers answers as nats-py's own does, on any header block."""

from __future__ import annotations

import uuid

from hypothesis import example, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from robson_kit import bus  # noqa: F401  (importing the bus installs the parse)
from robson_kit.nats_headers import ORIGINAL, parse_header_lines

assert ORIGINAL is not None, "nats-py without _parse_header_lines: nats_headers.install does nothing"
nats_py_parse = ORIGINAL.__func__

# Bytes that change the answer: separators, every kind of whitespace str.isspace knows in
# ASCII (\x1c-\x1f included, which bytes.strip keeps), non-ASCII and broken UTF-8.
PIECES = st.sampled_from([b"Nats-Msg-Id", b"Robson-Type", b"a", b"Z9", b":", b": ", b" ", b"\t",
                          b"\x0b", b"\x0c", b"\x1c", b"\x1f", b"\r", b"\n", b"\r\n", b"\xc3\xa9",
                          b"\xff", b"value", b"1"])
LINES = st.lists(st.lists(PIECES, max_size=8).map(b"".join), max_size=6).map(b"\r\n".join)


@settings(max_examples=2000)
@given(LINES)
@example(b"Nats-Msg-Id: 1\r\nRobson-Type: OrderAccepted\r\n\r\n")
@example(b"Bad Name: x\r\nGood:  y \r\n")
@example(b"\x1cName: hidden whitespace\r\n: empty name\r\nno colon\r\n")
@example(b"N\xc3\xa9: non-ascii name\r\nV: \xff broken utf-8\r\n")
def test_parse_of_any_header_block_equals_nats_py(raw: bytes) -> None:
    assert parse_header_lines(raw) == nats_py_parse(raw)


def test_importing_the_bus_makes_nats_py_use_the_kit_parse() -> None:
    raw = f"Nats-Msg-Id: {uuid.uuid4()}\r\nRobson-Correlation-Id: c\r\n".encode()
    assert Client._parse_header_lines is parse_header_lines
    assert Client._parse_header_lines(raw)["Robson-Correlation-Id"] == "c"


def test_a_name_with_whitespace_inside_is_dropped_and_the_others_kept() -> None:
    parsed = parse_header_lines(b"Robson Type: x\r\nRobson-Type: y\r\nName\x1f: z\r\n")
    assert parsed == {"Robson-Type": "y"}
