"""The base of every model a creator writes (scripts, scene and demo
params): unknown keys are errors, with a did-you-mean. Its own small module,
so scenes and demos depend on it and not on the whole script model."""
from __future__ import annotations

import difflib

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


def did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


class Strict(BaseModel):
    """Unknown keys are errors, with a did-you-mean suggestion."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_keys(cls, data):
        if isinstance(data, dict):
            allowed = sorted(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    raise PydanticCustomError(
                        "unknown_key", "unknown key '{key}'",
                        {"key": key, "hint": did_you_mean(key, allowed) + "allowed keys here: " + ", ".join(allowed)})
        return data
