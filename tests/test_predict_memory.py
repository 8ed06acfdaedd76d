"""Peak memory of `predict_scene` does not grow with the scene area.

Each prediction runs in its own subprocess (a clean peak RSS: /proc/self/status VmHWM, else ru_maxrss) on a
synthetic uint16 scene that is written with windowed writes (so generating it stays small too), with a
small conv model."""
import json, resource, subprocess, sys, textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

CHILD = textwrap.dedent("""
    import json, resource, sys, time, warnings
    import torch
    from types import SimpleNamespace
    from sar_lulc.predict import predict_scene
    from sar_lulc.schemes import get_scheme
    torch.set_num_threads(1)
    class TinyConv(torch.nn.Module):
        def __init__(self, k=9):
            super().__init__(); torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, k, 1))
        def forward(self, x): return self.net(x.nan_to_num(0.0))
    src, dst, tile = sys.argv[1], sys.argv[2], int(sys.argv[3])
    b = SimpleNamespace(model=TinyConv(), task="lulc", scheme=get_scheme("jp9"), norm=dict(mean=-10.4, std=5.8), meta={})
    t = time.perf_counter()
    r = predict_scene(b, src, dst, tile=tile, overlap=32, batch_size=4, device="cpu", progress=False, write_probs=True)
    from sar_lulc.core import peak_rss_mb     # VmHWM: a child's own peak, not its parent's (see the core chapter)
    print(json.dumps(dict(rss_mb=peak_rss_mb(), maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          s=time.perf_counter() - t, valid=r.valid_pixels, w=r.width, h=r.height)))
""")

def make_scene(path: Path, h: int, w: int, strip: int = 256) -> Path:
    "A tiled uint16 DN scene with smooth structure and speckle, written strip by strip."
    prof = dict(driver="GTiff", width=w, height=h, count=1, dtype="uint16", crs="EPSG:4326", nodata=0,
                transform=from_origin(139.0, 36.0, 1 / 4500, 1 / 4500), tiled=True, blockxsize=512, blockysize=512,
                compress="deflate")
    rng = np.random.default_rng(0)
    xx = np.arange(w)[None] / 50.0
    with rasterio.open(path, "w", **prof) as ds:
        for y0 in range(0, h, strip):
            n = min(strip, h - y0)
            yy = (np.arange(y0, y0 + n)[:, None]) / 50.0
            db = -12 + 6 * np.sin(yy) * np.cos(0.7 * xx) + rng.normal(0, 1.5, (n, w))
            dn = np.clip(np.rint(10 ** ((db + 83) / 20)), 1, 65535).astype(np.uint16)
            dn[:, :7] = 0                                       # a no-data border
            ds.write(dn[None], window=Window(0, y0, w, n))
    return path

def run_child(src: Path, dst: Path, tile: int = 256) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(dst), str(tile)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])

def test_peak_rss_independent_of_scene_area(tmp_path):
    small = make_scene(tmp_path / "small.tif", 1414, 1414)          # 2 Mpx
    large = make_scene(tmp_path / "large.tif", 4000, 4000)          # 16 Mpx
    rs = run_child(small, tmp_path / "small_out.tif")
    rl = run_child(large, tmp_path / "large_out.tif")
    print(f"\n2 Mpx: peak RSS {rs['rss_mb']:.0f} MB ({rs['s']:.1f} s); 16 Mpx: peak RSS {rl['rss_mb']:.0f} MB ({rl['s']:.1f} s)")
    assert rl["valid"] == 4000 * (4000 - 7)
    assert rl["rss_mb"] <= 1.25 * rs["rss_mb"] + 20, (rs, rl)
    with rasterio.open(tmp_path / "large_out.tif") as ds:
        assert ds.shape == (4000, 4000) and ds.overviews(1)
        assert ds.read(1, window=Window(0, 0, 7, 7)).max() == 255    # the no-data border
