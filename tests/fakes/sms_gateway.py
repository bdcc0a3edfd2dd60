"""A local SMS gateway speaking HTTP+JSON: POST {"to", "text", "id"} with a bearer token.

It records every request; like real gateways it deduplicates by `Idempotency-Key` (`delivered`
holds one entry per key). Tests may make it answer an error status for the next N requests.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeSMSGateway:
    def __init__(self, token: str = "sms-test-token"):
        self.token = token
        self.requests: list[dict] = []
        self.delivered: dict[str, dict] = {}
        self.fail_next = 0
        self.fail_status = 500
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                record = {"path": self.path, "json": body, "auth": self.headers.get("Authorization"),
                          "idempotency_key": self.headers.get("Idempotency-Key")}
                with gateway._lock:
                    gateway.requests.append(record)
                    if self.headers.get("Authorization") != f"Bearer {gateway.token}":
                        return self._answer(401, {"error": "unauthorised"})
                    if gateway.fail_next > 0:
                        gateway.fail_next -= 1
                        return self._answer(gateway.fail_status, {"error": "scripted failure"})
                    gateway.delivered.setdefault(record["idempotency_key"] or f"#{len(gateway.requests)}", record)
                return self._answer(202, {"status": "queued", "id": body.get("id")})

            def _answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/sms"

    def start(self) -> "FakeSMSGateway":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, count: int, timeout: float = 10) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while len(self.delivered) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return dict(self.delivered)
