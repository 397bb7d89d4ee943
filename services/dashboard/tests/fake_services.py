"""Test-only stand-in for the services' HTTP APIs the dashboard reads (position, decision,
paper), speaking their real routes and shapes, with a bearer-token check like the auth
contract's: "reader" may read only account "a1", "revoked" is refused, any other token or none reads
everything (today's open APIs). A token a test adds to ``app.state.refused`` is refused from then
on, as a revoked one is. Every request is recorded in ``app.state.seen``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Header, HTTPException, Request


def position_view(position_id: str, account: str, status: str = "OPEN", remaining: str = "0.5",
                  realized: str = "0") -> dict[str, Any]:
    return {"position_id": position_id, "account_id": account, "trader_id": "t1", "symbol": "BTCUSDT",
            "side": "LONG", "status": status, "version": 1, "quantity": "1", "remaining_quantity": remaining,
            "entry_price": "50000", "stop_loss": "49000", "initial_risk": "1000", "realized_pnl": realized,
            "last_price": "50000", "take_profits": [], "closes": []}


POSITIONS = {"p1": position_view("p1", "a1"), "p2": position_view("p2", "a2")}


def _allowed(authorization: str | None, account: str, refused: set[str]) -> bool:
    if authorization is None:
        return True
    if authorization == "Bearer revoked" or authorization.removeprefix("Bearer ") in refused:
        raise HTTPException(401, "token revoked")
    if authorization == "Bearer reader":
        return account == "a1"
    return True


def fake_services() -> FastAPI:
    app = FastAPI()
    app.state.seen = []
    app.state.refused = set()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        app.state.seen.append({"host": request.url.hostname, "method": request.method, "path": request.url.path,
                     "authorization": request.headers.get("authorization"),
                     "body": (await request.body()).decode() or None})
        return await call_next(request)

    @app.get("/positions")
    async def positions(status: str | None = None, authorization: str | None = Header(None)) -> list[Any]:
        refused = app.state.refused
        return [p for p in POSITIONS.values() if _allowed(authorization, p["account_id"], refused)]

    @app.get("/positions/{position_id}")
    async def position(position_id: str, authorization: str | None = Header(None)) -> Any:
        found = POSITIONS.get(position_id)
        if found is None or not _allowed(authorization, found["account_id"], app.state.refused):
            raise HTTPException(404, f"no position {position_id}")
        return found

    @app.put("/positions/{position_id}/stop-loss")
    async def stop_loss(position_id: str) -> Any:
        from fastapi.responses import JSONResponse
        return JSONResponse({"applied": False, "version": 1, "violations": [
            {"name": "STOP_INCREASES_RISK", "current_value": "49000", "required_value": ">= 49000",
             "message": "a stop may only move toward profit"}]}, status_code=422)

    @app.post("/approvals/{decision_id}/{verdict}")
    async def resolve(decision_id: str, verdict: str, request: Request) -> Any:
        return {"decision_id": decision_id, "status": verdict, "body": await request.json(),
                "authorization": request.headers.get("authorization", "")}

    return app
