"""A test-only TCP proxy on loopback that can break the connection to a service on purpose.

``FaultProxy(host, port)`` listens on a free 127.0.0.1 port and forwards every connection to ``host:port``. Then:

* ``refuse()`` kills every open connection (their sockets are reset) and stops listening, so new connections are
  refused — a database that went away;
* ``stall()`` cuts the open connections and then accepts new ones but forwards nothing: they hang in their
  handshake — a database host that stopped answering;
* ``resume()`` goes back to forwarding on the same port.

Used by the fault tests to take PostgreSQL away from a running app without touching the shared server.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading


class FaultProxy:
    """Forwards 127.0.0.1:<port> to a target; can refuse or stall on demand."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.mode = "forward"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._thread.start()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.1)
        return sock

    # --- the faults --------------------------------------------------------------------------------------------

    def refuse(self) -> None:
        """Reset every open connection and refuse new ones."""
        with self._lock:
            self.mode = "refuse"
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._kill_all()

    def stall(self) -> None:
        """Cut the open connections; accept new ones but pass nothing on (they hang in their handshake)."""
        with self._lock:
            self._kill_all()
            if self._listener is None:
                self._listener = self._listen(self.port)
            self.mode = "stall"

    def resume(self) -> None:
        """Forward again (on the same port)."""
        with self._lock:
            if self._listener is None:
                self._listener = self._listen(self.port)
            self.mode = "forward"

    def close(self) -> None:
        self._stopped = True
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            self._kill_all()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the forwarding -----------------------------------------------------------------------------------------

    def _kill_all(self) -> None:
        for pair in self._pairs:
            for sock in pair:
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                    with contextlib.suppress(OSError):
                        sock.close()
        self._pairs.clear()

    def _serve(self) -> None:
        while not self._stopped:
            listener = self._listener
            if listener is None:
                threading.Event().wait(0.05)
                continue
            try:
                client, _address = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        upstream = None
        if self.mode == "forward":
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                return
        with self._lock:
            self._pairs.append((client, upstream))
        if upstream is None:  # stalled: hold the connection open, say nothing
            return
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self._stopped:
                for key, _events in selector.select(timeout=0.2):
                    if self.mode == "stall":
                        continue
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                if self.mode == "stall":
                    threading.Event().wait(0.05)
        except OSError:
            return
        finally:
            selector.close()
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()
