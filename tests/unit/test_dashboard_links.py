"""Links into the dashboards: the drill-down's native filters travel in the URL as rison."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from pipeline.live.dashboards import dashboard_url
from pipeline.settings import Settings


def _filters(url: str) -> str:
    return parse_qs(urlsplit(url).query)["native_filters"][0]


def test_the_overview_link_has_no_filter():
    settings = Settings(superset_port=9999)
    assert dashboard_url(settings) == "http://127.0.0.1:9999/superset/dashboard/live-overview/"


def test_a_service_link_filters_the_drilldown_on_the_service_and_the_range():
    settings = Settings(superset_url="https://dash.example.org/")
    url = dashboard_url(settings, "payment", dt.datetime(2026, 12, 1, 9, 30), dt.datetime(2026, 12, 1, 10, 15))
    assert url.startswith("https://dash.example.org/superset/dashboard/service-drilldown/?native_filters=")
    rison = _filters(url)
    assert "NATIVE_FILTER-service:(extraFormData:(filters:!((col:service,op:IN,val:!('payment')))" in rison
    assert "time_range:'2026-12-01T09:30:00 : 2026-12-01T10:15:00'" in rison


def test_quotes_and_bangs_in_a_service_name_are_escaped_for_rison():
    url = dashboard_url(Settings(), "it's!odd", None, None)
    rison = _filters(url)
    assert "val:!('it!'s!!odd')" in rison  # rison escapes ' as !' and ! as !!
    assert "NATIVE_FILTER-time" not in rison  # no range given, no time filter
    assert " " not in url and "'" not in url  # the whole value is percent-encoded
