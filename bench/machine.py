"""The machine a benchmark ran on, recorded with every result (one home for the bench scripts): the CPU's model
name (`sar_lulc.predictor.device_name`), the instruction-set flags that decide fp32 and bf16 speed, whether bf16 is
native, the threads, and torch's version."""
from __future__ import annotations
import os
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_flags() -> list[str]:
    "The flags of FLAGS this CPU has (empty where /proc/cpuinfo is unreadable)."
    try: txt = Path("/proc/cpuinfo").read_text()
    except OSError: return []
    have = next((l.split(":", 1)[1].split() for l in txt.splitlines() if l.startswith("flags")), [])
    return [f for f in FLAGS if f in have]


def machine(device: str = "cpu", threads: int | None = None) -> dict:
    "What to record beside a timing: device name, CPU flags, native bf16, threads per run, torch."
    import torch
    from sar_lulc.core import has_native_bf16
    from sar_lulc.predictor import device_name
    return dict(cpu=device_name("cpu"), device=device_name(device), flags=cpu_flags(),
                native_bf16=has_native_bf16(device),
                threads=threads if threads is not None else int(os.environ.get("OMP_NUM_THREADS") or torch.get_num_threads()),
                torch=torch.__version__)
