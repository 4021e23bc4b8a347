"""lake-to-warehouse: raw CSV files land, get cleaned into the lake, and are reported.

pull_ftp (every 15 minutes) --> landing
landing --(*.csv created)--> enqueue --> transform-jobs --> transform
transform --> lake <-- status (GET /status)
transform --> loaded --> report
"""

from __future__ import annotations

import csv
import io
import json

from portway import HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent

app = Pipeline("lake-to-warehouse")

landing = app.bucket("landing")  # raw files pulled from the FTP
lake = app.bucket("lake")  # cleaned, partitioned data
jobs = app.queue("transform-jobs", max_attempts=5)  # failed 5 times -> dead-letter queue
loaded = app.topic("loaded")  # fan-out: many subscribers


@app.schedule("rate(15 minutes)", uses=[landing.write()])
def pull_ftp(event: ScheduleEvent) -> None:
    """Stand-in for an FTP pull: drops a heartbeat file into landing."""
    landing.write(f"heartbeat/{event.time:%Y%m%dT%H%M}.txt", f"pulled at {event.time}\n")


@app.on_object_created(landing, suffix=".csv", uses=[jobs.send()])
def enqueue(event: ObjectEvent) -> None:
    jobs.send({"key": event.key})


@app.on_message(jobs, batch_size=10, uses=[landing.read(), lake.write(), loaded.publish()])
def transform(batch: list[Message]) -> None:
    for message in batch:
        key = message.json()["key"]
        rows = list(csv.DictReader(io.StringIO(landing.read(key).decode("utf-8"))))
        cleaned = [{k.strip().lower(): v.strip() for k, v in row.items()} for row in rows]
        target = "clean/" + key.rsplit("/", 1)[-1].removesuffix(".csv") + ".jsonl"
        lake.write(target, "".join(json.dumps(row) + "\n" for row in cleaned))
        loaded.publish({"key": target, "rows": len(cleaned)})


@app.on_message(loaded, uses=[lake.read()])
def report(msg: Message) -> None:
    info = msg.json()
    print(f"report: {info['key']} has {info['rows']} rows")


@app.http("GET", "/status", uses=[lake.list()])
def status(req: HttpRequest) -> dict[str, object]:
    keys = lake.list("clean/")
    return {"objects": len(keys), "keys": keys[:20]}
