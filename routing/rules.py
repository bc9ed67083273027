"""The router's ordering and ranking rules, as pure functions (see docs/routing.md).

Which waiting work goes first: the most urgent against its queue's service-level target
(time waited ÷ target, R4), then the higher queue priority, then the higher item priority,
then the longest waiting. Which agent gets it: only agents logged on to its queue, ready,
with a free slot on its channel, not blocked by work on another channel, and every required
skill at its minimum level (R1, R2); among them the best membership priority for that queue
and channel (R3), then the highest skill levels, then the lowest load, then the longest since
their last assignment.

Channels share capacity in groups: chats count against the chat capacity; calls and
callbacks (both are a phone conversation) against the call capacity.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

EPOCH = datetime.datetime.min.replace(tzinfo=datetime.UTC)

CHATS, CALLS = "chats", "calls"
CAPACITY_GROUP = {"chat": CHATS, "voice": CALLS, "callback": CALLS}


def capacity_group(channel: str) -> str:
    return CAPACITY_GROUP[channel]


@dataclass(frozen=True)
class Work:
    id: object
    queue_id: int
    queue_priority: int
    priority: int
    enqueued_at: datetime.datetime
    target_seconds: int
    channel: str = "chat"

    @property
    def group(self) -> str:
        return capacity_group(self.channel)


@dataclass
class Candidate:
    id: int
    capacity: dict[str, int]  # capacity group -> slots
    held: dict[str, int] = field(default_factory=dict)  # capacity group -> work held (offered or assigned)
    blocks: dict[str, set[str]] = field(default_factory=dict)  # holding this group blocks those groups
    memberships: dict[int, dict[str, int]] = field(default_factory=dict)  # queue -> group -> priority; logged on
    skills: dict[int, int] = field(default_factory=dict)  # skill id -> level
    last_assigned_at: datetime.datetime | None = None
    refused: set = field(default_factory=set)  # work ids this agent declined or let expire

    def blocked(self, group: str) -> bool:
        return any(self.held.get(other, 0) > 0 for other, blocked in self.blocks.items() if group in blocked)

    def free(self, group: str) -> int:
        """Free slots for new work of this capacity group (0 when other work blocks it)."""
        if self.blocked(group):
            return 0
        return max(0, self.capacity.get(group, 0) - self.held.get(group, 0))

    def load(self, group: str) -> float:
        capacity = self.capacity.get(group, 0)
        return self.held.get(group, 0) / capacity if capacity else 1.0

    def take(self, group: str) -> None:
        self.held[group] = self.held.get(group, 0) + 1


def agent_blocks(*, calls_block_chats: bool, chats_block_calls: bool) -> dict[str, set[str]]:
    blocks: dict[str, set[str]] = {}
    if calls_block_chats:
        blocks[CALLS] = {CHATS}
    if chats_block_calls:
        blocks[CHATS] = {CALLS}
    return blocks


def urgency(work: Work, now: datetime.datetime) -> float:
    waited = max(0.0, (now - work.enqueued_at).total_seconds())
    return waited / max(1, work.target_seconds)


def work_order_key(work: Work, now: datetime.datetime) -> tuple:
    return (-urgency(work, now), -work.queue_priority, -work.priority, work.enqueued_at)


def eligible(candidate: Candidate, work: Work, required: dict[int, int]) -> bool:
    if work.queue_id not in candidate.memberships or candidate.free(work.group) <= 0 or work.id in candidate.refused:
        return False
    return all(candidate.skills.get(skill, 0) >= level for skill, level in required.items())


def agent_rank_key(candidate: Candidate, work: Work, required: dict[int, int]) -> tuple:
    skill_score = sum(candidate.skills.get(skill, 0) for skill in required)
    priority = candidate.memberships[work.queue_id].get(work.group, 1)
    return (priority, -skill_score, candidate.load(work.group), candidate.last_assigned_at or EPOCH)


def best_agent(candidates: list[Candidate], work: Work, required: dict[int, int]) -> Candidate | None:
    fit = [candidate for candidate in candidates if eligible(candidate, work, required)]
    return min(fit, key=lambda candidate: agent_rank_key(candidate, work, required)) if fit else None
