"""The ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

from contactcenter.bootstrap import exit_on_configuration_error  # noqa: E402

exit_on_configuration_error()

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402

from contactcenter.websockets import SocketSessionMiddleware, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Session auth for the workspace; consumers check Origin themselves, since the
        # customer socket may be opened from an embedding site.
        "websocket": CookieMiddleware(SocketSessionMiddleware(AuthMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)

from django.conf import settings  # noqa: E402

from contactcenter.collector import tune_for_many_sockets  # noqa: E402

tune_for_many_sockets(settings.CC_GC_YOUNG_OBJECTS)
