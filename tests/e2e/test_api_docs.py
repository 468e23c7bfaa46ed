"""API documentation through nginx: the OpenAPI documents and Swagger UI under its CSP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import aiohttp
from playwright.async_api import expect

from tests.e2e.test_dashboard import ARTIFACTS
from tests.support.browser import chromium, record_problems

if TYPE_CHECKING:
    from tests.e2e.conftest import StackClient

DOCS_CSP: Final = "script-src 'self'"


async def test_both_openapi_documents_are_served_through_nginx(stack: StackClient):
    async with aiohttp.ClientSession() as session:
        for path, title in (
            ("/commands/openapi.json", "command API"),
            ("/queries/openapi.json", "query API"),
        ):
            async with session.get(f"{stack.base_url}{path}") as response:
                assert response.status == 200, path
                document = await response.json()
                assert document["openapi"] == "3.1.0"
                assert document["info"]["title"].endswith(title)


async def test_the_docs_page_has_a_strict_csp_of_its_own(stack: StackClient):
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.base_url}/docs/") as response,
    ):
        assert response.status == 200
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp
        assert "unsafe" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"


async def test_swagger_ui_shows_both_apis_without_errors(stack: StackClient):
    problems: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page(base_url=stack.base_url)
        record_problems(page, problems)
        await page.goto("/docs")
        await expect(page.locator(".opblock-summary-path").first).to_be_visible()
        await expect(
            page.get_by_text("/queries/countries/{name}/users", exact=True)
        ).to_be_visible()
        # "Try it out" calls the API from the page: connect-src allows it.
        await page.locator("#operations-queries-getSyncStatus").click()
        await page.get_by_role("button", name="Try it out").click()
        await page.get_by_role("button", name="Execute").click()
        await expect(
            page.locator(".live-responses-table tbody .response-col_status").first
        ).to_have_text("200")
        await page.get_by_role("link", name="Command API").click()
        await expect(page.get_by_text("/commands/sync", exact=True)).to_be_visible()
        await expect(page.locator("#api-commands")).to_have_attribute(
            "aria-current", "page"
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=ARTIFACTS / "api-docs.png", full_page=True)

    assert problems == [], "\n".join(problems)


async def test_nginx_does_not_expose_the_services_metrics(stack: StackClient):
    async with aiohttp.ClientSession() as session:
        for path in ("/metrics", "/queries/metrics", "/commands/metrics"):
            async with session.get(f"{stack.base_url}{path}") as response:
                text = await response.text()
                assert response.status == 404, path
                assert "randomuser_http_requests_total" not in text
