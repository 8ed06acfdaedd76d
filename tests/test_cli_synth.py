"""`sar-lulc synth` as a subprocess, and the SynthALOS-2 bench scripts as smoke tests."""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "sar-lulc"

def run(*args, check=True):
    cmd = [str(EXE), *map(str, args)] if EXE.exists() else [sys.executable, "-m", "sar_lulc.cli", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    if check: assert r.returncode == 0, r.stderr
    return r

def test_synth_cli_writes_a_dataset(tmp_path):
    out = tmp_path / "synth"
    r = run("synth", out, "--n-train", 2, "--n-val", 1, "--n-test", 1, "--size", 64, "--seed", 5,
            "--looks", 6, "--units", "both", "--json")
    summ = json.loads(r.stdout.strip().splitlines()[-1])
    assert summ["ok"] and summ["scenes"] == {"train": 2, "val": 1, "test": 1}
    assert abs(sum(summ["class_percent"].values()) - 100) < 0.1
    man = json.loads((out / "manifest.json").read_text())
    assert man["format"] == "sar_lulc.dataset/1" and man["scheme"] == "jp9" and man["units"] == "db" and man["cf"] == -83.0
    assert man["generator"]["looks"] == 6 and man["generator"]["size"] == 64
    assert [it["seed"] for it in man["splits"]["train"]] == [5, 6]
    assert [it["seed"] for it in man["splits"]["test"]] == [20005]
    for its in man["splits"].values():
        for it in its:
            for k in ("sar", "sar_dn", "label"):
                assert not Path(it[k]).is_absolute() and (out / it[k]).is_file()
    # the files hold what the generator makes for that seed
    from sar_lulc.io import read_label_map, read_sar
    from sar_lulc.synth import synth_scene
    it = man["splits"]["val"][0]
    sc = synth_scene(it["seed"], 64, 6)
    np.testing.assert_allclose(read_sar(out / it["sar"], units="db")[0], sc.db, atol=1e-6)
    np.testing.assert_allclose(read_sar(out / it["sar_dn"], units="dn")[0], sc.db, atol=1e-4)
    assert (read_label_map(out / it["label"])[0] == sc.labels).all()

def test_synth_cli_randomises_sensors(tmp_path):
    "--offset-db and --ramp-db: each scene's draw is in its manifest item, and the files hold it exactly."
    out = tmp_path / "rand"
    r = run("synth", out, "--n-train", 3, "--n-val", 0, "--n-test", 0, "--size", 64, "--units", "both",
            "--offset-db=-6:6", "--ramp-db", 4, "--json")
    summ = json.loads(r.stdout.strip().splitlines()[-1])
    assert summ["randomise"] == {"offset_db": [-6.0, 6.0], "ramp_db": 4.0, "class_jitter_db": 0.0, "zoom": [1.0, 1.0]}
    from sar_lulc.io import read_sar
    from sar_lulc.synth import synth_scene
    items = json.loads((out / "manifest.json").read_text())["splits"]["train"]
    assert len({it["offset_db"] for it in items}) == 3 and all(-6 <= it["offset_db"] <= 6 for it in items)
    for it in items:
        diff = read_sar(out / it["sar"], units="db")[0] - synth_scene(it["seed"], 64, 4).db
        prof = np.nanmean(diff, axis=1 - it["ramp_axis"])
        assert abs(np.nanmean(diff) - it["offset_db"]) < 1e-3 and abs(prof[-1] - prof[0] - it["ramp_db"]) < 1e-3
        # DN carries the same dB (to DN rounding), but for what uint16 cannot hold (above 13.3 dB at CF -83)
        db, dn_db = read_sar(out / it["sar"], units="db")[0], read_sar(out / it["sar_dn"], units="dn")[0]
        ok = db < 13.0
        np.testing.assert_allclose(dn_db[ok], db[ok], atol=0.05)
        assert (dn_db[~ok & np.isfinite(db)] > 13.0).all()
    bad = run("synth", tmp_path / "bad", "--size", 64, "--offset-db", "3:-3", check=False)
    assert bad.returncode != 0 and "LOW <= HIGH" in bad.stderr and not (tmp_path / "bad" / "manifest.json").exists()

def test_synth_cli_transfer_preset(tmp_path):
    "--randomise transfer draws class shifts and a zoom per scene; a flag overrides one part; the files follow the draw."
    from sar_lulc.io import read_label_map, read_sar
    from sar_lulc.synth import RANDOMISATIONS, synth_scene, zoom_scene
    out = tmp_path / "tr"
    r = run("synth", out, "--n-train", 2, "--n-val", 0, "--n-test", 0, "--size", 64, "--randomise", "transfer",
            "--ramp-db", 0, "--zoom", "1.2:1.8", "--class-jitter-db", 2, "--json")
    summ = json.loads(r.stdout.strip().splitlines()[-1])
    want = RANDOMISATIONS["transfer"]
    assert summ["randomise"] == {"offset_db": list(want.offset_db), "ramp_db": 0.0, "class_jitter_db": 2.0,
                                 "zoom": [1.2, 1.8]}
    for it in json.loads((out / "manifest.json").read_text())["splits"]["train"]:
        assert 1.2 <= it["zoom"] <= 1.8 and it["ramp_db"] == 0 and max(map(abs, it["class_jitter_db"])) <= 2
        sc = synth_scene(it["seed"], 64, 4)
        db0, lab0, tr0 = zoom_scene(sc.db, sc.labels, sc.transform, it["zoom"], it["zoom_at"])
        lab, _, prof = read_label_map(out / it["label"])
        assert (lab == lab0).all() and prof["transform"].almost_equals(tr0)
        assert it["pixel_deg"] == abs(tr0.a) and it["pixel_deg_y"] == abs(tr0.e) < abs(sc.transform.e)   # finer
        shift = np.asarray(it["class_jitter_db"], np.float32)[lab0] + it["offset_db"]
        db = read_sar(out / it["sar"], units="db")[0]
        np.testing.assert_allclose(db, db0 + shift, atol=1e-3)
    bad = run("synth", tmp_path / "bad", "--size", 64, "--zoom", "0.5", check=False)
    assert bad.returncode != 0 and "zoom" in bad.stderr and not (tmp_path / "bad" / "manifest.json").exists()

def test_synth_cli_street_grids_and_relief(tmp_path):
    "--street-grids and --relief: recorded per scene, exactly what the library draws; labels untouched; bad relief refused."
    from sar_lulc.io import read_label_map, read_sar
    from sar_lulc.synth import SensorRandomisation, synth_scene
    out = tmp_path / "geo"
    r = run("synth", out, "--n-train", 2, "--n-val", 0, "--n-test", 0, "--size", 96, "--street-grids",
            "--relief", "2:3", "--json")
    summ = json.loads(r.stdout.strip().splitlines()[-1])
    assert summ["randomise"]["street_grids"] is True and summ["randomise"]["relief"] == [2.0, 3.0]
    rz = SensorRandomisation(street_grids=True, relief="2:3")
    for it in json.loads((out / "manifest.json").read_text())["splits"]["train"]:
        assert 2 <= it["relief"] <= 3 and it["look"] in ("east", "west") and 25 <= it["incidence_deg"] <= 50
        sc = synth_scene(it["seed"], 96, 4)
        want, d = rz.apply(sc, it["seed"])
        assert it["grid_deg"] == d["grid_deg"] == round(sc.info["grid_deg"], 2)
        assert (read_label_map(out / it["label"])[0] == sc.labels).all()
        np.testing.assert_allclose(read_sar(out / it["sar"], units="db")[0], want.db, atol=1e-5)
    bad = run("synth", tmp_path / "bad", "--size", 64, "--relief", "0.5", check=False)
    assert bad.returncode != 0 and "relief" in bad.stderr and not (tmp_path / "bad" / "manifest.json").exists()

def test_synth_cli_refuses_to_overwrite(tmp_path):
    out = tmp_path / "s"
    run("synth", out, "--n-train", 1, "--n-val", 0, "--n-test", 0, "--size", 32)
    r = run("synth", out, "--n-train", 1, "--n-val", 0, "--n-test", 0, "--size", 32, "--json", check=False)
    assert r.returncode == 2 and "already holds a dataset" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["ok"] is False
    r = run("synth", out, "--n-train", 1, "--n-val", 0, "--n-test", 1, "--size", 32, "--units", "dn", "--overwrite", "--json")
    assert json.loads(r.stdout.strip().splitlines()[-1])["scenes"]["test"] == 1
    assert json.loads((out / "manifest.json").read_text())["units"] == "dn"

def test_synth_cli_help_and_bad_flags(tmp_path):
    r = run("synth", "--help")
    for flag in ("--n-train", "--n-val", "--n-test", "--size", "--seed", "--looks", "--units", "--overwrite"):
        assert flag in r.stdout
    r = run("synth", tmp_path / "x", "--units", "amplitude", check=False)
    assert r.returncode == 2 and "invalid choice" in r.stderr
    assert not (tmp_path / "x").exists()

def test_difficulty_script_smoke():
    r = subprocess.run([sys.executable, "bench/synth_difficulty.py", "--n-train", "2", "--n-test", "1", "--size", "128"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "GNB, dB per pixel" in r.stdout and "OK" in r.stdout

def test_realism_script_smoke():
    r = subprocess.run([sys.executable, "bench/synth_realism.py", "--n-scenes", "2", "--size", "128", "--looks", "4"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SynthALOS-2" in r.stdout
    assert ("real N23W161 ocean" in r.stdout) or ("real PALSAR-2 tile not found" in r.stdout)

# The same check under each NumPy SIMD kernel level this CPU offers: "" = the best it has, then with AVX-512 and
# with AVX2 switched off. Features a CPU lacks are ignored by NumPy, so this runs (and means something) anywhere.
KERNELS = ["", "AVX512_SPR AVX512_ICL X86_V4", "AVX512_SPR AVX512_ICL X86_V4 X86_V3"]
FROZEN_CHECK = """
import json, os, sys
from pathlib import Path
try: from numpy._core._multiarray_umath import __cpu_features__ as feats       # NumPy 2
except ImportError: from numpy.core._multiarray_umath import __cpu_features__ as feats
asked = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
if any(f not in feats for f in asked): print("unknown features"); sys.exit(0)        # an older NumPy's names
still = [f for f in asked if feats[f]]
assert not still, f"NumPy did not switch off {still}"
from sar_lulc.io import read_label_map, read_sar
from sar_lulc.synth import frozen_mismatch, synth_scene
root = Path(sys.argv[1]); man = json.loads((root / "manifest.json").read_text())
for it in (man["splits"]["train"][0], man["splits"]["test"][0]):
    sc = synth_scene(it["seed"], man["generator"]["size"], man["generator"]["looks"])
    why = frozen_mismatch(sc.db, sc.labels, read_sar(root / it["sar_dn"], units="dn")[0], read_label_map(root / it["label"])[0])
    assert why is None, f"seed {it['seed']}: {why}"
print("frozen OK")
"""

@pytest.mark.parametrize("disabled", KERNELS, ids=["native", "no-avx512", "no-avx2"])
def test_shipped_samples_are_what_the_generator_makes(disabled):
    """The default generator is frozen (labels exact, DN within one count on <= 0.5 % of pixels; see the synth
    chapter): the shipped sample scenes, and so the study's data, come back on any CPU and NumPy kernel."""
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled} if disabled else dict(os.environ)
    r = subprocess.run([sys.executable, "-c", FROZEN_CHECK, str(ROOT / "data_samples" / "synth")],
                       capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    if "unknown features" in r.stdout: pytest.skip(f"this NumPy does not know the features {disabled!r}")
    assert r.returncode == 0 and "frozen OK" in r.stdout, r.stdout + r.stderr

def test_synth_cli_open_sea_and_looks_range(tmp_path):
    out = tmp_path / "w"
    r = run("synth", out, "--n-train", 6, "--n-val", 0, "--n-test", 0, "--size", 96, "--looks", "4:8",
            "--open-sea", 0.5, "--json")
    summ = json.loads(r.stdout.strip().splitlines()[-1])
    assert summ["looks"] == [4.0, 8.0] and summ["open_sea"] == 0.5
    man = json.loads((out / "manifest.json").read_text())
    its = man["splits"]["train"]
    sea = [it for it in its if it.get("open_sea")]
    assert 0 < len(sea) < len(its) and all(4 <= it["looks"] <= 8 for it in its)
    from sar_lulc.io import read_label_map
    water = [(read_label_map(out / it["label"])[0] == 0).mean() for it in its]
    assert min(w for w, it in zip(water, its) if it.get("open_sea")) > max(w for w, it in zip(water, its) if not it.get("open_sea"))
    for bad in (["--looks", "8:4"], ["--open-sea", "2"]):
        r = run("synth", tmp_path / "bad", "--size", 32, *bad, check=False)
        assert r.returncode == 2 and ("looks must be" in r.stderr or "--open-sea: must be a finite number in [0, 1]" in r.stderr), r.stderr
        assert not (tmp_path / "bad" / "manifest.json").exists()

def test_open_sea_is_an_exact_share_per_split(tmp_path):
    "--open-sea 0.5 gives half of each split's scenes (rounded, at least one): never none by chance (issue 27)."
    out = tmp_path / "s"
    run("synth", out, "--n-train", 4, "--n-val", 1, "--n-test", 3, "--size", 64, "--open-sea", 0.5, "--json")
    man = json.loads((out / "manifest.json").read_text())
    n_sea = {k: sum(bool(it.get("open_sea")) for it in its) for k, its in man["splits"].items()}
    assert n_sea == {"train": 2, "val": 1, "test": 2}, n_sea

def test_synth_cli_landscapes(tmp_path):
    "--farmland and --city: exact shares of each split's scenes, each mostly fields or built-up; shares over 1 refused."
    out = tmp_path / "s"
    r = run("synth", out, "--n-train", 4, "--n-val", 0, "--n-test", 2, "--size", 128, "--farmland", 0.5, "--city", 0.25,
            "--json")
    summ = json.loads(r.stdout.strip().splitlines()[-1])
    assert (summ["farmland"], summ["city"]) == (0.5, 0.25)
    man = json.loads((out / "manifest.json").read_text())
    land = {k: sorted(it.get("landscape", "hills") for it in its) for k, its in man["splits"].items()}
    assert land == {"train": ["city", "farmland", "farmland", "hills"], "val": [], "test": ["city", "farmland"]}, land
    from sar_lulc.io import read_label_map
    from sar_lulc.schemes import JP9
    for it in man["splits"]["train"]:
        lab = read_label_map(out / it["label"])[0]
        frac = lambda *names: float(np.isin(lab, [JP9.index(n) for n in names]).mean())
        if it.get("landscape") == "city": assert frac("Built-up") > 0.3, it
        elif it.get("landscape") == "farmland": assert frac("Forest") < 0.4 < frac("Paddy", "Cropland", "Grassland"), it
        else: assert frac("Forest") > 0.4, it
    r = run("synth", tmp_path / "bad", "--size", 32, "--farmland", 0.7, "--city", 0.5, check=False)
    assert r.returncode != 0 and "add up to more than 1" in r.stderr, r.stderr
    assert not (tmp_path / "bad" / "manifest.json").exists()
