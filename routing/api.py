"""REST resources of the routing domain (docs/api.md): queues, skills, agents and their
presence. Who sees what is decided by the selectors the pages use (`agent_queues`,
`agents_for`); anything else does not exist (404)."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from contactcenter.api_errors import error_response, error_responses
from contactcenter.api_lists import LimitOffsetPagination, query
from supervision.services import PRESENCE_STATES, agent_supervise, supervised_agent

from . import services
from .hours import open_states
from .models import AgentProfile, AgentSkill, Channel, Queue, QueueMembership, QueueSkill, Skill
from .selectors import agent_for, agent_queues, agents_for, queue_for, serves_or_supervises

LIST_ERRORS = error_responses(400, 401, 403, 429)
DETAIL_ERRORS = error_responses(401, 403, 404, 429)


class ServesOrSupervises(BasePermission):
    """Agents, supervisors and admins; the same rule as the reports page."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and serves_or_supervises(request.user))


# --- queues -----------------------------------------------------------------------------


class RequiredSkillOutput(serializers.Serializer):
    id = serializers.IntegerField(source="skill_id")
    name = serializers.CharField(source="skill.name")
    min_level = serializers.IntegerField()


class QueueOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    channels = serializers.ListField(child=serializers.ChoiceField(choices=Channel.choices))
    priority = serializers.IntegerField(help_text="1–9; 9 is most important.")
    service_level_target_seconds = serializers.IntegerField()
    time_zone = serializers.CharField()
    assignment_mode = serializers.ChoiceField(choices=Queue.AssignmentMode.choices)
    open_now = serializers.BooleanField(help_text="Within opening hours now (exceptions and holidays included).")
    logged_on = serializers.BooleanField(
        allow_null=True, help_text="Whether the caller is logged on to this queue; null when not a member."
    )
    required_skills = RequiredSkillOutput(many=True, source="required_skills.all")


QUEUE_ORDERINGS = {
    "name": ("name",),
    "-name": ("-name",),
    "priority": ("priority", "name"),
    "-priority": ("-priority", "name"),
}


def _queues_with_state(queues: list[Queue], *, user) -> list[Queue]:
    """Sets `open_now` and the caller's `logged_on` on each queue, in three queries."""
    states = open_states(queues=queues, at=timezone.now())
    logged_on = dict(
        QueueMembership.objects.filter(agent__user=user, queue__in=queues).values_list("queue_id", "logged_on")
    )
    for queue in queues:
        queue.open_now = states[queue.pk]
        queue.logged_on = logged_on.get(queue.pk)
    return queues


def _queues(user):
    return agent_queues(user=user).prefetch_related(
        Prefetch("required_skills", queryset=QueueSkill.objects.select_related("skill").order_by("skill__name"))
    )


class QueueListApi(generics.GenericAPIView):
    """Queues the caller belongs to; supervisors and admins see every active queue."""

    permission_classes = [IsAuthenticated, ServesOrSupervises]
    pagination_class = LimitOffsetPagination
    serializer_class = QueueOutput

    class QueueListQuery(serializers.Serializer):
        channel = serializers.ChoiceField(choices=Channel.choices, required=False)
        ordering = serializers.ChoiceField(choices=list(QUEUE_ORDERINGS), required=False, default="name")

    @extend_schema(
        operation_id="queue_list", parameters=[QueueListQuery], responses={200: QueueOutput(many=True), **LIST_ERRORS}
    )
    def get(self, request):
        params = query(request, self.QueueListQuery)
        queues = _queues(request.user)
        if "channel" in params:
            queues = queues.filter(channels__contains=[params["channel"]])
        page = self.paginate_queryset(queues.order_by(*QUEUE_ORDERINGS[params["ordering"]], "pk"))
        return self.get_paginated_response(QueueOutput(_queues_with_state(page, user=request.user), many=True).data)


class QueueDetailApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, ServesOrSupervises]
    serializer_class = QueueOutput

    @extend_schema(operation_id="queue_detail", responses={200: QueueOutput, **DETAIL_ERRORS})
    def get(self, request, queue_id: int):
        try:
            queue = queue_for(user=request.user, queue_id=queue_id)
        except Queue.DoesNotExist:
            raise NotFound from None
        [queue] = _queues_with_state([queue], user=request.user)
        return Response(QueueOutput(queue).data)


# --- skills -----------------------------------------------------------------------------


class SkillOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SkillListApi(generics.GenericAPIView):
    """Every skill, by name: the words agents' and queues' skills are written in."""

    permission_classes = [IsAuthenticated, ServesOrSupervises]
    pagination_class = LimitOffsetPagination
    serializer_class = SkillOutput

    @extend_schema(operation_id="skill_list", responses={200: SkillOutput(many=True), **LIST_ERRORS})
    def get(self, request):
        query(request, None)
        page = self.paginate_queryset(Skill.objects.order_by("name", "pk"))
        return self.get_paginated_response(SkillOutput(page, many=True).data)


# --- agents -----------------------------------------------------------------------------


class MembershipOutput(serializers.Serializer):
    id = serializers.IntegerField(source="queue_id")
    name = serializers.CharField(source="queue.name")
    logged_on = serializers.BooleanField()
    chat_priority = serializers.IntegerField()
    call_priority = serializers.IntegerField()


class AgentSkillOutput(serializers.Serializer):
    id = serializers.IntegerField(source="skill_id")
    name = serializers.CharField(source="skill.name")
    level = serializers.IntegerField()


class AgentOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The agent's id (as in /api/v1/agents/<id>).")
    user_id = serializers.IntegerField(help_text="The user's id (as in conversation and report filters).")
    username = serializers.CharField(source="user.username")
    name = serializers.SerializerMethodField()
    display_name = serializers.CharField(help_text="The alias or title shown to customers; may be empty.")
    active = serializers.BooleanField(source="user.is_active")
    presence = serializers.ChoiceField(choices=AgentProfile.Presence.choices)
    reason = serializers.CharField(source="presence_reason")
    since = serializers.DateTimeField(source="presence_since")
    chat_capacity = serializers.IntegerField()
    call_capacity = serializers.IntegerField()
    queues = MembershipOutput(many=True, source="memberships.all", help_text="Active queues and whether logged on.")
    skills = AgentSkillOutput(many=True, source="agentskill_set.all")

    def get_name(self, agent: AgentProfile) -> str:
        return agent.user.get_full_name() or agent.user.get_username()


AGENT_ORDERINGS = {
    "username": ("user__username",),
    "-username": ("-user__username",),
    "since": ("presence_since",),
    "-since": ("-presence_since",),
}


def _agents(user):
    memberships = QueueMembership.objects.filter(queue__is_active=True).select_related("queue").order_by("queue__name")
    return agents_for(user=user).prefetch_related(
        Prefetch("memberships", queryset=memberships),
        Prefetch("agentskill_set", queryset=AgentSkill.objects.select_related("skill").order_by("skill__name")),
    )


class AgentListApi(generics.GenericAPIView):
    """Every agent for supervisors and admins; an agent gets only themselves."""

    permission_classes = [IsAuthenticated, ServesOrSupervises]
    pagination_class = LimitOffsetPagination
    serializer_class = AgentOutput

    class AgentListQuery(serializers.Serializer):
        presence = serializers.ChoiceField(choices=AgentProfile.Presence.choices, required=False)
        queue = serializers.IntegerField(required=False, min_value=1, help_text="Members of this queue.")
        ordering = serializers.ChoiceField(choices=list(AGENT_ORDERINGS), required=False, default="username")

    @extend_schema(
        operation_id="agent_list", parameters=[AgentListQuery], responses={200: AgentOutput(many=True), **LIST_ERRORS}
    )
    def get(self, request):
        params = query(request, self.AgentListQuery)
        agents = _agents(request.user)
        if "presence" in params:
            agents = agents.filter(presence=params["presence"])
        if "queue" in params:
            agents = agents.filter(memberships__queue_id=params["queue"])
        page = self.paginate_queryset(agents.order_by(*AGENT_ORDERINGS[params["ordering"]], "pk"))
        return self.get_paginated_response(AgentOutput(page, many=True).data)


class AgentDetailApi(generics.GenericAPIView):
    """GET: an agent as in the list. POST: supervisors log the agent on and off queues and
    set their presence, live (S2), through the service the supervisor's live view uses."""

    permission_classes = [IsAuthenticated]
    serializer_class = AgentOutput

    class SupervisedAgentInput(serializers.Serializer):
        queue_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True, required=False)
        logged_on = serializers.BooleanField(required=False)
        state = serializers.ChoiceField(choices=PRESENCE_STATES, required=False)
        reason = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")

    class SupervisedAgentOutput(serializers.Serializer):
        class QueueState(serializers.Serializer):
            queue_id = serializers.IntegerField()
            logged_on = serializers.BooleanField()

        state = serializers.CharField()
        reason = serializers.CharField()
        queues = QueueState(many=True)

    def _agent(self, request, agent_id: int) -> AgentProfile:
        try:
            return agent_for(user=request.user, agent_id=agent_id)
        except AgentProfile.DoesNotExist:
            raise NotFound from None

    @extend_schema(operation_id="agent_detail", responses={200: AgentOutput, **DETAIL_ERRORS})
    def get(self, request, agent_id: int):
        try:
            agent = _agents(request.user).get(pk=agent_id)  # agents_for: the caller's to see
        except AgentProfile.DoesNotExist:
            raise NotFound from None
        return Response(AgentOutput(agent).data)

    @extend_schema(
        operation_id="agent_supervise",
        request=SupervisedAgentInput,
        responses={200: SupervisedAgentOutput, **error_responses(400, 401, 403, 404, 429)},
    )
    def post(self, request, agent_id: int):
        # An agent one may not see does not exist; one's own profile exists but is not
        # one's to supervise (403, from the service).
        self._agent(request, agent_id)
        data = self.SupervisedAgentInput(data=request.data)
        try:
            supervised_agent(supervisor=request.user, agent_id=agent_id)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            agent = agent_supervise(
                supervisor=request.user,
                agent_id=agent_id,
                logged_on=values.get("logged_on"),
                queue_ids=values.get("queue_ids"),
                presence=values.get("state"),
                reason=values["reason"],
            )
        except services.RoutingError as error:
            codes = {"forbidden": status.HTTP_403_FORBIDDEN, "not_found": status.HTTP_404_NOT_FOUND}
            return error_response(error.code, str(error), status=codes.get(error.code, status.HTTP_400_BAD_REQUEST))
        memberships = agent.memberships.values("queue_id", "logged_on")
        return Response({"state": agent.presence, "reason": agent.presence_reason, "queues": list(memberships)})
