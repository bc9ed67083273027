"""The router's ordering and ranking rules, as pure functions (see docs/routing.md).

Which waiting work goes first: the most urgent against its queue's service-level target
(time waited ÷ target, R4), then the higher queue priority, then the higher item priority,
then the longest waiting. Which agent gets it: only agents logged on to its queue, ready,
with a free slot and every required skill at its minimum level (R1, R2); among them the best
membership priority for that queue (R3), then the highest skill levels, then the lowest
load, then the longest since their last assignment.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

EPOCH = datetime.datetime.min.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Work:
    id: object
    queue_id: int
    queue_priority: int
    priority: int
    enqueued_at: datetime.datetime
    target_seconds: int


@dataclass
class Candidate:
    id: int
    capacity: int
    held: int = 0
    memberships: dict[int, int] = field(default_factory=dict)  # queue id -> priority, logged on only
    skills: dict[int, int] = field(default_factory=dict)  # skill id -> level
    last_assigned_at: datetime.datetime | None = None
    refused: set = field(default_factory=set)  # work ids this agent declined or let expire

    @property
    def free(self) -> int:
        return self.capacity - self.held


def urgency(work: Work, now: datetime.datetime) -> float:
    waited = max(0.0, (now - work.enqueued_at).total_seconds())
    return waited / max(1, work.target_seconds)


def work_order_key(work: Work, now: datetime.datetime) -> tuple:
    return (-urgency(work, now), -work.queue_priority, -work.priority, work.enqueued_at)


def eligible(candidate: Candidate, work: Work, required: dict[int, int]) -> bool:
    if work.queue_id not in candidate.memberships or candidate.free <= 0 or work.id in candidate.refused:
        return False
    return all(candidate.skills.get(skill, 0) >= level for skill, level in required.items())


def agent_rank_key(candidate: Candidate, work: Work, required: dict[int, int]) -> tuple:
    skill_score = sum(candidate.skills.get(skill, 0) for skill in required)
    load = candidate.held / candidate.capacity if candidate.capacity else 1.0
    return (candidate.memberships[work.queue_id], -skill_score, load, candidate.last_assigned_at or EPOCH)


def best_agent(candidates: list[Candidate], work: Work, required: dict[int, int]) -> Candidate | None:
    fit = [candidate for candidate in candidates if eligible(candidate, work, required)]
    return min(fit, key=lambda candidate: agent_rank_key(candidate, work, required)) if fit else None
