"""Hidden checks for part 7: `write_metadata` and `log_metrics`.

Drivers call them in temporary directories of the kernel's file system (the metadata
once inside a fresh git repository, once outside any) and send the files back as bytes;
they are parsed here, as data (TensorBoard's event files by `tf_formats`). What the files
must say is known here: the hyperparameters given, the versions of the one Python
environment that both the grader and the kernel run, the hash of the git commit (made with a
message and dates chosen here, so its hash is computed here); only sys.argv is the kernel's.
"""
import datetime as dt
import hashlib
import json
import platform
import secrets

import numpy as np
import pytest
from reference_tf import DRIVER, USES
from tf_formats import FormatError, read_scalars

from ml4p.grading.numerics import fail
from solutions import tuning as oracle

NAMES = ["loss", "accuracy"]
STEPS = [10, 20, 35]
VALUES = np.array([[2.25, 0.125], [1.5, 0.5], [0.75, 0.875]])
HYPERPARAMETERS = {"learning_rate": 3e-4, "batch_size": 64, "name": "check"}
GIT_DATE = "1700000000 +0000"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def parse(raw, where):
    if raw.size == 0:
        fail(f"write_metadata wrote no file at the path it was given ({where})")
    try:
        return json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        fail(f"the metadata file ({where}) is not valid JSON: {error}")


def commit_hash(message):
    """The SHA-1 of git's commit of the empty tree by the driver's author, at GIT_DATE, with `message`."""
    who = f"grader <grader@localhost> {GIT_DATE}"
    body = f"tree {EMPTY_TREE}\nauthor {who}\ncommitter {who}\n\n{message}\n".encode()
    return hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()


def versions():
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "numpy": np.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__}


@pytest.fixture(scope="module")
def metadata(student):
    message = f"run {secrets.token_hex(8)}"  # a hash nobody can know before the check runs
    in_repo, outside, git, command = student.call(DRIVER, 1234, HYPERPARAMETERS["learning_rate"],
                                                  HYPERPARAMETERS["batch_size"], HYPERPARAMETERS["name"], message,
                                                  GIT_DATE, uses=USES["metadata"], timeout=120)
    try:
        argv = json.loads(command.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        argv = None
    known = {"versions": versions(), "command": argv,
             "git_commit": commit_hash(message) if int(git) else None}
    meta = parse(in_repo, "in a git repository"), parse(outside, "outside any repository")
    if not all(isinstance(m, dict) for m in meta):
        fail("the metadata file should hold a JSON object (a dict)")
    return *meta, known


@pytest.mark.points(0.5, given="test_metadata_values")
def test_metadata_fields(metadata):
    """the metadata file has seed, hyperparameters, versions, git_commit, command, time"""
    for meta in metadata[:2]:
        missing = [k for k in oracle.METADATA_FIELDS if k not in meta]
        if missing:
            fail(f"the metadata file misses {', '.join(missing)}")
        versions = meta["versions"]
        if not isinstance(versions, dict) or [k for k in oracle.VERSION_FIELDS if k not in versions]:
            fail(f"metadata['versions'] should be a dict with the keys {', '.join(oracle.VERSION_FIELDS)}")


@pytest.mark.points(0.5)
def test_metadata_values(metadata):
    """the metadata records the seed, the hyperparameters, the versions, the command and the time (UTC)"""
    meta, _, known = metadata
    if meta.get("seed") != 1234:
        fail(f"metadata['seed'] is {meta.get('seed')!r}, not the seed given (an int)")
    if meta.get("hyperparameters") != HYPERPARAMETERS:
        fail("metadata['hyperparameters'] is not the dict given")
    for name, version in known["versions"].items():
        if (meta.get("versions") or {}).get(name) != version:
            fail(f"metadata['versions']['{name}'] is {(meta.get('versions') or {}).get(name)!r}; the kernel runs "
                 f"{name} {version}")
    if meta.get("command") != known["command"]:
        fail("metadata['command'] should be sys.argv, the command that started the process")
    try:
        when = dt.datetime.fromisoformat(str(meta.get("time")))
    except ValueError:
        fail(f"metadata['time'] = {meta.get('time')!r} is not an ISO 8601 time")
    if when.utcoffset() != dt.timedelta(0):
        fail(f"metadata['time'] = {meta.get('time')!r} should be in UTC, with its offset (+00:00)")
    if abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) > 3600:
        fail(f"metadata['time'] = {meta.get('time')!r} is not the time of the run")


@pytest.mark.points(0.25, given="test_metadata_values")
def test_git_commit(metadata):
    """git_commit is the repository's HEAD, and null outside any repository"""
    in_repo, outside, known = metadata
    if known["git_commit"] is not None and in_repo.get("git_commit") != known["git_commit"]:
        fail(f"in a git repository, metadata['git_commit'] is {in_repo.get('git_commit')!r}, not its HEAD commit")
    if outside.get("git_commit") is not None:
        fail(f"outside any git repository metadata['git_commit'] should be null, not {outside.get('git_commit')!r}")


@pytest.fixture(scope="module")
def metrics(student):
    return student.call(DRIVER, NAMES, STEPS, VALUES, uses=USES["metrics"], timeout=120)


@pytest.mark.points(0.5)
def test_metrics_csv(metrics):
    """metrics.csv: the header step,loss,accuracy once, then a row per call"""
    text = metrics[0].tobytes().decode(errors="replace")
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines:
        fail("log_metrics wrote no metrics.csv in the directory")
    if lines[0].replace(" ", "") != "step," + ",".join(NAMES):
        fail(f"the first line of metrics.csv is {lines[0]!r}; it should be 'step,{','.join(NAMES)}'")
    if len(lines) != 1 + len(STEPS):
        fail(f"metrics.csv has {len(lines)} lines after {len(STEPS)} calls; it should have a header and one row "
             "per call")
    for line, step, row in zip(lines[1:], STEPS, VALUES):
        try:
            got = [float(v) for v in line.split(",")]
        except ValueError:
            fail(f"a row of metrics.csv is not numbers: {line[:60]!r}")
        if got != [step, *row]:
            fail(f"the row of step {step} in metrics.csv reads {line[:60]!r}")


@pytest.mark.points(0.25)
def test_tensorboard_scalars(metrics):
    """every metric is a TensorBoard scalar at its step"""
    scalars = []
    for name, data in metrics[1]:
        if ".tfevents." in np.asarray(name, np.uint8).tobytes().decode(errors="replace"):
            try:
                scalars += read_scalars(np.asarray(data, np.uint8).tobytes())
            except FormatError as error:
                fail(f"a TensorBoard event file in the directory cannot be read ({error})")
    for name in NAMES:
        found = {s: v for t, s, v in scalars if t == name}
        for step, row in zip(STEPS, VALUES):
            if step not in found:
                fail(f"no TensorBoard scalar '{name}' at step {step} in the directory (tf.summary.scalar, then "
                     "flush the writer)")
            want = row[NAMES.index(name)]
            if abs(found[step] - want) > 1e-6:
                fail(f"the TensorBoard scalar '{name}' at step {step} is {found[step]:.6g}, not {want:.6g}")
