"""`passerelle run` as a separate process: the service a newcomer starts with `make run`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PASSERELLE = str(Path(sys.executable).with_name("passerelle"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_run_serves_the_playground_and_relays(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env |= {"PASSERELLE_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
            "PASSERELLE_WEB__PORT": str(port)}
    for args in (["db", "upgrade"], ["demo-data", "--if-empty"]):
        subprocess.run([PASSERELLE, *args], env=env, check=True, capture_output=True, timeout=60)
    process = subprocess.Popen([PASSERELLE, "run"], env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                assert http("GET", f"{base}/healthz")["ok"] is True
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the service did not come up")
        secret = "Bonjour, je m'appelle Léa Tremblay-Secret"
        assert http("POST", f"{base}/api/playground/student/messages",
                    {"text": secret, "client_id": "x1"})["accepted"] is True
        for _ in range(50):
            got = http("GET", f"{base}/api/playground/mentor/messages?after=0&wait=1")["messages"]
            if got:
                break
        assert got[-1]["text"] == f"Léa :\n{secret}"
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    assert process.returncode == 0, log
    assert f"url=http://127.0.0.1:{port}/" in log
    assert "event=stopped" in log
    assert "Tremblay-Secret" not in log  # logs never carry a message body
