"""The Lambda zip: what goes in, reproducible bytes, requirements for the Lambda platform.

No network: requirements come from a folder of wheels made here (portway's runtime
requirements are rewrapped from this environment's installed copies; the others are
tiny hand-made wheels), passed with ``--no-index --find-links``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from portway_aws.package import LambdaArtifact, build_lambda_zip, runtime_requirements

from portway.errors import ConfigError, DeployError

PIPELINE = """\
from portway import Pipeline, ScheduleEvent

from etl.transform import lookup

app = Pipeline("packaged")


@app.schedule("cron(0 6 * * *)")
def nightly(event: ScheduleEvent) -> None:
    lookup()
"""

TRANSFORM = """\
from pathlib import Path


def lookup() -> str:
    return (Path(__file__).parent / "lookup.csv").read_text()
"""


# -- wheels, written by hand: a wheel is a zip with a .dist-info folder -----------------


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path, name: str, version: str, tag: str, files: dict[str, bytes]) -> Path:
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents.setdefault(
        f"{dist_info}/METADATA",
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    )
    purelib = "true" if tag.endswith("-any") else "false"
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {purelib}\nTag: {tag}\n"
    ).encode()
    record = [_record_line(path, data) for path, data in sorted(contents.items())]
    contents[f"{dist_info}/RECORD"] = (
        "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    ).encode()
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, data in contents.items():
            wheel.writestr(member, data)
    return path


def wheel_from_installed(folder: Path, distribution_name: str) -> Path:
    """A py3-none-any wheel of a pure-Python distribution installed in this environment."""
    distribution = importlib.metadata.distribution(distribution_name)
    name = distribution.metadata["Name"].replace("-", "_")
    files: dict[str, bytes] = {}
    for file in distribution.files or ():
        parts = Path(str(file)).parts
        if ".." in parts or "__pycache__" in parts or str(file).endswith(".pyc"):
            continue
        if parts[0].endswith(".dist-info") and parts[-1] != "METADATA":
            continue
        files[Path(str(file)).as_posix()] = Path(str(file.locate())).read_bytes()
    metadata = next(name for name in files if name.endswith(".dist-info/METADATA"))
    files[f"{name}-{distribution.version}.dist-info/METADATA"] = files.pop(metadata)
    return write_wheel(folder, name, distribution.version, "py3-none-any", files)


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    for pin in runtime_requirements():
        wheel_from_installed(folder, pin.partition("==")[0])
    write_wheel(folder, "purepkg", "1.0", "py3-none-any", {"purepkg/__init__.py": b"KIND = 1\n"})
    for machine in ("x86_64", "aarch64"):
        write_wheel(
            folder,
            "nativepkg",
            "2.0",
            f"cp311-cp311-manylinux2014_{machine}",
            {"nativepkg/__init__.py": f"MACHINE = {machine!r}\n".encode()},
        )
    write_wheel(folder, "winonly", "3.0", "cp311-cp311-win_amd64", {"winonly/__init__.py": b""})
    needs_winonly = b"Metadata-Version: 2.1\nName: needswin\nVersion: 1.0\nRequires-Dist: winonly\n"
    write_wheel(
        folder,
        "needswin",
        "1.0",
        "py3-none-any",
        {"needswin/__init__.py": b"", "needswin-1.0.dist-info/METADATA": needs_winonly},
    )
    with tarfile.open(folder / "sdistonly-1.0.tar.gz", "w:gz") as sdist:
        info = tarfile.TarInfo("sdistonly-1.0/PKG-INFO")
        data = b"Metadata-Version: 2.1\nName: sdistonly\nVersion: 1.0\n"
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))
    return folder


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One requirements cache for the session: each requirement set is installed once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _pip_sees_only_the_test_wheels(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pip configuration of this machine or user (find-links, constraints, indexes)."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    files = {
        "portway.toml": 'app = "pipeline:app"\n\n[stages.prod]\nprovider = "aws"\n',
        "pipeline.py": PIPELINE,
        "etl/__init__.py": "",
        "etl/transform.py": TRANSFORM,
        "etl/lookup.csv": "code,name\n1,one\n",
        ".env": "SECRET=1\n",
        ".git/config": "[core]\n",
        "__pycache__/pipeline.cpython-311.pyc": "",
        "etl/__pycache__/transform.cpython-311.pyc": "",
        "etl/stale.pyc": "",
        ".portway/dev/portway.db": "",
        "tests/test_pipeline.py": "",
        "dist/old.zip": "",
        "build/lib/pipeline.py": "",
        "node_modules/x/index.js": "",
        "venv/pyvenv.cfg": "",
        "env311/pyvenv.cfg": "",
        "env311/lib/site.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def build(wheels: Path, shared_cache: Path, tmp_path: Path) -> Callable[..., LambdaArtifact]:
    outputs = iter(range(1000))

    def build(project: Path, **options: object) -> LambdaArtifact:
        options.setdefault("output", tmp_path / "out" / f"lambda-{next(outputs)}.zip")
        options.setdefault("index_options", ["--no-index", "--find-links", str(wheels)])
        options.setdefault("cache", shared_cache)
        return build_lambda_zip(project, **options)  # type: ignore[arg-type]

    return build


def names(artifact: LambdaArtifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as archive:
        return archive.namelist()


# -- reproducible bytes -----------------------------------------------------------------


def test_same_inputs_give_the_same_bytes(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    first, second = build(project), build(project)
    assert first.path != second.path
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.code_sha256 == second.code_sha256
    data = first.path.read_bytes()
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert first.code_sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert first.size == len(data)


def test_entries_are_sorted_files_with_fixed_time_mode_and_compression(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    script = project / "etl" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o775)
    (project / "pipeline.py").chmod(0o600)
    artifact = build(project)
    with zipfile.ZipFile(artifact.path) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert not [info.filename for info in infos if info.is_dir()]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
    assert {info.extra for info in infos} == {b""}
    modes = {info.filename: info.external_attr >> 16 for info in infos}
    assert modes["etl/run.sh"] == 0o100755
    assert modes["pipeline.py"] == 0o100644
    assert set(modes.values()) <= {0o100644, 0o100755}


def test_touching_a_file_keeps_the_bytes(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    before = build(project)
    os.utime(project / "pipeline.py", (1_900_000_000, 1_900_000_000))
    assert build(project).code_sha256 == before.code_sha256


def test_changing_a_file_changes_the_bytes(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    before = build(project)
    (project / "etl" / "lookup.csv").write_text("code,name\n1,uno\n")
    assert build(project).code_sha256 != before.code_sha256


# -- what goes in -----------------------------------------------------------------------


def test_project_code_and_data_go_in_and_the_rest_stays_out(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    entries = names(build(project))
    for name in ("pipeline.py", "portway.toml", "etl/__init__.py", "etl/transform.py"):
        assert name in entries
    assert "etl/lookup.csv" in entries
    hidden = (".env", ".git/", ".portway/")
    bytecode = ("__pycache__/", "etl/__pycache__/", "etl/stale.pyc")
    not_code = ("tests/", "dist/", "build/", "node_modules/", "venv/", "env311/")
    assert not [n for n in entries if n.startswith(hidden + bytecode + not_code)]


def test_portway_and_the_shim_go_in_without_cli_local_testing_or_bytecode(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    entries = names(build(project))
    for module in ("loading", "dataplane", "invocation", "events", "keys"):
        assert f"portway/{module}.py" in entries
    assert "portway/__init__.py" in entries
    assert "portway_aws/__init__.py" in entries
    assert "portway_aws/package.py" in entries
    left_out = ("portway/cli/", "portway/local/", "portway/testing/", "portway/__main__.py")
    assert not [n for n in entries if n.startswith(left_out)]
    assert not [n for n in entries if n.endswith(".pyc") or "__pycache__" in n]


def test_portway_runtime_requirements_are_pinned_to_the_installed_versions(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    pins = runtime_requirements()
    assert f"croniter=={importlib.metadata.version('croniter')}" in pins
    assert not {"boto3", "botocore", "pluggy", "typer", "rich", "watchfiles"} & {
        pin.partition("==")[0] for pin in pins
    }
    entries = names(build(project))
    assert "croniter/__init__.py" in entries
    assert not [n for n in entries if n.startswith(("boto3/", "botocore/", "pluggy/", "bin/"))]


def test_unpacked_zip_imports_the_shim_and_the_pipeline_alone(
    project: Path, build: Callable[..., LambdaArtifact], tmp_path: Path
) -> None:
    unpacked = tmp_path / "task"
    with zipfile.ZipFile(build(project).path) as archive:
        archive.extractall(unpacked)
    # The modules a handler imports; portway_aws.handler joins when it exists.
    shim = ["portway", "portway.loading", "portway.dataplane", "portway.invocation"]
    shim += ["portway.events", "portway.keys", "portway.config"]
    shim += [m for m in ("portway_aws.handler",) if (unpacked / "portway_aws/handler.py").exists()]
    script = textwrap.dedent(
        f"""
        import importlib, json, sys
        sys.path.insert(0, {str(unpacked)!r})
        for module in {shim!r}:
            importlib.import_module(module)
        from portway.loading import load_pipeline
        app = load_pipeline("pipeline:app", __import__("pathlib").Path({str(unpacked)!r}))
        loaded = {{name.partition(".")[0] for name in sys.modules}} - {{"__main__"}}
        loaded = sorted(loaded - set(sys.stdlib_module_names))
        files = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
        print(json.dumps({{"loaded": loaded, "files": [f for f in files if f]}}))
        """
    )
    # -I: no PYTHON* variables, no user site; -S: no site-packages. Only the zip and the
    # stdlib are importable, as on Lambda (whose runtime adds boto3, which we never use).
    finished = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert set(report["loaded"]) <= {
        "portway",
        "portway_aws",
        "pipeline",
        "etl",
        "croniter",
        "dateutil",
        "six",
    }
    assert "croniter" in report["loaded"]
    # Nothing came from this environment's site-packages (or anywhere but the zip).
    outside = [f for f in report["files"] if not f.startswith((str(unpacked), sys.base_prefix))]
    assert outside == []
    assert not [f for f in report["files"] if "site-packages" in f]


def test_symlink_inside_the_project_is_stored_as_a_file(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    (project / "lookup.csv").symlink_to(project / "etl" / "lookup.csv")
    with zipfile.ZipFile(build(project).path) as archive:
        assert archive.read("lookup.csv") == (project / "etl" / "lookup.csv").read_bytes()


def test_symlink_out_of_the_project_is_refused(
    project: Path, build: Callable[..., LambdaArtifact], tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("x")
    (project / "etl" / "secret.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(DeployError, match=r"etl/secret\.txt .*outside the project folder"):
        build(project)


def test_folder_without_portway_toml_is_refused(
    tmp_path: Path, build: Callable[..., LambdaArtifact]
) -> None:
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    with pytest.raises(ConfigError, match=r"no portway\.toml"):
        build(tmp_path)


def test_tool_portway_in_pyproject_makes_a_project(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    (project / "portway.toml").unlink()
    (project / "pyproject.toml").write_text('[tool.portway]\napp = "pipeline:app"\n')
    assert "pyproject.toml" in names(build(project))


def test_output_inside_the_project_is_refused_unless_left_out(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    with pytest.raises(DeployError, match=r"inside the project folder"):
        build(project, output=project / "lambda.zip")
    artifact = build(project, output=project / ".portway" / "build" / "lambda.zip")
    assert "lambda.zip" not in " ".join(names(artifact))


# -- requirements for the Lambda platform ----------------------------------------------


def test_requirements_are_installed_from_platform_wheels(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    artifact = build(project, requirements=["purepkg", "nativepkg==2.0"])
    with zipfile.ZipFile(artifact.path) as archive:
        entries = archive.namelist()
        assert archive.read("nativepkg/__init__.py") == b"MACHINE = 'x86_64'\n"
    assert "purepkg/__init__.py" in entries
    assert "purepkg-1.0.dist-info/RECORD" in entries
    assert "nativepkg-2.0.dist-info/RECORD" in entries


def test_arm64_gets_the_aarch64_wheel(project: Path, build: Callable[..., LambdaArtifact]) -> None:
    artifact = build(project, requirements=["nativepkg"], architecture="arm64")
    with zipfile.ZipFile(artifact.path) as archive:
        assert archive.read("nativepkg/__init__.py") == b"MACHINE = 'aarch64'\n"


def test_requirements_txt_of_the_project_is_installed(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    (project / "requirements.txt").write_text("# runtime needs\npurepkg==1.0\n")
    entries = names(build(project))
    assert "purepkg/__init__.py" in entries
    assert "requirements.txt" in entries


@pytest.mark.parametrize("requirement", ["winonly==3.0", "sdistonly"])
def test_requirement_without_a_platform_wheel_names_package_and_platform(
    project: Path, build: Callable[..., LambdaArtifact], requirement: str
) -> None:
    with pytest.raises(DeployError) as raised:
        build(project, requirements=[requirement])
    message = str(raised.value)
    assert f"no manylinux2014_x86_64 wheel for {requirement!r}" in message
    assert "pick a version with a wheel" in message


def test_missing_wheel_of_a_dependency_names_who_needs_it(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    with pytest.raises(DeployError, match=r"wheel for 'winonly' \(needed by needswin\)"):
        build(project, requirements=["needswin"], architecture="arm64")


def test_second_build_reuses_the_installed_requirements(
    project: Path, build: Callable[..., LambdaArtifact], tmp_path: Path
) -> None:
    messages: list[str] = []
    cache = tmp_path / "fresh-cache"
    first = build(project, requirements=["purepkg"], cache=cache, progress=messages.append)
    installs = [m for m in messages if m.startswith("installing")]
    assert installs == ["installing 4 requirements for manylinux2014_x86_64 (Python 3.11)"]
    messages.clear()
    second = build(project, requirements=["purepkg"], cache=cache, progress=messages.append)
    assert not [m for m in messages if m.startswith("installing")]
    assert [m for m in messages if m.startswith("using cached requirements")]
    assert first.code_sha256 == second.code_sha256


def test_default_cache_lives_under_the_project_and_stays_out_of_the_zip(
    project: Path, build: Callable[..., LambdaArtifact], wheels: Path, tmp_path: Path
) -> None:
    artifact = build_lambda_zip(
        project,
        output=tmp_path / "lambda.zip",
        index_options=["--no-index", "--find-links", str(wheels)],
    )
    assert list((project / ".portway" / "build").glob("lambda-requirements-*"))
    assert not [n for n in names(artifact) if "lambda-requirements" in n]


def test_uncommon_architecture_or_python_version_is_refused(
    project: Path, build: Callable[..., LambdaArtifact]
) -> None:
    with pytest.raises(DeployError, match=r"'x86_64' or 'arm64'"):
        build(project, architecture="amd64")
    with pytest.raises(DeployError, match=r"'major\.minor'"):
        build(project, python_version="3.11.7")
