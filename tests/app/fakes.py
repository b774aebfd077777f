"""Small local HTTP servers speaking the protocols of the world's edge (payment, carrier)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeEdge:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)


@contextmanager
def fake_edge() -> Iterator[FakeEdge]:
    """POST /captures -> a captured payment; POST /labels -> a label with a tracking number.
    Each idempotency key is answered the same way every time, as real providers do."""
    edge = FakeEdge(url="")
    answers: dict[str, dict[str, Any]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            key = self.headers.get("idempotency-key", "")
            edge.requests.append({"path": self.path, "body": body, "key": key})
            if self.path in edge.fail_paths:
                self.send_response(503)
                self.end_headers()
                return
            if key not in answers:
                n = len(answers) + 1
                if self.path.endswith("/captures"):
                    answers[key] = {"id": f"cap_{n}", "status": "captured"}
                else:
                    answers[key] = {
                        "tracking_number": f"TRK{n:05d}",
                        "label_url": f"/labels/{n}.pdf",
                    }
            payload = json.dumps(answers[key]).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    edge.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield edge
    finally:
        server.shutdown()
        server.server_close()
