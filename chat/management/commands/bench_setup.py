"""Data for bench/chat_load.py: a 24/7 queue `Bench` with widget `bench` and N agents, their
API tokens printed as JSON. Demo mode only (the agents have the demo password)."""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from chat.demo import DEMO_PASSWORD
from chat.models import Conversation, Widget
from chat.services import conversation_end
from routing.models import MIDNIGHT, AgentProfile, Queue, QueueMembership, WeeklySlot
from routing.roles import AGENT
from routing.services import presence_set


class Command(BaseCommand):
    help = "Create the bench queue, widget and agents; print their tokens as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--agents", type=int, default=10)
        parser.add_argument("--capacity", type=int, default=8)
        parser.add_argument("--assignment", choices=["direct", "offer"], default="direct")

    def handle(self, *args, agents: int, capacity: int, assignment: str, **options):
        if not settings.DEMO_MODE:
            raise CommandError("bench data has well-known passwords; it loads only with CC_DEMO_MODE=true")
        queue, _ = Queue.objects.update_or_create(
            name="Bench", defaults={"assignment_mode": assignment, "is_active": True, "welcome_message": ""}
        )
        for weekday in range(7):
            WeeklySlot.objects.get_or_create(queue=queue, weekday=weekday, opens=MIDNIGHT, closes=MIDNIGHT)
        Widget.objects.update_or_create(key="bench", defaults={"name": "Bench", "queue": queue, "is_active": True})
        # A clean start: chats an earlier, interrupted run left open would hold agents' capacity.
        for conversation_id in (
            Conversation.objects.filter(queue=queue).exclude(state="ended").values_list("pk", flat=True)
        ):
            conversation_end(conversation_id=conversation_id, ended_by="system", reason="bench_reset")
        # Agents of an earlier run may still count as ready for their reconnect grace time.
        for leftover in AgentProfile.objects.filter(user__username__startswith="bench-agent-").exclude(
            presence="offline"
        ):
            presence_set(agent=leftover, presence="offline", reason="bench_reset")
        group, _ = Group.objects.get_or_create(name=AGENT)
        tokens = []
        for number in range(1, agents + 1):
            user, created = get_user_model().objects.get_or_create(
                username=f"bench-agent-{number}", defaults={"first_name": f"Bench {number}"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            user.groups.add(group)
            profile, _ = AgentProfile.objects.update_or_create(user=user, defaults={"chat_capacity": capacity})
            QueueMembership.objects.update_or_create(agent=profile, queue=queue, defaults={"logged_on": True})
            tokens.append(Token.objects.get_or_create(user=user)[0].key)
        self.stdout.write(json.dumps({"widget": "bench", "queue_id": queue.pk, "tokens": tokens}))
