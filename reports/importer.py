"""Import of a former system's history (CSV) into contact records, all or nothing.

Header, exactly: started_at,answered_at,ended_at,queue,agent,channel,abandoned
Times are ISO 8601 with an offset; `agent` a username or empty; `abandoned` true or false.
Unknown queues and agents are created as inactive records. A row already imported (same
contents) is skipped, so running the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from routing.models import Channel, Queue

from .models import ContactRecord

HEADER = ["started_at", "answered_at", "ended_at", "queue", "agent", "channel", "abandoned"]
MAX_ERRORS = 200
BULK = 5000


@dataclass
class ImportResult:
    created: int = 0
    already_there: int = 0
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    new_queues: list[str] = field(default_factory=list)
    new_agents: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Row:
    line: int
    started_at: datetime.datetime
    answered_at: datetime.datetime | None
    ended_at: datetime.datetime | None
    queue: str
    agent: str
    channel: str
    abandoned: bool
    reference: str


def _time(value: str, name: str, *, required: bool) -> datetime.datetime | None:
    value = value.strip()
    if not value:
        if required:
            raise ValueError(_("%(field)s is required.") % {"field": name})
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            _("%(field)s is not an ISO 8601 time: %(value)s") % {"field": name, "value": value[:40]}
        ) from None
    if moment.tzinfo is None:
        raise ValueError(_("%(field)s needs a UTC offset, e.g. +02:00.") % {"field": name})
    return moment


def _parse(line: int, cells: list[str]) -> _Row:
    if len(cells) != len(HEADER):
        raise ValueError(_("expected %(n)s columns, found %(found)s.") % {"n": len(HEADER), "found": len(cells)})
    started_raw, answered_raw, ended_raw, queue, agent, channel, abandoned_raw = cells
    started_at = _time(started_raw, "started_at", required=True)
    answered_at = _time(answered_raw, "answered_at", required=False)
    ended_at = _time(ended_raw, "ended_at", required=False)
    queue, agent, channel = queue.strip(), agent.strip(), channel.strip().lower()
    if not queue or len(queue) > 120:
        raise ValueError(_("queue must be a name of 1 to 120 characters."))
    if len(agent) > 150 or any(ch.isspace() for ch in agent):
        raise ValueError(_("agent must be a username, or empty."))
    if channel not in Channel.values:
        raise ValueError(_("channel must be one of %(choices)s.") % {"choices": ", ".join(Channel.values)})
    abandoned_value = abandoned_raw.strip().lower()
    if abandoned_value not in ("true", "false"):
        raise ValueError(_("abandoned must be true or false."))
    abandoned = abandoned_value == "true"
    if answered_at is not None and answered_at < started_at:
        raise ValueError(_("answered_at is before started_at."))
    if ended_at is not None and ended_at < (answered_at or started_at):
        raise ValueError(_("ended_at is before the contact started or was answered."))
    if abandoned and (answered_at is not None or agent):
        raise ValueError(_("an abandoned contact has no answer time and no agent."))
    if not abandoned and answered_at is None:
        raise ValueError(_("a contact that was not abandoned needs answered_at."))
    identity = [started_at.isoformat(), answered_raw.strip(), ended_raw.strip(), queue, agent, channel, abandoned_value]
    reference = hashlib.sha256("\x1f".join(identity).encode()).hexdigest()
    return _Row(line, started_at, answered_at, ended_at, queue, agent, channel, abandoned, reference)


def import_history(lines: Iterable[str], *, dry_run: bool = False) -> ImportResult:
    """Check every row first; import only when all are good, in one transaction."""
    result = ImportResult()
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or [cell.strip().lstrip("\ufeff") for cell in header] != HEADER:
        result.errors.append((1, _("The first line must be the header: %(header)s") % {"header": ",".join(HEADER)}))
        return result
    rows: list[_Row] = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        result.rows += 1
        try:
            rows.append(_parse(line, cells))
        except ValueError as error:
            result.errors.append((line, str(error)))
            if len(result.errors) >= MAX_ERRORS:
                break
    if result.errors or dry_run:
        return result
    with transaction.atomic():
        queues = _queues_for(rows, result)
        agents = _agents_for(rows, result)
        existing = set(
            ContactRecord.objects.filter(
                source=ContactRecord.Source.IMPORT, reference__in=[row.reference for row in rows]
            ).values_list("channel", "reference")
        )
        batch: list[ContactRecord] = []
        for row in rows:
            if (row.channel, row.reference) in existing:
                result.already_there += 1
                continue
            existing.add((row.channel, row.reference))
            queue = queues[row.queue]
            batch.append(
                ContactRecord(
                    source=ContactRecord.Source.IMPORT,
                    reference=row.reference,
                    channel=row.channel,
                    queue=queue,
                    agent=agents.get(row.agent),
                    started_at=row.started_at,
                    answered_at=row.answered_at,
                    ended_at=row.ended_at,
                    abandoned=row.abandoned,
                    offered_to_agent=row.answered_at is not None,
                    agents=1 if row.agent else 0,
                    target_seconds=queue.service_level_target_seconds,
                )  # fmt: skip
            )
            if len(batch) >= BULK:
                result.created += len(ContactRecord.objects.bulk_create(batch))
                batch = []
        result.created += len(ContactRecord.objects.bulk_create(batch))
    return result


def _queues_for(rows: list[_Row], result: ImportResult) -> dict[str, Queue]:
    names = {row.queue for row in rows}
    queues = {queue.name: queue for queue in Queue.objects.filter(name__in=names)}
    for name in sorted(names - set(queues)):
        channels = sorted({row.channel for row in rows if row.queue == name})
        queues[name] = Queue.objects.create(name=name, is_active=False, channels=channels)
        result.new_queues.append(name)
    return queues


def _agents_for(rows: list[_Row], result: ImportResult) -> dict:
    user_model = get_user_model()
    names = {row.agent for row in rows if row.agent}
    users = {user.get_username(): user for user in user_model.objects.filter(username__in=names)}
    for name in sorted(names - set(users)):
        user = user_model(username=name, is_active=False)
        user.set_unusable_password()
        user.save()
        users[name] = user
        result.new_agents.append(name)
    return users
