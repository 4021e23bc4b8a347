"""The Azure Functions Python worker, played: an app group's packaged ``function_app.py``
in a worker subprocess.

The Functions host starts a Python worker per app, which imports ``function_app.py``
from the app's root, indexes ``app.get_functions()`` (each function's trigger and
bindings), reports the index to the host, and then runs each invocation by calling the
function's user callable with every input binding passed by name.
:class:`AppWorker` does the same with the zip deploy built: it starts one long-lived
``python -I -S`` process whose ``sys.path`` is the unpacked zip, then the app's
installed requirements (:mod:`portway_azure.testing.python_packages`) and nothing else,
with the app settings as its environment and the app's root as its working folder.

Invocations carry what the host hands the worker: a queue message
(``azure.functions.queue.QueueMessage``, with its ``dequeue_count``), a timer tick
(``azure.functions.timer.TimerRequest``, with ``past_due``) or an HTTP request
(``azure.functions.HttpRequest``). As the worker checks at indexing, a function whose
parameters are not exactly its bindings' names fails to load.

Protocol: the worker first writes its index as one JSON line; then, per request line on
stdin, one answer line on its private copy of stdout (``{"result"}`` or
``{"error"}``, with ``"logs"``: what the invocation printed or logged at ``INFO`` and
above). The function's own output also goes to stderr, the worker's log file.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from portway.errors import PortwayError

#: Seconds the worker may take to import and index the app, on top of any invocation.
START_TIMEOUT = 60.0
#: Seconds a worker's first invocation may take beyond the function timeout: it imports
#: the pipeline and the storage SDK (a cold start, which a busy test machine slows).
COLD_START_GRACE = 30.0

WORKER = r"""
import base64, inspect, json, logging, os, sys, traceback
from datetime import datetime
sys.path[:0] = sys.argv[1:]
answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
errors = sys.stderr
sys.stdout = errors

class Tee:
    def __init__(self):
        self.parts = []
    def write(self, text):
        errors.write(text)
        self.parts.append(text)
        return len(text)
    def flush(self):
        errors.flush()

class ToCurrentStderr(logging.Handler):
    # The host collects what a function logs at Information and above.
    def emit(self, record):
        sys.stderr.write(self.format(record) + "\n")

handler = ToCurrentStderr()
handler.setFormatter(logging.Formatter("%(message)s"))
logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
# The Azure SDK logs every request and response at Information: kept out of the logs.
logging.getLogger("azure").setLevel(logging.WARNING)

def answer(document):
    answers.write(json.dumps(document) + "\n")
    answers.flush()

def plain(value):
    return getattr(value, "value", str(value))

functions = {}
try:
    import azure.functions as func
    from azure.functions.queue import QueueMessage
    from azure.functions.timer import TimerRequest
    import function_app
    index = {}
    for function in function_app.app.get_functions():
        name = function.get_function_name()
        trigger = function.get_trigger()
        user = function.get_user_function()
        bindings = [b.get_dict_repr() for b in function.get_bindings()]
        declared = {b["name"] for b in bindings if b["name"] != "$return"}
        parameters = set(inspect.signature(user).parameters)
        if parameters != declared:
            raise TypeError(
                f"function {name!r}: its parameters {sorted(parameters)} are not its "
                f"bindings {sorted(declared)}; the worker passes each binding by name"
            )
        functions[name] = (trigger.name, user)
        index[name] = json.loads(json.dumps(bindings, default=plain))
    answer({"index": index})
except Exception as error:
    traceback.print_exc()
    answer({"error": f"{type(error).__name__}: {error}"})
    sys.exit(1)

def moment(text):
    return datetime.fromisoformat(text) if text else None

def value_of(request):
    kind = request["kind"]
    if kind == "queue":
        return QueueMessage(
            id=request["id"],
            body=base64.b64decode(request["body"]),
            dequeue_count=request["dequeue_count"],
            insertion_time=moment(request.get("insertion_time")),
            expiration_time=moment(request.get("expiration_time")),
            time_next_visible=moment(request.get("time_next_visible")),
            pop_receipt=request.get("pop_receipt"),
        )
    if kind == "timer":
        return TimerRequest(past_due=request["past_due"])
    return func.HttpRequest(
        request["method"],
        request["url"],
        headers=request["headers"],
        params=request["params"],
        route_params=request["route_params"],
        body=base64.b64decode(request["body"]),
    )

def response_of(result):
    headers = {k.lower(): v for k, v in result.headers.items()}
    if "content-type" not in headers and result.mimetype:
        charset = f"; charset={result.charset}" if result.charset else ""
        headers["content-type"] = result.mimetype + charset
    body = base64.b64encode(result.get_body() or b"").decode("ascii")
    return {"status": int(result.status_code), "headers": headers, "body": body}

for line in sys.stdin:
    request = json.loads(line)
    tee = Tee()
    sys.stdout = sys.stderr = tee
    try:
        argument, user = functions[request["function"]]
        result = user(**{argument: value_of(request)})
        reply = {"result": response_of(result) if request["kind"] == "http" else None}
    except Exception as error:
        traceback.print_exc()
        reply = {"error": f"{type(error).__name__}: {error}"}
    finally:
        sys.stdout = sys.stderr = errors
        errors.flush()
    reply["logs"] = "".join(tee.parts)
    answer(reply)
"""


class WorkerError(PortwayError):
    """The packaged app could not be loaded by the worker (its output attached)."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation's outcome: the result (an HTTP response), or the error raised."""

    result: Any = None
    error: str | None = None  # "RuntimeError: text"
    logs: str = ""


@dataclass(frozen=True, slots=True)
class IndexedFunction:
    """A function as the worker indexed it: its bindings as ``get_dict_repr()`` gives them."""

    name: str
    bindings: tuple[Mapping[str, Any], ...]

    @property
    def trigger(self) -> Mapping[str, Any]:
        """The trigger binding (``type`` ends in ``Trigger``)."""
        return next(b for b in self.bindings if str(b["type"]).endswith("Trigger"))


class AppWorker:
    """The worker of one Function App: invocations run one at a time, in order.

    ``root``: the unpacked zip; ``packages``: its installed requirements; ``environment``:
    the app settings; ``timeout``: host.json ``functionTimeout`` in seconds (an
    invocation running longer is abandoned and the worker restarted, as the host does).
    """

    def __init__(
        self,
        group: str,
        *,
        root: Path,
        packages: Path,
        environment: Mapping[str, str],
        timeout: float,
        log: IO[bytes],
    ) -> None:
        self.group = group
        self.timeout = timeout
        self._command = [sys.executable, "-I", "-S", "-c", WORKER, str(root), str(packages)]
        self._environment = {
            **environment,
            # The worker's own settings: where the app is, and which language it runs.
            "AzureWebJobsScriptRoot": str(root),
            "FUNCTIONS_WORKER_RUNTIME": "python",
        }
        self._root = root
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._warm = False
        self.index: dict[str, IndexedFunction] = {}

    def start(self) -> dict[str, IndexedFunction]:
        """Start the worker; return its index of the app's functions.

        Raises :class:`WorkerError` when ``function_app.py`` does not import or index.
        """
        with self._lock:
            self.index = self._launch()
        return self.index

    def _launch(self) -> dict[str, IndexedFunction]:
        process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=dict(self._environment),
            cwd=self._root,
        )
        self._process = process
        self._warm = False
        line = self._read_line(process, START_TIMEOUT)
        answer: dict[str, Any] = (
            json.loads(line) if line else {"error": "the worker exited while loading"}
        )
        if "index" not in answer:
            self._end(process)
            raise WorkerError(f"app group {self.group!r}: the worker failed: {answer['error']}")
        return {
            name: IndexedFunction(name, tuple(bindings))
            for name, bindings in answer["index"].items()
        }

    def _read_line(self, process: subprocess.Popen[bytes], limit: float) -> bytes | None:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(limit):
                return None
        return process.stdout.readline() or None

    def invoke(self, request: Mapping[str, Any]) -> Invocation:
        """Run one invocation (see the module docstring for ``request``'s keys)."""
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                try:
                    self.index = self._launch()
                except WorkerError as error:
                    return Invocation(error=str(error))
                process = self._process
            assert process is not None
            assert process.stdin is not None
            try:
                process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
                process.stdin.flush()
            except OSError:
                return Invocation(error=f"the worker exited (code {process.wait()})")
            limit = self.timeout + (0.0 if self._warm else COLD_START_GRACE)
            line = self._read_line(process, limit)
            if line is None:
                self._end(process)
                return Invocation(
                    error=f"FunctionTimeoutException: the invocation exceeded the function "
                    f"timeout of {self.timeout:g} s; the worker was restarted"
                )
            self._warm = True
        answer = json.loads(line)
        logs = str(answer.get("logs", ""))
        if "error" in answer:
            return Invocation(error=str(answer["error"]), logs=logs)
        return Invocation(result=answer.get("result"), logs=logs)

    def _end(self, process: subprocess.Popen[bytes]) -> None:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        self._process = None

    def stop(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
