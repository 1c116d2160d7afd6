"""The /channels resource: register, list, read, change and remove alert channels; test them; read and
retry their deliveries.

Handlers translate between HTTP and the use cases and hold no rules of their own (see webservers.py).
A channel's secret is shown in full only in the answer that created it; every other answer masks it.
"""

from __future__ import annotations

from typing import Annotated, Final

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import BodyKwarg, PathParameter, QueryParameter

from healthmon.application.use_cases.channels import (
    GetChannel,
    ListChannels,
    ListDeliveries,
    RegisterChannel,
    RemoveChannel,
    RetryDelivery,
    SendTestEvent,
    UpdateChannel,
)
from healthmon.application.use_cases.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from healthmon.domain.channels import ChannelId
from healthmon.domain.deliveries import DeliveryId, DeliveryStatus
from healthmon.domain.errors import ChannelNotFound, DeliveryNotFound
from healthmon.entrypoints.http.channel_schemas import (
    BODY_RULES,
    ChannelIn,
    ChannelListOut,
    ChannelOut,
    ChannelPatch,
    DeliveryOut,
    DeliveryPageOut,
    TestEventOut,
)
from healthmon.entrypoints.http.cursors import (
    MAX_DELIVERY_ID,
    SEQUENCE_CURSOR_PATTERN,
    decode_delivery_cursor,
    encode_delivery_cursor,
)
from healthmon.entrypoints.http.schemas import BodyRequest, StrictBody, problem_responses

# Channel ids are 32-bit integers in the database.
MAX_CHANNEL_ID: Final = 2**31 - 1

_READ: Final = (400, 401, 500, 503)
_WRITE: Final = (*_READ, 403)
_DESCRIBED: Final = {
    404: "No channel has this id (or, for a delivery, the channel has no delivery with this id).",
    409: "The channel is disabled (a test), or the delivery has not failed (a retry).",
    422: "A value breaks a rule (`errors` lists every such field), or the notifier cannot send to the URL "
    "(apprise knows no plugin for it).",
}

NewChannelBody = Annotated[ChannelIn, BodyKwarg(media_type=RequestEncodingType.JSON, schema_extra=BODY_RULES)]
ChannelPatchBody = Annotated[
    ChannelPatch,
    BodyKwarg(media_type=RequestEncodingType.JSON, schema_extra={"additionalProperties": False}),
]
ChannelIdPath = Annotated[
    int,
    PathParameter(
        description="The channel's id, a positive integer; any other number is a 404.",
        schema_extra={"minimum": 1, "maximum": MAX_CHANNEL_ID},
        examples=[Example(summary="The first channel registered", value=1)],
    ),
]
DeliveryIdPath = Annotated[
    int,
    PathParameter(
        description="The delivery's id, a positive integer; any other number is a 404.",
        schema_extra={"minimum": 1, "maximum": MAX_DELIVERY_ID},
        examples=[Example(summary="The first delivery queued", value=1)],
    ),
]
StatusFilter = Annotated[DeliveryStatus | None, QueryParameter(description="Only deliveries in this status.")]
Limit = Annotated[
    int,
    QueryParameter(
        description=f"How many items a page holds, from 1 to {MAX_PAGE_SIZE}.",
        schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        description="The `next_cursor` of the previous page; leave out for the first page. Pass back what "
        "you were given: any string of this pattern is a position, and one beyond every item gives an "
        "empty page.",
        schema_extra={"pattern": SEQUENCE_CURSOR_PATTERN},
    ),
]


def _channel_id(value: int) -> ChannelId:
    # No channel has an id outside the database's positive 32-bit range: a 404, not an overflow.
    if not 1 <= value <= MAX_CHANNEL_ID:
        raise ChannelNotFound(value)
    return ChannelId(value)


def _delivery_id(channel_id: ChannelId, value: int) -> DeliveryId:
    if not 1 <= value <= MAX_DELIVERY_ID:
        raise DeliveryNotFound(channel_id, value)
    return DeliveryId(value)


class ChannelController(Controller):
    """Alert channels (webhooks and apprise destinations) and their deliveries."""

    path = "/channels"
    tags = ["channels"]  # noqa: RUF012 - Litestar reads this class attribute
    request_class = BodyRequest

    @post(
        sync_to_thread=True,
        summary="Register an alert channel",
        dto=StrictBody[ChannelIn],
        return_dto=None,
        response_headers=[
            ResponseHeader(
                name="Location",
                description="The new channel's URL.",
                documentation_only=True,
                required=True,
            )
        ],
        responses=problem_responses(413, 415, 422, *_WRITE, described=_DESCRIBED),
    )
    def create(
        self, data: NewChannelBody, register_channel: NamedDependency[RegisterChannel]
    ) -> Response[ChannelOut]:
        """Start sending health events to a webhook or an apprise URL; the answer is the only one that shows
        the secret in full."""
        channel = register_channel.execute(data.to_settings())
        return Response(
            ChannelOut.from_domain(channel, reveal_secret=True),
            status_code=201,
            headers={"Location": f"{self.path}/{channel.id}"},
        )

    @get(sync_to_thread=True, summary="List the alert channels", responses=problem_responses(*_READ))
    def list(self, list_channels: NamedDependency[ListChannels]) -> ChannelListOut:
        """Every channel, in id order, secrets masked."""
        return ChannelListOut(items=[ChannelOut.from_domain(channel) for channel in list_channels.execute()])

    @get(
        "/{channel_id:int}",
        sync_to_thread=True,
        summary="Read an alert channel",
        responses=problem_responses(404, *_READ, described=_DESCRIBED),
    )
    def read(self, channel_id: ChannelIdPath, get_channel: NamedDependency[GetChannel]) -> ChannelOut:
        """The channel, its secret masked."""
        return ChannelOut.from_domain(get_channel.execute(_channel_id(channel_id)))

    @patch(
        "/{channel_id:int}",
        sync_to_thread=True,
        summary="Change some settings of an alert channel",
        dto=StrictBody[ChannelPatch],
        return_dto=None,
        responses=problem_responses(404, 413, 415, 422, *_WRITE, described=_DESCRIBED),
    )
    def update(
        self,
        channel_id: ChannelIdPath,
        data: ChannelPatchBody,
        update_channel: NamedDependency[UpdateChannel],
    ) -> ChannelOut:
        """Fields given replace the current ones; enabling the channel clears its disabled_reason. A new URL
        must suit the channel's kind, and only a webhook has a secret."""
        return ChannelOut.from_domain(update_channel.execute(_channel_id(channel_id), data.to_changes()))

    @delete(
        "/{channel_id:int}",
        sync_to_thread=True,
        summary="Remove an alert channel and its deliveries",
        responses=problem_responses(404, *_WRITE, described=_DESCRIBED),
    )
    def remove(self, channel_id: ChannelIdPath, remove_channel: NamedDependency[RemoveChannel]) -> None:
        """Stop sending to the channel; its pending deliveries are dropped, the events stay."""
        remove_channel.execute(_channel_id(channel_id))

    @post(
        "/{channel_id:int}/test",
        sync_to_thread=True,
        status_code=202,
        summary="Send a test event to an alert channel",
        responses=problem_responses(404, 409, *_WRITE, described=_DESCRIBED),
    )
    def test(
        self, channel_id: ChannelIdPath, send_test_event: NamedDependency[SendTestEvent]
    ) -> TestEventOut:
        """Queue a `webhook.test` event for this channel only; a worker sends it as any other event."""
        return TestEventOut(event_id=send_test_event.execute(_channel_id(channel_id)).id)

    @get(
        "/{channel_id:int}/deliveries",
        sync_to_thread=True,
        summary="List an alert channel's deliveries",
        responses=problem_responses(404, 422, *_READ, described=_DESCRIBED),
    )
    def deliveries(
        self,
        *,
        channel_id: ChannelIdPath,
        list_deliveries: NamedDependency[ListDeliveries],
        status: StatusFilter = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        cursor: Cursor = None,
    ) -> DeliveryPageOut:
        """One item per event sent to the channel, in the order they were queued."""
        page = list_deliveries.execute(
            _channel_id(channel_id),
            status=status,
            after=None if cursor is None else decode_delivery_cursor(cursor),
            limit=limit,
        )
        return DeliveryPageOut(
            items=[DeliveryOut.from_domain(delivery) for delivery in page.items],
            next_cursor=None if page.next_cursor is None else encode_delivery_cursor(page.next_cursor),
        )

    @post(
        "/{channel_id:int}/deliveries/{delivery_id:int}/retry",
        sync_to_thread=True,
        status_code=202,
        summary="Retry a failed delivery",
        responses=problem_responses(404, 409, *_WRITE, described=_DESCRIBED),
    )
    def retry(
        self,
        channel_id: ChannelIdPath,
        delivery_id: DeliveryIdPath,
        retry_delivery: NamedDependency[RetryDelivery],
    ) -> DeliveryOut:
        """Put a failed delivery back in the queue, due now with a fresh set of attempts."""
        channel = _channel_id(channel_id)
        return DeliveryOut.from_domain(retry_delivery.execute(channel, _delivery_id(channel, delivery_id)))
