"""A TCP proxy on loopback that a test can cut and restore, to fake an outage of a shared server.

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = url.set(port=proxy.port)
        ...
        proxy.cut()      # every open connection is closed, new ones are refused
        proxy.restore()  # the same port accepts and forwards again

Threads, not asyncio, so it works under sync tests and never shares a loop with the code under test.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from types import TracebackType
from typing import Self

CHUNK = 65536
JOIN_SECONDS = 5.0


def _close(sock: socket.socket) -> None:
    # shutdown() wakes a thread blocked in recv() or accept() on this socket; close() alone does not.
    with suppress(OSError):  # already disconnected
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; cut() drops and refuses connections until restore()."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.connections_accepted = 0

    def __enter__(self) -> Self:
        self.restore()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cut()
        for thread in self._threads:
            thread.join(JOIN_SECONDS)
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        if self._threads:
            raise RuntimeError(f"{len(self._threads)} proxy threads did not stop")

    @property
    def is_cut(self) -> bool:
        """True while connections are refused."""
        return self._listener is None

    def restore(self) -> None:
        """Listen again (on the same port after a cut) and forward every new connection."""
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        self._start(self._accept, listener)

    def cut(self) -> None:
        """Refuse new connections and close every open one, both ways, as a crashed server would."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            _close(listener)
        for sock in sockets:
            _close(sock)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads = [alive for alive in self._threads if alive.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    # cut() ran while this connection was being set up.
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
                self.connections_accepted += 1
            self._start(self._pump, client, upstream)
            self._start(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass  # one side went away; close both below
        with self._lock:
            owned = {source, sink} & self._sockets
            self._sockets -= owned
        for sock in owned:
            _close(sock)
