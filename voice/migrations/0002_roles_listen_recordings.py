from django.db import migrations


def sync_roles(apps, schema_editor):
    # Supervisors get voice.listen_recording (and every view_ permission of voice); admins
    # every permission of voice (routing/roles.py).
    from routing.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("voice", "0001_initial"),
        ("routing", "0002_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
