"""The :class:`Pipeline`: where resources and functions are declared.

A pipeline is built by a module at import time and never changes afterwards in
practice; every declaration is checked at once and a bad one raises
:class:`~portway.errors.ValidationError` naming the pipeline, the resource or function,
and the rule. The objects it hands out (resources, functions, triggers, uses) are
frozen data that know no provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from portway.errors import ValidationError
from portway.events import HttpRequest, Message, ObjectEvent, ScheduleEvent
from portway.model import checks, limits
from portway.model.functions import Function
from portway.model.names import check_name
from portway.model.resources import Bucket, Queue, Resource, Topic
from portway.model.schedules import parse_schedule
from portway.model.signatures import is_batch_handler
from portway.model.triggers import (
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    ScheduleTrigger,
    Trigger,
)

if TYPE_CHECKING:
    from pathlib import Path

    from portway.config import ProjectConfig
    from portway.dataplane import Binding

Handler = TypeVar("Handler", bound=Callable[..., Any])
AnyResource = TypeVar("AnyResource", bound=Resource)


class Pipeline:
    """A named set of resources and the functions triggered by them.

    >>> app = Pipeline("lake-to-warehouse")
    >>> lake = app.bucket("lake")
    """

    def __init__(self, name: str) -> None:
        self.name = check_name(name, what="pipeline name")
        self._resources: dict[str, Resource] = {}
        self._functions: dict[str, Function] = {}
        self._routes: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"Pipeline({self.name!r}, resources={len(self._resources)}, "
            f"functions={len(self._functions)})"
        )

    @property
    def resources(self) -> Mapping[str, Resource]:
        """Declared resources by name, in declaration order (read-only)."""
        return MappingProxyType(self._resources)

    @property
    def functions(self) -> Mapping[str, Function]:
        """Declared functions by name, in declaration order (read-only)."""
        return MappingProxyType(self._functions)

    # -- resources -------------------------------------------------------------------

    def bucket(self, name: str) -> Bucket:
        """Declare an object store."""
        return self._add(Bucket(self._resource_name(name, "bucket"), self.name, self))

    def queue(
        self,
        name: str,
        *,
        max_attempts: int = limits.DEFAULT_MAX_ATTEMPTS,
        visibility_timeout: int = limits.DEFAULT_VISIBILITY_TIMEOUT,
        retention: int = limits.DEFAULT_RETENTION,
    ) -> Queue:
        """Declare a work queue; a message failed ``max_attempts`` times is dead-lettered."""
        name = self._resource_name(name, "queue")
        where = f"pipeline {self.name!r}, queue {name!r}"
        queue = Queue(
            name,
            self.name,
            self,
            max_attempts=checks.check_int_range(
                max_attempts, limits.MAX_ATTEMPTS, where=where, what="max_attempts"
            ),
            visibility_timeout=checks.check_int_range(
                visibility_timeout,
                limits.VISIBILITY_TIMEOUT,
                where=where,
                what="visibility_timeout",
            ),
            retention=checks.check_int_range(
                retention, limits.RETENTION, where=where, what="retention"
            ),
        )
        return self._add(queue)

    def topic(self, name: str) -> Topic:
        """Declare a fan-out topic."""
        return self._add(Topic(self._resource_name(name, "topic"), self.name, self))

    def _resource_name(self, name: str, kind: str) -> str:
        checked = check_name(name, what=f"pipeline {self.name!r}, {kind} name")
        where = f"pipeline {self.name!r}, {kind} {checked!r}"
        if checked in self._resources:
            other = self._resources[checked]
            raise ValidationError(
                f"{where}: the name is already taken by {other.kind} {checked!r}; "
                f"resource names are unique within a pipeline"
            )
        clash = self._dead_letter_owner(checked)
        if clash is not None:
            raise ValidationError(
                f"{where}: the name is taken by the dead-letter queue of queue {clash!r}"
            )
        if kind == "queue" and f"{checked}-dlq" in self._resources:
            raise ValidationError(
                f"{where}: its dead-letter queue would be named {checked + '-dlq'!r}, "
                f"which is already declared"
            )
        return checked

    def _dead_letter_owner(self, name: str) -> str | None:
        for resource in self._resources.values():
            if isinstance(resource, Queue) and resource.dead_letter_name == name:
                return resource.name
        return None

    def _add(self, resource: AnyResource) -> AnyResource:
        self._resources[resource.name] = resource
        return resource

    # -- functions -------------------------------------------------------------------

    def schedule(self, expression: str, **common: Any) -> Callable[[Handler], Handler]:
        """Run the decorated function on ``rate(N minutes|hours|days)`` or ``cron(5 fields)``.

        Common keyword arguments of every decorator: ``uses=[...]``, ``timeout=`` (s),
        ``memory=`` (MiB), ``environment={...}``, ``options={"aws": {...}}``, ``name=``.
        """
        where = f"pipeline {self.name!r}, schedule {expression!r}"
        try:
            trigger = ScheduleTrigger(parse_schedule(expression))
        except ValidationError as error:
            raise ValidationError(f"pipeline {self.name!r}: {error}") from None
        return self._decorator(trigger, ScheduleEvent, common, where=where)

    def on_object_created(
        self, bucket: Bucket, *, prefix: str = "", suffix: str = "", **common: Any
    ) -> Callable[[Handler], Handler]:
        """Run the decorated function for each object created in ``bucket``.

        Only keys that start with ``prefix`` and end with ``suffix`` trigger it.
        """
        where = f"pipeline {self.name!r}, on_object_created"
        checks.check_own_resource(bucket, (Bucket,), self, where=where)
        trigger = ObjectCreatedTrigger(
            bucket,
            checks.check_key_filter(prefix, where=where, what="prefix"),
            checks.check_key_filter(suffix, where=where, what="suffix"),
        )
        return self._decorator(trigger, ObjectEvent, common, where=where)

    def on_message(
        self,
        source: Queue | Topic,
        *,
        batch_size: int = 1,
        max_batching_window: int = 0,
        **common: Any,
    ) -> Callable[[Handler], Handler]:
        """Run the decorated function for messages of a queue, or of a topic (one copy each).

        Declare the handler as ``f(msg: Message)`` to get one message per call, or as
        ``f(batch: list[Message])`` to get up to ``batch_size`` at once and report
        failures with :class:`~portway.events.BatchResult`.
        """
        where = f"pipeline {self.name!r}, on_message"
        checks.check_own_resource(source, (Queue, Topic), self, where=where)
        where = f"pipeline {self.name!r}, on_message({source.name})"
        trigger = MessageTrigger(
            source,
            checks.check_int_range(batch_size, limits.BATCH_SIZE, where=where, what="batch_size"),
            checks.check_int_range(
                max_batching_window,
                limits.MAX_BATCHING_WINDOW,
                where=where,
                what="max_batching_window",
            ),
        )
        return self._decorator(trigger, Message, common, where=where, allow_batch=True)

    def http(
        self, method: str, path: str, *, public: bool = False, **common: Any
    ) -> Callable[[Handler], Handler]:
        """Serve ``method path`` (``{name}`` segments are path parameters).

        The route needs the provider's own authentication unless ``public=True``.
        """
        where = f"pipeline {self.name!r}, http {method!r} {path!r}"
        method, path = checks.check_http_route(method, path, where=where)
        if not isinstance(public, bool):
            raise ValidationError(f"{where}: public must be True or False")
        shape = checks.route_shape(method, path)
        if shape in self._routes:
            raise ValidationError(
                f"{where}: route {method} {path} is already served by function "
                f"{self._routes[shape]!r}"
            )
        return self._decorator(HttpTrigger(method, path, public), HttpRequest, common, where=where)

    def _decorator(
        self,
        trigger: Trigger,
        event_type: type,
        common: dict[str, Any],
        *,
        where: str,
        allow_batch: bool = False,
    ) -> Callable[[Handler], Handler]:
        unknown = set(common) - {"uses", "timeout", "memory", "environment", "options", "name"}
        if unknown:
            raise ValidationError(f"{where}: unknown argument(s) {', '.join(sorted(unknown))}")

        def register(handler: Handler) -> Handler:
            self._register(trigger, event_type, handler, common, where, allow_batch)
            return handler

        return register

    def _register(
        self,
        trigger: Trigger,
        event_type: type,
        handler: Callable[..., Any],
        common: dict[str, Any],
        where: str,
        allow_batch: bool,
    ) -> None:
        if not callable(handler):
            raise ValidationError(f"{where}: the decorator must wrap a function, got {handler!r}")
        name = checks.check_function_name(
            common.get("name", getattr(handler, "__name__", None)), where=where
        )
        where = f"pipeline {self.name!r}, function {name!r}"
        check_name(name.replace("_", "-"), what=f"{where}, name")
        clash = next(
            (f for f in self._functions.values() if f.resource_name == name.replace("_", "-")),
            None,
        )
        if clash is not None:
            raise ValidationError(
                f"{where}: a function named {clash.name!r} is already declared; "
                f"pass name='...' to the decorator"
            )
        batch = is_batch_handler(
            handler, event_type, allow_batch=allow_batch, where=f"{where} ({trigger.kind})"
        )
        function = Function(
            name=name,
            app=self.name,
            handler=handler,
            trigger=trigger,
            uses=checks.check_uses(common.get("uses"), self, where=where),
            batch=batch,
            timeout=checks.check_int_range(
                common.get("timeout", limits.DEFAULT_TIMEOUT),
                limits.TIMEOUT,
                where=where,
                what="timeout",
            ),
            memory=checks.check_int_range(
                common.get("memory", limits.DEFAULT_MEMORY),
                limits.MEMORY,
                where=where,
                what="memory",
            ),
            environment=checks.check_environment(common.get("environment"), where=where),
            options=checks.check_options(common.get("options"), where=where),
        )
        self._functions[name] = function
        if isinstance(trigger, HttpTrigger):
            self._routes[checks.route_shape(trigger.method, trigger.path)] = name

    # -- lookups ---------------------------------------------------------------------

    def function(self, name: str) -> Function:
        """The function called ``name`` (the Python name or the hyphenated one)."""
        for function in self._functions.values():
            if name in (function.name, function.resource_name):
                return function
        known = ", ".join(self._functions) or "none"
        raise KeyError(f"pipeline {self.name!r} has no function {name!r} (it has: {known})")

    def resource(self, name: str) -> Resource:
        try:
            return self._resources[name]
        except KeyError:
            known = ", ".join(self._resources) or "none"
            raise KeyError(
                f"pipeline {self.name!r} has no resource {name!r} (it has: {known})"
            ) from None

    def subscribers(self, source: Resource) -> Iterable[Function]:
        """Functions whose trigger is on ``source``, in declaration order."""
        return [f for f in self._functions.values() if f.trigger.resource == source]

    # -- data plane --------------------------------------------------------------------

    @contextmanager
    def connect(
        self,
        stage: str | None = None,
        *,
        config: ProjectConfig | None = None,
        directory: Path | None = None,
    ) -> Iterator[Binding]:
        """Bind data-plane calls in this block to the resources of ``stage``.

        ``stage`` defaults as on the command line (``PORTWAY_STAGE``, else the local
        stage). ``config`` is read from ``directory`` (default: the current folder)
        when not given. Every use is allowed: no function is running.
        """
        from portway.config import load_project
        from portway.dataplane import bind
        from portway.providers import registry

        project = config if config is not None else load_project(directory)
        selected = project.stage(stage)
        provider = registry().provider(selected.provider)
        clients = provider.connect(self, selected)
        try:
            with bind(clients) as binding:
                yield binding
        finally:
            close = getattr(clients, "close", None)
            if callable(close):
                close()
