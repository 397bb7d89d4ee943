"""A TCP proxy whose open connections can be made silent, as a network path that drops every
packet: nothing is forwarded either way any more, and both sockets stay open, so neither end
sees a FIN or a RST (a closed connection would tell the client at once; a silent one only
times out). Connections opened afterwards are forwarded as usual.

It runs on an event loop of its own, in a thread: the test's loop blocks at times (starting and
stopping service processes) while the proxied connections must go on."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url


class BlackHoleProxy:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._open: list[tuple[asyncio.Event, asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._pipes: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def listening_port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> BlackHoleProxy:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    def black_hole(self) -> int:
        """Silence every connection open now (from any thread); returns how many there were."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(self._silence(), self._loop).result(10)

    async def _silence(self) -> int:
        for silenced, _, _ in self._open:
            silenced.set()
        return len(self._open)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        for _, client, upstream in self._open:
            client.close()
            upstream.close()

    async def _accept(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        try:
            upstream_in, upstream_out = await asyncio.open_connection(self.host, self.port)
        except OSError:
            client_out.close()
            return
        silenced = asyncio.Event()
        self._open.append((silenced, client_out, upstream_out))
        for reader, writer in ((client_in, upstream_out), (upstream_in, client_out)):
            task = asyncio.create_task(_forward(reader, writer, silenced))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   silenced: asyncio.Event) -> None:
    """Copy until the end of the stream, unless silenced: then drop whatever comes, and never
    pass an end of stream on (the socket stays open until the proxy closes)."""
    while True:
        data = await reader.read(65536)
        if silenced.is_set():
            return
        if not data:
            writer.close()
            return
        writer.write(data)
        await writer.drain()


@contextmanager
def black_hole_proxy(database_url: str) -> Iterator[tuple[BlackHoleProxy, str]]:
    """A proxy to the database of ``database_url``, and the same URL through the proxy."""
    url = make_url(database_url)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="black-hole-proxy", daemon=True)
    thread.start()
    proxy = BlackHoleProxy(url.host or "127.0.0.1", url.port or 5432)
    asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.listening_port).render_as_string(
            hide_password=False)
    finally:
        asyncio.run_coroutine_threadsafe(proxy.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
