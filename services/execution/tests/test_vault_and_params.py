from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from robson_contracts import OrderSpec
from robson_execution.adapters.vault import ApiCredentials, KeyVault, VaultError, parse_master_keys
from robson_execution.runtime.params import oco_params, order_params

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()
CREDS = ApiCredentials("public-key-123", "very-secret-456")


def test_vault_round_trip_hides_plaintext_and_binds_account() -> None:
    vault = KeyVault(parse_master_keys(K1))
    token = vault.encrypt(CREDS, "acc1")
    assert "very-secret" not in token and "public-key" not in token
    assert vault.decrypt(token, "acc1") == CREDS
    with pytest.raises(VaultError):
        vault.decrypt(token, "acc2")  # the account id is authenticated data


def test_vault_rotation_reads_old_key_and_writes_new_one() -> None:
    old = KeyVault(parse_master_keys(K1)).encrypt(CREDS, "acc1")
    rotated_vault = KeyVault(parse_master_keys(f"{K2},{K1}"))
    assert rotated_vault.needs_rotation(old)
    new = rotated_vault.rotate(old, "acc1")
    assert new.startswith("k2:") and not rotated_vault.needs_rotation(new)
    assert KeyVault(parse_master_keys(K2)).decrypt(new, "acc1") == CREDS


def test_credentials_repr_shows_only_fingerprint() -> None:
    assert "very-secret" not in repr(CREDS) and "public-key-123" not in str(CREDS)


def test_vault_without_master_key_refuses_to_store() -> None:
    with pytest.raises(VaultError):
        KeyVault({}).encrypt(CREDS, "acc1")


def test_bad_master_key_is_refused() -> None:
    with pytest.raises(VaultError):
        parse_master_keys("k1:" + base64.b64encode(b"short").decode())


def test_order_params_for_stop_limit_carry_stop_price_and_time_in_force() -> None:
    spec = OrderSpec(order_id="s", symbol="BTCUSDT", side="SELL", type="STOP_LIMIT",
                     quantity=Decimal("0.5"), price=Decimal("99"), stop_price=Decimal("100"))
    assert order_params(spec, "rbx") == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": "0.5",
        "price": "99", "stopPrice": "100", "timeInForce": "GTC", "newClientOrderId": "rbx"}


def test_oco_params_for_sell_put_stop_below_and_take_profit_above() -> None:
    stop = OrderSpec(order_id="s", symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                     quantity=Decimal("1"), stop_price=Decimal("90"))
    take = OrderSpec(order_id="t", symbol="BTCUSDT", side="SELL", type="LIMIT_MAKER",
                     quantity=Decimal("1"), price=Decimal("120"))
    p = oco_params(stop, "rbs", take, "rbt", "rbl")
    assert (p["belowType"], p["belowStopPrice"], p["belowClientOrderId"]) == ("STOP_LOSS", "90", "rbs")
    assert (p["aboveType"], p["abovePrice"], p["aboveClientOrderId"]) == ("LIMIT_MAKER", "120", "rbt")
