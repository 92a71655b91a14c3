"""`dagster-webserver` serves the example project; every asset is in its GraphQL API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# Starts dagster-webserver and waits for it: excluded from `make test-fast`.
pytestmark = pytest.mark.webserver

ROOT = Path(__file__).resolve().parent.parent
QUERY = "{ assetNodes { assetKey { path } isMaterializable } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _graphql(port: int) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_the_webserver_lists_every_asset(tmp_path: Path) -> None:
    port = _free_port()
    webserver = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-f", str(ROOT / "definitions.py")],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        answer = None
        while time.monotonic() < deadline and process.poll() is None:
            answer = _graphql(port)
            if answer and answer.get("data", {}).get("assetNodes"):
                break
            time.sleep(0.5)  # polling for readiness, not timing a result
        assert answer is not None, process.stderr.read().decode()[-2000:] if process.poll() else ""
        nodes = answer["data"]["assetNodes"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    served = {".".join(node["assetKey"]["path"]) for node in nodes if node["isMaterializable"]}
    files = {f"{p.parent.name}.{p.stem}" for p in (ROOT / "sql").rglob("*.sql")}
    assert served == files
