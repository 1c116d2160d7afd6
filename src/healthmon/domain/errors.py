"""The healthmon error family; every error a caller can act on is one of these."""

from __future__ import annotations

from dataclasses import dataclass

from healthmon.domain.url_display import display_url


class HealthmonError(Exception):
    """Base of every error healthmon raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One input field and the rule its value breaks."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field} {self.rule}"


class InvalidField(HealthmonError):
    """One or more input values break a rule; nothing was changed."""

    def __init__(self, *problems: FieldProblem) -> None:
        if not problems:
            raise TypeError("InvalidField needs at least one problem")
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems) + ".")

    @property
    def field(self) -> str:
        """The first offending field, for callers that report only one."""
        return self.problems[0].field

    @classmethod
    def single(cls, field: str, rule: str) -> InvalidField:
        """Build the error for one field breaking one rule."""
        return cls(FieldProblem(field, rule))


class WebserverNotFound(HealthmonError):
    """No webserver has the given id (it never existed or was removed)."""

    def __init__(self, webserver_id: int) -> None:
        self.webserver_id = webserver_id
        super().__init__(f"Webserver {webserver_id} does not exist.")


class WebserverAlreadyRegistered(HealthmonError):
    """Another webserver already watches this URL; each URL is watched once."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        # The message reaches clients and logs, so it shows the URL with any password masked. None:
        # one of many URLs written at once, which the store did not name.
        named = "one of these URLs" if url is None else f"the URL {display_url(url)!r}"
        super().__init__(f"A webserver with {named} is already registered.")


class WebserverKeyTaken(HealthmonError):
    """Another webserver already has this key; each key names one webserver."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        named = "one of these keys" if key is None else f"the key {key!r}"
        super().__init__(
            f"Another webserver already has {named} (another change came first?); nothing was changed."
        )


class ChannelNotFound(HealthmonError):
    """No alert channel has the given id (it never existed or was removed)."""

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        super().__init__(f"Channel {channel_id} does not exist.")


class DeliveryNotFound(HealthmonError):
    """The channel has no delivery with the given id."""

    def __init__(self, channel_id: int, delivery_id: int) -> None:
        self.channel_id = channel_id
        self.delivery_id = delivery_id
        super().__init__(f"Channel {channel_id} has no delivery {delivery_id}.")


class StateConflict(HealthmonError):
    """The request is valid, but the resource's current state does not allow it; nothing was changed."""


class ChannelDisabled(StateConflict):
    """A disabled channel sends nothing, not even a test event."""

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        super().__init__(f"Channel {channel_id} is disabled; enable it first.")


class DeliveryNotFailed(StateConflict):
    """Only a delivery that has failed for good can be put back in the queue."""

    def __init__(self, delivery_id: int, status: str) -> None:
        self.delivery_id = delivery_id
        self.status = status
        super().__init__(f"Delivery {delivery_id} is {status}; only a failed delivery can be retried.")
