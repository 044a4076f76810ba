"""The workspace inside Airflow: mounted into the api-server at ``/hub`` with a link in Airflow's menu.

Registered through the ``airflow.plugins`` entry point (pyproject.toml), so an agency that runs the hub's
Airflow gets the workspace in the same place and port. Sign-in stays the workspace's own (its roles —
steward, auditor, manager, operator — are not Airflow's); the plugin only mounts it.

Every Airflow process loads plugins, and only the api-server serves this one: the app is built on its
first request, so a scheduler or a worker never imports FastAPI pages, templates or matplotlib for it.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

PREFIX = "/hub"


class LazyWorkspace:
    """An ASGI app that builds the workspace when the first request (or lifespan event) reaches it."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from web.app import create_app

            self._app = create_app()
        # Airflow's router put itself in the scope; the workspace's own router must name its routes
        # (url_for), and its links start at the /hub the mount added to root_path.
        inner = {k: v for k, v in scope.items() if k != "router"}
        inner["app_root_path"] = scope.get("root_path", "")
        await self._app(inner, receive, send)


class FamilyHubPlugin(AirflowPlugin):
    name = "family_hub"
    # Airflow's plugin interface is plain class attributes (typed as lists on AirflowPlugin)
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": LazyWorkspace(), "url_prefix": PREFIX, "name": "Family hub workspace"},
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {"name": "Реестр семей: рабочее место", "href": f"{PREFIX.lstrip('/')}/", "destination": "nav",
         "category": "browse"},
    ]
