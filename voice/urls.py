from django.urls import path

from . import api, views

urlpatterns = [
    path("api/v1/widget/<slug:widget_key>/calls", api.CallStartApi.as_view(), name="api-call-start"),
    path("voice/recordings/", views.recordings, name="voice-recordings"),
    path("voice/recordings/<uuid:recording_id>/", views.recording_detail, name="voice-recording"),
    path("voice/recordings/<uuid:recording_id>/audio", views.recording_audio, name="voice-recording-audio"),
    path("voice/prompts/<int:prompt_id>/audio", views.prompt_audio, name="voice-prompt-audio"),
]
