"""The local provider object, created on first use by the registry.

``connect`` gives scripts, the command line and the runtime's workers the data plane of
a local stage (:mod:`portway.local.dataplane`); ``portway run`` is
:mod:`portway.local.runtime`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from portway.local.database import StageLayout, stage_layout, sync_mode
from portway.local.dataplane import LocalDataPlane
from portway.providers import Provider

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.model import Pipeline
    from portway.testing.local_harness import LocalHarness


class LocalProvider(Provider):
    """Runs a pipeline on this machine. Deploy-style operations are not needed here."""

    def layout(self, stage: StageConfig) -> StageLayout:
        """Where ``stage`` keeps its state (``path`` setting, else ``.portway/<stage>``)."""
        return stage_layout(stage.root or Path.cwd(), stage.name, dict(stage.settings))

    def connect(self, pipeline: Pipeline, stage: StageConfig) -> LocalDataPlane:
        return LocalDataPlane(
            pipeline,
            self.layout(stage),
            max_message_bytes=self.capabilities.max_message_bytes,
            sync=sync_mode(dict(stage.settings)),
        )

    def conformance_harness(self) -> LocalHarness:
        """``portway run`` on a throwaway stage in a temporary folder."""
        from portway.testing.local_harness import LocalHarness

        return LocalHarness()
