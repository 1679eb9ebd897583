"""A small OpenAI-compatible server that misbehaves on demand, for what a real server will
not do when asked: a cut stream, malformed events, a hang, each error status.

Each path answers with a ``Script``: a status, headers and body pieces sent with pauses
between them; a piece of ``HANG`` waits until the client goes away, and ``cut=True`` closes
the connection without finishing the response. Requests are recorded (path, headers,
body), so a test can see what PyChat sent.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = b"<hang>"
"""A body piece that means: send nothing more, until the client gives up."""


@dataclass
class Script:
    """How one path answers."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type":
                                                              "application/json"})
    pieces: list[bytes] = field(default_factory=list)
    pause: float = 0.0
    """Seconds between two pieces."""
    cut: bool = False
    """Close the connection after the pieces, without ending the response."""


def sse(*events: Any, done: bool = True, keepalive: bool = False) -> list[bytes]:
    """Body pieces of a Server-Sent Events stream: one per event (JSON objects, or raw
    strings sent as they are), then ``data: [DONE]``."""
    pieces = [b": keep-alive\n\n"] if keepalive else []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        pieces.append(f"data: {data}\n\n".encode())
    if done:
        pieces.append(b"data: [DONE]\n\n")
    return pieces


def chunk(content: str = "", *, reasoning: str = "", finish: str | None = None,
          usage: dict[str, int] | None = None) -> dict[str, Any]:
    """One streamed chat completion chunk."""
    delta: dict[str, str] = {}
    if content:
        delta["content"] = content
    if reasoning:
        delta["reasoning_content"] = reasoning
    event: dict[str, Any] = {"object": "chat.completion.chunk",
                             "choices": [{"index": 0, "delta": delta,
                                          "finish_reason": finish}]}
    if usage is not None:
        event["usage"] = usage
        event["choices"] = []
    return event


def reply(*words: str, usage: dict[str, int] | None = None) -> list[bytes]:
    """A whole streamed reply of ``words``, ending with stop (and usage)."""
    events: list[Any] = [chunk(w) for w in words]
    events.append(chunk(finish="stop"))
    if usage is not None:
        events.append(chunk(usage=usage))
    return sse(*events)


MODELS = Script(pieces=[json.dumps({"object": "list", "data": [
    {"id": "tiny-chat", "object": "model"}, {"id": "other-model", "object": "model"}]}
).encode()])


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-answer is what many tests do on purpose: not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FaultServer:
    """The server, on 127.0.0.1 and a free port, in a thread of its own."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {"/v1/models": MODELS}
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                owner.answer(self)

            def do_POST(self) -> None:
                owner.answer(self)

        self.http = _QuietServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.requests.append((handler.path, dict(handler.headers), body))
        script = self.scripts.get(handler.path, Script(404, pieces=[b'{"error": '
                                                                   b'{"message": "no route"}}']))
        handler.send_response(script.status)
        for name, value in script.headers.items():
            handler.send_header(name, value)
        if not script.cut:
            handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        try:
            for piece in self._paced(script):
                if piece == HANG:
                    self._hang(handler.connection)
                    return
                if script.cut:
                    handler.wfile.write(piece)
                else:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                handler.wfile.flush()
            if script.cut:
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:  # the client went away
            handler.close_connection = True

    @staticmethod
    def _paced(script: Script) -> Iterator[bytes]:
        for number, piece in enumerate(script.pieces):
            if number and script.pause:
                time.sleep(script.pause)
            yield piece

    @staticmethod
    def _hang(connection: socket.socket) -> None:
        """Wait until the client closes its side (or a minute)."""
        connection.settimeout(0.1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if connection.recv(1) == b"":
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def chats(self) -> list[Any]:
        """The bodies of the chat completion requests received."""
        return [body for path, _, body in self.requests if path == "/v1/chat/completions"]

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
