"""The pull feed of a partner's events (partner-level, scope `events`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from gateway.deps import Call, CallRoute
from gateway.errors import FieldError, InvalidRequestError
from gateway.events.feed import UnknownEventError
from gateway.events.schemas import EventIdPattern, EventPage
from gateway.http.params import PageSize
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from policies.messages import Text

router = APIRouter(prefix="/v1/events", tags=["Events"], route_class=CallRoute)
After = Annotated[
    str | None,
    Query(
        pattern=EventIdPattern,
        description="Return the events after this one (an `event_id` of yours, such as the "
        "`next_cursor` of the previous page); omitted: from your first event.",
    ),
]
UNKNOWN_EVENT = Text(
    "You have no event with this id: pass an event_id (or next_cursor) this feed returned.",
    "您没有此编号的事件：请传入本接口返回的 event_id（或 next_cursor）。",
)


@router.get(
    "",
    summary="Your events, oldest first",
    openapi_extra=product("events.read"),
    response_model=EventPage,
)
async def list_events(call: Call, after: After = None, page_size: PageSize = 50) -> Response:
    """The events of your resources, oldest first. Page with `after`: a full page's
    `next_cursor` is the `after` of the next; when it is null, poll again later with the
    `event_id` of the last event you read."""
    try:
        found = await call.services.event_feed.after(call.partner_id, after, page_size)
    except UnknownEventError:
        raise InvalidRequestError(
            UNKNOWN_EVENT, errors=[FieldError("query.after", UNKNOWN_EVENT)]
        ) from None
    page: EventPage = {
        "data": [
            {"event_id": e.id, "type": e.type, "occurred_at": e.occurred_at, "data": e.data}
            for e in found
        ],
        "next_cursor": found[-1].id if len(found) == page_size else None,
    }
    return JsonResponse(page)
