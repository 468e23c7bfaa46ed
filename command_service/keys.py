"""Typed keys of the objects the command service's app holds."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from command_service.idempotency import IdempotencyKeys
from command_service.settings import CommandSettings
from common.amqp import Publisher

SETTINGS: Final = web.AppKey("settings", CommandSettings)
PUBLISHER: Final = web.AppKey("publisher", Publisher)
IDEMPOTENCY: Final = web.AppKey("idempotency", IdempotencyKeys)
