"""Review: the kit's fencing of a service's own routes by its service lock (``app._serving``)."""

from __future__ import annotations

import asyncio

from robson_kit.service import Service
from robson_kit.testing import asgi_client, wait_until

from .test_singleton import _with_routes


async def test_instance_taking_over_the_lock_refuses_its_routes_until_its_state_is_loaded(
    nats_url: str, database_url: str, schema: str
) -> None:
    """A waiting instance gets the lock when the holder stops; it then migrates and loads its
    state (``on_start``), which takes a while for a real service (position's positions,
    paper's exchange). The fence opens the moment the lock is taken, before that: meanwhile
    its routes answer from empty memory (a read: nothing there; a write: into a state the
    load then overwrites or that misses the holder's), exactly what the fence keeps a waiting
    instance from doing."""
    writes: list[str] = []
    first = _with_routes(nats_url, database_url, schema, "first", writes)
    second = _with_routes(nats_url, database_url, schema, "second", writes)
    loading, loaded = asyncio.Event(), asyncio.Event()

    async def slow_load(_: Service) -> None:
        loading.set()
        await loaded.wait()  # the state loading, as long as it takes

    second.on_start.append(slow_load)
    await first.start()
    try:
        await second.start()
        try:
            await first.stop()
            await asyncio.wait_for(loading.wait(), 20)  # the second holds the lock, loading
            assert second.fence.held
            async with asgi_client(second) as client:
                read = await client.get("/things")
                write = await client.post("/things")
            assert (read.status_code, write.status_code) == (503, 503), (
                f"served while its state was still loading: GET {read.status_code} {read.text}, "
                f"POST {write.status_code} {write.text}")
            assert writes == []
            loaded.set()
            await wait_until(lambda: _served(second), message="served once loaded")
        finally:
            loaded.set()
            await second.stop()
    finally:
        await first.stop()


async def _served(service: Service) -> bool:
    async with asgi_client(service) as client:
        return (await client.get("/things")).status_code == 200
