"""The health state machine at its thresholds, and against a model that replays the whole history."""

from __future__ import annotations

import pytest
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from healthmon.domain.errors import InvalidField
from healthmon.domain.health import (
    DEFAULT_THRESHOLDS,
    HEALTHY_AFTER,
    UNHEALTHY_AFTER,
    HealthState,
    HealthStateMachine,
    Thresholds,
)


def replay(results: list[bool], thresholds: Thresholds = DEFAULT_THRESHOLDS) -> HealthStateMachine:
    machine = HealthStateMachine()
    for ok in results:
        machine = machine.record(ok=ok, thresholds=thresholds).machine
    return machine


def test_default_thresholds_are_five_and_three() -> None:
    assert (HEALTHY_AFTER, UNHEALTHY_AFTER) == (5, 3)


def test_starts_unknown_with_no_streaks() -> None:
    assert HealthStateMachine() == HealthStateMachine(HealthState.UNKNOWN, 0, 0)


def test_four_successes_leave_health_unknown() -> None:
    assert replay([True] * 4) == HealthStateMachine(HealthState.UNKNOWN, 4, 0)


def test_becomes_healthy_after_five_consecutive_successes() -> None:
    fifth = replay([True] * 4).record(ok=True)
    assert fifth.changed
    assert fifth.machine == HealthStateMachine(HealthState.HEALTHY, 5, 0)


def test_two_failures_leave_health_unknown() -> None:
    assert replay([False] * 2) == HealthStateMachine(HealthState.UNKNOWN, 0, 2)


def test_becomes_unhealthy_after_three_consecutive_failures() -> None:
    third = replay([False] * 2).record(ok=False)
    assert third.changed
    assert third.machine == HealthStateMachine(HealthState.UNHEALTHY, 0, 3)


def test_healthy_server_with_two_failures_is_still_healthy() -> None:
    machine = replay([True] * 5 + [False] * 2)
    assert machine == HealthStateMachine(HealthState.HEALTHY, 0, 2)
    assert replay([True] * 5 + [False] * 3).state is HealthState.UNHEALTHY


def test_unhealthy_server_with_four_successes_is_still_unhealthy() -> None:
    machine = replay([False] * 3 + [True] * 4)
    assert machine == HealthStateMachine(HealthState.UNHEALTHY, 4, 0)
    assert replay([False] * 3 + [True] * 5).state is HealthState.HEALTHY


def test_alternating_results_never_leave_unknown() -> None:
    machine = HealthStateMachine()
    for step in range(50):
        transition = machine.record(ok=step % 2 == 0)
        assert not transition.changed
        machine = transition.machine
    assert machine.state is HealthState.UNKNOWN


def test_a_failure_resets_the_success_streak() -> None:
    assert replay([True] * 4 + [False] + [True] * 4).state is HealthState.UNKNOWN


def test_staying_in_a_state_is_not_a_change() -> None:
    healthy = replay([True] * 5)
    transition = healthy.record(ok=True)
    assert not transition.changed
    assert transition.machine == HealthStateMachine(HealthState.HEALTHY, 6, 0)


def test_custom_thresholds_apply() -> None:
    thresholds = Thresholds(healthy_after=1, unhealthy_after=1)
    assert replay([True], thresholds).state is HealthState.HEALTHY
    assert replay([True, False], thresholds).state is HealthState.UNHEALTHY


@pytest.mark.parametrize("value", [0, 101, -1, True, 2.5])
def test_thresholds_outside_one_to_a_hundred_are_rejected(value: object) -> None:
    with pytest.raises(InvalidField) as raised:
        Thresholds(healthy_after=value)  # type: ignore[arg-type]
    assert raised.value.field == "healthy_threshold"


def test_both_streaks_cannot_run_at_once() -> None:
    with pytest.raises(ValueError, match="cannot run at once"):
        HealthStateMachine(HealthState.UNKNOWN, 1, 1)


def model_state(history: list[bool], thresholds: Thresholds) -> HealthState:
    """Trivial model: the state is set by the last threshold-long run of identical results."""
    state = HealthState.UNKNOWN
    for end in range(1, len(history) + 1):
        window = history[:end]
        if len(window) >= thresholds.healthy_after and all(window[-thresholds.healthy_after :]):
            state = HealthState.HEALTHY
        if len(window) >= thresholds.unhealthy_after and not any(window[-thresholds.unhealthy_after :]):
            state = HealthState.UNHEALTHY
    return state


def trailing_run(history: list[bool], value: bool) -> int:
    run = 0
    for ok in reversed(history):
        if ok is not value:
            break
        run += 1
    return run


class HealthStateMachineComparison(RuleBasedStateMachine):
    """Drives the machine with arbitrary results and compares it with the replay model."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = HealthStateMachine()
        self.history: list[bool] = []
        self.thresholds = Thresholds()
        self.last_changed = False
        self.previous_state = HealthState.UNKNOWN

    @initialize(healthy=st.integers(1, 8), unhealthy=st.integers(1, 8))
    def choose_thresholds(self, healthy: int, unhealthy: int) -> None:
        self.thresholds = Thresholds(healthy, unhealthy)
        note(f"thresholds: healthy after {healthy}, unhealthy after {unhealthy}")

    @rule(ok=st.booleans())
    def record(self, ok: bool) -> None:
        self.previous_state = self.machine.state
        transition = self.machine.record(ok=ok, thresholds=self.thresholds)
        self.machine, self.last_changed = transition
        self.history.append(ok)
        note(f"after {'success' if ok else 'failure'} #{len(self.history)}: {self.machine}")

    @invariant()
    def matches_the_replay_model(self) -> None:
        assert self.machine.state is model_state(self.history, self.thresholds)
        assert self.machine.consecutive_successes == trailing_run(self.history, True)
        assert self.machine.consecutive_failures == trailing_run(self.history, False)

    @invariant()
    def a_streak_is_zero_whenever_the_other_is_not(self) -> None:
        assert self.machine.consecutive_successes == 0 or self.machine.consecutive_failures == 0

    @invariant()
    def state_changes_only_at_a_threshold(self) -> None:
        assert self.last_changed == (self.machine.state is not self.previous_state)
        if self.last_changed:
            if self.machine.state is HealthState.HEALTHY:
                assert self.machine.consecutive_successes == self.thresholds.healthy_after
            else:
                assert self.machine.consecutive_failures == self.thresholds.unhealthy_after


TestHealthStateMachine = HealthStateMachineComparison.TestCase
