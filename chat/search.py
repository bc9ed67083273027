"""Full-text search of conversation history (A11) and a contact's other conversations (A4).

A conversation is indexed when it ends (`services.conversation_end`) and again when an agent
adds a note to it afterwards; `manage.py reindex_conversations` fills in the rest. Active
conversations are not indexed yet: only history is searched. The document is every message
of the conversation, hidden notes included (only agents search), in the PostgreSQL text
search configuration of the conversation's language, so words are matched by their stems.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchVector
from django.db.models import Case, CharField, F, OuterRef, Q, Subquery, TextField, Value, When
from django.db.models.functions import Left
from django.utils import timezone

from . import selectors
from .models import Conversation, Message

# Conversation.locale → PostgreSQL text search configuration. Only these names ever reach
# SQL (as parameters cast to regconfig); any other language is indexed without stemming.
SEARCH_CONFIGS = {
    "fi": "finnish",
    "sv": "swedish",
    "nb": "norwegian",
    "da": "danish",
    "ru": "russian",
    "en": "english",
}
DEFAULT_CONFIG = "simple"
CONFIGS = (*SEARCH_CONFIGS.values(), DEFAULT_CONFIG)

# A tsvector holds at most 1 MB; a capped document keeps ending a chat from ever failing on
# a flood of distinct words. 100,000 characters is far longer than any real chat.
MAX_INDEXED_CHARS = 100_000
MAX_QUERY_LENGTH = 200
SNIPPET_START, SNIPPET_STOP = "«", "»"


def search_config_for(locale: str) -> str:
    return SEARCH_CONFIGS.get(locale, DEFAULT_CONFIG)


def _locale_config() -> Case:
    """SQL for search_config_for(conversation.locale)."""
    return Case(
        *(When(locale=locale, then=Value(config)) for locale, config in SEARCH_CONFIGS.items()),
        default=Value(DEFAULT_CONFIG),
        output_field=CharField(),
    )


def _document() -> Left:
    """The conversation's text as indexed: its messages (notes too) in order, one a line."""
    texts = (
        Message.objects.filter(conversation_id=OuterRef("pk"))
        .order_by()
        .values("conversation_id")
        .annotate(document=StringAgg("text", delimiter="\n", order_by=("seq", "pk")))
        .values("document")
    )
    return Left(Subquery(texts, output_field=TextField()), MAX_INDEXED_CHARS)


# --- indexing ---------------------------------------------------------------------------


def conversations_index(*, conversation_ids: Iterable) -> int:
    """(Re)index the given conversations with one UPDATE; returns how many rows it changed."""
    config = _locale_config()
    return Conversation.objects.filter(pk__in=list(conversation_ids)).update(
        search_config=config, search=SearchVector(_document(), config=config)
    )


def conversation_index(*, conversation_id) -> None:
    """Index one conversation. Runs in the caller's transaction, so a conversation ends and is
    indexed together; the caller should hold the conversation's row lock, so no message
    slips in between."""
    conversations_index(conversation_ids=[conversation_id])


# --- reading ----------------------------------------------------------------------------


def _matches(q: str) -> Q:
    """The query in each configuration, each tried only on conversations indexed in it: a
    Finnish query is stemmed as Finnish for Finnish chats and as English for English ones.
    The tsqueries are constants, so the GIN index serves every branch."""
    match = Q()
    for config in CONFIGS:
        match |= Q(search_config=config, search=SearchQuery(q, config=config, search_type="plain"))
    return match


def _snippet(q: str) -> SearchHeadline:
    """Where the words were found, in the conversation's own configuration, marked «like
    this». Plain text that may hold anything a customer typed: show it as text, never HTML."""
    config = F("search_config")
    return SearchHeadline(
        _document(),
        SearchQuery(q, config=config, search_type="plain"),
        config=config,
        start_sel=SNIPPET_START,
        stop_sel=SNIPPET_STOP,
        max_words=20,
        min_words=5,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


def _start_of_day(day: datetime.date) -> datetime.datetime:
    """Midnight of `day` in the current time zone (the user's, set by the middleware)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_current_timezone())


def conversations_search(
    *,
    user,
    q: str | None = None,
    queue_id: int | None = None,
    agent_id: int | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    limit: int = 50,
) -> list[Conversation]:
    """Ended conversations the user may see (their queues and the chats they took part in;
    supervisors all), newest first, each with `snippet` ("" without a query). `agent_id` is
    the user id of the agent who answered; the dates are days in the current time zone,
    both inclusive, on the start time."""
    conversations = (
        selectors.conversations_for_agent(user=user)
        .filter(state=Conversation.State.ENDED)
        .select_related("agent")
        .defer("search")
        .order_by("-created_at", "-pk")
    )
    if queue_id is not None:
        conversations = conversations.filter(queue_id=queue_id)
    if agent_id is not None:
        conversations = conversations.filter(agent_id=agent_id)
    if date_from is not None:
        conversations = conversations.filter(created_at__gte=_start_of_day(date_from))
    if date_to is not None and date_to < datetime.date.max:
        conversations = conversations.filter(created_at__lt=_start_of_day(date_to + datetime.timedelta(days=1)))
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if q:
        conversations = conversations.filter(_matches(q)).annotate(snippet=_snippet(q))
    else:
        conversations = conversations.annotate(snippet=Value("", output_field=TextField()))
    return list(conversations[:limit])


def contact_history(*, user, conversation_id, limit: int = 20) -> list[Conversation]:
    """The contact's other conversations (earlier ones, and any other still open) that the
    user may see, newest first. The user must be allowed to see `conversation_id` itself:
    Conversation.DoesNotExist otherwise, as from `selectors.conversation_for_agent`."""
    conversation = selectors.conversation_for_agent(user=user, conversation_id=conversation_id)
    others = (
        selectors.conversations_for_agent(user=user)
        .filter(contact_id=conversation.contact_id)
        .exclude(pk=conversation.pk)
        .select_related("agent")
        .defer("search")
        .order_by("-created_at", "-pk")
    )
    return list(others[:limit])
