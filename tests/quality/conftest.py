"""Quality fixtures: answered and ended chats, a reviewer persona, review forms."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from chat import services as chat
from chat.models import Conversation
from quality.models import ReviewForm, ReviewItem
from routing import services as routing
from routing.models import AgentProfile, WorkItem
from tests.factories import QueueMembershipFactory


def ended_chat(
    widget,
    agent: AgentProfile,
    *,
    lines=("Hello, my rent went up",),
    note: str | None = "Customer seemed upset",
    ended_days_ago: float | None = None,
) -> Conversation:
    """A chat on `widget`, picked by `agent`, with the customer's `lines`, an answer and a
    hidden note, ended by the customer (optionally `ended_days_ago`)."""
    conversation, _ = chat.conversation_start(
        widget=widget, prechat={}, locale="en", context={"page_url": "https://example.fi/rent"}
    )
    item = WorkItem.objects.get(channel="chat", reference=str(conversation.pk))
    routing.work_item_pick(agent=agent, item_id=item.pk)
    for line in lines:
        chat.message_post_by_customer(conversation_id=conversation.pk, client_id=None, text=line)
    chat.message_post_by_agent(conversation_id=conversation.pk, user=agent.user, client_id=None, text="Let me check.")
    if note:
        chat.message_post_by_agent(
            conversation_id=conversation.pk, user=agent.user, client_id=None, text=note, internal=True
        )
    chat.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    chat.rating_give(conversation_id=conversation.pk, score=4, comment="Quick, thanks")
    if ended_days_ago is not None:
        Conversation.objects.filter(pk=conversation.pk).update(
            ended_at=timezone.now() - datetime.timedelta(days=ended_days_ago)
        )
    conversation.refresh_from_db()
    return conversation


@pytest.fixture
def reviewer(roles, queue):
    """A member of `queue` who is no supervisor but holds the permission to review."""
    user = QueueMembershipFactory(
        queue=queue, logged_on=False, agent__user__username="riikka", agent__user__first_name="Riikka"
    ).agent.user
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="quality", codename="review_conversations")
    )
    return user


@pytest.fixture
def checklist(queue) -> ReviewForm:
    """A form for every queue: two pass/fail items (one critical) and a 0–5 scale."""
    form = ReviewForm.objects.create(name="Basics")
    ReviewItem.objects.create(form=form, order=1, text="Greets the customer")
    ReviewItem.objects.create(form=form, order=2, text="Checks identity", critical=True)
    ReviewItem.objects.create(form=form, order=3, text="Clear answer", max_score=5, pass_score=3)
    return form


def items(form: ReviewForm) -> list[ReviewItem]:
    return list(form.items.order_by("order"))


def all_scores(form: ReviewForm, *values: int) -> dict[int, int]:
    return {item.pk: value for item, value in zip(items(form), values, strict=True)}
