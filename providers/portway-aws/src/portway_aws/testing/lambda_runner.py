"""Lambda's Python runtime, played: the deployed zip's handler in a worker subprocess.

moto stores a function's code but never runs it. :class:`LambdaWorker` runs it as
Lambda would: it unpacks the very zip deploy uploaded (its SHA-256 checked against the
``CodeSha256`` moto reports), starts one long-lived ``python -I -S`` process per function
(one warm container) with the function's configured environment, and sends it one
event per invocation. The process imports ``portway_aws.handler`` from the unpacked
zip, so every invocation is a real call of the packaged handler.

The worker's ``sys.path`` is what Lambda's is: the task root (the unpacked zip) first,
then the runtime's own packages. Lambda's Python runtime ships boto3 and its
dependencies; here they are symlinked from this interpreter's site-packages into a
folder of their own (:func:`lambda_runtime_folder`), so nothing else installed here
(pytest, typer, the working tree's portway) can leak into the function.

Protocol: one JSON line per invocation on stdin (``{"event", "request_id"}``), one
JSON line per answer on the worker's private copy of stdout (``{"result"}`` or
``{"errorType", "errorMessage"}``, with ``"logs"``: what the invocation wrote). The
function's own prints go to stderr, the worker's log file (CloudWatch's place).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import selectors
import subprocess
import sys
import threading
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from portway.errors import PortwayError

#: What Lambda's Python runtimes provide besides the standard library.
#: https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
LAMBDA_RUNTIME_MODULES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
)
START_GRACE = 30.0  # seconds a cold start may add to the first invocation's timeout

WORKER = r"""
import json, os, sys, traceback
sys.path[:0] = sys.argv[1:]
answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
errors = sys.stderr
sys.stdout = errors

class Context:
    def __init__(self, request):
        self.aws_request_id = request["request_id"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.invoked_function_arn = request.get("function_arn", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    def get_remaining_time_in_millis(self):
        return int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")) * 1000

class Tee:
    def __init__(self):
        self.parts = []
    def write(self, text):
        errors.write(text)
        self.parts.append(text)
        return len(text)
    def flush(self):
        errors.flush()

try:
    from portway_aws.handler import handler
    failure = None
except Exception as error:
    traceback.print_exc()
    handler, failure = None, error

for line in sys.stdin:
    request = json.loads(line)
    tee = Tee()
    sys.stdout = sys.stderr = tee
    try:
        if handler is None:
            raise failure
        answer = {"result": handler(request["event"], Context(request))}
    except Exception as error:
        traceback.print_exc()
        answer = {"errorType": type(error).__name__, "errorMessage": str(error)}
    finally:
        sys.stdout = sys.stderr = errors
        errors.flush()
    answer["logs"] = "".join(tee.parts)
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
"""


class LambdaRunnerError(PortwayError):
    """The deployed code cannot be run: its zip differs from moto's, or a worker died."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation's outcome: the handler's result, or the error Lambda would report."""

    result: Any = None
    error: str | None = None  # "RuntimeError: text", as Lambda's errorType/errorMessage
    logs: str = ""


def check_and_unpack(zip_path: Path, code_sha256: str, target: Path) -> Path:
    """Unpack ``zip_path`` into ``target`` if its SHA-256 is moto's ``CodeSha256``."""
    data = zip_path.read_bytes()
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    if digest != code_sha256:
        raise LambdaRunnerError(
            f"{zip_path} has SHA-256 {digest}, but the deployed function reports "
            f"{code_sha256}: the zip on disk is not the code deploy uploaded"
        )
    if not target.exists():
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(target)
    return target


def lambda_runtime_folder(target: Path) -> Path:
    """A folder holding only what Lambda's runtime adds (boto3 and its dependencies)."""
    target.mkdir(parents=True, exist_ok=True)
    for module in LAMBDA_RUNTIME_MODULES:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise LambdaRunnerError(f"{module} is not installed here; Lambda's runtime has it")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = target / source.name
        if not link.exists():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return target


class LambdaWorker:
    """One warm container of one function: invocations run one at a time, in order."""

    def __init__(
        self,
        name: str,
        *,
        task_root: Path,
        runtime_folder: Path,
        environment: dict[str, str],
        timeout: int,
        log: IO[bytes],
    ) -> None:
        self.name = name
        self.timeout = timeout
        self._command = [
            sys.executable,
            "-I",
            "-S",
            "-c",
            WORKER,
            str(task_root),
            str(runtime_folder),
        ]
        self._environment = {
            **environment,
            "LAMBDA_TASK_ROOT": str(task_root),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout),
        }
        self._cwd = task_root
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._warm = False

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=self._environment,
            cwd=self._cwd,
        )
        self._warm = False

    def invoke(self, event: Any, *, request_id: str | None = None) -> Invocation:
        """Run the handler once with ``event``; a timeout kills the container, as Lambda does."""
        request = {"event": event, "request_id": request_id or str(uuid.uuid4())}
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self.start()
            process = self._process
            assert process is not None
            assert process.stdin is not None
            assert process.stdout
            try:
                process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
                process.stdin.flush()
            except (BrokenPipeError, OSError):
                return self._died(process, "the worker exited before the invocation")
            limit = self.timeout + (0 if self._warm else START_GRACE)
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                if not selector.select(limit):
                    process.kill()
                    process.wait()
                    return Invocation(error=f"Sandbox.Timedout: timed out after {limit:g} s")
            line = process.stdout.readline()
            if not line:
                return self._died(process, "the worker exited during the invocation")
            self._warm = True
        answer = json.loads(line)
        if "errorType" in answer:
            error = f"{answer['errorType']}: {answer['errorMessage']}"
            return Invocation(error=error, logs=answer.get("logs", ""))
        return Invocation(result=answer.get("result"), logs=answer.get("logs", ""))

    def _died(self, process: subprocess.Popen[bytes], what: str) -> Invocation:
        code = process.wait()
        return Invocation(error=f"Runtime.ExitError: {what} (exit code {code})")

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
