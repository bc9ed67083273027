from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import api_errors, health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("reports.urls")),
    path("", include("chat.urls")),
    path("", include("routing.urls")),
    path("", include("voice.urls")),
    path("supervision/", include("supervision.urls")),
    path("quality/", include("quality.urls")),
    # Last: any other address under /api/v1/ answers the API's error shape, not the HTML page.
    re_path(r"^api/v1/", api_errors.api_not_found, name="api-not-found"),
]
