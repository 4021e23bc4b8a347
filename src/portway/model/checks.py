"""Declaration-time checks shared by the :class:`~portway.model.pipeline.Pipeline` methods.

Each raises :class:`~portway.errors.ValidationError` with a message that starts with
where the problem is (``pipeline 'x', queue 'jobs'``) and says the rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from portway.errors import ValidationError
from portway.model import limits
from portway.model.resources import Action, Resource, Use

_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


# Compiled on first use, not at import: every cold start imports this module (the
# pipeline's declarations are checked when it is imported), and only a pipeline that
# declares environment variables or http routes needs these.
@functools.cache
def _env_name() -> re.Pattern[str]:
    return re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@functools.cache
def _path_segment() -> re.Pattern[str]:
    return re.compile(r"^(?:[A-Za-z0-9._~-]+|\{[a-z_][a-z0-9_]*\})$")


def check_int_range(value: object, bounds: tuple[int, int], *, where: str, what: str) -> int:
    """Return ``value`` if it is an int within ``bounds`` (inclusive), else raise."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{where}: {what} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValidationError(f"{where}: {what}={value} is out of the portable range {low}..{high}")
    return value


def check_function_name(name: object, *, where: str) -> str:
    if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
        raise ValidationError(
            f"{where}: function name {name!r} must be lowercase letters, digits, "
            f"underscores and hyphens, starting with a letter; pass name='...' to the decorator"
        )
    return name


def check_uses(uses: Iterable[object] | None, owner: object, *, where: str) -> tuple[Use, ...]:
    """Return the uses, de-duplicated in order; each must be a Use of ``owner``'s resources."""
    if uses is None:
        return ()
    if isinstance(uses, Use | Resource | str | bytes) or not isinstance(uses, Iterable):
        raise ValidationError(f"{where}: uses must be a list, as uses=[lake.read()]")
    checked: list[Use] = []
    for use in uses:
        if isinstance(use, Resource):
            offered = [a for a in Action if a in use.actions]  # least privilege first
            raise ValidationError(
                f"{where}: uses takes what the function does to a resource, not the "
                f"{use.kind} itself: write {use.name}.{offered[0]}() "
                f"(one of {', '.join(a + '()' for a in offered)})"
            )
        if not isinstance(use, Use):
            raise ValidationError(f"{where}: uses holds {use!r}, which is not a use")
        if use.resource.owner is not owner:
            raise ValidationError(
                f"{where}: uses {use} of pipeline {use.resource.app!r}; a function may "
                f"only use resources of its own pipeline"
            )
        if use not in checked:
            checked.append(use)
    return tuple(checked)


def check_own_resource(
    resource: object, kinds: tuple[type[Resource], ...], owner: object, *, where: str
) -> None:
    """Raise unless ``resource`` is one of ``kinds`` declared on ``owner``."""
    names = " or ".join(k.kind for k in kinds)
    if not isinstance(resource, kinds):
        raise ValidationError(f"{where}: the trigger needs a {names}, got {resource!r}")
    if resource.owner is not owner:
        raise ValidationError(
            f"{where}: the trigger is on {resource.kind} {resource.name!r} of pipeline "
            f"{resource.app!r}; declare it on this pipeline with "
            f"app.{resource.kind}({resource.name!r})"
        )


def check_environment(environment: Mapping[str, Any] | None, *, where: str) -> dict[str, str]:
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        raise ValidationError(f"{where}: environment must be a dict of str to str")
    checked = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _env_name().fullmatch(key):
            raise ValidationError(f"{where}: environment variable name {key!r} is not valid")
        if key.upper().startswith("PORTWAY_"):
            raise ValidationError(f"{where}: environment variable {key!r}: PORTWAY_ is reserved")
        if not isinstance(value, str):
            raise ValidationError(
                f"{where}: environment variable {key!r} must be a str, got {type(value).__name__}"
            )
        checked[key] = value
    return checked


def check_options(options: Mapping[str, Any] | None, *, where: str) -> dict[str, Mapping[str, Any]]:
    """Provider-specific options: ``{"aws": {...}, "gcp": {...}}``."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValidationError(f"{where}: options must be a dict keyed by provider name")
    for provider, values in options.items():
        if not isinstance(provider, str) or not isinstance(values, Mapping):
            raise ValidationError(
                f"{where}: options must look like {{'aws': {{...}}}}; got {provider!r}: {values!r}"
            )
    return {str(k): dict(v) for k, v in options.items()}


def check_key_filter(value: object, *, where: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{where}: {what} must be a str, got {value!r}")
    if len(value.encode("utf-8")) > limits.MAX_KEY_FILTER_BYTES:
        raise ValidationError(f"{where}: {what} is longer than 1,024 bytes")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError(f"{where}: {what} {value!r} holds a control character")
    return value


def check_http_route(method: object, path: object, *, where: str) -> tuple[str, str]:
    """Return ``(METHOD, path)``; a path is ``/`` or ``/``-separated segments or ``{params}``."""
    if not isinstance(method, str) or method.upper() not in limits.HTTP_METHODS:
        raise ValidationError(
            f"{where}: HTTP method {method!r} is not one of {', '.join(limits.HTTP_METHODS)}"
        )
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValidationError(f"{where}: HTTP path {path!r} must start with '/'")
    segments = path.strip("/").split("/") if path != "/" else []
    parameters: set[str] = set()
    for segment in segments:
        if not _path_segment().fullmatch(segment):
            raise ValidationError(
                f"{where}: HTTP path {path!r}: segment {segment!r} must be letters, digits, "
                f"'.', '_', '~', '-' or a parameter like {{name}}"
            )
        if segment.startswith("{"):
            if segment in parameters:
                raise ValidationError(
                    f"{where}: HTTP path {path!r} names parameter {segment} twice; "
                    f"give each parameter its own name"
                )
            parameters.add(segment)
    return method.upper(), path


def route_shape(method: str, path: str) -> str:
    """Two routes clash when they differ only in parameter names: GET /a/{} is the shape."""
    return method + " " + re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")
