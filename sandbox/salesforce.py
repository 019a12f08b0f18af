"""A local stand-in of the Salesforce REST API: the parts custsync's write-back uses.

- ``POST /services/oauth2/token``: the OAuth 2.0 client credentials flow (a token, and the
  ``instance_url`` to use it on);
- ``PATCH /services/data/vXX.X/composite/sobjects``: sObject Collections update, 200 records a
  call at most, results in the order sent (failed ones carry no id, as Salesforce's do);
- ``/services/data/vXX.X/jobs/ingest``: Bulk API 2.0 ingest (create a job, upload its CSV once,
  ``UploadComplete``, poll through ``InProgress`` to ``JobComplete``/``Failed``/``Aborted``, then
  ``successfulResults/``, ``failedResults/``, ``unprocessedrecords/``, in another order than
  sent, as Salesforce's are).

Strict where Salesforce is: a token checked on every call (401 ``INVALID_SESSION_ID``), an
unknown field fails the job (``InvalidBatch : Field name not found : X``) or the call
(``INVALID_FIELD``), a deleted record fails with ``ENTITY_IS_DELETED``, a malformed id with
``MALFORMED_ID``, a record not in the org with ``INVALID_CROSS_REFERENCE_KEY``; ``#N/A`` clears a
field in a CSV and an empty cell leaves it; every call under ``/services/data`` counts against
the daily allocation, told in ``Sforce-Limit-Info`` and refused past it (403
``REQUEST_LIMIT_EXCEEDED``). Injectable, through ``POST /_sandbox/salesforce``: row locks
(``UNABLE_TO_LOCK_ROW`` for a record's next N writes), 5xx answers, jobs that fail half way,
how many polls a job takes. ``GET /_sandbox/salesforce`` shows the org's records.

What it cannot prove: Salesforce's real timings (jobs here take polls, not minutes), its
triggers, validation rules and sharing, or the exact wording of errors this file does not list.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DATA = "/services/data/{version:str}"
_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
FINAL_STATES = ("JobComplete", "Failed", "Aborted")
DEFAULT_FIELDS = ("Id", "FirstName", "LastName", "Email", "Phone", "AccountId")
MAX_COLLECTION = 200
CLEAR = "#N/A"


@dataclass
class IngestJob:
    """One Bulk API 2.0 ingest job and, once done, its results."""

    id: str
    object: str
    operation: str
    external_id_field: str | None
    state: str = "Open"
    data: str | None = None
    polls: int = 0
    error_message: str = ""
    successful: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    unprocessed: list[dict[str, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def info(self, version: str) -> dict[str, Any]:
        """The job's JobInfo, as GET jobs/ingest/{id} answers it."""
        processed = len(self.successful) + len(self.failed)
        return {
            "id": self.id, "operation": self.operation, "object": self.object,
            "createdById": "005000000000001AAA", "state": self.state,
            "externalIdFieldName": self.external_id_field, "concurrencyMode": "Parallel",
            "contentType": "CSV", "apiVersion": float(version.lstrip("v")),
            "jobType": "V2Ingest", "lineEnding": "LF", "columnDelimiter": "COMMA",
            "contentUrl": f"services/data/{version}/jobs/ingest/{self.id}/batches",
            "numberRecordsProcessed": processed, "numberRecordsFailed": len(self.failed),
            "retries": 0, "totalProcessingTime": 0,
            **({"errorMessage": self.error_message} if self.error_message else {}),
        }  # fmt: skip


@dataclass
class SalesforceOrg:
    """The org's records, fields, tokens, allocation, jobs and injected faults."""

    tokens: set[str] = field(default_factory=set)
    client: tuple[str, str] | None = None  # client credentials flow: (id, secret)
    records: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # 15-character ids
    fields: dict[str, set[str]] = field(default_factory=dict)
    api_limit: int = 15_000
    api_used: int = 0
    polls_to_complete: int = 3
    locked: dict[str, int] = field(default_factory=dict)  # 15-char id -> writes still refused
    fail_next: int = 0  # the next N calls answer 503
    fail_job_after: int | None = None  # a job fails after this many records
    jobs: dict[str, IngestJob] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)  # by operation, for the benches
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    @property
    def is_open(self) -> bool:
        """No token and no client configured: any Bearer token is taken (a demo's sandbox)."""
        return not self.tokens and self.client is None

    def fields_of(self, sobject: str) -> set[str]:
        """The fields an object has (its standard ones, plus those configured)."""
        return set(DEFAULT_FIELDS) | self.fields.get(sobject, set())

    def find(self, sobject: str, record_id: str) -> dict[str, str | None] | None:
        """A record of the object by its 15- or 18-character id (Salesforce takes either)."""
        return self.records.get(sobject, {}).get(record_id[:15])

    def write(self, sobject: str, record_id: str, values: dict[str, str | None]) -> str | None:
        """Update one record: None, or the error Salesforce would give (``CODE:message``)."""
        if not _ID.match(record_id):
            return f"MALFORMED_ID:{sobject} ID: id value of incorrect type: {record_id}"
        key = record_id[:15]
        if key in self.deleted:
            return "ENTITY_IS_DELETED:entity is deleted"
        record = self.find(sobject, record_id)
        if record is None:
            return "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id"
        if self.locked.get(key, 0) > 0:
            self.locked[key] -= 1
            return "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record"
        record.update(values)
        return None

    def as_dict(self) -> dict[str, Any]:
        """What ``GET /_sandbox/salesforce`` shows."""
        return {
            "records": self.records, "deleted": sorted(self.deleted), "api_used": self.api_used,
            "api_limit": self.api_limit, "calls": self.calls,
            "jobs": {j.id: j.state for j in self.jobs.values()},
        }  # fmt: skip


def _errors(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status, headers or None)


def _org(request: Request) -> SalesforceOrg:
    org: SalesforceOrg = request.app.state.salesforce
    return org


def _gate(request: Request, operation: str) -> tuple[SalesforceOrg, Response | None]:
    """Count the call against the allocation; its refusal, if any (token, limit, fault)."""
    org = _org(request)
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    if not token or not (org.is_open or token in org.tokens):
        return org, _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
    org.api_used += 1
    org.calls[operation] = org.calls.get(operation, 0) + 1
    limit = {"Sforce-Limit-Info": f"api-usage={org.api_used}/{org.api_limit}"}
    if org.api_used > org.api_limit:
        return org, _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", **limit)
    if org.fail_next > 0:
        org.fail_next -= 1
        return org, _errors(503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable", **limit)
    return org, None


def _with_limit(org: SalesforceOrg, response: Response) -> Response:
    response.headers["Sforce-Limit-Info"] = f"api-usage={org.api_used}/{org.api_limit}"
    return response


async def token(request: Request) -> Response:
    """POST /services/oauth2/token: client credentials -> an access token and instance_url."""
    org = _org(request)
    # Parsed here: Starlette's form parser needs python-multipart, for a body this simple.
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    given = (form.get("client_id", ""), form.get("client_secret", ""))
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type",
                             "error_description": "grant type not supported"}, 400)  # fmt: skip
    matches = org.client is not None and all(
        secrets.compare_digest(a, b) for a, b in zip(given, org.client, strict=True)
    )
    if not matches:
        return JSONResponse({"error": "invalid_client",
                             "error_description": "invalid client credentials"}, 400)  # fmt: skip
    issued = "00D" + secrets.token_urlsafe(24)
    org.tokens.add(issued)
    root = f"{request.url.scheme}://{request.url.netloc}"
    return JSONResponse({
        "access_token": issued, "instance_url": root, "token_type": "Bearer",
        "id": f"{root}/id/00D000000000001AAA/005000000000001AAA", "issued_at": "0",
        "signature": secrets.token_urlsafe(16),
    })  # fmt: skip


async def update_collection(request: Request) -> Response:
    """PATCH composite/sobjects: up to 200 records, each result in the order sent."""
    org, refused = _gate(request, "collections")
    if refused is not None:
        return refused
    try:
        body = json.loads(await request.body())
        records = body["records"]
        all_or_none = bool(body.get("allOrNone", False))
        assert isinstance(records, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        return _with_limit(org, _errors(400, "JSON_PARSER_ERROR", "Unexpected request body"))
    if len(records) > MAX_COLLECTION:
        return _with_limit(org, _errors(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot "
                                        "submit more than 200 records into this call"))  # fmt: skip
    results: list[dict[str, Any]] = []
    with org.lock:
        for record in records:
            sobject = str(record.get("attributes", {}).get("type", ""))
            values = {k: v for k, v in record.items() if k not in ("attributes", "id")}
            unknown = sorted(set(values) - org.fields_of(sobject))
            if unknown:
                return _with_limit(org, _errors(
                    400, "INVALID_FIELD",
                    f"No such column '{unknown[0]}' on sobject of type {sobject}"))  # fmt: skip
        for record in records:
            sobject = str(record["attributes"]["type"])
            record_id = str(record.get("id", ""))
            values = {k: v for k, v in record.items() if k not in ("attributes", "id")}
            error = org.write(sobject, record_id, values)
            if error is None:
                results.append({"id": _id18(record_id), "success": True, "errors": []})
            else:
                code, message = error.split(":", 1)
                results.append({"success": False, "errors": [
                    {"statusCode": code, "message": message, "fields": []}]})  # fmt: skip
    if all_or_none and any(not r["success"] for r in results):
        results = [r if not r["success"] else {"success": False, "errors": [{
            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "message": "Record rolled back because not all records were valid and the request "
                       "was using AllOrNone header", "fields": []}]} for r in results]  # fmt: skip
    return _with_limit(org, JSONResponse(results))


def _id18(record_id: str) -> str:
    """The 18-character id of a 15- or 18-character one (the suffix as Salesforce computes it)."""
    if len(record_id) == 18:
        return record_id
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in (record_id[0:5], record_id[5:10], record_id[10:15]):
        bits = sum(1 << i for i, c in enumerate(chunk) if c.isupper())
        suffix += alphabet[bits]
    return record_id + suffix


async def create_job(request: Request) -> Response:
    """POST jobs/ingest: an Open job for an object and operation."""
    org, refused = _gate(request, "ingest")
    if refused is not None:
        return refused
    try:
        body = json.loads(await request.body())
        sobject, operation = str(body["object"]), str(body["operation"])
    except (ValueError, KeyError, TypeError):
        return _with_limit(org, _errors(400, "INVALIDJOB", "Unexpected request body"))
    if operation not in ("insert", "update", "upsert", "delete", "hardDelete"):
        return _with_limit(org, _errors(400, "INVALIDJOB", f"Invalid operation: {operation}"))
    if body.get("contentType", "CSV") != "CSV":
        return _with_limit(org, _errors(400, "INVALIDJOB", "Invalid content type"))
    external = body.get("externalIdFieldName")
    if operation == "upsert" and not external:
        return _with_limit(org, _errors(400, "INVALIDJOB", "External ID was blank for upsert"))
    job = IngestJob("750" + secrets.token_hex(6).upper()[:15], sobject, operation, external)
    org.jobs[job.id] = job
    return _with_limit(org, JSONResponse(job.info(request.path_params["version"])))


def _job(request: Request, operation: str) -> tuple[SalesforceOrg, IngestJob | Response]:
    """The call gated (token, allocation, faults) and its job found: the job, or the answer
    that refuses the call."""
    org, refused = _gate(request, operation)
    if refused is not None:
        return org, refused
    job = org.jobs.get(request.path_params["job_id"])
    if job is None:
        return org, _with_limit(
            org, _errors(404, "NOT_FOUND", "The requested resource does not exist")
        )
    return org, job


async def upload(request: Request) -> Response:
    """PUT jobs/ingest/{id}/batches: the job's CSV, once, while it is Open."""
    org, job = _job(request, "upload")
    if isinstance(job, Response):
        return job
    if job.state != "Open" or job.data is not None:
        return _with_limit(org, _errors(409, "INVALIDJOBSTATE", "Found uploaded data. Only one "
                                        "upload is allowed per job."))  # fmt: skip
    if request.headers.get("content-type", "").split(";")[0].strip() != "text/csv":
        return _with_limit(org, _errors(400, "INVALIDJOB", "Content-Type must be text/csv"))
    job.data = (await request.body()).decode("utf-8")
    return _with_limit(org, Response(status_code=201))


async def change_job(request: Request) -> Response:
    """PATCH jobs/ingest/{id}: UploadComplete (processing begins) or Aborted."""
    org, job = _job(request, "close")
    if isinstance(job, Response):
        return job
    wanted = json.loads(await request.body()).get("state")
    if wanted == "UploadComplete" and job.state == "Open":
        job.state = "UploadComplete"
    elif wanted == "Aborted" and job.state not in FINAL_STATES:
        job.state = "Aborted"
        job.unprocessed = list(_rows(job)[1])
    else:
        return _with_limit(
            org,
            _errors(400, "INVALIDJOBSTATE", f"Invalid state change from {job.state} to {wanted}"),
        )
    return _with_limit(org, JSONResponse(job.info(request.path_params["version"])))


def _rows(job: IngestJob) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(job.data or ""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _process(org: SalesforceOrg, job: IngestJob) -> None:
    """Run the job: every record written or failed (or left unprocessed if the job fails)."""
    header, rows = _rows(job)
    job.header = header
    unknown = [name for name in header if name not in org.fields_of(job.object)]
    if job.data is None or not header:
        job.state, job.error_message = "Failed", "InvalidBatch : No data was uploaded"
        return
    if unknown:
        job.state = "Failed"
        job.error_message = f"InvalidBatch : Field name not found : {unknown[0]}"
        job.unprocessed = rows
        return
    if job.operation != "update" or "Id" not in header:
        job.state, job.error_message = "Failed", "InvalidBatch : Field name not found : Id"
        job.unprocessed = rows
        return
    with org.lock:
        for position, row in enumerate(rows):
            if org.fail_job_after is not None and position >= org.fail_job_after:
                job.state = "Failed"
                job.error_message = "InternalServerError : processing of the job stopped"
                job.unprocessed = rows[position:]
                break
            values: dict[str, str | None] = {
                k: (None if v == CLEAR else v) for k, v in row.items() if k != "Id" and v != ""
            }
            error = org.write(job.object, row["Id"], values)
            if error is None:
                job.successful.append({"sf__Id": _id18(row["Id"]), "sf__Created": "false", **row})
            else:
                job.failed.append({"sf__Id": "", "sf__Error": error + ":--", **row})
        else:
            job.state = "JobComplete"
    for results in (job.successful, job.failed, job.unprocessed):
        org.rng.shuffle(results)  # Salesforce does not keep the order sent


async def job_info(request: Request) -> Response:
    """GET jobs/ingest/{id}: the job's state; it moves on with each poll."""
    org, job = _job(request, "poll")
    if isinstance(job, Response):
        return job
    if job.state in ("UploadComplete", "InProgress"):
        job.polls += 1
        job.state = "InProgress"
        if job.polls >= org.polls_to_complete:
            _process(org, job)
    return _with_limit(org, JSONResponse(job.info(request.path_params["version"])))


def _results(kind: str) -> Any:
    async def results(request: Request) -> Response:
        org, job = _job(request, "results")
        if isinstance(job, Response):
            return job
        if job.state not in FINAL_STATES:
            return _with_limit(org, _errors(400, "INVALIDJOBSTATE",
                                            "Job is not in a final state"))  # fmt: skip
        header = job.header or _rows(job)[0]
        rows, columns = {
            "successful": (job.successful, ["sf__Id", "sf__Created", *header]),
            "failed": (job.failed, ["sf__Id", "sf__Error", *header]),
            "unprocessed": (job.unprocessed, header),
        }[kind]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)
        return _with_limit(org, PlainTextResponse(out.getvalue(), media_type="text/csv"))

    return results


async def admin(request: Request) -> Response:
    """GET: the org as it is; POST (JSON): change it — ``tokens``, ``client`` ("id:secret"),
    ``records`` {object: [ids]}, ``fields`` {object: [names]}, ``deleted`` [ids], ``locked``
    {id: writes refused}, ``api_limit``, ``api_used``, ``polls_to_complete``, ``fail_next``,
    ``fail_job_after`` (null: never)."""
    org = _org(request)
    if request.method == "POST":
        body = json.loads(await request.body())
        with org.lock:
            _configure(org, body)
    return JSONResponse(org.as_dict())


def _configure(org: SalesforceOrg, body: dict[str, Any]) -> None:
    for sobject, ids in body.get("records", {}).items():
        for record_id in ids:
            org.records.setdefault(sobject, {})[str(record_id)[:15]] = {"Id": _id18(record_id)}
    for sobject, names in body.get("fields", {}).items():
        org.fields.setdefault(sobject, set()).update(names)
    org.deleted.update(str(i)[:15] for i in body.get("deleted", []))
    org.locked.update({str(k)[:15]: int(v) for k, v in body.get("locked", {}).items()})
    org.tokens.update(body.get("tokens", []))
    if "client" in body:
        client_id, _, secret = str(body["client"]).partition(":")
        org.client = (client_id, secret)
    for knob in ("api_limit", "api_used", "polls_to_complete", "fail_next", "fail_job_after"):
        if knob in body:
            setattr(org, knob, body[knob])


def routes() -> list[Route]:
    """The stand-in's routes, on the sandbox's own port."""
    jobs = DATA + "/jobs/ingest"
    job = jobs + "/{job_id:str}"
    return [
        Route("/services/oauth2/token", token, methods=["POST"]),
        Route(DATA + "/composite/sobjects", update_collection, methods=["PATCH"]),
        Route(jobs, create_job, methods=["POST"]),
        Route(job, job_info, methods=["GET"]),
        Route(job, change_job, methods=["PATCH"]),
        Route(job + "/batches", upload, methods=["PUT"]),
        Route(job + "/successfulResults", _results("successful"), methods=["GET"]),
        Route(job + "/successfulResults/", _results("successful"), methods=["GET"]),
        Route(job + "/failedResults", _results("failed"), methods=["GET"]),
        Route(job + "/failedResults/", _results("failed"), methods=["GET"]),
        Route(job + "/unprocessedrecords", _results("unprocessed"), methods=["GET"]),
        Route(job + "/unprocessedrecords/", _results("unprocessed"), methods=["GET"]),
        Route("/_sandbox/salesforce", admin, methods=["GET", "POST"]),
    ]
