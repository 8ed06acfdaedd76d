"""Shared paths and helpers of the pytest suite (the notebooks hold the unit tests; these need files, processes,
servers or a browser)."""
import os, subprocess, sys, tempfile
from pathlib import Path

import pytest

# `--precision auto` remembers its answers per machine: the suite's go to a folder of its own, not the user's cache
os.environ.setdefault("SAR_LULC_CACHE_DIR", tempfile.mkdtemp(prefix="sar_lulc_test_cache_"))
# `predict` and the app default to `auto`, which on a CPU with native bf16 may choose bf16: the suite's maps are
# compared with goldens made in fp32, so it runs in fp32 unless a test asks (test_default_precision_is_auto)
os.environ.setdefault("SAR_LULC_PRECISION", "fp32")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
SAMPLE_SCENE = SAMPLES / "synth" / "test" / "s000_sar_dn.tif"
SAMPLE_LABELS = SAMPLES / "synth" / "test" / "s000_label.tif"
from sar_lulc.checkpoint import DEMO_MODELS as _DEMO_FILES                  # one home for the shipped models' names
DEMO_MODELS = {t: SAMPLES / "models" / f for t, f in _DEMO_FILES.items()}
SAR_LULC = Path(sys.executable).parent / "sar-lulc"          # the console script (sar_lulc.cli:main)
SAR_LULC_CMD = [str(SAR_LULC)] if SAR_LULC.exists() else [sys.executable, "-m", "sar_lulc.cli"]

def sar_lulc(*args, cwd=ROOT, env=None, timeout=300) -> subprocess.CompletedProcess:
    "Run `sar-lulc ARGS` as a user would, in a subprocess (the module form where the script is not installed)."
    return subprocess.run([*SAR_LULC_CMD, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})

@pytest.fixture
def cli(capsys):
    "Run `sar-lulc ARGS` in this process (fast: no interpreter start); returns (exit status, stdout, stderr)."
    from sar_lulc.cli import main
    def run(*args):
        rc = main([str(a) for a in args])
        out = capsys.readouterr()
        return rc, out.out, out.err
    return run


def sigint_default():
    """`preexec_fn` for a child that a test stops with Ctrl-C (SIGINT): a suite started in the background by a
    non-interactive shell (`cmd &`) inherits SIGINT ignored, and Python keeps it ignored, so the child would never
    see the signal. The child gets the default back, as in a terminal."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
