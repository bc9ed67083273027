"""One process of the routing stress test: random agent actions for a while.

Run by tests/routing/test_stress.py as `python -m tests.routing.stress_worker SECONDS SEED`
with DATABASE_URL pointing at the test database.
"""

from __future__ import annotations

import os
import random
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

import django  # noqa: E402

django.setup()

from chat.services import ChatError, conversation_end  # noqa: E402
from routing import services as routing  # noqa: E402
from routing.models import AgentProfile, WorkItem  # noqa: E402
from routing.services import RoutingError  # noqa: E402
from voice import services as voice  # noqa: E402
from voice.services import VoiceError  # noqa: E402


def main(seconds: float, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible test schedule, not a secret
    agents = list(AgentProfile.objects.filter(user__username__startswith="stress-"))
    queue_ids = sorted({q for a in agents for q in a.memberships.values_list("queue_id", flat=True)})
    deadline = time.monotonic() + seconds
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        agent = rng.choice(agents)
        action = rng.choices(
            ["route", "accept", "decline", "pick", "end", "log_off", "log_on", "ready"],
            weights=[3, 4, 1, 3, 2, 1, 1, 1],
        )[0]
        try:
            if action == "route":
                routing.route(queue_ids=queue_ids)
            elif action in ("accept", "decline"):
                offered = list(WorkItem.objects.filter(agent=agent, state="offered").values_list("pk", flat=True)[:3])
                if offered:
                    verb = routing.offer_accept if action == "accept" else routing.offer_decline
                    verb(agent=agent, item_id=rng.choice(offered))
            elif action == "pick":
                waiting = list(
                    WorkItem.objects.filter(state__in=["waiting", "offered"]).values_list("pk", flat=True)[:20]
                )
                if waiting:
                    routing.work_item_pick(agent=agent, item_id=rng.choice(waiting))
            elif action == "end":
                held = list(
                    WorkItem.objects.filter(agent=agent, state="assigned").values_list("channel", "reference")[:3]
                )
                if held:
                    channel, reference = rng.choice(held)
                    if channel == "chat":
                        conversation_end(conversation_id=reference, ended_by="agent", actor=agent.user)
                    else:
                        voice.call_end(call_id=reference, reason="agent_hung_up", agent=agent)
            elif action == "log_off":
                routing.queue_log_on(agent=agent, logged_on=False)
            elif action == "log_on":
                routing.queue_log_on(agent=agent, logged_on=True)
            elif action == "ready":
                routing.presence_set(agent=agent, presence="ready")
            counts[action] = counts.get(action, 0) + 1
        except (RoutingError, ChatError, VoiceError):
            counts[action + "_refused"] = counts.get(action + "_refused", 0) + 1
    print(counts)


if __name__ == "__main__":
    main(float(sys.argv[1]), int(sys.argv[2]))
