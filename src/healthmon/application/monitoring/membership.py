"""Sharing the webservers among live workers: who this worker is, and how many servers it should hold."""

from __future__ import annotations

import math
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from healthmon.application.ports import WorkerInfo

# A worker may hold this many servers above its fair share before it hands any back, so that one
# server added or removed does not move servers back and forth between workers.
RELEASE_SLACK = 1


def this_worker(started_at: datetime) -> WorkerInfo:
    """A new identity for the worker in this process: a fresh random id, the host name and the pid."""
    return WorkerInfo(id=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid(), started_at=started_at)


@dataclass(frozen=True, slots=True)
class Membership:
    """Fair shares: each of the live workers should hold ceil(total / workers) servers."""

    total: int
    workers: int

    @property
    def share(self) -> int:
        """The fair share; a worker that sees no live worker (not even itself yet) takes everything."""
        return math.ceil(self.total / max(1, self.workers))

    def surplus(self, held: int) -> int:
        """How many servers to hand back: past share + RELEASE_SLACK, everything above the share."""
        return held - self.share if held > self.share + RELEASE_SLACK else 0

    def wanted(self, held: int) -> int:
        """How many more servers to claim: up to the share."""
        return max(0, self.share - held)


__all__ = ["RELEASE_SLACK", "Membership", "this_worker"]
