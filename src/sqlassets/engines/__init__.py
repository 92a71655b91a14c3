"""Engine adapters: the only code that knows engine differences or talks to a warehouse."""

from sqlassets.engines.base import Capabilities, DryRunResult, Engine, JobContext, JobResult
from sqlassets.errors import EngineError

__all__ = [
    "Capabilities",
    "DryRunResult",
    "Engine",
    "EngineError",
    "JobContext",
    "JobResult",
]
