"""What partners see of their events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, with_config
from typing_extensions import TypedDict

from gateway.events.outbox import EventType
from gateway.http.schemas import CLOSED, closed

EventIdPattern = r"^evt_[a-z2-7]{1,64}$"
EventId = Annotated[str, Field(pattern=EventIdPattern)]


@with_config(
    closed(
        {
            "event_id": "evt_m3q7zk2xv4n5w6d8f2h4j7k3",
            "type": "consent.revoked",
            "occurred_at": "2026-11-28T02:00:00Z",
            "data": {"consent_id": "cns_tq3vqz6k2n7w4d5fxyabc2e", "status": "Revoked"},
        }
    )
)
class EventOut(TypedDict):
    """Something that happened to one of the partner's resources."""

    event_id: EventId
    type: EventType
    occurred_at: datetime
    data: Annotated[dict[str, Any], Field(description="The resource's id and new state.")]


@with_config(CLOSED)
class EventPage(TypedDict):
    """The partner's events, oldest first."""

    data: list[EventOut]
    next_cursor: Annotated[
        EventId | None,
        Field(
            description="The last event's id when the page is full: pass it as `after` for "
            "the next page. Null when there is no more for now: poll again later with the "
            "`after` of your last event."
        ),
    ]
