"""What supervisors do to agents (S2): log them on and off queues and set their presence.

One service for the supervisor's live view (`/ws/supervisor/`) and the REST API
(`POST /api/v1/agents/<id>`), so both follow the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from routing import services as routing
from routing.models import AgentProfile
from routing.selectors import is_supervisor
from routing.services import RoutingError

# A supervisor may also set an agent offline (the agent cannot choose that themselves).
PRESENCE_STATES = ("ready", "not_ready", "away", "offline")
REASON_MAX = 120


def supervised_agent(*, supervisor, agent_id: int) -> AgentProfile:
    """Fetch and authorise together: an agent profile, for a supervisor only."""
    if not is_supervisor(supervisor):
        raise RoutingError("forbidden", _("Supervisors only."))
    agent = AgentProfile.objects.filter(pk=agent_id).first()
    if agent is None:
        raise RoutingError("not_found", _("No such agent."))
    return agent


@transaction.atomic
def agent_supervise(
    *,
    supervisor,
    agent_id: int,
    logged_on: bool | None = None,
    queue_ids: Iterable[int] | None = None,
    presence: str | None = None,
    reason: str = "",
) -> AgentProfile:
    """Log the agent on or off some queues (all with `queue_ids` None) when `logged_on` is
    given, and set their presence when `presence` is given; without a reason, the reason
    says which supervisor did it. The agent's workspace hears both (`membership`,
    `presence`), after commit."""
    if presence is not None and presence not in PRESENCE_STATES:
        raise RoutingError("invalid", _("state must be ready, not_ready, away or offline."))
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise RoutingError("invalid", _("A reason is text of at most %(max)s characters.") % {"max": REASON_MAX})
    agent = supervised_agent(supervisor=supervisor, agent_id=agent_id)
    if logged_on is not None:
        routing.queue_log_on(agent=agent, queue_ids=None if queue_ids is None else list(queue_ids), logged_on=logged_on)
    if presence is not None:
        reason = reason.strip() or _("set by %(name)s") % {"name": supervisor.get_username()}
        agent = routing.presence_set(agent=agent, presence=presence, reason=reason)
    return agent
