"""Metrics and traces, scraped over HTTP from real processes.

A real `aha worker` process (its metrics runtime is per process, so a subprocess is the honest
way to see the SDK's endpoint) runs real cases to their end on the time-skipping dev server;
a real `aha api` process answers real requests. Both are scraped as Prometheus would.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from aha.adapters.sqlite.programme import SqliteProgrammeStore
from aha.adapters.temporal.connection import connect
from aha.adapters.temporal.gateway import TemporalCases
from aha.config import Settings
from aha.dev import free_port
from aha.domain.models import CallReport, CaseView, Resolution
from aha.domain.policy import parse_policy
from aha.service import CaseService, case_id_for
from tests.conftest import ALWAYS_CALLABLE, Cases, read_emails
from tests.test_programme import evaluate, give_history
from worker import build_worker

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "aha.json"


# ---- processes and scrapes -----------------------------------------------------------------


def aha_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`aha ARGS` from this checkout, with only the settings given (none of the caller's)."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("AHA_", "TEMPORAL_", "OTEL_"))
    }
    clean |= {"PYTHONPATH": str(REPO)} | env
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "aha.cli", *args],
            env=clean,
            cwd=log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


async def wait_until(what: str, check: Any, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while not await check():
        if process.poll() is not None:
            raise AssertionError(f"{what}: the process exited:\n{log.read_text()}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: timed out:\n{log.read_text()}")
        await asyncio.sleep(0.1)


async def scrape_text(port: int) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    return response.text


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def samples(text: str) -> list[Sample]:
    """The samples of a text exposition, named exactly as served (a parser that renames
    counters with `_total` would hide the very naming these tests check)."""
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            name, labels, value = match.groups()
            found.append(Sample(name, dict(LABEL.findall(labels or "")), float(value)))
    return found


def total(found: list[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in found
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def metric_names(text: str) -> set[str]:
    """Every metric name a scrape exports, as a query names it (histograms by their parts)."""
    return {s.name for s in samples(text)}


# ---- the worker, and cases run to their end on it --------------------------------------------


@dataclass
class WorkerRun:
    views: dict[str, CaseView]  # by what happened: "resolved", "deadline", "not_enrolled"
    emails: Counter[str]  # emails that reached the mail server, by kind
    text: str  # the last scrape of the worker's /metrics


@pytest.fixture(scope="module")
async def worker_run(
    env: WorkflowEnvironment,
    mail_outbox: tuple[Path, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[WorkerRun]:
    work = tmp_path_factory.mktemp("metrics-worker")
    (work / "policy.toml").write_text(ALWAYS_CALLABLE + FIRST_ATTEMPT_TARGET, encoding="utf-8")
    outbox, smtp_port = mail_outbox
    metrics_port = free_port()
    task_queue = f"metrics-{uuid.uuid4()}"
    db_path = str(work / "aha.db")
    store = SqliteProgrammeStore(db_path)
    log = work / "worker.log"
    worker = aha_process(
        ["worker", "--policy", str(work / "policy.toml")],
        {
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "AHA_TASK_QUEUE": task_queue,
            "AHA_DB": db_path,
            "AHA_SMTP_HOST": "127.0.0.1",
            "AHA_SMTP_PORT": str(smtp_port),
            "AHA_DIALER": "manual",
            "AHA_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        },
        log,
    )
    try:

        async def started() -> bool:
            return "worker started" in log.read_text()

        await wait_until("the worker to start", started, worker, log)
        service = CaseService(TemporalCases(env.client), store, task_queue)
        cases = Cases(env, service, store, outbox)
        views = {
            "resolved": await _resolved_case(cases),
            "deadline": await _deadline_case(cases),
            "not_enrolled": await _not_enrolled_case(cases),
        }
        # And an enrolment sweep that enrols one seller, with its email.
        newcomer = cases.new_seller(enrolled=False)
        give_history(cases, work, newcomer)
        swept = await evaluate(cases, newcomer)
        assert (swept.enrolled, swept.emails) == (1, 1)
        emails: Counter[str] = Counter()
        for seller_id in [view.seller_id for view in views.values()] + [newcomer]:
            emails.update(m["X-Aha-Kind"] for m in read_emails(outbox, seller_id))

        async def settled() -> bool:
            # Metrics lag the views by the end of a workflow task at most.
            found = samples(await scrape_text(metrics_port))
            sent = {k: total(found, "aha_emails", kind=k, result="sent") for k in emails}
            return total(found, "aha_cases_closed") == 3 and sent == dict(emails)

        await wait_until("the metrics to count every case", settled, worker, log)
        yield WorkerRun(views, emails, await scrape_text(metrics_port))
    finally:
        stop(worker)


TWO_HOURS_AGO = timedelta(hours=2)
FIRST_ATTEMPT_TARGET = '\n[sla]\nfirst_attempt_within = "15m"\n'


async def _resolved_case(cases: Cases) -> CaseView:
    """Detected two hours before it reached us; the first call is answered, then resolved."""
    seller = cases.new_seller()
    await cases.detect(seller, detected_at=datetime.now(UTC) - TWO_HOURS_AGO)
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="answered"))
    await cases.service.resolve(seller, Resolution(issue_id="I1", note="listings fixed"))
    view = await cases.wait_for(seller, lambda v: v.status == "resolved")
    await cases.wait_for_emails(seller, 2)  # opened, resolved
    return view


async def _deadline_case(cases: Cases) -> CaseView:
    """The seller is never reached: calls go unanswered until the deadline deactivates."""
    seller = cases.new_seller()
    await cases.detect(seller, severity="critical")
    await cases.wait_for_call(seller, 1)
    await cases.service.report_call_outcome(seller, CallReport(attempt=1, outcome="busy"))
    view = await cases.run_to_end(seller)
    assert view.status == "deactivated" and view.closure_reason == "deadline_passed"
    await _wait_for_kind(cases, seller, "deactivated")
    return view


async def _not_enrolled_case(cases: Cases) -> CaseView:
    seller = cases.new_seller(enrolled=False)
    await cases.detect(seller, severity="medium")
    view = await cases.run_to_end(seller)
    assert view.closure_reason == "not_enrolled"
    await _wait_for_kind(cases, seller, "deactivated")
    return view


async def _wait_for_kind(cases: Cases, seller: str, kind: str) -> None:
    deadline = asyncio.get_running_loop().time() + 20
    while kind not in [m["X-Aha-Kind"] for m in cases.emails(seller)]:
        assert asyncio.get_running_loop().time() < deadline, f"no {kind} email for {seller}"
        await asyncio.sleep(0.1)


# ---- the SDK's own metrics -------------------------------------------------------------------


def test_the_worker_serves_the_sdk_metrics_with_their_default_names(worker_run: WorkerRun) -> None:
    found = samples(worker_run.text)
    names = {s.name for s in found}
    # The names the public Temporal SDK dashboards query: no `_total`, durations in ms.
    assert total(found, "temporal_workflow_completed", workflow_type="CaseWorkflow") >= 3
    assert "temporal_activity_execution_latency_bucket" in names
    assert "temporal_workflow_task_execution_latency_bucket" in names
    counters = re.findall(r"^# TYPE (\S+) counter$", worker_run.text, re.MULTILINE)
    assert {"temporal_workflow_completed", "temporal_request", "aha_cases_opened"} <= set(counters)
    assert all(c in names and f"{c}_total" not in names for c in counters), "no _total added"
    latency_buckets = {
        s.labels["le"] for s in found if s.name == "temporal_activity_execution_latency_bucket"
    }
    assert {"100", "1000", "10000"} <= latency_buckets, "activity latency buckets are in ms"
    assert "0.1" not in latency_buckets


# ---- the business metrics --------------------------------------------------------------------


def test_cases_opened_and_closed_are_counted_by_type_severity_and_reason(
    worker_run: WorkerRun,
) -> None:
    found = samples(worker_run.text)
    opened = {
        s.labels["severity"]: s.value
        for s in found
        if s.name == "aha_cases_opened" and s.labels["issue_type"] == "ip_complaint"
    }
    assert opened == {"high": 1, "critical": 1, "medium": 1}
    assert total(found, "aha_cases_opened", workflow_type="CaseWorkflow") == 3
    closed = {s.labels["reason"]: s.value for s in found if s.name == "aha_cases_closed"}
    assert closed == {"resolved": 1, "deadline_passed": 1, "not_enrolled": 1}


def test_call_attempts_are_counted_by_the_outcome_each_case_recorded(
    worker_run: WorkerRun,
) -> None:
    found = samples(worker_run.text)
    recorded = Counter(
        str(a.outcome) for v in worker_run.views.values() for a in v.call_attempts if a.outcome
    )
    assert recorded["answered"] == 1 and recorded["busy"] == 1 and recorded["no_answer"] >= 1
    counted = {s.labels["outcome"]: s.value for s in found if s.name == "aha_call_attempts"}
    assert counted == dict(recorded)


def test_emails_are_counted_by_kind_and_result(worker_run: WorkerRun) -> None:
    found = samples(worker_run.text)
    sent = {
        s.labels["kind"]: s.value
        for s in found
        if s.name == "aha_emails" and s.labels["result"] == "sent"
    }
    assert sent == dict(worker_run.emails), "every email that arrived is counted once as sent"
    assert {"issue_opened", "resolved", "deactivated"} <= set(sent)
    assert sent["deactivated"] == 2
    assert sent["enrollment_enrolled"] == 1, "enrolment emails are counted too"
    results = {s.labels["result"] for s in found if s.name == "aha_emails"}
    assert results <= {"sent", "already_sent", "dropped", "busy", "rejected", "unavailable"}


def test_detection_to_first_contact_measures_the_reached_case_only(worker_run: WorkerRun) -> None:
    found = samples(worker_run.text)
    name = "aha_detection_to_first_contact_seconds"
    assert total(found, f"{name}_count") == 1, "only the resolved case reached its seller"
    reached = next(
        e.at for e in worker_run.views["resolved"].timeline if e.kind == "seller_reached"
    )
    detected = worker_run.views["resolved"].issues[0].detected_at
    expected = (reached - detected).total_seconds()
    assert expected >= TWO_HOURS_AGO.total_seconds()
    assert total(found, f"{name}_sum") == pytest.approx(expected, abs=1.0)
    # Its buckets are the case's hours, not the SDK's milliseconds: 2 h lands under 4 h.
    assert total(found, f"{name}_bucket", le="3600") == 0
    assert total(found, f"{name}_bucket", le="14400") == 1


def test_sla_clocks_are_counted_by_target_and_state(worker_run: WorkerRun) -> None:
    found = samples(worker_run.text)
    met = [
        view
        for view in worker_run.views.values()
        for clock in view.sla
        if clock.target == "first_attempt" and clock.state == "met"
    ]
    assert len(met) == 2, "the resolved and the deadline case dialled at once"
    assert total(found, "aha_sla_clocks", target="first_attempt", state="met") == len(met)
    assert total(found, "aha_sla_clocks", state="breached") == 0


def test_deactivation_lateness_measures_the_deadline_case_only(worker_run: WorkerRun) -> None:
    found = samples(worker_run.text)
    name = "aha_deactivation_lateness_seconds"
    assert total(found, f"{name}_count") == 1, "an immediate deactivation has no deadline"
    view = worker_run.views["deadline"]
    deactivated = next(e.at for e in view.timeline if e.kind == "account_deactivated")
    late = (deactivated - view.issues[0].deadline).total_seconds()
    assert 0 <= late < 60
    assert total(found, f"{name}_sum") == pytest.approx(late, abs=0.01)


# ---- the API's HTTP metrics ------------------------------------------------------------------


@dataclass
class ApiRun:
    text: str
    seller_ids: list[str]


@pytest.fixture(scope="module")
async def api_run(
    env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ApiRun]:
    work = tmp_path_factory.mktemp("metrics-api")
    db_path = str(work / "aha.db")
    store = SqliteProgrammeStore(db_path)
    mine, other = f"metrics-{uuid.uuid4().hex[:8]}", f"metrics-{uuid.uuid4().hex[:8]}"
    for seller in (mine, other):
        store.upsert(seller, email=f"{seller}@sellers.example", phone="+12125550123",
                     timezone="Europe/Paris", marketplace="FR", name=seller)  # fmt: skip
    roles = {"specialist": "specialist", "detector": "detector", "seller": f"seller:{mine}"}
    tokens = {who: uuid.uuid4().hex for who in roles}
    (work / "tokens.toml").write_text(
        "".join(
            f'[[token]]\nrole = "{role}"\nname = "{who}"\ntoken = "{tokens[who]}"\n\n'
            for who, role in roles.items()
        ),
        encoding="utf-8",
    )
    api_port, metrics_port = free_port(), free_port()
    log = work / "api.log"
    api = aha_process(
        ["api", "--port", str(api_port)],
        {
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "AHA_TASK_QUEUE": f"metrics-api-{uuid.uuid4()}",
            "AHA_DB": db_path,
            "AHA_API_TOKENS": str(work / "tokens.toml"),
            "AHA_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        },
        log,
    )
    try:

        async def listening() -> bool:
            # A bare TCP connection: a readiness request would count as a request.
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", api_port)) == 0

        await wait_until("the API to listen", listening, api, log)
        specialist, detector, seller = (
            {"Authorization": f"Bearer {tokens[who]}"}
            for who in ("specialist", "detector", "seller")
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as http:
            answers = [
                (await http.get("/healthz")).status_code,
                (await http.get("/healthz")).status_code,
                (await http.get(f"/v1/sellers/{mine}/case")).status_code,
                (await http.get(f"/v1/sellers/{other}/case", headers=seller)).status_code,
                (await http.get(f"/v1/sellers/{mine}/case", headers=specialist)).status_code,
                (await http.post("/v1/detections", json={}, headers=seller)).status_code,
                (await http.post("/v1/detections", json={}, headers=detector)).status_code,
                (await http.get(f"/no-such-page/{mine}")).status_code,
            ]
        # Another seller's case is as unknown to a seller as a case that does not exist.
        assert answers == [200, 200, 401, 404, 404, 403, 422, 404]
        yield ApiRun(await scrape_text(metrics_port), [mine, other])
    finally:
        stop(api)


def test_the_api_counts_requests_by_route_template_and_status(api_run: ApiRun) -> None:
    found = samples(api_run.text)
    counted = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in found
        if s.name == "aha_api_requests_total"
    }
    case = "/v1/sellers/{seller_id}/case"
    assert counted == {
        ("GET", "/healthz", "200"): 2,
        ("GET", case, "401"): 1,
        ("GET", case, "404"): 2,
        ("POST", "/v1/detections", "403"): 1,
        ("POST", "/v1/detections", "422"): 1,
        ("GET", "unmatched", "404"): 1,
    }
    assert total(found, "aha_api_request_duration_seconds_count", route=case) == 3
    assert total(found, "aha_api_request_duration_seconds_count") == 8


def test_no_seller_id_reaches_the_api_metrics(api_run: ApiRun) -> None:
    for seller in api_run.seller_ids:
        assert seller not in api_run.text


# ---- settings that cannot be used ------------------------------------------------------------


@pytest.mark.parametrize("command", ["worker", "api"])
@pytest.mark.parametrize("bind", ["9464", "localhost", "0.0.0.0:port", "127.0.0.1:70000"])
def test_a_malformed_metrics_bind_stops_the_process_naming_the_setting(
    command: str, bind: str, tmp_path: Path
) -> None:
    log = tmp_path / "out.log"
    process = aha_process(
        [command], {"AHA_METRICS_BIND": bind, "AHA_DB": str(tmp_path / "aha.db")}, log
    )
    assert process.wait(timeout=30) == 1
    assert f"AHA_METRICS_BIND: {bind!r} is not host:port" in log.read_text()


@pytest.mark.parametrize("command", ["worker", "api"])
def test_a_taken_metrics_port_stops_the_process_naming_the_setting(
    command: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log = tmp_path / "out.log"
        process = aha_process(
            [command, "--port", str(free_port())] if command == "api" else [command],
            {"AHA_METRICS_BIND": f"127.0.0.1:{port}", "AHA_DB": str(tmp_path / "a.db")},
            log,
        )
        assert process.wait(timeout=30) == 1
    assert f"AHA_METRICS_BIND: cannot serve metrics on 127.0.0.1:{port}" in log.read_text()
    assert "in use" in log.read_text()


# ---- the dashboard ---------------------------------------------------------------------------


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def test_the_dashboard_queries_only_metrics_the_worker_and_api_export(
    worker_run: WorkerRun, api_run: ApiRun
) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    queries = dashboard_queries(dashboard)
    assert queries, "the dashboard has panels with Prometheus queries"
    named = {m for q in queries for m in re.findall(r"\b(?:aha|temporal)_[a-z_]+\b", q)}
    exported = metric_names(worker_run.text) | metric_names(api_run.text)
    assert named - exported == set(), "every metric the dashboard names is exported"
    business = {
        "aha_cases_opened", "aha_cases_closed", "aha_call_attempts", "aha_emails",
        "aha_detection_to_first_contact_seconds_bucket", "aha_deactivation_lateness_seconds_bucket",
        "aha_api_requests_total", "aha_api_request_duration_seconds_bucket",
    }  # fmt: skip
    assert business <= named, "the dashboard shows every business and HTTP metric"
    for panel in dashboard["panels"]:
        if panel.get("targets"):
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


# ---- tracing ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spans() -> Iterator[Any]:
    """This process's tracer provider, recording in memory (aha keeps a provider it finds)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter


async def _one_case(
    env: WorkflowEnvironment, tmp_path: Path, mail: tuple[Path, int], tracing: str | None
) -> tuple[Any, str]:
    """A case opened by a client connected with AHA_TRACING=`tracing`, up to its first email."""
    settings = replace(
        Settings(),
        temporal_address=env.client.service_client.config.target_host,
        task_queue=f"tracing-{uuid.uuid4()}",
        db_path=str(tmp_path / "aha.db"),
        smtp_host="127.0.0.1",
        smtp_port=mail[1],
        dialer="manual",
        tracing=tracing,
    )
    client = await connect(settings)
    store = SqliteProgrammeStore(settings.db_path)
    cases = Cases(
        env, CaseService(TemporalCases(client), store, settings.task_queue), store, mail[0]
    )
    seller = cases.new_seller()
    async with build_worker(client, settings, parse_policy(ALWAYS_CALLABLE)):
        await cases.service.detect(cases.event(seller))
        await cases.wait_for_emails(seller, 1)
        await client.get_workflow_handle(case_id_for(seller)).terminate("test over")
    return client, seller


async def test_with_tracing_on_a_case_produces_spans(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int], spans: Any
) -> None:
    from temporalio.contrib.opentelemetry import TracingInterceptor

    spans.clear()
    client, seller = await _one_case(env, tmp_path, mail_outbox, "otlp")
    assert any(isinstance(i, TracingInterceptor) for i in client.config()["interceptors"])
    names = {span.name for span in spans.get_finished_spans()}
    assert "StartUpdateWithStartWorkflow:CaseWorkflow" in names
    assert "RunWorkflow:CaseWorkflow" in names
    assert "RunActivity:deliver_email" in names
    workflow_spans = [s for s in spans.get_finished_spans() if s.name == "RunWorkflow:CaseWorkflow"]
    assert workflow_spans[0].attributes["temporalWorkflowID"] == case_id_for(seller)


async def test_with_tracing_off_there_is_no_interceptor_and_no_span(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int], spans: Any
) -> None:
    spans.clear()
    client, _ = await _one_case(env, tmp_path, mail_outbox, None)
    assert client.config()["interceptors"] == []
    assert spans.get_finished_spans() == ()


def test_tracing_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from aha.adapters.temporal.tracing import tracing_interceptors

    for name in list(sys.modules):
        if name.startswith(("opentelemetry", "temporalio.contrib.opentelemetry")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(RuntimeError, match=r"AHA_TRACING=otlp needs OpenTelemetry.*aha\[tracing\]"):
        tracing_interceptors(replace(Settings(), tracing="otlp"))


def test_an_unknown_tracing_mode_names_the_setting() -> None:
    from aha.adapters.temporal.tracing import tracing_interceptors

    with pytest.raises(ValueError, match="AHA_TRACING: 'jaeger' is not one of off, otlp"):
        tracing_interceptors(replace(Settings(), tracing="jaeger"))


# ---- tracing in a real worker process, to a real OTLP collector ------------------------------


class Collector:
    """An OTLP/gRPC trace collector: what a real one receives, kept as span names."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        self.received: list[tuple[str, str]] = []  # (service.name, span name)
        collector = self

        class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                for resource_spans in request.resource_spans:
                    service = next(
                        (a.value.string_value for a in resource_spans.resource.attributes
                         if a.key == "service.name"), "")  # fmt: skip
                    for scope in resource_spans.scope_spans:
                        collector.received += [(service, s.name) for s in scope.spans]
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()


async def test_an_aha_worker_with_tracing_otlp_exports_spans_to_the_collector(
    env: WorkflowEnvironment, tmp_path: Path, mail_outbox: tuple[Path, int]
) -> None:
    collector = Collector()
    task_queue = f"otlp-{uuid.uuid4()}"
    log = tmp_path / "worker.log"
    worker = aha_process(
        ["worker"],
        {
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "AHA_TASK_QUEUE": task_queue,
            "AHA_DB": str(tmp_path / "aha.db"),
            "AHA_SMTP_HOST": "127.0.0.1",
            "AHA_SMTP_PORT": str(mail_outbox[1]),
            "AHA_TRACING": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
        log,
    )
    try:

        async def started() -> bool:
            return "worker started" in log.read_text()

        await wait_until("the worker to start", started, worker, log)
        assert "tracing=otlp" in log.read_text()
        store = SqliteProgrammeStore(str(tmp_path / "aha.db"))
        cases = Cases(
            env, CaseService(TemporalCases(env.client), store, task_queue), store, mail_outbox[0]
        )
        seller = cases.new_seller()
        await cases.detect(seller)
        await cases.wait_for_emails(seller, 1)

        async def exported() -> bool:
            return ("aha", "RunActivity:deliver_email") in collector.received

        await wait_until("the collector to receive the worker's spans", exported, worker, log)
        await env.client.get_workflow_handle(case_id_for(seller)).terminate("test over")
    finally:
        stop(worker)
        collector.server.stop(grace=None)
