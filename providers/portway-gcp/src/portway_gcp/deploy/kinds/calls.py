"""Every Google Cloud call a deploy makes: counted, and its errors made readable.

:class:`~portway.deploy.execute.CallLog` (the core's) records each call as read-only or
mutating (``plan`` and a no-op redeploy must make no mutating call; tests count them).
:class:`ResourceCalls` binds the log to one resource, so a failure reads
``pubsub:topic projects/p/topics/t: pubsub.topics.create failed: PermissionDenied: ...``
followed by the fix where one is known (an API not enabled, a missing permission, bad
credentials), and never as a bare ``google.api_core`` traceback. Errors that mean
"already there" or "already gone" are named by the caller (:meth:`ResourceCalls.unless`),
because only it knows which ones are harmless.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portway.deploy.execute import settle
from portway.errors import DeployError

if TYPE_CHECKING:
    from portway.deploy.execute import CallLog

# "Cloud Pub/Sub API has not been used in project 123 before or it is disabled. Enable it
# by visiting https://console.developers.google.com/apis/api/pubsub.googleapis.com/..."
# https://cloud.google.com/service-usage/docs/enable-disable
_DISABLED_API = re.compile(r"([a-z0-9-]+\.googleapis\.com)")
#: Pauses while a new service account propagates: IAM is eventually consistent, and a
#: function or a policy naming an account created seconds ago may be refused ("does not
#: exist"). About a minute in all.
#: https://cloud.google.com/iam/docs/service-accounts-create#creating
ACCOUNT_RETRY_DELAYS: tuple[float, ...] = (2, 3, 5, 5, 10, 10, 10, 15)
_NOT_YET = re.compile(r"service account|does not exist", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ResourceCalls:
    """Calls made on behalf of one resource, counted in ``log``, errors wrapped."""

    log: CallLog
    kind: str
    name: str

    def read(self, operation: str, method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return self._call(False, operation, (), method, args, kwargs)

    def write(
        self, operation: str, method: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        return self._call(True, operation, (), method, args, kwargs)

    def settling(
        self,
        operation: str,
        method: Callable[..., Any],
        /,
        *args: Any,
        delays: Sequence[float] = ACCOUNT_RETRY_DELAYS,
        harmless: tuple[type[Exception], ...] = (),
        **kwargs: Any,
    ) -> Any:
        """A mutating call tried again (the core's :func:`~portway.deploy.execute.settle`)
        while it is refused for naming a service account that has not propagated yet (see
        :data:`ACCOUNT_RETRY_DELAYS`); ``None`` when it fails with one of ``harmless``."""
        from google.api_core import exceptions

        # BadRequest covers the REST APIs' 400 and gRPC's InvalidArgument (its subclass).
        refused = (exceptions.BadRequest, exceptions.NotFound, exceptions.FailedPrecondition)

        def attempt() -> Any:
            try:
                return self.log.write(operation, method, *args, **kwargs)
            except harmless:
                return None

        def passing(error: Exception) -> bool:
            return isinstance(error, refused) and bool(_NOT_YET.search(str(error)))

        try:
            return settle(attempt, delays=delays, passing=passing)
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
            raise self.failure(operation, error) from None

    def unless(
        self,
        harmless: tuple[type[Exception], ...],
        operation: str,
        method: Callable[..., Any],
        /,
        *args: Any,
        mutating: bool = True,
        **kwargs: Any,
    ) -> Any:
        """The call's result, or ``None`` when it fails with one of ``harmless``."""
        return self._call(mutating, operation, harmless, method, args, kwargs)

    def _call(
        self,
        mutating: bool,
        operation: str,
        harmless: tuple[type[Exception], ...],
        method: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        from google.api_core import exceptions

        try:
            if mutating:
                return self.log.write(operation, method, *args, **kwargs)
            return self.log.read(operation, method, *args, **kwargs)
        except harmless:
            return None
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
            raise self.failure(operation, error) from None

    def failure(self, operation: str, error: Exception) -> DeployError:
        """The :class:`DeployError` telling the user what failed on this resource, and the fix."""
        text = f"{self.kind} {self.name}: {operation} failed: {type(error).__name__}: "
        text += str(getattr(error, "message", "") or error).strip()
        fix = fix_for(error, operation)
        return DeployError(f"{text}; {fix}" if fix else text)


def fix_for(error: Exception, operation: str) -> str:
    """What the user can do about ``error`` from ``operation`` (``""`` when nothing is known)."""
    from google.api_core import exceptions

    message = str(getattr(error, "message", "") or error)
    if isinstance(error, exceptions.PermissionDenied | exceptions.Forbidden):
        if "has not been used" in message or "SERVICE_DISABLED" in message or "disabled" in message:
            found = _DISABLED_API.search(message)
            api = found.group(1) if found else "the API named above"
            return (
                f"enable {api} in the project (gcloud services enable {api}), wait a minute, "
                f"then run the command again"
            )
        return (
            f"the deploying identity lacks the permission for {operation}: grant it a role "
            f"holding it (see the GCP provider page for the deployer's roles), or deploy with "
            f"credentials that have it"
        )
    if isinstance(error, exceptions.Unauthenticated | exceptions.Unauthorized):
        return (
            "the Google Cloud credentials are missing or expired: run 'gcloud auth "
            "application-default login' (or set GOOGLE_APPLICATION_CREDENTIALS) and try again"
        )
    if isinstance(error, exceptions.TooManyRequests | exceptions.ResourceExhausted):
        return "a quota or rate limit is reached: run the command again in a minute, it resumes"
    if isinstance(error, exceptions.RetryError):
        return (
            "Google Cloud did not answer in time (the network, or an emulator that is not "
            "running): check the stage's endpoints and connection, then run the command again"
        )
    if isinstance(error, exceptions.ServiceUnavailable | exceptions.InternalServerError):
        return "Google Cloud failed for a moment: run the command again, it resumes"
    return ""
