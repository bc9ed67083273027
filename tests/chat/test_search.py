"""Searching history (A11) and a contact's other conversations (A4), on real PostgreSQL text
search: stems per language, filters, who may see what, the index and its command, the API."""

import datetime
import io
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from chat import search, services
from chat.models import Conversation
from tests.factories import QueueFactory, QueueMembershipFactory, WidgetFactory

HELSINKI = datetime.timezone(datetime.timedelta(hours=2))  # winter time, as on the days used below


def chat(widget, *lines, locale="fi", agent=None, note=None, visitor_id=None, end=True) -> Conversation:
    """A chat with the customer's `lines`, answered by `agent` (who may leave a `note`), ended."""
    conversation, _ = services.conversation_start(widget=widget, prechat={}, locale=locale, visitor_id=visitor_id)
    for line in lines:
        services.message_post_by_customer(conversation_id=conversation.pk, client_id=None, text=line)
    if agent is not None:
        services.agent_join(conversation_id=conversation.pk, agent=agent)
        if note:
            services.message_post_by_agent(
                conversation_id=conversation.pk, user=agent.user, client_id=None, text=note, internal=True
            )
    if end:
        services.conversation_end(conversation_id=conversation.pk, ended_by="customer")
    return conversation


def found(user, **kwargs) -> list:
    return [c.pk for c in search.conversations_search(user=user, **kwargs)]


def started_at(conversation, when: datetime.datetime) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(created_at=when)


@pytest.fixture
def other_widget(agent):
    """A second queue of `agent`'s, with its own widget."""
    membership = QueueMembershipFactory(agent=agent, queue=QueueFactory(name="Rent"))
    return WidgetFactory(key="rent", queue=membership.queue)


@pytest.fixture
def outsider_widget(outsider_agent):
    return WidgetFactory(key="elsewhere", queue=outsider_agent.memberships.get().queue)


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.get_or_create(user=user)[0].key)
    return client


# --- languages --------------------------------------------------------------------------


@pytest.mark.django_db
def test_finnish_words_are_found_by_their_inflected_forms(widget, agent):
    lease = chat(widget, "Haluan irtisanoa vuokrasopimuksen")
    chat(widget, "Milloin saunavuoro alkaa?")
    # What the Finnish snowball stemmer really joins: -n, -sta, -t of vuokrasopimus share a
    # stem, as do irtisanoa and irtisanon. (The bare nominative "vuokrasopimus" stems
    # differently, so it does not find the genitive.)
    for q in ("vuokrasopimuksesta", "vuokrasopimukset", "irtisanon", "IRTISANOA", "haluan irtisanoa"):
        assert found(agent.user, q=q) == [lease.pk], q
    assert found(agent.user, q="asuntolaina") == []
    [result] = search.conversations_search(user=agent.user, q="vuokrasopimuksesta")
    assert "«vuokrasopimuksen»" in result.snippet


@pytest.mark.django_db
def test_russian_words_are_found_by_their_inflected_forms(widget, agent):
    payment = chat(widget, "Проблема с оплатой квартиры", locale="ru")
    for q in ("квартира", "оплата", "квартиру", "оплатить"):
        assert found(agent.user, q=q) == [payment.pk], q
    [result] = search.conversations_search(user=agent.user, q="квартира")
    assert "«квартиры»" in result.snippet


@pytest.mark.django_db
def test_each_conversation_is_matched_in_its_own_language(widget, agent):
    finnish = chat(widget, "Haluan irtisanoa vuokrasopimuksen")
    english = chat(widget, "The word vuokrasopimuksen was in my letter, I paid the invoices", locale="en")
    other = chat(widget, "Ich habe die Rechnungen bezahlt", locale="de")  # no German stemming here

    # Stemmed as Finnish only where the chat is Finnish: the English chat holds the word
    # itself, not a Finnish stem.
    assert found(agent.user, q="vuokrasopimuksesta") == [finnish.pk]
    assert set(found(agent.user, q="vuokrasopimuksen")) == {finnish.pk, english.pk}
    assert found(agent.user, q="invoice") == [english.pk]
    assert found(agent.user, q="invoices paid") == [english.pk]
    assert found(agent.user, q="Rechnungen") == [other.pk]
    assert found(agent.user, q="Rechnung") == []
    configs = dict(Conversation.objects.values_list("pk", "search_config"))
    assert (configs[finnish.pk], configs[english.pk], configs[other.pk]) == ("finnish", "english", "simple")


# --- what is indexed, when --------------------------------------------------------------


@pytest.mark.django_db
def test_hidden_notes_are_searchable_by_agents_also_when_added_after_the_end(widget, agent):
    conversation = chat(widget, "Hei", agent=agent, note="Asiakas vaikutti huolestuneelta")
    assert found(agent.user, q="huolestuneena") == [conversation.pk]
    services.message_post_by_agent(
        conversation_id=conversation.pk, user=agent.user, client_id=None, text="Soitin takaisin", internal=True
    )
    assert found(agent.user, q="soitin") == [conversation.pk]


@pytest.mark.django_db
def test_only_ended_conversations_are_indexed_and_searched(widget, agent, django_capture_on_commit_callbacks):
    active = chat(widget, "Vuokrasopimuksen irtisanominen", end=False)
    assert Conversation.objects.get(pk=active.pk).search is None
    assert found(agent.user, q="irtisanominen") == []
    assert found(agent.user) == []

    # The system ends chats of gone customers through conversation_end: indexed too.
    Conversation.objects.filter(pk=active.pk).update(customer_seen_at=timezone.now() - datetime.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.conversations_end_gone_customers() == 1
    assert found(agent.user, q="irtisanominen") == [active.pk]


@pytest.mark.django_db
def test_the_command_indexes_what_is_missing_or_everything(widget, agent):
    first = chat(widget, "Vuokrasopimuksen irtisanominen")
    second = chat(widget, "Saunavuoron varaus")
    chat(widget, "Yhä auki", end=False)
    Conversation.objects.filter(pk=first.pk).update(search=None, search_config="")
    assert found(agent.user, q="irtisanominen") == []

    out = io.StringIO()
    call_command("reindex_conversations", "--batch-size", "1", stdout=out)
    assert out.getvalue().strip() == "Conversations indexed: 1"
    assert found(agent.user, q="irtisanominen") == [first.pk]

    out = io.StringIO()
    call_command("reindex_conversations", "--all", stdout=out)
    assert out.getvalue().strip() == "Conversations indexed: 2"
    assert found(agent.user, q="saunavuoron") == [second.pk]
    assert Conversation.objects.filter(search__isnull=True).count() == 1  # the open one


# --- filters and access -----------------------------------------------------------------


@pytest.mark.django_db
def test_filters_by_queue_agent_and_days_in_the_users_time_zone(widget, other_widget, agent, supervisor):
    housing = chat(widget, "Vuokrasopimuksen irtisanominen", agent=agent)
    rent = chat(other_widget, "Vuokrasopimuksen hinta")
    unanswered = chat(widget, "Vuokrasopimuksen kopio")
    # 22:30 UTC on 9 March is 00:30 on 10 March in Helsinki.
    started_at(housing, datetime.datetime(2026, 3, 9, 22, 30, tzinfo=datetime.UTC))
    started_at(rent, datetime.datetime(2026, 3, 11, 12, 0, tzinfo=datetime.UTC))
    started_at(unanswered, datetime.datetime(2026, 3, 12, 21, 59, tzinfo=datetime.UTC))
    user, q = agent.user, "vuokrasopimuksesta"

    assert found(user, q=q) == [unanswered.pk, rent.pk, housing.pk]  # newest first
    assert found(user, q=q, queue_id=other_widget.queue_id) == [rent.pk]
    assert found(user, q=q, agent_id=user.pk) == [housing.pk]
    assert found(user, agent_id=user.pk) == [housing.pk]  # filters alone, no words
    with timezone.override(HELSINKI):
        assert found(user, q=q, date_from=datetime.date(2026, 3, 10), date_to=datetime.date(2026, 3, 10)) == [
            housing.pk
        ]
        assert found(user, date_from=datetime.date(2026, 3, 11)) == [unanswered.pk, rent.pk]
        assert found(user, date_to=datetime.date(2026, 3, 11)) == [rent.pk, housing.pk]  # inclusive
    with timezone.override(datetime.UTC):
        assert found(user, date_from=datetime.date(2026, 3, 10), date_to=datetime.date(2026, 3, 10)) == []
    assert found(supervisor, q=q, limit=2) == [unanswered.pk, rent.pk]


@pytest.mark.django_db
def test_an_agent_outside_the_queue_never_sees_its_history(widget, agent, outsider_agent, supervisor):
    visitor = uuid.uuid4()
    earlier = chat(widget, "Vuokrasopimuksen irtisanominen", visitor_id=visitor)
    latest = chat(widget, "Vuokrasopimuksen kopio", visitor_id=visitor)

    assert found(outsider_agent.user, q="vuokrasopimuksesta") == []
    assert found(outsider_agent.user) == []
    with pytest.raises(Conversation.DoesNotExist):
        search.contact_history(user=outsider_agent.user, conversation_id=latest.pk)
    assert [c.pk for c in search.contact_history(user=agent.user, conversation_id=latest.pk)] == [earlier.pk]
    assert found(supervisor, q="vuokrasopimuksesta") == [latest.pk, earlier.pk]


@pytest.mark.django_db
def test_contact_history_lists_only_what_the_agent_may_see(widget, outsider_widget, agent, outsider_agent):
    visitor = uuid.uuid4()
    elsewhere = chat(outsider_widget, "Toinen asia", visitor_id=visitor)
    # `agent` answered this one in the outsider's queue: a chat one took part in stays
    # visible, as in its detail view.
    helped = chat(outsider_widget, "Kolmas asia", visitor_id=visitor, agent=agent)
    earlier = chat(widget, "Ensimmäinen", visitor_id=visitor)
    still_open = chat(widget, "Toinen", visitor_id=visitor, end=False)
    current = chat(widget, "Kolmas", visitor_id=visitor, end=False)
    chat(widget, "Joku muu")

    mine = search.contact_history(user=agent.user, conversation_id=current.pk)
    assert [c.pk for c in mine] == [still_open.pk, earlier.pk, helped.pk]
    assert [c.pk for c in search.contact_history(user=agent.user, conversation_id=current.pk, limit=1)] == [
        still_open.pk
    ]
    # The outsider sees the contact's chats in their own queue only.
    theirs = search.contact_history(user=outsider_agent.user, conversation_id=elsewhere.pk)
    assert [c.pk for c in theirs] == [helped.pk]
    with pytest.raises(Conversation.DoesNotExist):
        search.contact_history(user=outsider_agent.user, conversation_id=current.pk)


# --- the API ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_search_api_answers_in_the_documented_shape(widget, agent):
    agent.user.first_name, agent.user.last_name = "Aino", "Agentti"
    agent.user.save(update_fields=["first_name", "last_name"])
    conversation = chat(widget, "Haluan irtisanoa vuokrasopimuksen", agent=agent)
    conversation.contact.email = "liisa@example.fi"
    conversation.contact.save(update_fields=["email"])
    conversation.refresh_from_db()

    response = api_for(agent.user).get("/api/v1/conversations/search", {"q": "vuokrasopimuksesta"})
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item == {
        "id": str(conversation.pk),
        "started_at": conversation.created_at.isoformat(),
        "ended_at": conversation.ended_at.isoformat(),
        "queue": {"id": widget.queue_id, "name": "Housing advice"},
        "agent": "Aino Agentti",
        "customer": "liisa@example.fi",
        "snippet": item["snippet"],
        "locale": "fi",
    }
    assert "«vuokrasopimuksen»" in item["snippet"]


@pytest.mark.django_db
def test_search_api_reads_days_in_the_agents_time_zone_also_with_a_token(widget, agent):
    agent.time_zone = "Europe/Helsinki"
    agent.save(update_fields=["time_zone"])
    conversation = chat(widget, "Hei")
    started_at(conversation, datetime.datetime(2026, 3, 9, 22, 30, tzinfo=datetime.UTC))
    body = api_for(agent.user).get("/api/v1/conversations/search?from=2026-03-10&to=2026-03-10").json()
    assert [item["id"] for item in body["results"]] == [str(conversation.pk)]
    session = APIClient()
    session.force_login(agent.user)
    body = session.get("/api/v1/conversations/search?from=2026-03-09&to=2026-03-09").json()
    assert body["results"] == []


@pytest.mark.django_db
def test_history_api_lists_the_contacts_other_conversations(widget, agent, outsider_agent):
    visitor = uuid.uuid4()
    earlier = chat(widget, "Vuokrasopimuksen irtisanominen", visitor_id=visitor, agent=agent)
    current = chat(widget, "Taas minä", visitor_id=visitor, end=False)

    response = api_for(agent.user).get(f"/api/v1/conversations/{current.pk}/history")
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert (item["id"], item["snippet"], item["customer"]) == (str(earlier.pk), "", None)
    assert item["agent"] == agent.user.get_full_name()
    assert api_for(outsider_agent.user).get(f"/api/v1/conversations/{current.pk}/history").status_code == 404
    assert api_for(agent.user).get(f"/api/v1/conversations/{uuid.uuid4()}/history").status_code == 404
    # The detail route still answers beside the new ones.
    assert api_for(agent.user).get(f"/api/v1/conversations/{current.pk}").status_code == 200


@pytest.mark.django_db
def test_outsiders_and_customers_get_nothing_from_the_api(widget, agent, outsider_agent):
    conversation = chat(widget, "Haluan irtisanoa vuokrasopimuksen")
    outsider = api_for(outsider_agent.user)
    assert outsider.get("/api/v1/conversations/search?q=vuokrasopimuksesta").json() == {"results": []}
    assert outsider.get(f"/api/v1/conversations/{conversation.pk}/history").status_code == 404

    _, customer_token = services.conversation_start(widget=widget, prechat={})
    customer = APIClient()
    customer.credentials(HTTP_AUTHORIZATION="Token " + customer_token)
    assert customer.get("/api/v1/conversations/search?q=vuokrasopimuksesta").status_code == 401
    assert customer.get(f"/api/v1/conversations/{conversation.pk}/history").status_code == 401
    assert APIClient().get("/api/v1/conversations/search").status_code in (401, 403)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"queue": "abc"}, "queue"),
        ({"queue": "0"}, "queue"),
        ({"agent": "1.5"}, "agent"),
        ({"agent": str(2**63)}, "agent"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "10.3.2026"}, "from"),
        ({"to": "2026-03-10T12:00"}, "to"),
        ({"from": "2026-03-11", "to": "2026-03-10"}, "to"),
    ],
)
def test_bad_search_input_is_a_400_naming_the_field(agent, params, field):
    response = api_for(agent.user).get("/api/v1/conversations/search", params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert list(body["fields"]) == [field]


@pytest.mark.django_db
def test_search_input_at_the_edges_is_accepted(widget, agent):
    chat(widget, "Hei")
    client = api_for(agent.user)
    for params in (
        {"q": "x" * 200},
        {"q": "  "},
        {"q": "ja"},  # a stop word only: nothing to look for
        {"q": "'\"&|!():*<>"},
        {"from": "0001-01-01", "to": "9999-12-31"},
        {"queue": str(2**63 - 1), "agent": "2147483648"},
    ):
        assert client.get("/api/v1/conversations/search", params).status_code == 200, params
    body = client.get("/api/v1/conversations/search", {"from": "0001-01-01", "to": "9999-12-31"}).json()
    assert len(body["results"]) == 1
