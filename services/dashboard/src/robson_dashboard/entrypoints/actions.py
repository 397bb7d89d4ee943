"""Changes a trader makes from the page, each forwarded with the signed-in user's own token (the
service enforces its scope) and answered with the service's own status and body."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from robson_dashboard.entrypoints.auth import ChangeDep
from robson_dashboard.entrypoints.relay import relay
from robson_dashboard.runtime import RuntimeDep

router = APIRouter(prefix="/api", tags=["dashboard actions"])
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]


class Close(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fraction: Decimal | None = Field(None, gt=0, le=1)
    reason: str = Field("closed from the dashboard", max_length=500)


class MoveStop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price: Decimal = Field(gt=0)
    expected_version: int | None = None


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


class TraderChange(Reason):
    account_id: str = Field(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")


@router.post("/positions/{position_id}/close")
async def close(position_id: Id, body: Close, session: ChangeDep, runtime: RuntimeDep) -> Response:
    return await relay(runtime.upstreams, "position", "POST", f"/positions/{position_id}/close",
                       session.token, body=body.model_dump(mode="json", exclude_none=True))


@router.put("/positions/{position_id}/stop-loss")
async def move_stop(position_id: Id, body: MoveStop, session: ChangeDep, runtime: RuntimeDep) -> Response:
    payload = body.model_dump(mode="json", exclude_none=True) | {
        "reason": f"moved by {session.identity.subject} from the dashboard"}
    return await relay(runtime.upstreams, "position", "PUT", f"/positions/{position_id}/stop-loss",
                       session.token, body=payload)


@router.post("/accounts/{account_id}/close-all")
async def close_all(account_id: Id, body: Reason, session: ChangeDep, runtime: RuntimeDep) -> Response:
    payload = {"account_id": account_id,
               "reason": body.reason or f"close all by {session.identity.subject} from the dashboard"}
    return await relay(runtime.upstreams, "position", "POST", f"/accounts/{account_id}/close-all",
                       session.token, body=payload)


@router.post("/traders/{trader_id}/{action}")
async def pause_or_resume(trader_id: Id, action: Annotated[str, Path(pattern="^(pause|resume)$")],
                          body: TraderChange, session: ChangeDep, runtime: RuntimeDep) -> Response:
    payload = {"account_id": body.account_id,
               "reason": body.reason or f"{action} by {session.identity.subject} from the dashboard"}
    return await relay(runtime.upstreams, "position", "POST", f"/traders/{trader_id}/{action}",
                       session.token, body=payload)


@router.post("/approvals/{decision_id}/{verdict}")
async def resolve(decision_id: Id, verdict: Annotated[str, Path(pattern="^(approve|reject)$")],
                  body: Reason, session: ChangeDep, runtime: RuntimeDep) -> Response:
    # decision records the approver from the token it is sent (the signed-in user's), never
    # from the body: nothing here names anyone
    payload: dict[str, str] = {}
    if verdict == "reject":
        payload["reason"] = body.reason or "rejected from the dashboard"
    return await relay(runtime.upstreams, "decision", "POST", f"/approvals/{decision_id}/{verdict}",
                       session.token, body=payload)
