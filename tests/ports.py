"""Pick free loopback ports so test stacks never collide with a developer's running stack.

Below 32768: Linux hands client sockets ports from 32768-60999 (``net.ipv4.ip_local_port_range``),
so a broker given a port there may find it taken by some client's socket by the time it binds.
"""

from __future__ import annotations

import random

from courtbus.stack.processes import port_free


def free_block(size: int, low: int = 20000, high: int = 32000) -> int:
    """The first port of ``size`` consecutive free ports in ``[low, high)``."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(low, high - size)
        if all(port_free(p) for p in range(base, base + size)):
            return base
    raise RuntimeError("no free block of ports found")
