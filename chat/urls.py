from django.conf import settings
from django.urls import path

from . import api, views

urlpatterns = [
    path("workspace/", views.workspace, name="workspace"),
    path("workspace/canned-responses/", views.my_canned_responses, name="my-canned-responses"),
    path("widget/<slug:widget_key>/", views.widget_frame, name="widget-frame"),
    path("api/v1/widget/<slug:widget_key>/status", api.WidgetStatusApi.as_view(), name="api-widget-status"),
    path(
        "api/v1/widget/<slug:widget_key>/conversations",
        api.ConversationStartApi.as_view(),
        name="api-conversation-start",
    ),
    path(
        "api/v1/widget/<slug:widget_key>/offline-messages",
        api.OfflineMessageCreateApi.as_view(),
        name="api-offline-message-create",
    ),
    path("api/v1/auth/token", api.TokenObtainApi.as_view(), name="api-auth-token"),
    path("api/v1/customer/token/refresh", api.CustomerTokenRefreshApi.as_view(), name="api-customer-token-refresh"),
    path("api/v1/conversations", api.ConversationListApi.as_view(), name="api-conversation-list"),
    # Before the <uuid> routes, so "search" can never be read as a conversation.
    path("api/v1/conversations/search", api.ConversationSearchApi.as_view(), name="api-conversation-search"),
    path("api/v1/conversations/<uuid:conversation_id>", api.ConversationDetailApi.as_view(), name="api-conversation"),
    path(
        "api/v1/conversations/<uuid:conversation_id>/history",
        api.ConversationHistoryApi.as_view(),
        name="api-conversation-history",
    ),
    path(
        "api/v1/conversations/<uuid:conversation_id>/messages",
        api.MessageListCreateApi.as_view(),
        name="api-conversation-messages",
    ),
    path("api/v1/agents/me/presence", api.PresenceApi.as_view(), name="api-presence"),
    path("api/v1/agents/me/queues", api.QueueLogOnApi.as_view(), name="api-queues-log-on"),
    path("api/v1/offline-messages", api.OfflineMessageListApi.as_view(), name="api-offline-messages"),
    path("api/v1/canned-responses", api.CannedResponseListApi.as_view(), name="api-canned-responses"),
    path("api/v1/transfer-targets", api.TransferTargetsApi.as_view(), name="api-transfer-targets"),
    path(
        "api/v1/conversations/<uuid:conversation_id>/wrap-up", api.WrapUpApi.as_view(), name="api-conversation-wrap-up"
    ),
    path(
        "api/v1/canned-responses/<int:response_id>",
        api.CannedResponseDetailApi.as_view(),
        name="api-canned-response",
    ),
    path(
        "api/v1/offline-messages/<int:message_id>/handle",
        api.OfflineMessageHandleApi.as_view(),
        name="api-offline-message-handle",
    ),
]

if settings.DEMO_MODE:
    urlpatterns.append(path("demo/", views.demo_page, name="demo"))
