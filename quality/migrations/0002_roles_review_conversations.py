from django.db import migrations


def sync_roles(apps, schema_editor):
    # Supervisors get quality.review_conversations (and every view_ permission of quality);
    # admins every permission of quality (routing/roles.py).
    from routing.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0001_retention_and_reviews"),
        ("routing", "0002_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
