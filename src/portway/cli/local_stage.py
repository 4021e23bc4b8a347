"""Commands that work on a local stage: find it, or say why the stage is not local."""

from __future__ import annotations

from portway.cli.project import LoadedProject
from portway.config import StageConfig
from portway.errors import NotSupported
from portway.local.provider import LocalProvider
from portway.providers import registry


def local_stage(
    loaded: LoadedProject, stage: str | None, command: str
) -> tuple[StageConfig, LocalProvider]:
    """The selected stage and the local provider; :class:`NotSupported` if not local."""
    selected = loaded.config.stage(stage)
    provider = registry().provider(selected.provider)
    if not isinstance(provider, LocalProvider):
        raise NotSupported(
            f"portway {command} works on a local stage; stage {selected.name!r} uses provider "
            f"{selected.provider!r} (pick a local stage with --stage, or deploy this one with "
            f"'portway deploy --stage {selected.name}')"
        )
    return selected, provider
