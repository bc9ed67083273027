"""Chat: widgets, conversations with their messages and events, pre-chat forms, offline messages."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils.translation import gettext_lazy as _

from routing.models import Contact, DispositionCode, Queue

MAX_MESSAGE_LENGTH = 4000


# Only queues that serve chat may receive a widget's chats.
CHAT_QUEUES = {"channels__contains": ["chat"]}


class Widget(models.Model):
    """One embeddable chat button: its key, where it may be embedded and where chats go."""

    class AgentName(models.TextChoices):
        TITLE = "title", _("A title for every agent")
        DISPLAY_NAME = "display_name", _("The agent's alias (first name if none)")
        FIRST_NAME = "first_name", _("The agent's first name")

    key = models.SlugField(
        _("key"),
        max_length=64,
        unique=True,
        help_text=_('Used in the embed tag: data-widget="KEY".'),
    )
    name = models.CharField(_("name"), max_length=120)
    queue = models.ForeignKey(
        Queue,
        on_delete=models.PROTECT,
        related_name="widgets",
        verbose_name=_("queue"),
        limit_choices_to=CHAT_QUEUES,
    )
    allowed_origins = models.TextField(
        _("allowed embedding origins"),
        blank=True,
        help_text=_("One origin per line, e.g. https://www.example.fi. Empty allows any origin."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#1f5f8b",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f5f8b."))],
    )
    agent_name = models.CharField(
        _("agent name shown to customers"), max_length=16, choices=AgentName.choices, default=AgentName.DISPLAY_NAME
    )
    agent_title = models.CharField(
        _("agent title"),
        max_length=80,
        blank=True,
        help_text=_('Shown instead of a name when the title is chosen, e.g. "Customer service".'),
    )
    title = models.CharField(_("chat window title"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("widget")
        verbose_name_plural = _("widgets")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def origins(self) -> list[str]:
        # Browsers send an Origin in lower case: compare with the list in lower case too.
        return [line.strip().rstrip("/").lower() for line in self.allowed_origins.splitlines() if line.strip()]


class PrechatField(models.Model):
    """A question asked before a chat starts; a choice may send the chat to another queue (W5)."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        NUMBER = "number", _("Number")
        CHOICE = "choice", _("Choice")

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="prechat_fields")
    name = models.SlugField(_("name"), max_length=40, help_text=_("The answer's key, e.g. customer_number."))
    label = models.CharField(_("label"), max_length=120)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.TEXT)
    required = models.BooleanField(_("required"), default=False)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("pre-chat field")
        verbose_name_plural = _("pre-chat fields")
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["queue", "name"], name="prechat_field_unique_name")]

    def __str__(self) -> str:
        return self.label


class PrechatChoice(models.Model):
    field = models.ForeignKey(PrechatField, on_delete=models.CASCADE, related_name="choices")
    value = models.SlugField(_("value"), max_length=40)
    label = models.CharField(_("label"), max_length=120)
    route_to = models.ForeignKey(
        Queue,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("send the chat to queue"),
        limit_choices_to=CHAT_QUEUES,
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["field", "value"], name="prechat_choice_unique_value")]

    def __str__(self) -> str:
        return self.label


def new_token_nonce() -> str:
    return secrets.token_urlsafe(18)


class Conversation(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    class EndedBy(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    widget = models.ForeignKey(Widget, on_delete=models.PROTECT, related_name="conversations")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="conversations")
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    prechat = models.JSONField(_("pre-chat answers"), default=dict, blank=True)
    context = models.JSONField(_("context"), default=dict, blank=True)
    locale = models.CharField(_("language"), max_length=8, default="en")
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    assigned_at = models.DateTimeField(_("first answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    ended_by = models.CharField(_("ended by"), max_length=10, choices=EndedBy.choices, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=40, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    customer_token_nonce = models.CharField(max_length=32, default=new_token_nonce)
    customer_seen_at = models.DateTimeField(null=True, blank=True)
    customer_read_seq = models.PositiveIntegerField(default=0)
    agent_read_seq = models.PositiveIntegerField(default=0)
    rating = models.PositiveSmallIntegerField(
        _("rating"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rating_comment = models.TextField(_("rating comment"), blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    inactivity_warned_at = models.DateTimeField(null=True, blank=True)
    auto_replied_at = models.DateTimeField(null=True, blank=True)
    disposition = models.ForeignKey(
        DispositionCode,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("disposition"),
    )
    wrap_up_note = models.TextField(_("wrap-up note"), blank=True, max_length=2000)
    # Full-text search (A11): the words of the conversation, in its language's configuration.
    search_config = models.CharField(max_length=20, blank=True)
    search = SearchVectorField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "queue"], name="conversation_state_queue"),
            models.Index(fields=["agent", "state"], name="conversation_agent_state"),
            models.Index(fields=["contact", "-created_at"], name="conversation_contact_recent"),
            GinIndex(fields=["search"], name="conversation_search"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.contact}"


class Message(models.Model):
    """A line of a conversation. Notes (`internal`) are for agents only and carry the seq of
    the visible item they follow, so a customer's seq stays gap-free."""

    class Role(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    client_id = models.UUIDField(null=True, blank=True)
    author_role = models.CharField(max_length=10, choices=Role.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=120, blank=True)
    text = models.TextField()
    # A link sent under an alias (W8): `text` is the alias, shown as the link's words.
    link_url = models.CharField(max_length=2000, blank=True)
    internal = models.BooleanField(default=False)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["seq", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="message_idempotent_client_id",
            ),
            models.UniqueConstraint(
                fields=["conversation", "seq"],
                condition=models.Q(internal=False),
                name="message_unique_visible_seq",
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Length("text"), 1) & LessThanOrEqual(Length("text"), MAX_MESSAGE_LENGTH),
                name="message_text_length",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.author_role}: {self.text[:40]}"


class ConversationEvent(models.Model):
    """A stored lifecycle fact (queued, agent_joined, agent_left, transferred, ended …)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["conversation", "seq"], name="conversation_event_unique_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"


class Participant(models.Model):
    """An agent's stay in a conversation: joined, left. A consultant sees the chat and its
    notes and writes notes only; the customer is not told of them (A6)."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        CONSULTANT = "consultant", _("Consultant")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="participants")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_participations")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.AGENT)
    # Transferred the chat to a queue and stays until the next agent joins (A6).
    handing_over = models.BooleanField(default=False)
    shown_name = models.CharField(max_length=120)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "agent"],
                condition=models.Q(left_at__isnull=True),
                name="participant_once_at_a_time",
            )
        ]

    def __str__(self) -> str:
        return self.shown_name


class Invitation(models.Model):
    """An agent asks a colleague into a chat: to take it over (transfer), to join it
    (conference) or to advise on it privately (consultation)."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer", _("Transfer")
        CONFERENCE = "conference", _("Conference")
        CONSULTATION = "consultation", _("Consultation")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        EXPIRED = "expired", _("Expired")

    TIMEOUT_SECONDS = 60

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    receiver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_invitations")
    note = models.TextField(_("note for the colleague"), blank=True, max_length=2000)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "receiver"],
                condition=models.Q(state="pending"),
                name="invitation_one_pending_per_colleague",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.receiver}"


class CannedResponse(models.Model):
    """A prepared answer (A5): the agent's own, their team's (a queue's) or everyone's.
    Placeholders such as {customer_name} are filled when the agent inserts it."""

    class Scope(models.TextChoices):
        PERSONAL = "personal", _("Personal")
        TEAM = "team", _("Team (a queue)")
        GLOBAL = "global", _("Everyone")

    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.GLOBAL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
        verbose_name=_("owner"),
    )
    queue = models.ForeignKey(
        Queue,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
        verbose_name=_("queue"),
    )
    shortcut = models.SlugField(
        _("shortcut"), max_length=40, help_text=_("Typed after / in the message field, e.g. hello.")
    )
    title = models.CharField(_("title"), max_length=120)
    text = models.TextField(_("text"), max_length=MAX_MESSAGE_LENGTH)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Offered in chats in this language first. Empty: any language."),
    )
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["shortcut", "title"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(scope="personal", owner__isnull=False, queue__isnull=True)
                    | models.Q(scope="team", owner__isnull=True, queue__isnull=False)
                    | models.Q(scope="global", owner__isnull=True, queue__isnull=True)
                ),
                name="canned_response_scope_matches_owner_and_queue",
            )
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut} {self.title}"

    def clean(self) -> None:
        if self.scope == self.Scope.PERSONAL and self.owner_id is None:
            raise ValidationError({"owner": _("A personal response needs its owner.")})
        if self.scope == self.Scope.TEAM and self.queue_id is None:
            raise ValidationError({"queue": _("A team response needs its queue.")})
        if self.scope != self.Scope.PERSONAL:
            self.owner = None
        if self.scope != self.Scope.TEAM:
            self.queue = None


class OfflineMessage(models.Model):
    """What a customer left outside opening hours (W3); agents of the queue see and handle it."""

    widget = models.ForeignKey(Widget, on_delete=models.PROTECT, related_name="offline_messages")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="offline_messages")
    name = models.CharField(_("name"), max_length=120, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    text = models.TextField(_("message"))
    created_at = models.DateTimeField(_("received"), auto_now_add=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)

    class Meta:
        verbose_name = _("offline message")
        verbose_name_plural = _("offline messages")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d} {self.name or self.email}"


class TranscriptEmail(models.Model):
    """A customer's request to get the conversation by e-mail (W9), and when it was sent."""

    MAX_PER_CONVERSATION = 3

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="transcript_emails")
    email = models.EmailField(_("e-mail"))
    requested_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("transcript e-mail")
        verbose_name_plural = _("transcript e-mails")

    def __str__(self) -> str:
        return self.email
