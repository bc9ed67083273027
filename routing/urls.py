from django.urls import path

from . import api

urlpatterns = [
    path("api/v1/queues", api.QueueListApi.as_view(), name="api-queue-list"),
    path("api/v1/queues/<int:queue_id>", api.QueueDetailApi.as_view(), name="api-queue"),
    path("api/v1/skills", api.SkillListApi.as_view(), name="api-skill-list"),
    path("api/v1/agents", api.AgentListApi.as_view(), name="api-agent-list"),
    # GET the agent; POST: a supervisor logs them on or off and sets their presence (S2).
    path("api/v1/agents/<int:agent_id>", api.AgentDetailApi.as_view(), name="api-agent"),
]
