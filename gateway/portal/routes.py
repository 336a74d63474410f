"""The developer portal's front page (in Chinese and English) and the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from gateway.deps import Call, CallRoute
from gateway.http.responses import JsonResponse
from gateway.http.routing import product
from gateway.http.templates import templates
from gateway.portal.problems import BILINGUAL, problem_pages

router = APIRouter(include_in_schema=False, route_class=CallRoute)


@router.get("/", openapi_extra=product("portal.read"))
async def portal(call: Call) -> HTMLResponse:
    services = call.services
    settings = services.settings
    html = templates.get_template("portal.html").render(
        base=settings.issuer,
        environment=settings.environment.value,
        profile=settings.fapi_profile.value if settings.fapi_profile else "",
        sandbox=settings.is_sandbox,
        problems=problem_pages(),
    )
    return HTMLResponse(
        html, headers={"Cache-Control": "max-age=60", "Content-Language": BILINGUAL}
    )


@router.get("/openapi.json", openapi_extra=product("portal.read"))
async def openapi(request: Request) -> Response:
    return JsonResponse(request.app.openapi(), headers={"Cache-Control": "max-age=60"})
