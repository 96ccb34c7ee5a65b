"""A local SMTP server that keeps every message as one .eml file: the dev stack's inbox."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class OutboxHandler:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.outbox.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.outbox / f"{stamp}-{next(self._counter):05d}.eml"
        content = envelope.content
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return "250 Message accepted for delivery"


class MailCatcher:
    """aiosmtpd on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, outbox: Path, port: int = 1025, host: str = "127.0.0.1") -> None:
        self.handler = OutboxHandler(outbox)
        self.controller = Controller(self.handler, hostname=host, port=port)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def __enter__(self) -> MailCatcher:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def main() -> None:
    """`python -m aha.mailcatcher --outbox DIR --port N`: the catcher as its own process."""
    import argparse
    import signal
    import threading

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with MailCatcher(args.outbox, port=args.port):
        print(f"listening on 127.0.0.1:{args.port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
