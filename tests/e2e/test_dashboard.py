"""The dashboard in a real browser, through nginx and its CSP, against the running stack."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import pytest
from playwright.async_api import (
    Browser,
    Dialog,
    Locator,
    Page,
    ViewportSize,
    expect,
)

from tests.support.browser import chromium, record_problems
from tests.support.simulator import served_pages

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.e2e.conftest import StackClient

ARTIFACTS: Final = Path(__file__).resolve().parents[1] / "artifacts"
DESKTOP: Final = ViewportSize(width=1280, height=900)
PHONE: Final = ViewportSize(width=390, height=844)
FAILING_FAULT: Final = "http_500"
"""A simulator fault the worker cannot retry its way out of while it is active."""
HOSTILE_FAULT: Final = "hostile"
"""The simulator mode that puts markup such as <img src=x onerror=...> into names."""


@dataclass
class Dashboard:
    """One browser tab on the dashboard, with what it reported while we drove it."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    async def open(self) -> None:
        await self.page.goto("/")
        await expect(self.page.locator("#users tbody tr").first).to_be_visible()

    @property
    def options(self) -> Locator:
        return self.page.locator("#country option")

    async def option_values(self) -> list[str]:
        values: list[str] = await self.options.evaluate_all(
            "options => options.map(option => option.value)"
        )
        return values

    async def rows(self) -> list[list[str]]:
        rows: list[list[str]] = await self.page.locator("#users tbody tr").evaluate_all(
            "rows => rows.map(row => Array.from(row.cells, c => c.textContent))"
        )
        return rows

    async def expect_range(self, first: int, last: int, total: int) -> None:
        await expect(self.page.locator("#range")).to_have_text(
            re.compile(rf"^Showing {first:,}\u2013{last:,} of {total:,}\b")
        )

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=ARTIFACTS / name, full_page=True)


def option_labels(body: dict[str, Any]) -> list[str]:
    return [f"{c['name']} ({len(c['users']):,})" for c in body["countries"]]


def user_rows(country: dict[str, Any]) -> list[list[str]]:
    return [[u["name"], u["gender"], u["email"]] for u in country["users"]]


def largest(body: dict[str, Any]) -> dict[str, Any]:
    country: dict[str, Any] = max(body["countries"], key=lambda c: len(c["users"]))
    return country


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def _open_tab(
    browser: Browser, stack: StackClient, viewport: ViewportSize
) -> Dashboard:
    context = await browser.new_context(base_url=stack.base_url, viewport=viewport)
    page = await context.new_page()
    dashboard = Dashboard(page)

    async def on_dialog(dialog: Dialog) -> None:
        dashboard.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    record_problems(page, dashboard.problems)
    return dashboard


@pytest.fixture
async def dashboard(browser: Browser, stack: StackClient) -> AsyncIterator[Dashboard]:
    tab = await _open_tab(browser, stack, DESKTOP)
    yield tab
    await tab.page.context.close()


@pytest.fixture
async def phone(browser: Browser, stack: StackClient) -> AsyncIterator[Dashboard]:
    tab = await _open_tab(browser, stack, PHONE)
    yield tab
    await tab.page.context.close()


async def test_the_country_list_shows_exactly_the_countries_of_the_snapshot(
    stack: StackClient, dashboard: Dashboard
) -> None:
    body = await stack.sync(
        results=150, nationalities=["IR", "NO", "US"], seed="dashcountries"
    )

    await dashboard.open()

    await expect(dashboard.options).to_have_text(option_labels(body))
    assert await dashboard.option_values() == [c["name"] for c in body["countries"]]
    await expect(dashboard.page.locator("#sync-status")).to_contain_text("Synced")
    await dashboard.screenshot("dashboard.png")
    assert dashboard.problems == []


async def test_selecting_a_country_shows_exactly_its_users_page_by_page(
    stack: StackClient, dashboard: Dashboard
) -> None:
    body = await stack.sync(results=240, nationalities=["IR", "DE"], seed="dashusers")
    country = largest(body)
    expected = user_rows(country)
    await dashboard.open()

    await dashboard.page.select_option("#country", country["name"])
    await dashboard.page.select_option("#page-size", "25")
    seen: list[list[str]] = []
    while True:
        first = len(seen) + 1
        await dashboard.expect_range(
            first, min(first + 24, len(expected)), len(expected)
        )
        seen += await dashboard.rows()
        if await dashboard.page.locator("#next").is_disabled():
            break
        await dashboard.page.click("#next")

    assert seen == expected
    paged = await dashboard.page.request.get(
        f"/queries/countries/{quote(country['name'], safe='')}/users?page=1&size=500"
    )
    assert user_rows(await paged.json()) == expected
    assert dashboard.problems == []


async def test_a_persian_name_is_shown_as_written_right_to_left(
    stack: StackClient, dashboard: Dashboard
) -> None:
    body = await stack.sync(results=40, nationalities=["IR"], seed="dashpersian")
    (iran,) = body["countries"]
    name = iran["users"][0]["name"]
    await dashboard.open()

    cell = dashboard.page.locator("#users tbody tr").first.locator("td").first
    await expect(cell).to_have_text(name)
    await expect(cell).to_have_attribute("dir", "auto")
    direction = await cell.evaluate("cell => getComputedStyle(cell).direction")
    assert direction == "rtl"


async def test_reload_picks_up_a_new_sync(
    stack: StackClient, dashboard: Dashboard
) -> None:
    before = await stack.sync(results=60, nationalities=["FR"], seed="dashreloadone")
    await dashboard.open()
    await expect(dashboard.options).to_have_text(option_labels(before))

    after = await stack.sync(
        results=90, nationalities=["IR", "NO"], seed="dashreloadtwo"
    )
    await dashboard.page.click("#reload")

    await expect(dashboard.options).to_have_text(option_labels(after))
    shown = await dashboard.page.locator("#country").input_value()
    (country,) = [c for c in after["countries"] if c["name"] == shown]
    await dashboard.expect_range(
        1, min(50, len(country["users"])), len(country["users"])
    )
    assert await dashboard.rows() == user_rows(country)[:50]
    assert dashboard.problems == []


@pytest.mark.usefixtures("clean_faults")
async def test_a_failed_sync_shows_a_warning_while_the_old_data_stays(
    stack: StackClient, dashboard: Dashboard
) -> None:
    before = await stack.sync(
        results=80, nationalities=["IR", "US"], seed="dashfailbefore"
    )
    await dashboard.open()
    await expect(dashboard.page.locator("#sync-warning")).to_be_hidden()
    rows_before = await dashboard.rows()

    await stack.fault(FAILING_FAULT, count=None)
    attempt = await stack.sync_expect_failure(results=80, nationalities=["IR", "US"])
    await dashboard.page.click("#reload")

    warning = dashboard.page.locator("#sync-warning")
    await expect(warning).to_be_visible()
    await expect(warning).to_have_attribute("role", "alert")
    await expect(warning.locator(".reason")).to_have_text(attempt["reason"])
    await expect(dashboard.page.locator("#sync-status")).to_contain_text("Synced")
    await expect(dashboard.options).to_have_text(option_labels(before))
    assert await dashboard.rows() == rows_before
    await dashboard.screenshot("dashboard-failed-sync.png")
    assert dashboard.problems == []


PUSHED_MS: Final = 3000
"""How soon after nginx serves a change the dashboard must show it by itself:
the event comes within a second (tests/e2e/test_live_events.py), then one
fetch; with no stream, the dashboard would poll only every 30 s."""


async def test_the_dashboard_shows_a_new_sync_by_itself_keeping_the_country(
    stack: StackClient, dashboard: Dashboard
) -> None:
    await stack.sync(results=60, nationalities=["FR", "NO"], seed="dashliveone")
    await dashboard.open()
    live = dashboard.page.locator("#live-state")
    await expect(live).to_have_attribute("data-state", "live")
    await expect(live).to_have_text("Live")
    await dashboard.page.select_option("#country", "Norway")

    after = await stack.sync(results=90, nationalities=["IR", "NO"], seed="dashlivetwo")

    # No click: the stream brings the new snapshot, and Norway stays selected.
    await expect(dashboard.options).to_have_text(
        option_labels(after), timeout=PUSHED_MS
    )
    assert await dashboard.page.locator("#country").input_value() == "Norway"
    (norway,) = [c for c in after["countries"] if c["name"] == "Norway"]
    await dashboard.expect_range(1, min(50, len(norway["users"])), len(norway["users"]))
    assert await dashboard.rows() == user_rows(norway)[:50]
    assert dashboard.problems == []


@pytest.mark.usefixtures("clean_faults")
async def test_a_failed_sync_shows_its_banner_by_itself(
    stack: StackClient, dashboard: Dashboard
) -> None:
    before = await stack.sync(results=50, nationalities=["US"], seed="dashlivefail")
    await dashboard.open()
    await expect(dashboard.page.locator("#live-state")).to_have_attribute(
        "data-state", "live"
    )
    warning = dashboard.page.locator("#sync-warning")
    await expect(warning).to_be_hidden()

    await stack.fault(FAILING_FAULT, count=None)
    attempt = await stack.sync_expect_failure(results=50, nationalities=["US"])

    await expect(warning).to_be_visible(timeout=PUSHED_MS)
    await expect(warning.locator(".reason")).to_have_text(attempt["reason"])
    await expect(dashboard.options).to_have_text(option_labels(before))
    assert dashboard.problems == []


async def test_without_the_stream_the_dashboard_says_so_and_polls(
    stack: StackClient, dashboard: Dashboard
) -> None:
    await dashboard.page.route(
        "**/queries/events",
        lambda route: route.fulfill(
            status=503,
            content_type="application/problem+json",
            body='{"title":"Too many streams","status":503}',
        ),
    )
    await stack.sync(results=40, nationalities=["NO"], seed="dashnolive")
    await dashboard.open()
    live = dashboard.page.locator("#live-state")
    await expect(live).to_have_attribute("data-state", "polling")
    await expect(live).to_contain_text("Not live")


async def test_when_the_api_stops_answering_an_error_shows_and_the_data_stays(
    stack: StackClient, dashboard: Dashboard
) -> None:
    body = await stack.sync(results=60, nationalities=["NO"], seed="dashapidown")
    await dashboard.open()
    rows_before = await dashboard.rows()

    await dashboard.page.route("**/queries/**", lambda route: route.abort())
    await dashboard.page.click("#reload")

    error = dashboard.page.locator("#api-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("not answering")
    await expect(dashboard.options).to_have_text(option_labels(body))
    assert await dashboard.rows() == rows_before

    await dashboard.page.unroute("**/queries/**")
    await dashboard.page.click("#reload")
    await expect(error).to_be_hidden()


@pytest.mark.usefixtures("clean_faults")
async def test_a_hostile_name_shows_as_text_and_runs_nothing(
    stack: StackClient, dashboard: Dashboard
) -> None:
    await stack.fault(HOSTILE_FAULT, count=1)
    body = await stack.sync(results=50, nationalities=["US"], seed="dashhostile")
    hostile = [
        (country["name"], user["name"])
        for country in body["countries"]
        for user in country["users"]
        if "<" in user["name"]
    ]
    assert hostile, "the simulator's hostile mode put no markup into any name"
    country, name = hostile[0]
    await dashboard.open()

    await dashboard.page.select_option("#country", country)
    await dashboard.page.fill("#filter", name)

    cell = dashboard.page.locator("#users tbody tr").first.locator("td").first
    await expect(cell).to_have_text(name)
    await expect(dashboard.page.locator("img")).to_have_count(0)
    await expect(dashboard.page.locator("#users script, #users iframe")).to_have_count(
        0
    )
    assert dashboard.dialogs == []
    assert dashboard.problems == []


async def test_the_pager_works_from_the_keyboard(
    stack: StackClient, dashboard: Dashboard
) -> None:
    body = await stack.sync(results=200, nationalities=["FR"], seed="dashkeyboard")
    (france,) = body["countries"]
    total = len(france["users"])
    await dashboard.open()
    await dashboard.expect_range(1, 50, total)

    await dashboard.page.focus("#next")
    await dashboard.page.keyboard.press("Enter")
    await dashboard.expect_range(51, 100, total)
    await dashboard.page.keyboard.press("Shift+Tab")
    await expect(dashboard.page.locator("#prev")).to_be_focused()
    await dashboard.page.keyboard.press("Space")
    await dashboard.expect_range(1, 50, total)
    # Back on page 1 "Previous" is disabled; focus moved to "Next" instead of getting lost.
    await expect(dashboard.page.locator("#next")).to_be_focused()


async def test_the_dashboard_fits_a_phone_screen(
    stack: StackClient, phone: Dashboard
) -> None:
    await stack.sync(results=120, nationalities=["IR", "GB"], seed="dashphone")
    await phone.open()

    overflow = await phone.page.evaluate(
        "document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
    await expect(phone.page.locator("#country")).to_be_visible()
    await expect(phone.page.locator("#reload")).to_be_in_viewport()
    await phone.screenshot("dashboard-mobile.png")
    assert phone.problems == []


async def _norway_uuids(stack: StackClient, seed: str) -> set[str]:
    """Login uuids of Norway's users the simulator recorded serving for `seed`
    (the diff matches users by uuid)."""
    pages = await served_pages(stack.sim_url, seed)
    return {
        user["uuid"]
        for users in pages.values()
        for user in users
        if user["country"] == "Norway"
    }


async def test_the_history_panel_lists_snapshots_and_what_changed(
    stack: StackClient, dashboard: Dashboard
) -> None:
    first = await stack.sync(results=40, nationalities=["NO"], seed="dashhistone")
    second = await stack.sync(
        results=50, nationalities=["NO", "FR"], seed="dashhisttwo"
    )
    before = await _norway_uuids(stack, "dashhistone")
    after = await _norway_uuids(stack, "dashhisttwo")
    added, removed = len(after - before), len(before - after)
    await dashboard.open()
    await dashboard.page.select_option("#country", "Norway")

    history = dashboard.page.locator("#history-list li")
    newest = history.first
    await expect(newest).to_have_attribute("data-id", second["snapshot"]["id"])
    await expect(newest).to_contain_text("current")
    await expect(newest).to_contain_text("50 users in 2 countries")
    await expect(history.nth(1)).to_have_attribute("data-id", first["snapshot"]["id"])
    assert (
        await dashboard.page.locator("#compare-with").input_value()
        == (first["snapshot"]["id"])
    )
    await expect(dashboard.page.locator("#changes-summary")).to_contain_text(
        f"{added:,} added, {removed:,} removed"
    )
    await expect(dashboard.page.locator("#changes-summary")).to_contain_text(
        "in Norway"
    )
    assert dashboard.problems == []
