"""Data for bench/chat_load.py: a 24/7 queue `Bench` with widget `bench` and N agents, their
API tokens printed as JSON. Demo mode only (the agents have the demo password).

Between two loads it also vacuums what PostgreSQL's autovacuum would have vacuumed by now, when
the server runs without it (CI machines turn it off): every message updates its conversation's
row, and a step search on an unvacuumed table measures its dead rows, not the relay."""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from rest_framework.authtoken.models import Token

from chat.demo import DEMO_PASSWORD
from chat.models import Conversation, Widget
from chat.services import conversation_end
from routing.models import MIDNIGHT, AgentProfile, Queue, QueueMembership, WeeklySlot
from routing.roles import AGENT
from routing.services import presence_set

# The server's own autovacuum thresholds, as it would read them for each table (PostgreSQL 15).
TABLE_STATISTICS = """
    SELECT s.relname, s.n_dead_tup, s.n_ins_since_vacuum, s.n_mod_since_analyze, greatest(c.reltuples, 0),
           current_setting('autovacuum_vacuum_threshold')::float,
           current_setting('autovacuum_vacuum_scale_factor')::float,
           current_setting('autovacuum_vacuum_insert_threshold')::float,
           current_setting('autovacuum_vacuum_insert_scale_factor')::float,
           current_setting('autovacuum_analyze_threshold')::float,
           current_setting('autovacuum_analyze_scale_factor')::float
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE s.schemaname = current_schema()
    ORDER BY s.relname
"""


def autovacuum_due(row) -> str | None:
    """What autovacuum would run on this table now: 'vacuum' (with analyze), 'analyze' or None."""
    _, dead, inserted, modified, tuples, vac_base, vac_scale, ins_base, ins_scale, anl_base, anl_scale = row
    if dead > vac_base + vac_scale * tuples or (ins_base >= 0 and inserted > ins_base + ins_scale * tuples):
        return "vacuum"
    return "analyze" if modified > anl_base + anl_scale * tuples else None


def vacuum_as_autovacuum_would(mode: str) -> dict[str, str]:
    """Vacuum and analyze the tables autovacuum would, when the server's autovacuum is off
    (mode 'auto'), always, or never; returns what was done, by table."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if mode == "never" or (mode == "auto" and cursor.fetchone()[0] == "on"):
            return {}
        cursor.execute(TABLE_STATISTICS)
        due = {row[0]: action for row in cursor.fetchall() if (action := autovacuum_due(row))}
        for table, action in due.items():
            # VACUUM cannot run inside a transaction; management commands run in autocommit.
            command = "VACUUM (ANALYZE)" if action == "vacuum" else "ANALYZE"
            cursor.execute(f"{command} {connection.ops.quote_name(table)}")
    return due


class Command(BaseCommand):
    help = "Create the bench queue, widget and agents; print their tokens as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--agents", type=int, default=10)
        parser.add_argument("--capacity", type=int, default=8)
        parser.add_argument("--assignment", choices=["direct", "offer"], default="direct")
        parser.add_argument(
            "--vacuum",
            choices=["auto", "always", "never"],
            default="auto",
            help="vacuum what autovacuum would have by now: when the server's autovacuum is off (auto), always, never",
        )

    def handle(self, *args, agents: int, capacity: int, assignment: str, vacuum: str, **options):
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
        vacuumed = vacuum_as_autovacuum_would(vacuum)
        self.stdout.write(json.dumps({"widget": "bench", "queue_id": queue.pk, "tokens": tokens, "vacuumed": vacuumed}))
