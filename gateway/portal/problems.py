"""The problem pages: `GET /problems/{code}` explains a problem code in Chinese and English.

Every problem document links its page in `type`, so a developer who meets a code can read what
it means and what to do. Each code of `gateway.errors.PROBLEM_TITLES` has a page (the OAuth
endpoints' errors are among them: `invalid_grant` is `invalid-grant`); any other code is a
`404` problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import HTMLResponse

from gateway.errors import PROBLEM_TITLES, NotFoundError
from gateway.http.routing import product
from gateway.http.templates import templates
from gateway.oauth.requests import OAUTH_ERRORS, problem_code
from gateway.portal.guides import GUIDES, Guide
from policies.messages import Text

router = APIRouter(tags=["Problems"])
BILINGUAL = "zh-CN, en"
ProblemCode = Annotated[
    str,
    Path(
        pattern=r"^[a-z][a-z0-9-]{0,63}$",
        description="A problem `code` (the last part of a problem document's `type`).",
        examples=["validation-failed"],
    ),
]
NO_SUCH_PROBLEM = Text(
    "There is no problem code '{code}': the codes are listed on the portal (/#problems).",
    "不存在问题代码“{code}”：全部代码列在门户首页（/#problems）。",
)
UNDOCUMENTED = Guide(
    None,
    Text("The request could not be completed.", "请求未能完成。"),
    Text(
        "Read `detail` in the problem document; if it does not help, contact the bank quoting "
        "the request id (`instance`).",
        "请阅读问题文档中的 detail；如仍无法解决，请联系银行并提供请求编号（instance）。",
    ),
)
EXAMPLE = (
    '<!doctype html>\n<html lang="zh-CN">\n<head><title>参数校验失败 · Validation failed</title>'
    "</head>\n<body><h1>参数校验失败 · Validation failed</h1>…</body>\n</html>"
)


@dataclass(frozen=True, slots=True)
class ProblemPage:
    """What a problem page shows: the code, its title and its guide (and for an OAuth error,
    the `error` value the OAuth endpoints send)."""

    code: str
    title: Text
    guide: Guide
    oauth_error: str | None = None


def problem_pages() -> list[ProblemPage]:
    """Every problem page, in the order of `PROBLEM_TITLES`."""
    return [page for code in PROBLEM_TITLES if (page := problem_page(code))]


def problem_page(code: str) -> ProblemPage | None:
    """The page for `code`, if it is a problem the gateway answers."""
    titles = PROBLEM_TITLES.get(code)
    if titles is None:
        return None
    oauth = {problem_code(error): error for error in OAUTH_ERRORS}.get(code)
    return ProblemPage(code, Text(*titles), _guide(code), oauth)


def _guide(code: str) -> Guide:
    return GUIDES.get(code, UNDOCUMENTED)


@router.get(
    "/problems/{code}",
    summary="What a problem code means",
    openapi_extra=product("portal.read", problems=[404]),
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The problem's page, in Chinese and English.",
            "content": {"text/html": {"schema": {"type": "string"}, "example": EXAMPLE}},
        }
    },
)
async def problem(code: ProblemCode) -> HTMLResponse:
    """The page a problem document's `type` links to: what the problem means and what the
    caller should do, in Chinese and English. Unknown codes are a `404` problem."""
    page = problem_page(code)
    if page is None:
        raise NotFoundError(NO_SUCH_PROBLEM.format(code=code))
    html = templates.get_template("problem.html").render(page=page)
    return HTMLResponse(
        html, headers={"Cache-Control": "max-age=3600", "Content-Language": BILINGUAL}
    )
