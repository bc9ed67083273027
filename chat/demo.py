"""Demo data that a newcomer, a test or a benchmark can rely on (PROTOCOL.md, "Demo data")."""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from routing.models import MIDNIGHT, AgentProfile, Channel, Queue, QueueMembership, WeeklySlot
from routing.roles import ADMIN, AGENT, SUPERVISOR, sync_roles
from voice.demo import load_voice_demo

from .models import CannedResponse, Widget

DEMO_PASSWORD = "demo"  # noqa: S105 - demo mode only; load_demo refuses outside it
DEMO_AGENTS = [f"agent{number}" for number in range(1, 6)]
DEMO_CANNED = [
    ("hello", "Greeting", "Hello {customer_name}, my name is {agent_name}. How can I help you?"),
    ("thanks", "Thanks and goodbye", "Thank you for contacting us, {customer_name}. Have a good day!"),
]
DEMO_NAMES = ["Aino Virtanen", "Lars Hansen", "Ingrid Berg", "Olga Smirnova", "Mikko Korhonen"]


@transaction.atomic
def load_demo_data() -> dict[str, int]:
    """Create or refresh the demo queue, widget and users; safe to run again."""
    sync_roles(global_apps)
    user_model = get_user_model()
    queue, _ = Queue.objects.update_or_create(
        name="Demo support",
        defaults={
            "is_active": True,
            "channels": [Channel.CHAT, Channel.VOICE],
            "time_zone": "Europe/Helsinki",
            "welcome_message": "Welcome! {agents_available} agents are available right now.",
            "closed_message": "We are closed. Leave us a message and we will get back to you.",
        },
    )
    # The demo records its calls (sealed to the demo certificate the media process makes)
    # and greets callers with a menu.
    load_voice_demo(queue)
    for weekday in range(7):  # open around the clock
        WeeklySlot.objects.get_or_create(queue=queue, weekday=weekday, opens=MIDNIGHT, closes=MIDNIGHT)
    Widget.objects.update_or_create(
        key="demo",
        defaults={"name": "Demo widget", "title": "Demo support", "queue": queue, "is_active": True},
    )

    def user(username: str, full_name: str, *, role: str, staff: bool = False, superuser: bool = False):
        first, _, last = full_name.partition(" ")
        account, created = user_model.objects.get_or_create(username=username)
        account.first_name, account.last_name = first, last
        account.email = f"{username}@demo.invalid"
        account.is_staff, account.is_superuser, account.is_active = staff or superuser, superuser, True
        if created or not account.check_password(DEMO_PASSWORD):
            account.set_password(DEMO_PASSWORD)
        account.save()
        account.groups.add(Group.objects.get(name=role))
        return account

    for username, full_name in zip(DEMO_AGENTS, DEMO_NAMES, strict=True):
        agent = user(username, full_name, role=AGENT)
        profile, _ = AgentProfile.objects.update_or_create(user=agent, defaults={"chat_capacity": 3})
        QueueMembership.objects.update_or_create(agent=profile, queue=queue, defaults={"logged_on": True})
    supervisor = user("supervisor", "Sanna Supervisor", role=SUPERVISOR, staff=True)
    AgentProfile.objects.get_or_create(user=supervisor)
    user("admin", "Admin User", role=ADMIN, superuser=True)
    for shortcut, title, text in DEMO_CANNED:
        CannedResponse.objects.update_or_create(
            scope=CannedResponse.Scope.GLOBAL, shortcut=shortcut, defaults={"title": title, "text": text}
        )
    CannedResponse.objects.update_or_create(
        scope=CannedResponse.Scope.TEAM,
        queue=queue,
        shortcut="hours",
        defaults={"title": "Opening hours", "text": "{queue} is open today {opening_hours}."},
    )
    return {"queues": 1, "widgets": 1, "agents": len(DEMO_AGENTS), "supervisors": 1, "admins": 1}
