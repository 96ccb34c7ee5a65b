"""The console's dashboard: the board's numbers as bar charts, each with its CSV.

Every figure is one table (its CSV, and the numbers beside its chart) and one chart drawn
from it, so what people see and what they download cannot disagree.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from aha.domain.board import OPEN_STATUSES, Dashboard
from aha.domain.sla import TARGET_TEXT
from aha.domain.vocabulary import SlaTarget
from api import console_text
from api.charts import Bar, bar_chart
from api.console import (
    Staff,
    live_response,
    message_page,
    render,
    shared_model,
    sign_in_page,
    signed_in,
    signed_out_json,
    version_of,
)
from api.errors import as_api_error
from api.page import FAILURES, templates, with_page_headers

router = APIRouter(prefix="/console/dashboard", include_in_schema=False)
Cell = str | int | float | None


@dataclass(frozen=True)
class Figure:
    name: str  # its CSV is /console/dashboard/{name}.csv
    title: str
    description: str
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    bars: list[Bar]

    @property
    def svg(self) -> Markup:
        # bar_chart escapes every text it draws.
        return Markup(bar_chart(f"chart-{self.name}", self.title, self.description, self.bars))


def _time_bar(label: str, seconds: float | None) -> Bar:
    return Bar(
        label, seconds or 0, console_text.span(seconds) if seconds is not None else "no data"
    )


FIGURE_NAMES = (
    "open-by-status", "at-risk", "contact-rate", "response-times", "deactivations",
    "sla-breaches",
)  # fmt: skip


def figures(board: Dashboard) -> list[Figure]:
    statuses = [*OPEN_STATUSES, *sorted(set(board.open_by_status) - set(OPEN_STATUSES))]
    by_status = [(s, board.open_by_status.get(s, 0)) for s in statuses]
    times = [
        ("first_attempt_p50", "First attempt, median", board.first_attempt_p50_s),
        ("first_attempt_p90", "First attempt, 90th pct.", board.first_attempt_p90_s),
        ("reached_p50", "Seller reached, median", board.reached_p50_s),
        ("reached_p90", "Seller reached, 90th pct.", board.reached_p90_s),
    ]
    reasons = sorted(set(board.deactivations_7d) | set(board.deactivations_30d))
    deactivations = [
        (r, board.deactivations_7d.get(r, 0), board.deactivations_30d.get(r, 0)) for r in reasons
    ]
    breaches = [(t.value, board.sla_breaches_30d.get(t.value, 0)) for t in SlaTarget]
    rate = board.contact_rate_30d
    return [
        Figure(
            "open-by-status",
            "Open cases by status",
            "How many open cases are in each status now",
            ("status", "open_cases"),
            list(by_status),
            [Bar(console_text.words(s), n) for s, n in by_status],
        ),
        Figure(
            "at-risk",
            "Cases at risk",
            "Open cases whose deadline falls within the next 6 and 24 hours",
            ("deadline_within_hours", "open_cases"),
            [(6, board.at_risk_6h), (24, board.at_risk_24h)],
            [
                Bar("Deadline within 6 hours", board.at_risk_6h),
                Bar("Deadline within 24 hours", board.at_risk_24h),
            ],
        ),
        Figure(
            "contact-rate",
            "Contact rate, last 30 days",
            "Cases closed in the last 30 days, and those whose seller was reached before the "
            "deadline"
            + (f": a contact rate of {rate:.0%}" if rate is not None else ": none closed yet"),
            ("measure", "value"),
            [
                ("closed", board.closed_30d),
                ("reached_before_deadline", board.reached_before_deadline_30d),
                ("contact_rate", round(rate, 4) if rate is not None else None),
            ],
            [
                Bar("Closed", board.closed_30d),
                Bar("Reached before deadline", board.reached_before_deadline_30d),
            ],
        ),
        Figure(
            "response-times",
            "Time from detection to first attempt and to reach",
            "Median and 90th percentile over cases opened in the last 30 days",
            ("measure", "seconds"),
            [(key, round(value, 1) if value is not None else None) for key, _, value in times],
            [_time_bar(label, value) for _, label, value in times],
        ),
        Figure(
            "deactivations",
            "Deactivations by closure reason",
            "Cases closed by deactivation in the last 7 and 30 days, by reason",
            ("closure_reason", "last_7_days", "last_30_days"),
            list(deactivations),
            [
                Bar(f"{console_text.words(r)}, {days} days", n)
                for r, seven, thirty in deactivations
                for days, n in ((7, seven), (30, thirty))
            ],
        ),
        Figure(
            "sla-breaches",
            "SLA breaches by target, last 30 days",
            "Cases opened in the last 30 days whose internal target was breached",
            ("target", "breached_cases"),
            list(breaches),
            [Bar(TARGET_TEXT[SlaTarget(t)].capitalize(), n) for t, n in breaches],
        ),
    ]


def csv_text(figure: Figure) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(figure.header)
    writer.writerows([_cell(c) for c in row] for row in figure.rows)
    return out.getvalue()


def _cell(value: Cell) -> Cell:
    # A spreadsheet runs a cell that starts like a formula: labels are data, never formulas.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


async def _dashboard(staff: Staff) -> Dashboard:
    return await staff.state.reads.dashboard()


def _figures_html(shared: dict[str, Any], board: Dashboard) -> str:
    model = shared | {"figures": figures(board), "board": board, "text": console_text}
    return templates.get_template("_console_figures.html").render(model)


def _summary(board: Dashboard) -> str:
    return f"Dashboard updated {board.at.astimezone(UTC):%H:%M} UTC."


@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request) -> Response:
    staff = signed_in(request)
    if staff is None:
        return sign_in_page(request)
    try:
        board = await _dashboard(staff)
    except FAILURES as err:
        api_error = as_api_error(err)
        return message_page(
            request, staff, "Dashboard unavailable", api_error.detail, api_error.status
        )
    shared = shared_model(staff)
    html = _figures_html(shared, board)
    model = {
        "figures_html": Markup(html),
        "version": version_of(html),
        "summary": _summary(board),
        "nav": "dashboard",
    }
    return render(request, staff, "console_dashboard.html", model)


@router.get("/live.json")
async def dashboard_live(request: Request) -> Response:
    staff = signed_in(request)
    if staff is None:
        return signed_out_json()
    try:
        board = await _dashboard(staff)
    except FAILURES as err:
        api_error = as_api_error(err)
        return JSONResponse(
            {"error": api_error.error, "detail": api_error.detail}, api_error.status
        )
    shared = shared_model(staff)
    return live_response({"dashboard-figures": _figures_html(shared, board)}, _summary(board))


@router.get("/{name}.csv")
async def figure_csv(request: Request, name: str) -> Response:
    staff = signed_in(request)
    if staff is None:
        return sign_in_page(request, status=401)
    if name not in FIGURE_NAMES:  # refused before the board is read
        return message_page(request, staff, "Not found", f"There is no figure {name!r}.", 404)
    try:
        board = await _dashboard(staff)
    except FAILURES as err:
        api_error = as_api_error(err)
        return message_page(
            request, staff, "Dashboard unavailable", api_error.detail, api_error.status
        )
    figure = next((f for f in figures(board) if f.name == name), None)
    if figure is None:
        return message_page(request, staff, "Not found", f"There is no figure {name!r}.", 404)
    stamp = board.at.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    response = Response(
        csv_text(figure),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="aha-{figure.name}-{stamp}.csv"'},
    )
    return with_page_headers(response)
