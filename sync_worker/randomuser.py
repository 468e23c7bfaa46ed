"""HTTP client of the Randomuser API: pages, timeouts, retries and a request budget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from common.retrying import log_retry
from contracts.base import utc_now
from sync_worker.attempts import (
    PARSE_OFF_LOOP_BYTES,
    AttemptFailed,
    failure_reason,
    is_retryable,
    max_body_bytes,
    read_body,
    retry_after_seconds,
)
from sync_worker.fetching import (
    MAX_USERS_PER_REQUEST,
    Fetched,
    FetchedPage,
    FetchFailed,
    FetchRequest,
    page_sizes,
)
from sync_worker.pacing import RetryPolicy, UpstreamBudget
from sync_worker.upstream import UpstreamError, parse_response

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from tenacity import RetryCallState

    from sync_worker.settings import SyncWorkerSettings

logger = logging.getLogger(__name__)

INCLUDED_FIELDS: Final = "gender,name,location,email,login,nat"
"""Only what validation reads: halves the body. `id` stays out, which also
avoids the request shapes that make upstream hang (RANDOMUSER-API.md 5.4)."""

RATE_LIMIT_BACKOFF_FACTOR: Final = 30
"""After a 429 the backoff base is this many times longer: upstream counts users
over a fixed 5-minute window, so retrying within seconds only gets refused again."""

USER_AGENT: Final = "randomuser-connector-sync-worker/0.1 (+https://randomuser.me)"


class HttpRandomuserClient:
    """Fetches users over HTTP from Randomuser (or anything that speaks like it)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        timeout: float,
        retry: RetryPolicy,
        budget: UpstreamBudget,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        concurrency: int = 3,
    ) -> None:
        self._session = session
        self._concurrency = concurrency
        self.url = url
        self._timeout = timeout
        self.retry = retry
        self.budget = budget
        self._sleep = sleep
        self._per_request = min(MAX_USERS_PER_REQUEST, budget.users_per_window)

    @classmethod
    def from_settings(
        cls, session: aiohttp.ClientSession, settings: SyncWorkerSettings
    ) -> HttpRandomuserClient:
        """Build the client the settings describe."""
        return cls(
            session,
            settings.api_url,
            timeout=settings.http_timeout_seconds,
            retry=RetryPolicy(
                max_attempts=settings.fetch_max_attempts,
                backoff=settings.fetch_backoff_seconds,
                rate_limit_backoff=settings.fetch_backoff_seconds
                * RATE_LIMIT_BACKOFF_FACTOR,
                max_delay=settings.upstream_window_seconds,
            ),
            budget=UpstreamBudget(
                settings.upstream_users_per_window, settings.upstream_window_seconds
            ),
            concurrency=settings.fetch_concurrency,
        )

    def page_sizes(self, results: int) -> list[int]:
        """The users each page asks for: at most 5,000, and within the budget."""
        return page_sizes(results, self._per_request)

    async def pages(self, request: FetchRequest) -> AsyncGenerator[FetchedPage, None]:
        """Yield every page in page order, fetching up to `concurrency` at once.

        At most `concurrency` pages are held (in flight or waiting to be
        yielded), so memory does not grow with the size of the sync. Each
        request still reserves its users in the budget first.

        Raises:
            FetchFailed: a page failed `max_attempts` times, or in a way that
                retrying cannot fix; the pages in flight are cancelled.
        """
        sizes = self.page_sizes(request.results)
        planned = iter(enumerate(sizes, start=1))
        window: deque[tuple[int, asyncio.Task[tuple[list[Any], int]]]] = deque()
        attempts = 0
        try:
            while True:
                while len(window) < self._concurrency:
                    if (step := next(planned, None)) is None:
                        break
                    number, size = step
                    window.append(
                        (
                            number,
                            asyncio.create_task(
                                self._fetch_page(request, number, size, len(sizes), 0)
                            ),
                        )
                    )
                if not window:
                    return
                number, task = window.popleft()
                try:
                    users, page_attempts = await task
                except FetchFailed as failure:
                    raise FetchFailed(
                        failure.kind, failure.reason, attempts + failure.attempts
                    ) from None
                attempts += page_attempts
                yield FetchedPage(number=number, users=users, attempts=page_attempts)
        finally:
            for _, pending in window:
                pending.cancel()
            await asyncio.gather(*(t for _, t in window), return_exceptions=True)

    async def fetch(self, request: FetchRequest) -> Fetched:
        """Fetch every page of `request` into memory (small syncs, tools and tests).

        Pages share the seed, so the set is reproducible.

        Raises:
            FetchFailed: a page failed `max_attempts` times, or in a way that
                retrying cannot fix (404, CDN block).
        """
        users: list[Any] = []
        attempts = pages = 0
        async with contextlib.aclosing(self.pages(request)) as stream:
            async for page in stream:
                users.extend(page.users)
                attempts += page.attempts
                pages += 1
        return Fetched(
            users=users,
            seed=request.seed,
            attempts=attempts,
            pages=pages,
            fetched_at=utc_now(),
        )

    async def _fetch_page(
        self, request: FetchRequest, number: int, size: int, pages: int, before: int
    ) -> tuple[list[Any], int]:
        params = {
            "results": str(size),
            "seed": request.seed,
            "page": str(number),
            "inc": INCLUDED_FIELDS,
        }
        if request.nationalities:
            params["nat"] = ",".join(request.nationalities)
        history: list[str] = []

        async def attempt() -> list[Any]:
            await self.budget.reserve(size)
            started = time.perf_counter()
            try:
                users = await self._request(params, size, number, request.seed)
            except AttemptFailed as failure:
                history.append(failure.kind)
                raise
            logger.info(
                "fetched page %d/%d: %d users in %.3fs",
                number,
                pages,
                len(users),
                time.perf_counter() - started,
            )
            return users

        retrying = AsyncRetrying(
            retry=retry_if_exception(
                lambda exc: isinstance(exc, AttemptFailed) and exc.retryable
            ),
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._pause,
            sleep=self._sleep,
            before_sleep=log_retry(logger, f"page {number}/{pages} failed"),
            reraise=True,
        )
        try:
            users: list[Any] = await retrying(attempt)
        except AttemptFailed as failure:
            raise FetchFailed(
                failure.kind,
                failure_reason(failure, history, number, pages),
                before + len(history),
            ) from None
        return users, len(history) + 1

    def _pause(self, state: RetryCallState) -> float:
        """How long to wait after the failed attempt `state` (tenacity's `wait`)."""
        failure = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(failure, AttemptFailed):
            return self.retry.delay(state.attempt_number, rate_limited=False)
        delay = self.retry.delay(
            state.attempt_number, rate_limited=failure.kind == "rate_limited"
        )
        if failure.retry_after is None:
            return delay
        # The server said when: not sooner, and never past the policy's cap.
        return min(max(delay, failure.retry_after), self.retry.max_delay)

    async def _request(
        self, params: dict[str, str], size: int, number: int, seed: str
    ) -> list[Any]:
        try:
            # One deadline for connecting, headers and the whole body: a
            # server that trickles bytes cannot hold a sync forever.
            async with (
                asyncio.timeout(self._timeout),
                self._session.get(
                    self.url, params=params, headers={"User-Agent": USER_AGENT}
                ) as response,
            ):
                body = await read_body(response, max_body_bytes(size))
                status = response.status
                content_type = response.headers.get("Content-Type")
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        except TimeoutError:
            raise AttemptFailed(
                "timeout", f"no complete response within {self._timeout:g}s"
            ) from None
        except aiohttp.ClientPayloadError as exc:
            raise AttemptFailed("truncated", f"body cut short: {exc}") from None
        except aiohttp.ClientError as exc:
            raise AttemptFailed("connection", f"{type(exc).__name__}: {exc}") from None
        try:
            if len(body) > PARSE_OFF_LOOP_BYTES:
                page = await asyncio.to_thread(
                    parse_response, status, content_type, body
                )
            else:
                page = parse_response(status, content_type, body)
        except UpstreamError as exc:
            raise AttemptFailed(
                exc.kind,
                exc.detail,
                retryable=is_retryable(exc),
                retry_after=retry_after,
            ) from None
        if len(page.users) != size:
            raise AttemptFailed(
                "wrong_count", f"asked for {size} users, got {len(page.users)}"
            )
        info = page.info
        if info is not None and info.page is not None and info.page != number:
            raise AttemptFailed(
                "bad_shape", f"asked for page {number}, got page {info.page}"
            )
        if (
            info is not None
            and info.seed is not None
            and not info.seed.startswith(seed)
        ):
            raise AttemptFailed("bad_shape", "the response is for another seed")
        return page.users
