"""A real SMTP server (aiosmtpd) on a free local port that keeps every message it accepts.

It speaks the real protocol to Django's SMTP EmailBackend. Tests may make it refuse the next N
messages with a temporary error (451), or hold the first N connections at EHLO until released
(a send that is stuck mid-connection, for the worker-kill test).
"""
import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: email.message.EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPSink:
    def __init__(self):
        self.messages: list[Received] = []
        self.ehlo_count = 0
        self.refuse_next = 0
        self.hold_first = 0
        self.held = threading.Event()  # set when a connection is being held at EHLO
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SMTPSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.controller.stop()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self._lock:
            self.ehlo_count += 1
            hold = self.ehlo_count <= self.hold_first
        if hold:
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        return responses

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "451 4.3.0 Temporary failure, try again later"
            parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                              policy=email.policy.default)
            self.messages.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), parsed))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)
