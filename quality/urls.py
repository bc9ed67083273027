from django.urls import path

from . import views

urlpatterns = [
    path("", views.review_list, name="quality-conversations"),
    path("conversations/<uuid:conversation_id>/", views.review_conversation, name="quality-review"),
    path("mine/", views.my_reviews, name="quality-mine"),
]
