"""The three roles as groups, with their permissions. Used by a migration and `sync_roles`.

`sync_roles(apps)` takes an app registry (a migration's historical one or the live one) and
is idempotent: run it after any migration that adds models so the Admin role covers them.
"""

from __future__ import annotations

AGENT = "Agent"
SUPERVISOR = "Supervisor"
ADMIN = "Admin"

CONTACT_CENTER_APPS = ("routing", "chat", "voice", "reports", "quality")

ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: ["routing.serve_customers"],
    SUPERVISOR: [
        "routing.serve_customers",
        "routing.supervise",
        "quality.review_conversations",
        "voice.listen_recording",
    ],
}


def sync_roles(apps) -> None:
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")

    def permissions(codes: list[str]):
        found = []
        for code in codes:
            app_label, codename = code.split(".")
            found.extend(permission_model.objects.filter(content_type__app_label=app_label, codename=codename))
        return found

    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.add(*permissions(codes))
        if role == SUPERVISOR:
            group.permissions.add(
                *permission_model.objects.filter(
                    content_type__app_label__in=CONTACT_CENTER_APPS, codename__startswith="view_"
                )
            )

    admin, _ = group_model.objects.get_or_create(name=ADMIN)
    admin.permissions.add(
        *permission_model.objects.filter(content_type__app_label__in=(*CONTACT_CENTER_APPS, "auth", "authtoken"))
    )
