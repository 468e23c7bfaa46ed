"""The user value carried by events and stored in the read model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Gender = Literal["male", "female"]


class User(BaseModel):
    """One validated Randomuser person, reduced to what the read model serves."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(
        min_length=1, max_length=256, description="Full name: first and last name."
    )
    gender: Gender = Field(description="As reported upstream.")
    email: str = Field(min_length=3, max_length=320, description="Upstream e-mail.")
    country: str = Field(
        min_length=1, max_length=128, description="Full English country name."
    )
    title: str | None = Field(default=None, max_length=64, description="Mr, Ms, ...")
    nat: str | None = Field(
        default=None, max_length=8, description="Upstream nationality code."
    )
    uuid: str | None = Field(
        default=None, max_length=64, description="Upstream login.uuid, when present."
    )
