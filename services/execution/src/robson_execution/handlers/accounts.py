"""Account commands from the API: live opt-in (with confirmation), keys, rotation."""

from __future__ import annotations

from typing import Any

from robson_contracts import AccountModeChanged, TradingMode, derive_id
from robson_kit.auth import Principal
from robson_kit.auth.audit import record_actor

from robson_execution.adapters import repo
from robson_execution.adapters.vault import ApiCredentials, VaultError, fingerprint
from robson_execution.deps import ExecutionService

CONFIRMATION = "I UNDERSTAND THIS TRADES REAL ORDERS"


class AccountError(Exception):
    def __init__(self, status: int, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason_code = status, reason_code


async def set_mode(service: Any, account_id: str, mode: str, testnet: bool, confirmation: str | None,
                   actor: Principal | None = None) -> None:
    if mode == "LIVE" and confirmation != CONFIRMATION:
        raise AccountError(422, "CONFIRMATION_REQUIRED",
                           f"enabling LIVE needs confirmation exactly '{CONFIRMATION}'")
    async with service.uow() as uow:
        if actor is not None:
            await record_actor(uow.session, actor)
        current = await repo.get_account(uow.session, account_id)
        if mode == "LIVE" and (current is None or not current.credentials):
            raise AccountError(409, "NO_API_KEYS", "store API keys (PUT /accounts/{id}/keys) before going LIVE")
        if current is not None and current.mode == mode and current.testnet == testnet:
            return
        now = uow.clock.now()
        values: dict[str, Any] = {"mode": mode, "testnet": testnet, "updated_at": now}
        if mode == "LIVE":
            values["live_confirmed_at"] = now
        await repo.upsert_account(uow.session, account_id, **values)
        uow.emit(AccountModeChanged(
            message_id=derive_id("account-mode", account_id, mode, testnet, now.isoformat()),
            occurred_at=now, account_id=account_id, mode=TradingMode(mode), testnet=testnet,
            reason="live opt-in confirmed via API" if mode == "LIVE" else "set via API"))


async def store_keys(service: ExecutionService, account_id: str, api_key: str, api_secret: str,
                     actor: Principal | None = None) -> str:
    vault = service.deps.vault
    try:
        token = vault.encrypt(ApiCredentials(api_key, api_secret), account_id)
    except VaultError as exc:
        raise AccountError(503, "VAULT_NOT_CONFIGURED", str(exc)) from exc
    fp = fingerprint(api_key)
    async with service.uow() as uow:
        if actor is not None:
            await record_actor(uow.session, actor)
        await repo.upsert_account(uow.session, account_id, credentials=token, key_fingerprint=fp,
                                  updated_at=uow.clock.now())
    return fp


async def rotate_all(service: ExecutionService) -> int:
    """Re-encrypt every stored key with the newest master key."""
    vault = service.deps.vault
    count = 0
    async with service.uow() as uow:
        for row in await repo.all_accounts(uow.session):
            if row.credentials and vault.needs_rotation(row.credentials):
                await repo.upsert_account(uow.session, row.account_id,
                                          credentials=vault.rotate(row.credentials, row.account_id))
                count += 1
    return count
