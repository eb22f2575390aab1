"""Hidden checks for part 7: `write_metadata` and `log_metrics`.

Drivers call them in temporary directories of the kernel's file system (the metadata
once inside a fresh git repository, once outside any) and send the files back as bytes;
they are parsed here, as data.
"""
import datetime as dt
import json

import numpy as np
import pytest
from reference_tf import DRIVER, USES

from ml4p.grading.numerics import fail
from solutions import tuning as oracle

NAMES = ["loss", "accuracy"]
STEPS = [10, 20, 35]
VALUES = np.array([[2.25, 0.125], [1.5, 0.5], [0.75, 0.875]])


def parse(raw, where):
    if raw.size == 0:
        fail(f"write_metadata wrote no file at the path it was given ({where})")
    try:
        return json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"the metadata file ({where}) is not valid JSON: {error}")


@pytest.fixture(scope="module")
def metadata(student):
    in_repo, outside, known = student.call(DRIVER, 1234, 3e-4, 64, "check", uses=USES["metadata"], timeout=120)
    known = json.loads(known.tobytes().decode())
    return parse(in_repo, "in a git repository"), parse(outside, "outside any repository"), known


@pytest.mark.points(0.5)
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
    if meta.get("hyperparameters") != known["hyperparameters"]:
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


@pytest.mark.points(0.25)
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
    scalars = metrics[1]
    for tag, name in enumerate(NAMES):
        found = {int(s): v for t, s, v in scalars if int(t) == tag}
        for step, row in zip(STEPS, VALUES):
            if step not in found:
                fail(f"no TensorBoard scalar '{name}' at step {step} in the directory (tf.summary.scalar, then "
                     "flush the writer)")
            if abs(found[step] - row[tag]) > 1e-6:
                fail(f"the TensorBoard scalar '{name}' at step {step} is {found[step]:.6g}, not {row[tag]:.6g}")
