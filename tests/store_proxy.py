"""A TCP proxy on 127.0.0.1 in front of the test S3 server, to build a store outage: ``refuse`` closes the
listening port (connection refused, as a store that is down), ``stall`` accepts connections and relays nothing
(a store that hangs: only a timeout ends a request), ``up`` relays again. Threads, no dependencies."""

from __future__ import annotations

import contextlib
import socket
import threading


class StoreProxy:
    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.mode = "up"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str) -> None:
        """``up``, ``stall`` or ``refuse``; open connections are cut when the mode changes, as an outage cuts them."""
        assert mode in ("up", "stall", "refuse")
        with self._lock:
            self.mode = mode
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()
            self._open.clear()
        if mode == "refuse" and self._listener is not None:
            self._listener.close()
            self._listener = None
        elif mode != "refuse" and self._listener is None:
            self._listen()

    def close(self) -> None:
        self.set("refuse")

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: the store is down
            with self._lock:
                self._open.append(client)
                mode = self.mode
            if mode == "up":
                threading.Thread(target=self._relay, args=(client,), daemon=True).start()
            # stall: the connection stays open and silent until the mode changes

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.append(upstream)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
