"""The health state machine: consecutive successes make a server healthy, failures unhealthy."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from healthmon.domain.errors import FieldProblem, InvalidField

HEALTHY_AFTER = 5
UNHEALTHY_AFTER = 3
THRESHOLD_RANGE = range(1, 101)


class HealthState(StrEnum):
    """What healthmon currently believes about a server."""

    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


# The order in which a fleet is shown to a person: what needs attention first.
ATTENTION_ORDER = (HealthState.UNHEALTHY, HealthState.UNKNOWN, HealthState.HEALTHY)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """How many results in a row flip the state: each 1..100."""

    healthy_after: int = HEALTHY_AFTER
    unhealthy_after: int = UNHEALTHY_AFTER

    def __post_init__(self) -> None:
        problems = [
            FieldProblem(field, f"must be an integer from 1 to {THRESHOLD_RANGE[-1]}")
            for field, value in (
                ("healthy_threshold", self.healthy_after),
                ("unhealthy_threshold", self.unhealthy_after),
            )
            if type(value) is not int or value not in THRESHOLD_RANGE
        ]
        if problems:
            raise InvalidField(*problems)


DEFAULT_THRESHOLDS = Thresholds()


class Transition(NamedTuple):
    """The machine after one result, and whether its state changed."""

    machine: HealthStateMachine
    changed: bool


@dataclass(frozen=True, slots=True)
class HealthStateMachine:
    """Current health and the two streaks; at most one streak is non-zero."""

    state: HealthState = HealthState.UNKNOWN
    consecutive_successes: int = 0
    consecutive_failures: int = 0

    def __post_init__(self) -> None:
        if self.consecutive_successes < 0 or self.consecutive_failures < 0:
            raise ValueError("streaks cannot be negative")
        if self.consecutive_successes and self.consecutive_failures:
            raise ValueError("a success streak and a failure streak cannot run at once")

    def record(self, *, ok: bool, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Transition:
        """Extend one streak and reset the other; the state flips only when a streak reaches its threshold."""
        if ok:
            successes, failures = self.consecutive_successes + 1, 0
            state = HealthState.HEALTHY if successes >= thresholds.healthy_after else self.state
        else:
            successes, failures = 0, self.consecutive_failures + 1
            state = HealthState.UNHEALTHY if failures >= thresholds.unhealthy_after else self.state
        machine = HealthStateMachine(
            state=state, consecutive_successes=successes, consecutive_failures=failures
        )
        return Transition(machine=machine, changed=state is not self.state)
