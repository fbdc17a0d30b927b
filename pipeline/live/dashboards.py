"""Links into the dashboards kept in ``env/superset/bundle``: the live overview and a service's
drill-down opened on one service and time range (Superset's native filters, passed in the URL)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from pipeline.settings import Settings

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
