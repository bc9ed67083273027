"""How the router tells the owning channel what happened to its work, without importing it.

Each channel registers one handler at start-up (in its AppConfig.ready). The router calls it
inside its own transaction, so a channel's rows (a conversation's "agent joined" event, say)
commit or roll back together with the assignment; handlers publish with publish_on_commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .models import AgentProfile, WorkItem


class WorkItemHandler(Protocol):
    def offered(self, *, offers: list[tuple[WorkItem, AgentProfile]]) -> None:
        """The offers one route made for this channel's work, all at once."""

    def offer_withdrawn(self, *, item: WorkItem, agent: AgentProfile, reason: str) -> None: ...

    def assigned(self, *, item: WorkItem, agent: AgentProfile) -> None: ...

    def waiting_changed(self, *, queue_id: int) -> None: ...


_handlers: dict[str, WorkItemHandler] = {}


def register(channel: str, handler: WorkItemHandler | None) -> WorkItemHandler | None:
    """Install the channel's handler (None removes it); returns the one it replaces."""
    previous = _handlers.pop(channel, None)
    if handler is not None:
        _handlers[channel] = handler
    return previous


def handler_for(channel: str) -> WorkItemHandler:
    try:
        return _handlers[channel]
    except KeyError:
        raise LookupError(f"no work item handler registered for channel {channel!r}") from None
