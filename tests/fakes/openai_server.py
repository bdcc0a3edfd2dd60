"""A local OpenAI-compatible server speaking the real protocol: POST /v1/chat/completions (SSE
when the request asks to stream, one JSON completion otherwise) and POST /v1/moderations.

Tests script each response (chunks, delays, HTTP errors, dropped connections, moderation flags,
raw bodies) and read back what the app sent. It is the edge of the world, so it is the one thing
we fake.
"""
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    chunks: list[str] = field(default_factory=lambda: ["Hello", " from", " the", " fake", " model."])
    delay: float = 0.0  # seconds before each chunk after the first
    status: int = 200
    disconnect_after: int | None = None  # drop the connection after this many chunks
    response_delay: float = 0.0  # seconds before any answer at all (a slow server)
    # /v1/moderations: category name ("self-harm/intent", "violence"...) -> score; the listed
    # categories are flagged, every other one is reported unflagged with score 0.
    moderation: dict[str, float] = field(default_factory=dict)
    body: str | None = None  # a raw 200 body instead of the protocol's JSON (a broken server)


MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)


class FakeOpenAIServer:
    def __init__(self):
        self.requests: list[dict] = []
        self.scripts: deque[Script] = deque()
        self.default = Script()
        self.disconnected_by_client = threading.Event()
        self.completed = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                script = server.scripts.popleft() if server.scripts else server.default
                path = self.path.rstrip("/")
                if path not in ("/v1/chat/completions", "/v1/moderations"):
                    return self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                if path == "/v1/moderations" or not body.get("stream"):
                    return self._answer(path, body, script)
                if script.status != 200:
                    return self._json(script.status, {"error": {"message": f"scripted {script.status}",
                                                                "type": "server_error"}})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    for index, text in enumerate(script.chunks):
                        if script.disconnect_after is not None and index >= script.disconnect_after:
                            self.wfile.flush()
                            self.connection.close()  # mid-stream drop, no [DONE]
                            return
                        if index and script.delay:
                            time.sleep(script.delay)
                        self._event(_chunk(body.get("model", "fake"), text))
                    self._event(_chunk(body.get("model", "fake"), None, finish="stop"))
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    server.completed += 1
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected_by_client.set()

            def _answer(self, path: str, body: dict, script: Script):
                """A whole JSON answer: a moderation result or a non-streamed completion."""
                try:
                    if script.response_delay:
                        time.sleep(script.response_delay)
                    if script.status != 200:
                        return self._json(script.status, {"error": {"message": f"scripted {script.status}",
                                                                    "type": "server_error"}})
                    if script.body is not None:
                        return self._raw(200, script.body.encode())
                    if path == "/v1/moderations":
                        return self._json(200, _moderation(body.get("model", "fake-moderation"), script.moderation))
                    self._json(200, _completion(body.get("model", "fake"), "".join(script.chunks)))
                    server.completed += 1
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected_by_client.set()

            def _event(self, payload: dict):
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            def _json(self, status: int, payload: dict):
                self._raw(status, json.dumps(payload).encode())

            def _raw(self, status: int, data: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll makes stop() quick; requests are served the moment they arrive either way.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> "FakeOpenAIServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _chunk(model: str, text: str | None, finish: str | None = None) -> dict:
    delta = {} if text is None else {"role": "assistant", "content": text}
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _completion(model: str, text: str) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def _moderation(model: str, flagged: dict[str, float]) -> dict:
    unknown = set(flagged) - set(MODERATION_CATEGORIES)
    if unknown:
        raise ValueError(f"not a moderation category: {sorted(unknown)}")
    return {"id": "modr-fake", "model": model, "results": [{
        "flagged": bool(flagged),
        "categories": {name: name in flagged for name in MODERATION_CATEGORIES},
        "category_scores": {name: flagged.get(name, 0.0) for name in MODERATION_CATEGORIES},
        "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
    }]}
