"""Ed25519 checks of a batch's signatures in a helper process, while the gateway goes on.

An Ed25519 check costs about 56 µs of CPU here (libsodium), a large share of the gateway's
work on a record (issue 18: signed throughput ≥ 85% of unsigned). A thread does not help:
the check releases the GIL, but a helper thread needs the GIL back after each one, and a busy
main thread hands it over only every switch interval (5 ms). A ``ProcessPoolExecutor`` does
not either (measured: its feeder thread in the gateway's process has the same GIL problem, and
the pool was slower than checking in place). So the gateway talks to one helper process
itself, over a pipe: when the batch is polled it works out each record's check (key,
signature, signed message) and sends the first chunks; as it meets the records, in order, it
takes the answers and sends the next chunks, a few in flight, so the helper keeps ahead; it
checks everything else of each record itself (``courtbus.security.signing.verify``'s
``ahead``) and waits for an answer only if the helper is behind.

The answer is only ever a shortcut: a record whose answer is not back, is no, or was made for
another key or signature is checked again in the gateway's own process, so a helper that dies
or is stuck slows the gateway down and changes no answer. A helper that fails is logged and
the gateway checks by itself from then on. (A helper is the bus's own code in a child process
of the gateway, trusted as the gateway is.)

The helper is ``python -m courtbus.security.ahead``, started on first use (not a fork, which
would copy librdkafka's threads' locks, nor multiprocessing's ``spawn``, which imports the
parent's main module again), talking over its stdin and stdout; it stops when its stdin
closes (``close``, or the gateway gone).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable
from multiprocessing.connection import Connection

from nacl.signing import VerifyKey

from courtbus.security.signing import (
    Ahead,
    Headers,
    KeyRing,
    check_to_make,
    signed_message,
    verify_ed25519,
)

log = logging.getLogger(__name__)

CHUNK = 32  # records per message to the helper: the first answers come back soon
IN_FLIGHT = 3  # chunks sent and not answered: about 50 KB, within a pipe's 64 KiB buffer
WAIT_S = 10.0  # the longest the gateway waits for an answer before checking by itself


def pack(checks: Iterable[tuple[bytes, bytes, bytes]]) -> bytes:
    """(raw public key, signature, message) checks as one message: per check 32 bytes of
    key, 64 of signature (any other length: a check that fails), 4 of length, the message."""
    parts: list[bytes] = []
    for raw, sig, message in checks:
        sig = sig if len(sig) == 64 else bytes(64)
        parts += (raw, sig, len(message).to_bytes(4, "big"), message)
    return b"".join(parts)


def answer(data: bytes) -> bytes:
    """What the helper sends back for a ``pack``ed message: one byte per check, 1 if it
    verified."""
    keys: dict[bytes, VerifyKey] = {}
    out = bytearray()
    view, at = memoryview(data), 0
    while at < len(data):
        raw, sig = bytes(view[at : at + 32]), bytes(view[at + 32 : at + 96])
        size = int.from_bytes(view[at + 96 : at + 100], "big")
        message = bytes(view[at + 100 : at + 100 + size])
        at += 100 + size
        key = keys.get(raw)
        if key is None:
            key = keys[raw] = VerifyKey(raw)
        out.append(1 if verify_ed25519(key, sig, message) else 0)
    return bytes(out)


def serve(requests: Connection, answers: Connection) -> None:
    """The helper: answer each message until the gateway's end of the pipe closes."""
    try:
        while True:
            answers.send_bytes(answer(requests.recv_bytes()))
    except (EOFError, OSError):
        return


class _Answer:
    """One record's answer: chunk ``chunk``, place ``index``, of batch ``batch``."""

    __slots__ = ("ahead", "batch", "chunk", "index")

    def __init__(self, ahead: VerifyAhead, batch: int, chunk: int, index: int) -> None:
        self.ahead, self.batch, self.chunk, self.index = ahead, batch, chunk, index

    def __call__(self) -> bool:
        return self.ahead.proven(self.batch, self.chunk, self.index)


class VerifyAhead:
    """The Ed25519 checks of the records to come, made in a helper process (``processes`` 0:
    none, ``verify`` checks each record itself); ``found`` is what ``verify`` takes as
    ``ahead``."""

    def __init__(self, ring: KeyRing, processes: int = 1) -> None:
        self.ring = ring
        self.processes = processes
        self.found: dict[bytes, Ahead] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None  # to the helper's stdin
        self._conn: Connection | None = None  # from its stdout
        self._broken = False
        self._batch = 0
        self._waiting: deque[bytes] = deque()  # chunks of this batch not sent yet
        self._in_flight = 0  # chunks sent and not answered, of this batch or the last
        self._answers: list[bytes] = []  # this batch's, by chunk

    def start(self, records: Iterable[tuple[Headers | None, str]]) -> int:
        """Forget the last batch's checks and start those of ``records`` (headers, the owner
        that must have signed), in the order they will be asked for; how many there are."""
        self.found.clear()
        self._batch += 1
        self._waiting.clear()
        self._answers = []
        if self.processes <= 0 or self._broken or not len(self.ring):
            return 0
        todo = []
        for headers, owner in records:
            check = check_to_make(headers, self.ring, owner)
            if check is not None:
                todo.append(check)
        if not todo:
            return 0
        for at in range(0, len(todo), CHUNK):
            chunk = todo[at : at + CHUNK]
            number = at // CHUNK
            self._waiting.append(
                pack((key.raw, sig, signed_message(m)) for _, m, key, sig in chunk)
            )
            for i, (header, material, key, sig) in enumerate(chunk):
                self.found[header] = Ahead(
                    material, key.keyid, sig, _Answer(self, self._batch, number, i)
                )
        try:
            self._connect()
            self._drain_old()
            self._top_up()
        except (OSError, EOFError, ValueError) as exc:
            self._fail(exc)
        return len(todo)

    def proven(self, batch: int, chunk: int, index: int) -> bool:
        """Whether the helper verified that check (False: not known, check it yourself)."""
        if batch != self._batch or self._broken:
            return False
        try:
            if chunk >= len(self._answers) or index == 0:
                self._receive(wait=chunk >= len(self._answers), until=chunk)
        except (OSError, EOFError, ValueError, TimeoutError) as exc:
            self._fail(exc)
            return False
        answers = self._answers[chunk] if chunk < len(self._answers) else b""
        return index < len(answers) and answers[index] == 1

    def _receive(self, *, wait: bool, until: int) -> None:
        """Take the answers that are in (``wait``: until chunk ``until``'s is), sending the
        next chunks as answers come back."""
        conn = self._conn
        assert conn is not None
        while self._in_flight:
            if not conn.poll(WAIT_S if wait and until >= len(self._answers) else 0):
                if wait and until >= len(self._answers):
                    raise TimeoutError(f"no answer from the signature helper in {WAIT_S:.0f} s")
                break
            got = conn.recv_bytes()
            self._in_flight -= 1
            self._answers.append(got)
            self._top_up()
            if until < len(self._answers) and not conn.poll(0):
                break

    def _top_up(self) -> None:
        requests = self._requests
        assert requests is not None
        while self._waiting and self._in_flight < IN_FLIGHT:
            requests.send_bytes(self._waiting.popleft())
            self._in_flight += 1

    def _drain_old(self) -> None:
        """Take and drop what the helper still owes for the last batch (a record refused
        before its signature was looked at leaves its answer unread)."""
        conn = self._conn
        assert conn is not None
        while self._in_flight:
            if not conn.poll(WAIT_S):
                raise TimeoutError(f"no answer from the signature helper in {WAIT_S:.0f} s")
            conn.recv_bytes()
            self._in_flight -= 1

    def _connect(self) -> None:
        if self._conn is not None:
            return
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert proc.stdin is not None and proc.stdout is not None
        self._requests = Connection(os.dup(proc.stdin.fileno()), readable=False)
        self._conn = Connection(os.dup(proc.stdout.fileno()), writable=False)
        proc.stdin.close()
        proc.stdout.close()
        self._proc, self._in_flight = proc, 0

    def _fail(self, exc: BaseException) -> None:
        log.warning("signature helper stopped, checking in this process: %s", exc)
        self._broken = True
        self.close()

    def close(self) -> None:
        """Stop the helper (what it was checking is checked here if asked for)."""
        self.found.clear()
        self._waiting.clear()
        for conn in (self._requests, self._conn):
            if conn is not None:
                conn.close()
        self._requests = self._conn = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        self._in_flight = 0


if __name__ == "__main__":  # the helper
    serve(Connection(0, writable=False), Connection(1, readable=False))
