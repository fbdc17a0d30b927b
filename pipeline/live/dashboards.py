"""Links into the dashboards kept in ``env/superset/bundle``: the live overview and a service's
drill-down opened on one service and time range (Superset's native filters, passed in the URL)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings
from pipeline.stack.superset import SupersetService

# The slugs and native filter ids are fixed in the bundle's dashboard YAML files.
OVERVIEW_SLUG = "live-overview"
DRILLDOWN_SLUG = "service-drilldown"
INCIDENTS_SLUG = "incidents"
SERVICE_FILTER_ID = "NATIVE_FILTER-service"
TIME_FILTER_ID = "NATIVE_FILTER-time"


def _rison_string(value: str) -> str:
    """A rison string: quoted with ', where ' and ! are escaped with !."""
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


def _moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def dashboard_url(settings: Settings, service: str | None = None, start: datetime | None = None,
                  end: datetime | None = None) -> str:
    """The overview, or with ``service`` the drill-down filtered to it (and to ``start``..``end``)."""
    base = settings.dashboards_url
    if service is None:
        return f"{base}/superset/dashboard/{OVERVIEW_SLUG}/"
    filters = [
        f"{SERVICE_FILTER_ID}:(extraFormData:(filters:!((col:service,op:IN,val:!({_rison_string(service)})))),"
        f"filterState:(value:!({_rison_string(service)})),id:{SERVICE_FILTER_ID})"
    ]
    if start is not None and end is not None:
        time_range = _rison_string(f"{_moment(start)} : {_moment(end)}")
        filters.append(f"{TIME_FILTER_ID}:(extraFormData:(time_range:{time_range}),"
                       f"filterState:(value:{time_range}),id:{TIME_FILTER_ID})")
    rison = "(" + ",".join(filters) + ")"
    return f"{base}/superset/dashboard/{DRILLDOWN_SLUG}/?native_filters={quote(rison, safe='')}"


class DashboardsError(WorkbenchError):
    """Superset did not answer as expected."""


class SupersetClient:
    """Superset's REST API as one user (the analysts' viewer login by default): what the dashboards show."""

    def __init__(self, settings: Settings, username: str | None = None, password: str | None = None,
                 timeout_s: float = 60.0) -> None:
        self.settings = settings
        self.base = settings.dashboards_url
        self.username = username or settings.superset_viewer_user
        self._password = password
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self._logged_in = False

    def _login(self) -> None:
        if self._logged_in:
            return
        password = self._password or viewer_password(self.settings)
        try:
            answer = self.session.post(f"{self.base}/api/v1/security/login", timeout=self.timeout_s, json={
                "username": self.username, "password": password, "provider": "db", "refresh": False})
        except requests.RequestException as exc:
            raise DashboardsError(f"Superset does not answer at {self.base}: {exc}",
                                  "start the stack with 'make up' (WB_SUPERSET_ENABLED must not be false)") from exc
        if answer.status_code != 200:
            raise DashboardsError(f"Superset refused the login of {self.username!r}: HTTP {answer.status_code}",
                                  "run 'make up' again: it resets the viewer's password from var/secrets")
        self.session.headers["Authorization"] = "Bearer " + answer.json()["access_token"]
        self._logged_in = True

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call; the answer whatever its status (callers check what they expect). Calls that
        change something carry the CSRF token Superset asks of them (the chart data POST does not)."""
        self._login()
        if method != "GET" and "X-CSRFToken" not in self.session.headers and path != "/api/v1/chart/data":
            answer = self.session.get(f"{self.base}/api/v1/security/csrf_token/", timeout=self.timeout_s)
            if answer.status_code == 200:
                self.session.headers["X-CSRFToken"] = answer.json()["result"]
                self.session.headers["Referer"] = self.base
        return self.session.request(method, f"{self.base}{path}", timeout=self.timeout_s, **kwargs)

    def _result(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.request(method, path, **kwargs)
        if answer.status_code != 200:
            raise DashboardsError(f"Superset answered HTTP {answer.status_code} to {method} {path}: "
                                  f"{answer.text[:300]}", f"see {self.settings.log_dir / 'superset.log'}")
        return answer.json()["result"]

    def dashboards(self) -> list[dict[str, Any]]:
        return self._result("GET", "/api/v1/dashboard/", params={"q": "(page_size:100)"})

    def dashboard_charts(self, slug: str) -> list[dict[str, Any]]:
        return self._result("GET", f"/api/v1/dashboard/{slug}/charts")

    def chart_data(self, chart_id: int, time_range: str | None = None,
                   extra_filters: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The rows a chart shows, asked as the dashboard asks (POST /api/v1/chart/data with the chart's
        own query), over ``time_range`` ("<start> : <end>", Superset's form) instead of its saved range."""
        chart = self._result("GET", f"/api/v1/chart/{chart_id}")
        if not chart.get("query_context"):
            raise DashboardsError(f"chart {chart_id} ({chart.get('slice_name')}) has no saved query",
                                  "give it a query_context in its file of env/superset/bundle/charts")
        context = json.loads(chart["query_context"])
        context["force"] = True
        context["result_format"] = "json"
        context["result_type"] = "full"
        for query in context["queries"]:
            if time_range is not None:
                for item in query.get("filters", []):
                    if item.get("op") == "TEMPORAL_RANGE":
                        item["val"] = time_range
            query.setdefault("filters", []).extend(extra_filters or [])
        answer = self._result("POST", "/api/v1/chart/data", json=context)
        return [row for result in answer for row in result.get("data", [])]


def viewer_password(settings: Settings) -> str:
    """The analysts' Superset password, generated by ``stack up`` into var/secrets."""
    return SupersetService(settings).viewer_password
