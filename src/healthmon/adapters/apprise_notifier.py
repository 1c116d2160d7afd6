"""Chat, e-mail and pager channels through apprise: one notification per attempt, failures are outcomes."""

from __future__ import annotations

import logging

import apprise

from healthmon.application.ports import Notifier
from healthmon.domain.certificates import days_left
from healthmon.domain.channels import Channel, ChannelKind
from healthmon.domain.deliveries import AttemptOutcome
from healthmon.domain.events import RecordedEvent
from healthmon.domain.health import HealthState
from healthmon.domain.outbound import OutboundPolicy, blocked_message

logger = logging.getLogger(__name__)

NOT_SENT = "apprise could not send the notification"
_NOTIFY_TYPES = {
    HealthState.HEALTHY: apprise.NotifyType.SUCCESS,
    HealthState.UNHEALTHY: apprise.NotifyType.FAILURE,
    HealthState.UNKNOWN: apprise.NotifyType.WARNING,
}


def notification_title(event: RecordedEvent) -> str:
    """What a person reads first: which server, and how it is now."""
    if event.certificate is not None:
        warning = event.certificate
        left = days_left(warning.expires_at, warning.occurred_at)
        return f"healthmon: {warning.webserver.name}'s TLS certificate expires in {left} days"
    if event.change is None:
        return "healthmon: test notification"
    return f"healthmon: {event.change.webserver.name} is {event.change.to_state.value}"


def notification_body(event: RecordedEvent) -> str:
    """The change in a few lines: the server, from and to, when, and what the probe saw."""
    change = event.change
    if event.certificate is not None:
        warning = event.certificate
        return (
            f"The TLS certificate of {warning.webserver.name} ({warning.webserver.url}) expires at "
            f"{warning.expires_at.isoformat()}, within {warning.threshold_days} days "
            f"(seen at {warning.occurred_at.isoformat()}).\nEvent {event.id}"
        )
    if change is None:
        return f"This is a test notification from healthmon (event {event.id})."
    lines = [
        f"{change.webserver.name} ({change.webserver.url}) went from {change.from_state.value} "
        f"to {change.to_state.value} at {change.occurred_at.isoformat()}.",
    ]
    probe = change.probe
    if probe is None:
        lines.append("Its settings changed, so its health starts over.")
    elif probe.error_kind is not None:
        lines.append(f"Probe: {probe.error_kind.value}: {probe.error_message or ''}".rstrip(": "))
    else:
        lines.append(f"Probe: HTTP {probe.status_code} in {probe.latency_ms:.0f} ms")
    lines.append(f"Event {event.id}")
    return "\n".join(lines)


class AppriseNotifier(Notifier):
    """Sends events to any URL an apprise plugin understands (slack://, mailto://, ntfy://, json://, ...)."""

    def __init__(self, *, timeout_seconds: float, policy: OutboundPolicy | None = None) -> None:
        self._timeout_seconds = timeout_seconds
        self._policy = policy if policy is not None else OutboundPolicy()

    def url_problem(self, kind: ChannelKind, url: str) -> str | None:
        if kind is not ChannelKind.APPRISE:
            return None
        # instantiate() parses the URL with the plugin its scheme names and builds it, sending nothing.
        if apprise.Apprise.instantiate(url) is None:
            return "must be a URL that an apprise plugin understands, such as slack://... or mailto://..."
        return None

    async def send(self, channel: Channel, event: RecordedEvent) -> AttemptOutcome:
        # apprise connects through its own clients (requests, smtplib, ...), where no resolver or
        # socket hook of ours reaches: the policy can only judge a URL whose host is a literal address.
        # A host name is not resolved to be judged either: in many apprise URLs (slack://TokenA/...) the
        # "host" is a token, which a lookup would send to the DNS server.
        refused = self._policy.refused_host(channel.settings.url)
        if refused is not None:
            return AttemptOutcome(delivered=False, error=blocked_message(refused))
        notifier = apprise.Apprise()
        if not notifier.add(channel.settings.url):
            return AttemptOutcome(delivered=False, error="apprise does not understand the channel URL")
        notify_type = (
            apprise.NotifyType.WARNING
            if event.certificate is not None
            else apprise.NotifyType.INFO
            if event.change is None
            else _NOTIFY_TYPES[event.change.to_state]
        )
        # apprise turns a plugin's errors into a failed result itself.
        result = await notifier.async_notify(
            body=notification_body(event),
            title=notification_title(event),
            notify_type=notify_type,
            timeout=self._timeout_seconds,
        )
        if result:
            return AttemptOutcome(delivered=True)
        if result.status is apprise.AppriseResultStatus.TIMEOUT:
            return AttemptOutcome(delivered=False, error=f"{NOT_SENT} within {self._timeout_seconds:g} s")
        return AttemptOutcome(delivered=False, error=NOT_SENT)
