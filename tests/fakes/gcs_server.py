"""A Cloud Storage JSON API stand-in on 127.0.0.1: list (paged) and delete objects.

Only what the landing sensor and the retention clean-up send through
``google.cloud.storage.Client`` (with ``STORAGE_EMULATOR_HOST`` pointing here):
``GET /storage/v1/b/<bucket>/o?prefix=&pageToken=`` and
``DELETE /storage/v1/b/<bucket>/o/<object>``. Objects are names only. Pages
hold two objects, so every listing exercises the client's paging.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = 2


class FakeGcs:
    """The objects of every bucket, and the requests the server saw."""

    def __init__(self) -> None:
        self.objects: dict[str, set[str]] = {}
        self.requests: list[tuple[str, str]] = []
        self.url = ""

    def add(self, *uris: str) -> None:
        """Create objects ``gs://bucket/name``."""
        for uri in uris:
            bucket, _, name = uri.removeprefix("gs://").partition("/")
            self.objects.setdefault(bucket, set()).add(name)

    def uris(self) -> set[str]:
        """Every object, as ``gs://`` URIs."""
        return {f"gs://{b}/{name}" for b, names in self.objects.items() for name in names}


def _handler(state: FakeGcs) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _reply(self, status: int, body: object | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self) -> tuple[str, str | None, dict[str, list[str]]] | None:
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.split("/")
            # ['', 'storage', 'v1', 'b', bucket, 'o', object?]
            if parts[1:4] != ["storage", "v1", "b"] or len(parts) < 6 or parts[5] != "o":
                return None
            name = urllib.parse.unquote("/".join(parts[6:])) if len(parts) > 6 else None
            return parts[4], name or None, urllib.parse.parse_qs(url.query)

        def do_GET(self) -> None:
            route = self._route()
            state.requests.append(("GET", self.path))
            if route is None or route[1] is not None:
                self._reply(404, {"error": {"code": 404, "message": "not found"}})
                return
            bucket, _, query = route
            prefix = query.get("prefix", [""])[0]
            names = sorted(n for n in state.objects.get(bucket, ()) if n.startswith(prefix))
            start = int(query.get("pageToken", ["0"])[0])
            body: dict[str, object] = {
                "kind": "storage#objects",
                "items": [{"bucket": bucket, "name": n} for n in names[start : start + PAGE]],
            }
            if start + PAGE < len(names):
                body["nextPageToken"] = str(start + PAGE)
            self._reply(200, body)

        def do_DELETE(self) -> None:
            route = self._route()
            state.requests.append(("DELETE", self.path))
            if route is None or route[1] is None:
                self._reply(404, {"error": {"code": 404, "message": "not found"}})
                return
            bucket, name, _ = route
            if name not in state.objects.get(bucket, set()):
                self._reply(404, {"error": {"code": 404, "message": f"No such object: {name}"}})
                return
            state.objects[bucket].discard(name)
            self._reply(204)

    return Handler


@contextmanager
def fake_gcs() -> Iterator[FakeGcs]:
    """A running stand-in; ``.url`` is its ``http://127.0.0.1:<port>``."""
    state = FakeGcs()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
