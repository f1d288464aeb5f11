"""Bad command-line input: one line on stderr, exit code 2, no traceback, nothing left running."""

import json
import os
import subprocess
import sys

import pytest

from nm_tf.annealing.config import AnnealConfig
from nm_tf.annealing.driver import anneal


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("r") / "run"
    anneal(AnnealConfig(L=2, warmup=4, annealing_steps=2, train_steps=1, hidden=4, samples=10, final_samples=20,
                        jit=False), wd)
    return wd


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cfg")
    (d / "typed.json").write_text(json.dumps({"L": 3, "jit": "false"}))
    (d / "string_L.json").write_text(json.dumps({"L": "5"}))
    (d / "bad.yaml").write_text("L: 3\n  warmup: [1, 2\nseed: {\n")
    # "billion laughs": 9 levels of 9 aliases would expand to 9^9 strings
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]" for k in range(1, 10)] + ["L: 3"]
    (d / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    ten = "[" + ", ".join(str(k) for k in range(10)) + "]"
    (d / "huge.yaml").write_text("base: {warmup: 1}\nsweep: {" + ", ".join(
        f"{name}: {ten}" for name in ("seed", "samples", "hidden", "train_steps", "annealing_steps", "warmup")) + "}\n")
    return d


CASES = [
    (["exact", "--L", "10000"], "2..128"),
    (["exact", "--L", "63", "--T", "1"], "dual codewords"),
    (["anneal", "--workdir", "{tmp}/a", "--L", "10000"], "L must be <= 128"),
    (["anneal", "--workdir", "{tmp}/a", "--samples", "1000000000"], "samples must be <= 100000"),
    (["anneal", "--workdir", "{tmp}/a", "--L", "64", "--samples", "100000"], "GiB per step"),
    (["anneal", "--workdir", "{tmp}/a", "--jit", "maybe"], "expected true or false"),
    (["anneal", "--workdir", "{tmp}/a", "--config", "{files}/typed.json"], "jit must be true or false"),
    (["anneal", "--workdir", "{tmp}/a", "--config", "{files}/string_L.json"], "L must be an integer"),
    (["anneal", "--workdir", "{tmp}/a", "--config", "{files}/bad.yaml"], "cannot parse config file"),
    (["landscape", "--workdir", "{run}", "--points", "100000", "--tag", "x"], "points must be <= 2000"),
    (["landscape", "--workdir", "{run}", "--samples", "1000000000", "--tag", "x"], "samples must be <= 100000"),
    (["landscape", "--workdir", "{run}", "--samples", "0", "--tag", "x"], "samples must be an integer >= 1"),
    (["landscape", "--workdir", "{run}", "--threads", "-2", "--tag", "x"], "--threads must be 1..256"),
    (["modes", "--workdir", "{run}", "--samples", "1000000000"], "--samples must be 1..10000000"),
    (["sample", "--target", "", "--model", "m"], "--target must be host:port"),
    (["sample", "--url", "ftp://x", "--model", "m"], "--url must be"),
    (["sample", "--target", "127.0.0.1:9", "--model", "m", "--num-samples", "3"], "server error"),
    (["bogus"], "invalid choice"),
    (["anneal", "--workdir", ""], "run directory must be a path"),
    (["anneal", "--workdir", "{files}/typed.json"], "is a file, not a run directory"),
    (["anneal", "--workdir", "{tmp}/a", "--config", "{files}/bomb.yaml"], "uses YAML aliases"),
    (["sweep", "--spec", "{files}/huge.yaml", "--workdir", "{tmp}/s"], "1000000 runs"),
    (["exact", "--L", "6", "--T", "1e-320", "--json"], "temperature T must be >= "),
    (["landscape", "--workdir", "{run}", "--tag", "../../x", "--points", "3"], "landscape tag must be"),
    (["serve", "--model-dir", "{files}/typed.json"], "is not a directory"),
    (["export", "--workdir", "{run}", "--model-dir", "{tmp}/m", "--name", "m", "--version", "100000000000000000000"],
     "version must be an integer in 1..9223372036854775807"),
    (["export", "--workdir", "{run}", "--model-dir", "{tmp}/m", "--name", "../m"], "model name must be"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line(args, message, tmp_path, run_dir, files):
    argv = [a.format(tmp=tmp_path, run=run_dir, files=files) for a in args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-m", "nm_tf", *argv], capture_output=True, text=True, timeout=300, env=env)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and len(lines) == 1 and message in lines[0], r.stderr[-2000:]


@pytest.mark.parametrize("argv", [["anneal", "--workdir", "x", "--L", "200"],
                                  ["anneal", "--workdir", "x", "--landscape", "ends"],
                                  ["landscape", "--workdir", "{run}", "--points", "1"],
                                  ["curvature", "--workdir", "{run}", "--window", "0:1"],
                                  ["modes", "--workdir", "{run}", "--samples", "0"],
                                  ["serve", "--model-dir", "{run}/config.json"],
                                  ["serve", "--model-dir", "{run}", "--host", "no-such-host.invalid"],
                                  ["sweep", "--spec", "{run}/missing.yaml", "--workdir", "{run}/s"]])
def test_bad_flags_are_refused_before_tensorflow_starts(argv, run_dir, tmp_path):
    """The check runs before TensorFlow is imported (which takes seconds), so a typo costs a fraction of one."""
    argv = [a.format(run=run_dir) for a in argv]
    code = ("import sys\nfrom nm_tf.cli import main\nrc = main(sys.argv[1:])\n"
            "print(rc, 'tensorflow' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.stdout.split() == ["2", "False"], r.stdout + r.stderr[-2000:]
