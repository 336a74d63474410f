"""The developer portal's front page."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from gateway.deps import ServicesDep
from gateway.oauth.pages import templates

router = APIRouter(include_in_schema=False)


@router.get("/")
async def portal(services: ServicesDep) -> HTMLResponse:
    settings = services.settings
    html = templates.get_template("portal.html").render(
        base=settings.issuer,
        environment=settings.environment.value,
        profile=settings.fapi_profile.value if settings.fapi_profile else "",
        sandbox=settings.is_sandbox,
    )
    return HTMLResponse(html, headers={"Cache-Control": "max-age=60"})
