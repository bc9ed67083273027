"""Each ordering and ranking rule of the router alone (routing/rules.py, docs/routing.md)."""

import datetime
from dataclasses import replace

from routing.rules import (
    CALLS,
    CHATS,
    Candidate,
    Work,
    agent_blocks,
    agent_rank_key,
    best_agent,
    eligible,
    work_order_key,
)

NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC)


def work(id, *, waited=0, target=60, queue=1, queue_priority=5, priority=0):
    return Work(
        id=id,
        queue_id=queue,
        queue_priority=queue_priority,
        priority=priority,
        enqueued_at=NOW - datetime.timedelta(seconds=waited),
        target_seconds=target,
    )


def first(*works):
    return min(works, key=lambda w: work_order_key(w, NOW)).id


def test_service_level_urgency_comes_first():
    # 50 s of a 60 s target is more urgent than 100 s of a 300 s target.
    assert first(work("relaxed", waited=100, target=300), work("tight", waited=50, target=60)) == "tight"


def test_queue_priority_breaks_equal_urgency():
    assert first(work("low", waited=30, queue_priority=3), work("high", waited=30, queue_priority=8)) == "high"


def test_item_priority_breaks_equal_queue_priority():
    assert first(work("plain", waited=30), work("vip", waited=30, priority=2)) == "vip"


def test_the_longest_waiting_goes_first_when_all_else_is_equal():
    older = Work(id="older", queue_id=1, queue_priority=5, priority=0, enqueued_at=NOW, target_seconds=60)
    newer = Work(
        id="newer", queue_id=1, queue_priority=5, priority=0, enqueued_at=NOW + datetime.timedelta(seconds=1),
        target_seconds=60,
    )  # fmt: skip
    assert min([newer, older], key=lambda w: work_order_key(w, NOW)).id == "older"


def agent(
    id, *, capacity=3, held=0, priority=1, skills=None, last=None, queue=1, refused=(), calls=1, on_call=0,
    call_priority=1, blocks=None,
):  # fmt: skip
    return Candidate(
        id=id, capacity={CHATS: capacity, CALLS: calls}, held={CHATS: held, CALLS: on_call},
        blocks=agent_blocks(calls_block_chats=True, chats_block_calls=False) if blocks is None else blocks,
        memberships={queue: {CHATS: priority, CALLS: call_priority}}, skills=skills or {},
        last_assigned_at=last, refused=set(refused),
    )  # fmt: skip


def test_only_agents_logged_on_to_the_queue_are_eligible():
    assert not eligible(agent(1, queue=2), work("w", queue=1), {})
    assert eligible(agent(1, queue=1), work("w", queue=1), {})


def test_a_full_agent_is_not_eligible():
    assert not eligible(agent(1, capacity=3, held=3), work("w"), {})


def test_required_skills_at_their_minimum_level():
    required = {7: 5}  # Swedish at level 5 or more
    assert not eligible(agent(1), work("w"), required)
    assert not eligible(agent(1, skills={7: 4}), work("w"), required)
    assert eligible(agent(1, skills={7: 5}), work("w"), required)


def test_an_agent_who_refused_the_work_is_skipped():
    assert not eligible(agent(1, refused=["w"]), work("w"), {})


def test_the_queues_agent_priority_ranks_first():
    chosen = best_agent([agent(1, priority=2, held=0), agent(2, priority=1, held=2)], work("w"), {})
    assert chosen.id == 2


def test_higher_skill_ranks_next():
    required = {7: 3}
    chosen = best_agent([agent(1, skills={7: 4}), agent(2, skills={7: 9}, held=1)], work("w"), required)
    assert chosen.id == 2


def test_lower_load_ranks_next():
    chosen = best_agent([agent(1, capacity=3, held=2), agent(2, capacity=8, held=2)], work("w"), {})
    assert chosen.id == 2


def test_the_longest_idle_ranks_last():
    earlier = NOW - datetime.timedelta(minutes=10)
    chosen = best_agent([agent(1, last=NOW), agent(2, last=earlier), agent(3, last=NOW)], work("w"), {})
    assert chosen.id == 2
    assert agent_rank_key(agent(4), work("w"), {}) < agent_rank_key(agent(5, last=earlier), work("w"), {})


def test_nobody_eligible_means_nobody():
    assert best_agent([agent(1, held=3)], work("w"), {}) is None


def call(id, **kwargs):
    return replace(work(id, **kwargs), channel="voice")


def test_chats_and_calls_count_against_their_own_capacity():
    assert eligible(agent(1, capacity=3, held=3), call("c"), {})  # full of chats, a call still fits
    assert not eligible(agent(1, calls=1, on_call=1), call("c"), {})
    assert not eligible(agent(1, calls=0), call("c"), {})  # takes no calls


def test_a_callback_shares_the_call_capacity():
    assert not eligible(agent(1, on_call=1), replace(work("cb"), channel="callback"), {})


def test_an_agent_on_a_call_gets_no_new_chat():
    assert not eligible(agent(1, on_call=1), work("w"), {})
    unblocked = agent(1, on_call=1, blocks=agent_blocks(calls_block_chats=False, chats_block_calls=False))
    assert eligible(unblocked, work("w"), {})


def test_chats_block_calls_only_when_the_agent_says_so():
    assert eligible(agent(1, held=1), call("c"), {})
    strict = agent(1, held=1, blocks=agent_blocks(calls_block_chats=True, chats_block_calls=True))
    assert not eligible(strict, call("c"), {})
    assert eligible(agent(1, held=0, blocks=strict.blocks), call("c"), {})


def test_the_agent_priority_of_the_works_channel_counts():
    chat_first, call_first = agent(1, priority=1, call_priority=3), agent(2, priority=3, call_priority=1)
    assert best_agent([chat_first, call_first], work("w"), {}).id == 1
    assert best_agent([chat_first, call_first], call("c"), {}).id == 2


def test_load_is_measured_on_the_works_channel():
    busy_chatting = agent(1, capacity=3, held=2)
    assert agent_rank_key(busy_chatting, call("c"), {})[2] == 0.0
    assert agent_rank_key(busy_chatting, work("w"), {})[2] == 2 / 3
