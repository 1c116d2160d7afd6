"""Keeping the garbage collector off what the worker holds for its whole life: its servers and their plans."""

from __future__ import annotations

import gc

# Below this many servers a full collection is cheap anyway: not worth pinning anything for.
FREEZE_FROM_SERVERS = 1000


class CollectorFreeze:
    """Freeze everything alive once the schedule has doubled since the last freeze (from 1,000 servers).

    - Every full collection otherwise walks every server and plan again (tens of ms at 20,000
      servers, several times a second at thousands of probes/s).
    - Garbage is collected first, so none is pinned; doubling bounds how often it happens (about
      log2 of the largest schedule), and so what it can pin: objects frozen that later form cyclic
      garbage are never collected (those freed by reference counting, most of them, still are).
    """

    def __init__(self) -> None:
        self._frozen_at = 0

    def held(self, servers: int) -> None:
        """The schedule now holds this many servers; freeze if it has at least doubled."""
        if servers >= max(FREEZE_FROM_SERVERS, 2 * self._frozen_at):
            self._frozen_at = servers
            gc.collect()
            gc.freeze()
