"""The neutral pipeline model: plain, frozen declarations that know no provider."""

from __future__ import annotations

from portway.model.functions import Function
from portway.model.names import PORTABLE_NAME, check_name, name_problem
from portway.model.pipeline import Pipeline
from portway.model.resources import Action, Bucket, Queue, Resource, Topic, Use
from portway.model.schedules import Schedule, parse_schedule
from portway.model.triggers import (
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    ScheduleTrigger,
    Trigger,
)

__all__ = [
    "PORTABLE_NAME",
    "Action",
    "Bucket",
    "Function",
    "HttpTrigger",
    "MessageTrigger",
    "ObjectCreatedTrigger",
    "Pipeline",
    "Queue",
    "Resource",
    "Schedule",
    "ScheduleTrigger",
    "Topic",
    "Trigger",
    "Use",
    "check_name",
    "name_problem",
    "parse_schedule",
]
