from django.urls import path

from . import api

urlpatterns = [
    path("api/v1/widget/<slug:widget_key>/calls", api.CallStartApi.as_view(), name="api-call-start"),
]
