"""The Google Cloud clients portway uses, created on first use and shared.

:class:`GcpClients` holds one stage's project, region and endpoints, and builds each
client the first time it is asked for, then keeps it (Google's clients are thread-safe
and hold connection pools, so one per process is right). No Google module is imported
before that: the runtime shim imports this module at cold start.

Each service runs either against Google or against an emulator:

* Pub/Sub (``publisher``, ``subscriber``): ``pubsub_endpoint`` (``host:port``) or
  ``PUBSUB_EMULATOR_HOST``: an insecure gRPC channel to Google's Pub/Sub emulator;
* Cloud Storage (``storage``): ``storage_endpoint`` (``http://host:port``) or
  ``STORAGE_EMULATOR_HOST``: gcp-storage-emulator or drongo;
* Cloud Functions v2 and Cloud Scheduler (``functions``, ``scheduler``): ``api_endpoint``
  (``http://host:port``): drongo's server, which speaks REST only, so these clients use
  ``transport="rest"`` there;
* IAM Admin (``iam_admin``): ``iam_endpoint`` (``host:port``): its client is gRPC only,
  so drongo's IAM Admin emulator is reached over an insecure gRPC channel
  (:class:`~portway_gcp.testing.emulators.DrongoServer` runs it beside drongo's server).

An emulated service gets anonymous credentials; the others get Application Default
Credentials (``google.auth.default()``, resolved once): a service account on Cloud Run,
``gcloud auth application-default login`` on a workstation.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from portway.errors import ConfigError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud import functions_v2, iam_admin_v1, scheduler_v1

    from portway.config import StageConfig

#: The variables Google's own client libraries read to reach an emulator.
PUBSUB_EMULATOR_HOST = "PUBSUB_EMULATOR_HOST"
STORAGE_EMULATOR_HOST = "STORAGE_EMULATOR_HOST"

# Everything portway calls is in the cloud-platform scope.
# https://developers.google.com/identity/protocols/oauth2/scopes
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

_Client = TypeVar("_Client")


class GcpClients:
    """One stage's Google Cloud clients, each created on first use and then reused.

    ``project`` and ``region`` name where portway works. Each ``*_endpoint`` points one
    service at an emulator (see the module docstring); ``None`` means Google, except
    that the Pub/Sub and Cloud Storage endpoints default to ``PUBSUB_EMULATOR_HOST`` and
    ``STORAGE_EMULATOR_HOST`` (read here, once), as Google's libraries do.
    ``credentials`` replaces Application Default Credentials for the services that
    reach Google.
    """

    def __init__(
        self,
        project: str,
        region: str,
        *,
        pubsub_endpoint: str | None = None,
        storage_endpoint: str | None = None,
        api_endpoint: str | None = None,
        iam_endpoint: str | None = None,
        credentials: Credentials | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.project = project
        self.region = region
        self.pubsub_endpoint = pubsub_endpoint or environ.get(PUBSUB_EMULATOR_HOST) or None
        self.storage_endpoint = storage_endpoint or environ.get(STORAGE_EMULATOR_HOST) or None
        self.api_endpoint = api_endpoint or None
        self.iam_endpoint = iam_endpoint or None
        self._credentials = credentials
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_stage(cls, stage: StageConfig) -> GcpClients:
        """The clients of a ``provider = "gcp"`` stage (``project``, ``region`` and the
        optional endpoint settings); :class:`ConfigError` if project or region is missing."""
        settings = stage.settings
        missing = [name for name in ("project", "region") if not settings.get(name)]
        if missing:
            raise ConfigError(
                f"stage {stage.name!r}: set {' and '.join(repr(m) for m in missing)} in "
                f"[stages.{stage.name}] of {stage.source} (a Google Cloud project id and region)"
            )

        def optional(name: str) -> str | None:
            value = settings.get(name)
            return str(value) if value else None

        return cls(
            str(settings["project"]),
            str(settings["region"]),
            pubsub_endpoint=optional("pubsub_endpoint"),
            storage_endpoint=optional("storage_endpoint"),
            api_endpoint=optional("api_endpoint"),
            iam_endpoint=optional("iam_endpoint"),
        )

    @property
    def emulated(self) -> bool:
        """Whether any service points at an emulator."""
        return any(
            (self.pubsub_endpoint, self.storage_endpoint, self.api_endpoint, self.iam_endpoint)
        )

    @property
    def location_path(self) -> str:
        """``projects/P/locations/R``: the parent of functions and Scheduler jobs."""
        return f"projects/{self.project}/locations/{self.region}"

    # -- the clients ---------------------------------------------------------------------

    # google-cloud-pubsub and google-cloud-storage ship no type information (no
    # py.typed), so their clients are Any here, as boto3's are in portway-aws.

    @property
    def publisher(self) -> Any:
        """Pub/Sub publisher (``pubsub_v1.PublisherClient``: publishing, topic admin)."""
        return self._shared("publisher", self._make_publisher)

    @property
    def subscriber(self) -> Any:
        """Pub/Sub subscriber (``pubsub_v1.SubscriberClient``: pulling, subscription admin)."""
        return self._shared("subscriber", self._make_subscriber)

    @property
    def storage(self) -> Any:
        """Cloud Storage (``google.cloud.storage.Client``)."""
        return self._shared("storage", self._make_storage)

    @property
    def functions(self) -> functions_v2.FunctionServiceClient:
        """Cloud Functions v2 (Cloud Run functions)."""
        return self._shared("functions", self._make_functions)

    @property
    def scheduler(self) -> scheduler_v1.CloudSchedulerClient:
        """Cloud Scheduler."""
        return self._shared("scheduler", self._make_scheduler)

    @property
    def iam_admin(self) -> iam_admin_v1.IAMClient:
        """IAM Admin (service accounts)."""
        return self._shared("iam_admin", self._make_iam_admin)

    def _shared(self, name: str, make: Callable[[], _Client]) -> _Client:
        client = self._clients.get(name)
        if client is None:
            with self._lock:
                client = self._clients.get(name)
                if client is None:
                    client = self._clients[name] = make()
        return client

    def google_credentials(self) -> Credentials:
        """Application Default Credentials (or those given), resolved on first use.

        Raises :class:`ConfigError` with the fix when there are none.
        """
        if self._credentials is None:
            with self._lock:
                if self._credentials is None:
                    self._credentials = _default_credentials()
        return self._credentials

    # -- how each client is made -----------------------------------------------------------

    def _make_publisher(self) -> Any:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        # The client holds each message up to max_latency (10 ms by default) for others to
        # join its batch. portway waits for every publish, so that wait is pure latency;
        # messages published together still share a batch while one is being sent.
        # https://cloud.google.com/pubsub/docs/batch-messaging
        batching = pubsub_v1.types.BatchSettings(max_latency=0)
        if self.pubsub_endpoint is None:
            return pubsub_v1.PublisherClient(
                batch_settings=batching, credentials=self.google_credentials()
            )
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        channel = _insecure_channel(self.pubsub_endpoint)
        return pubsub_v1.PublisherClient(
            batch_settings=batching, transport=PublisherGrpcTransport(channel=channel)
        )

    def _make_subscriber(self) -> Any:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        if self.pubsub_endpoint is None:
            return pubsub_v1.SubscriberClient(credentials=self.google_credentials())
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

        channel = _insecure_channel(self.pubsub_endpoint)
        return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))

    def _make_storage(self) -> Any:
        from google.cloud import storage  # type: ignore[attr-defined]

        if self.storage_endpoint is None:
            return storage.Client(project=self.project, credentials=self.google_credentials())
        return storage.Client(
            project=self.project,
            credentials=_anonymous(),
            client_options={"api_endpoint": self.storage_endpoint},
        )

    def _make_functions(self) -> functions_v2.FunctionServiceClient:
        from google.cloud import functions_v2

        return functions_v2.FunctionServiceClient(**self._api_arguments())

    def _make_scheduler(self) -> scheduler_v1.CloudSchedulerClient:
        from google.cloud import scheduler_v1

        return scheduler_v1.CloudSchedulerClient(**self._api_arguments())

    def _make_iam_admin(self) -> iam_admin_v1.IAMClient:
        from google.cloud import iam_admin_v1

        if self.iam_endpoint is None:
            if self.api_endpoint is not None:
                # Half an emulated stage would create service accounts in a real project.
                raise ConfigError(
                    "the stage sets 'api_endpoint' (an emulator) but not 'iam_endpoint': "
                    "IAM Admin would reach Google; set 'iam_endpoint' to the IAM Admin "
                    "emulator's host:port too"
                )
            return iam_admin_v1.IAMClient(credentials=self.google_credentials())
        from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport

        channel = _insecure_channel(self.iam_endpoint)
        return iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))

    def _api_arguments(self) -> dict[str, Any]:
        """Client arguments of the REST-served APIs (Cloud Functions, Cloud Scheduler)."""
        if self.api_endpoint is None:
            return {"credentials": self.google_credentials()}
        from google.api_core.client_options import ClientOptions

        # drongo serves these APIs over plain-HTTP REST only: an http:// api_endpoint
        # and the REST transport, with anonymous credentials.
        return {
            "transport": "rest",
            "credentials": _anonymous(),
            "client_options": ClientOptions(api_endpoint=self.api_endpoint),
        }


def _anonymous() -> Credentials:
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()  # type: ignore[no-untyped-call]


def _insecure_channel(endpoint: str) -> Any:
    """A plaintext gRPC channel to an emulator's ``host:port`` (emulators speak no TLS)."""
    import grpc  # type: ignore[import-untyped]  # grpcio ships no type information

    # Unlimited message sizes, as the client libraries' own channels are: gRPC's default
    # of 4 MiB received would refuse a pulled Pub/Sub message of up to 10 MB.
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    return grpc.insecure_channel(endpoint.removeprefix("http://"), options=options)


def _default_credentials() -> Credentials:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _project = google.auth.default(scopes=list(SCOPES))
    except DefaultCredentialsError as error:
        raise ConfigError(
            f"no Google Cloud credentials were found ({error}); run 'gcloud auth "
            f"application-default login', or set GOOGLE_APPLICATION_CREDENTIALS to a "
            f"service account key file"
        ) from None
    return credentials
