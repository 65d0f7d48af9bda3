"""`GET /healthz`: 200 when the database, the job queue and storage all answer, 503 otherwise."""

from starlette.requests import Request
from starlette.responses import JSONResponse

from studio import bootstrap
from studio.services.admin.system import health_report


def healthz(request: Request) -> JSONResponse:
    report = health_report(bootstrap.services())
    return JSONResponse(
        report.as_dict(), status_code=200 if report.ok else 503, headers={"Cache-Control": "no-store"}
    )
