"""`/orgs/{org}/dashboard` and `/orgs/{org}/dashboard.csv`: the whole class for its staff.

Others get 404 (an anonymous browser is asked to sign in first). Sorting is server-side:
`?sort=score&order=desc` (keys in `core.org_dashboard.SORT_KEYS`); the score trend is a small
inline SVG, so the page needs no script.
"""

from __future__ import annotations

import csv
import io

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gitserver.core import org_dashboard
from gitserver.core.models import User
from gitserver.core.urls import org_dashboard_csv_url, pylint_help_url
from gitserver.web.orgs_web import staff_org
from gitserver.web.page_access import page_viewer
from gitserver.web.templating import render
from gitserver.web.webforms import PageRoute

TREND_WIDTH, TREND_HEIGHT = 80, 20


def trend_svg(scores: list[float]) -> Markup:
    """The scores (0-10) of successive pushes as a small line; empty without two of them."""
    if len(scores) < 2:
        return Markup("")
    step = TREND_WIDTH / (len(scores) - 1)
    points = " ".join(f"{i * step:.1f},{TREND_HEIGHT - 1 - s / 10 * (TREND_HEIGHT - 2):.1f}"
                      for i, s in enumerate(scores))
    label = "score trend: " + " → ".join(f"{s:.2f}" for s in scores)
    return Markup('<svg class="trend" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
                  'role="img" aria-label="{label}"><title>{label}</title>'
                  '<polyline points="{points}" fill="none" stroke="currentColor" '
                  'stroke-width="1.5"/></svg>').format(w=TREND_WIDTH, h=TREND_HEIGHT,
                                                        label=label, points=points)


def _sorting(request: Request) -> tuple[str, bool]:
    sort = request.query_params.get("sort", "student")
    if sort not in org_dashboard.SORT_KEYS:
        sort = "student"
    return sort, request.query_params.get("order") == "desc"


@page_viewer
def dashboard_page(request: Request, me: User | None) -> Response:
    """/orgs/{org}/dashboard: per assignment, every student's latest work; frequent messages."""
    org = staff_org(request, me)
    sort, descending = _sorting(request)
    board = org_dashboard.build(org, sort, descending)
    return render(request, "org_dashboard.html", {
        "org": org, "board": board, "sort": sort, "descending": descending,
        "sort_keys": org_dashboard.SORT_KEYS, "trend_svg": trend_svg,
        "help_url": lambda symbol: pylint_help_url("", symbol),
        "csv_url": org_dashboard_csv_url("", org.username)})


@page_viewer
def dashboard_csv(request: Request, me: User | None) -> Response:
    """/orgs/{org}/dashboard.csv: one row per student and assignment (the contract's columns)."""
    org = staff_org(request, me)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        org_dashboard.csv_rows(org_dashboard.build(org), org.username))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{org.username}-dashboard.csv"',
        "Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    PageRoute("/orgs/{org}/dashboard", dashboard_page),
    PageRoute("/orgs/{org}/dashboard.csv", dashboard_csv),
]
