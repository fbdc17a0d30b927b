"""Set up Superset for the workbench; run by ``pipeline/stack/superset.py`` with Superset's own Python.

``migrate``: bring the metadata database to this Superset's schema and sync its roles and permissions,
only when the database is behind (a warm start skips it), and create the admin.
``provision``: the Trino connection (URI from the environment: the local stack's Trino, or a real one),
the dashboards bundle imported with overwrite (same UUIDs: importing again changes nothing), the
``Viewer`` role (read dashboards and their charts' data; no SQL Lab, no writes) and the analysts' login.
Passwords come through the environment; the output is one JSON line of what was done.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from superset.app import create_app

VIEWER_ROLE = "Viewer"
# What a viewer may do, beyond Superset's Gamma role minus these: nothing that writes, nothing of
# SQL Lab (SQL Lab's own permissions live in the sql_lab role, which viewers never get).
WRITE_PERMISSIONS = ("can_write", "can_add", "can_edit", "can_delete", "can_save", "can_overwrite",
                     "can_import_", "can_export", "can_share_dashboard", "can_share_chart", "can_tag",
                     "can_set_embedded", "can_copy_clipboard", "can_csv", "can_view_query", "can_drill")
WRITE_VIEWS = ("SQL Lab", "SQLLab", "Query", "SavedQuery", "TabStateView", "TableSchemaView", "Upload",
               "Tags", "Row Level Security", "Annotation", "AnnotationLayer", "CssTemplate", "ReportSchedule",
               "Alerts & Report", "Manage", "Queries", "Saved Queries", "Import dashboards")


def _say(result: dict) -> None:
    print(json.dumps(result), flush=True)


def migrate(app: Any) -> dict:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask_migrate import upgrade
    from superset import appbuilder, security_manager
    from superset.extensions import db

    migrations = str(Path(sys.modules["superset"].__file__).parent / "migrations")
    config = app.extensions["migrate"].migrate.get_config(migrations)
    head = ScriptDirectory.from_config(config).get_current_head()
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    done = {"migrated": False, "roles_synced": False, "admin_created": False}
    if current != head:
        upgrade(directory=migrations)
        done["migrated"] = True
    if current != head or security_manager.find_role("Gamma") is None:
        appbuilder.add_permissions(update_perms=True)
        security_manager.sync_role_definitions()
        done["roles_synced"] = True
    admin = os.environ["WB_SUPERSET_ADMIN_USER"]
    user = security_manager.find_user(username=admin)
    if user is None:
        role = security_manager.find_role("Admin")
        security_manager.add_user(admin, "Workbench", "Admin", f"{admin}@localhost", role,
                                  password=os.environ["WB_SUPERSET_ADMIN_PASSWORD"])
        done["admin_created"] = True
    else:
        security_manager.reset_password(user.id, os.environ["WB_SUPERSET_ADMIN_PASSWORD"])
    return done


def _bundle_contents(folder: Path, trino_uri: str) -> dict[str, str]:
    import yaml

    contents = {}
    for path in sorted(folder.rglob("*.yaml")):
        name = path.relative_to(folder).as_posix()
        text = path.read_text(encoding="utf-8")
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = trino_uri
            text = yaml.safe_dump(config, sort_keys=False)
        contents[name] = text
    return contents


def import_bundle(contents: dict[str, str]) -> None:
    """Import every part with overwrite, parts first: the dashboards' importer alone would keep an existing
    dataset's SQL and an existing chart's settings (it imports them with overwrite off), so a reviewed
    change to one of them would never reach Superset. Same UUIDs: importing twice changes nothing."""
    import yaml
    from superset.commands.chart.importers.v1 import ImportChartsCommand
    from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand
    from superset.commands.database.importers.v1 import ImportDatabasesCommand
    from superset.commands.dataset.importers.v1 import ImportDatasetsCommand

    metadata = yaml.safe_load(contents["metadata.yaml"])
    for command, kind in ((ImportDatabasesCommand, "Database"), (ImportDatasetsCommand, "SqlaTable"),
                          (ImportChartsCommand, "Slice"), (ImportDashboardsCommand, "Dashboard")):
        part = {**contents, "metadata.yaml": yaml.safe_dump({**metadata, "type": kind})}
        command(part, overwrite=True).run()


def _viewer_role() -> tuple[Any, bool]:
    from superset import security_manager
    from superset.extensions import db

    role = security_manager.find_role(VIEWER_ROLE) or security_manager.add_role(VIEWER_ROLE)
    gamma = security_manager.find_role("Gamma")
    wanted = []
    for pvm in gamma.permissions:
        name, view = pvm.permission.name, pvm.view_menu.name
        if name.startswith(WRITE_PERMISSIONS) or view in WRITE_VIEWS:
            continue
        wanted.append(pvm)
    database_access = security_manager.find_permission_view_menu("database_access", _database().perm)
    if database_access is not None:
        wanted.append(database_access)
    if set(role.permissions) != set(wanted):
        role.permissions = wanted
        db.session.commit()
        return role, True
    return role, False


def _database() -> Any:
    from superset.extensions import db
    from superset.models.core import Database

    return db.session.query(Database).filter_by(database_name="Trino").one()


def provision(app: Any) -> dict:
    from flask import g
    from superset import security_manager
    from superset.extensions import db

    admin = security_manager.find_user(username=os.environ["WB_SUPERSET_ADMIN_USER"])
    g.user = admin
    contents = _bundle_contents(Path(os.environ["WB_SUPERSET_BUNDLE"]), os.environ["WB_SUPERSET_TRINO_URI"])
    import_bundle(contents)
    database = _database()
    if database.sqlalchemy_uri_decrypted != os.environ["WB_SUPERSET_TRINO_URI"]:
        database.set_sqlalchemy_uri(os.environ["WB_SUPERSET_TRINO_URI"])
        db.session.commit()
    security_manager.add_permission_view_menu("database_access", database.perm)
    role, changed = _viewer_role()
    viewer = os.environ["WB_SUPERSET_VIEWER_USER"]
    user = security_manager.find_user(username=viewer)
    if user is None:
        security_manager.add_user(viewer, "Workbench", "Analyst", f"{viewer}@localhost", role,
                                  password=os.environ["WB_SUPERSET_VIEWER_PASSWORD"])
    else:
        if [r.name for r in user.roles] != [VIEWER_ROLE]:
            user.roles = [role]
            db.session.commit()
        security_manager.reset_password(user.id, os.environ["WB_SUPERSET_VIEWER_PASSWORD"])
    from superset.models.dashboard import Dashboard

    slugs = sorted(d.slug for d in db.session.query(Dashboard).all() if d.slug)
    return {"imported": len(contents), "dashboards": slugs, "viewer_role_changed": changed}


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else ""
    app = create_app()
    with app.app_context():
        if action == "migrate":
            _say(migrate(app))
        elif action == "provision":
            _say(provision(app))
        else:
            print(f"usage: {argv[0]} migrate|provision", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
