"""A real SMTP server for tests: mail goes over a socket, as in production."""

from __future__ import annotations

import asyncio
import email
import threading
from email.message import Message

from aiosmtpd.controller import Controller

from tests.processes import free_port


class Inbox:
    def __init__(self):
        self.messages: list[Message] = []
        # stall_next: the next recipient gets no answer until `release` (a server gone quiet
        # in the middle of a mail); `stalled` says one is waiting.
        self.stall_next = threading.Event()
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.stall_next.is_set():
            self.stall_next.clear()
            self.stalled.set()
            await asyncio.to_thread(self.release.wait)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.inbox.release.set()
        self.controller.stop()
