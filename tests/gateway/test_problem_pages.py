"""Every problem `type` leads to a page that explains the problem in Chinese and English."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import httpx
import pytest

from gateway.errors import PROBLEM_TITLES
from gateway.oauth.requests import OAUTH_ERRORS, problem_code
from gateway.portal.guides import GUIDES
from gateway.portal.problems import problem_pages
from tests.factories import sandbox_partner

CJK = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parents[2]


class TestProblemGuides:
    def test_every_code_has_a_written_guide(self) -> None:
        """Each gateway code and each OAuth error has its own meaning and remedy."""
        assert set(GUIDES) == set(PROBLEM_TITLES)
        assert {problem_code(error) for error in OAUTH_ERRORS} <= set(PROBLEM_TITLES)
        assert {page.code for page in problem_pages()} == set(PROBLEM_TITLES)


@pytest.mark.parametrize("backend", ["sqlite"])
class TestProblemPages:
    async def test_every_page_is_served_in_both_languages(self, client: httpx.AsyncClient) -> None:
        """Each page is HTML with both titles, the meaning and the remedy in both languages."""
        for page in problem_pages():
            response = await client.get(f"/problems/{page.code}")
            assert response.status_code == 200, page.code
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["content-language"] == "zh-CN, en"
            text = html.unescape(response.text)
            for message in (page.title, page.guide.meaning, page.guide.remedy):
                assert message.en in text, (page.code, message.en)
                assert message.zh in text, (page.code, message.zh)
                assert CJK.search(message.zh), (page.code, message.zh)

    async def test_the_types_problems_carry_lead_to_pages(self, client: httpx.AsyncClient) -> None:
        """The `type` of real problems (not found, bad token, bad OAuth request) resolves."""
        answers = [
            await client.get("/v1/nothing-here"),
            await client.get("/v1/accounts"),
            await client.post("/oauth/token", data={"grant_type": "client_credentials"}),
            await client.put("/healthz"),
        ]
        for answer in answers:
            assert answer.status_code >= 400
            page = await client.get(answer.json()["type"])
            assert page.status_code == 200, answer.json()["type"]

    async def test_the_types_in_the_api_description_lead_to_pages(
        self, client: httpx.AsyncClient
    ) -> None:
        """Every problem `type` the OpenAPI document shows in an example is a page."""
        document = (await client.get("/openapi.json")).json()
        types = set(re.findall(r'"type": "(/problems/[a-z0-9-]+)"', json.dumps(document)))
        assert "/problems/invalid-client" in types
        for link in types:
            assert (await client.get(link)).status_code == 200, link

    async def test_the_types_the_readme_names_lead_to_pages(
        self, client: httpx.AsyncClient
    ) -> None:
        """Every concrete problem `type` the README names is a page, and the one an OAuth
        error carries is the README's (`invalid_grant` → `/problems/invalid-grant`)."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        links = set(re.findall(r"/problems/[a-z0-9-]+\b(?![<\w-])", readme))
        assert "/problems/invalid-grant" in links
        for link in links:
            assert (await client.get(link)).status_code == 200, link
        partner = await sandbox_partner(client)
        refused = await client.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": "nope", "code_verifier": "x" * 43},
            auth=partner.basic,
        )
        assert refused.json()["error"] == "invalid_grant", refused.text
        assert refused.json()["type"] == "/problems/invalid-grant"

    async def test_an_unknown_code_is_a_not_found_problem(self, client: httpx.AsyncClient) -> None:
        """A code that is not a problem is a 404 problem document; a malformed one a 422."""
        missing = await client.get("/problems/no-such-problem")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["code"] == "not-found"
        malformed = await client.get("/problems/Not%20A%20Code")
        assert malformed.status_code == 422
        assert malformed.json()["errors"][0]["path"] == "path.code"
        assert (await client.get("/problems/not-found")).status_code == 200

    async def test_the_portal_links_every_page(self, client: httpx.AsyncClient) -> None:
        """The portal's error section links each problem page."""
        portal = await client.get("/")
        for page in problem_pages():
            assert f'/problems/{page.code}"' in portal.text, page.code

    async def test_pages_are_public_and_cacheable(self, client: httpx.AsyncClient) -> None:
        """A page needs no credentials and may be cached; HEAD answers like GET."""
        response = await client.get("/problems/rate-limited")
        head = await client.head("/problems/rate-limited")
        assert response.headers["cache-control"] == "max-age=3600"
        assert head.status_code == 200
        assert head.headers["content-length"] == response.headers["content-length"]
