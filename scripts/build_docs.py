"""Build the documentation site, and README.md, from the notebooks in nbs/ -- offline.

The notebooks are processed by nbdev exactly as `nbdev-docs` does (front matter, `show_doc` tables of the
exported API, hidden cells and directives removed; only exported cells, import cells and show_doc cells run,
to make the API tables; tutorials set `skip_showdoc` and are never run), into `_proc/`. The site is then rendered

- by Quarto, through `nbdev-docs`, when a real `quarto` is on PATH (`--renderer quarto`);
- otherwise by smalldocs (the `docs` extra), a pure-Python renderer of Quarto website projects that reads
  the same `_quarto.yml`, `nbdev.yml` and `sidebar.yml`, runs no code and fetches nothing.

PyPI's `quarto-cli` is only an sdist that downloads Quarto from GitHub while it builds, so it cannot be
installed where only package registries are reachable; smalldocs can.

The sidebar (nbs/sidebar.yml, `custom_sidebar = true` in pyproject.toml) is written on every build:
the index, a "Tutorials" section with nbs/tutorials/*.ipynb, then the API chapters nbs/NN_*.ipynb.

    python scripts/build_docs.py                 # site into _docs/
    python scripts/build_docs.py --out /tmp/site # elsewhere
    python scripts/build_docs.py --readme        # only README.md (+ index_files/) from nbs/index.ipynb
"""
import argparse, base64, json, os, re, shutil, sys, time
from pathlib import Path

CHAPTER_RE = re.compile(r"^\d+_.*\.ipynb$")


def sidebar_yaml(nbs: Path) -> str:
    "The sidebar: index, then the tutorials, then the API chapters, each in file-name order."
    lines = ["website:", "  sidebar:", "    contents:"]
    if (nbs / "index.ipynb").exists(): lines.append("      - index.ipynb")
    tuts = sorted(p.name for p in (nbs / "tutorials").glob("*.ipynb")) if (nbs / "tutorials").is_dir() else []
    if tuts:
        lines += ["      - section: Tutorials", "        contents:"] + [f"          - tutorials/{t}" for t in tuts]
    chaps = sorted(p.name for p in nbs.glob("*.ipynb") if CHAPTER_RE.match(p.name))
    if chaps:
        lines += ["      - section: API", "        contents:"] + [f"          - {c}" for c in chaps]
    return "\n".join(lines) + "\n"


def title_cell_problems(nbs: Path) -> list:
    """Notebooks whose first markdown cell holds more than nbdev reads from it. nbdev turns that cell into
    the page's front matter -- `# Title`, the first `> description` line, `- key: value` lines -- and drops
    the rest of the cell from the site and the README. Put the prose in the next cell."""
    out = []
    for p in sorted(list(nbs.glob("*.ipynb")) + list(nbs.glob("tutorials/*.ipynb"))):
        try: cells = json.loads(p.read_text())["cells"]
        except Exception: continue
        md = next((c for c in cells if c["cell_type"] == "markdown"), None)
        if md is None or not re.search(r"^#\s+\S", _src(md), re.M): continue
        lines = [l for l in _src(md).strip().splitlines() if l.strip()]
        quotes = [l for l in lines if l.startswith(">")]
        rest = [l for l in lines if not re.match(r"^(#\s|>|-\s+\S.*:)", l)]
        why = []
        if len(quotes) > 1: why.append(f"description on {len(quotes)} '>' lines (only the first is kept)")
        if rest: why.append(f"{len(rest)} other line(s) after the title are dropped, from: {rest[0][:60]!r}")
        if why: out.append(f"{p.relative_to(nbs).as_posix()}: " + "; ".join(why))
    return out


def write_if_changed(path: Path, text: str):
    if not path.exists() or path.read_text() != text: path.write_text(text)


def prepare(cfg):
    "Write nbs/nbdev.yml and nbs/_quarto.yml (nbdev's own) and nbs/sidebar.yml (ours)."
    from nbdev.quarto import refresh_quarto_yml
    refresh_quarto_yml()
    if cfg.custom_sidebar: write_if_changed(cfg.nbs_path / "sidebar.yml", sidebar_yaml(cfg.nbs_path))
    else:
        from nbdev.quarto import nbdev_sidebar
        nbdev_sidebar.__wrapped__()


def find_quarto():
    "A runnable `quarto` on PATH, or None."
    q = shutil.which("quarto")
    if not q: return None
    import subprocess
    try: ok = subprocess.run([q, "--version"], capture_output=True, timeout=60).returncode == 0
    except Exception: ok = False
    return q if ok else None


# nbdev runs, for the API tables, the exported cells, the show_doc cells and every cell that contains an
# import -- the whole cell. The chapters keep their imports in import-only cells (nbdev's FAQ advice; a test
# in tests/test_docs_site.py checks it), and the tutorials set `skip_showdoc: true`, so nbdev's own
# processing runs only what the API tables need: no patch of nbdev internals.
def proc_nbs(path, n_workers, **kwargs):
    "nbdev.serve.proc_nbs: notebooks -> _proc/."
    import nbdev.serve
    return nbdev.serve.proc_nbs(str(path), n_workers=n_workers, **kwargs)


def build_site(cfg, out: Path, renderer: str, n_workers: int) -> Path:
    out = out.resolve()
    if renderer == "quarto":
        from nbdev.quarto import nbdev_docs
        nbdev_docs.__wrapped__(n_workers=n_workers)  # renders into cfg.doc_path
        if out != cfg.doc_path.resolve():
            shutil.rmtree(out, ignore_errors=True)
            shutil.move(str(cfg.doc_path), str(out))
        return out
    import tempfile
    from smalldocs.site import build
    cache = proc_nbs(cfg.nbs_path, n_workers=n_workers)
    with tempfile.TemporaryDirectory(prefix="sar_lulc-docs-") as tmp:
        stage = Path(tmp) / "site"
        shutil.copytree(cache, stage, ignore=shutil.ignore_patterns(cfg.doc_path.name, ".quarto"))
        apply_output_files(stage)
        site = build(stage, quiet=True)
        for w in site.warnings:
            # only HTML is built here: nbdev's commonmark copies, cards and repo actions are Quarto's
            if not re.search(r"format commonmark|keep-md|format-links|twitter-card|open-graph|repo-actions|output-file", w):
                print(f"smalldocs: {w}", file=sys.stderr)
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(site.out), str(out))
    return out


def apply_output_files(stage: Path):
    """Name each processed page after its `output-file` (nbdev sets `01_io.ipynb` -> `io.html`, and links to
    that), as Quarto does and smalldocs does not, and rename it in the staged sidebar.yml too."""
    import yaml
    moves = {}
    for p in sorted(stage.rglob("*.ipynb")):
        nb = json.loads(p.read_text())
        first = nb["cells"][0] if nb.get("cells") else None
        if not first or first["cell_type"] != "raw": continue
        m = re.match(r"^---\n(.*?)\n---", _src(first), re.S)
        of = (yaml.safe_load(m.group(1)) or {}).get("output-file") if m else None
        if not of or Path(of).stem == p.stem: continue
        dst = p.with_name(Path(of).stem + p.suffix)
        if dst.exists(): continue
        p.rename(dst)
        moves[p.relative_to(stage).as_posix()] = dst.relative_to(stage).as_posix()
    sb = stage / "sidebar.yml"
    if moves and sb.exists():
        sb.write_text("\n".join(re.sub(r"(- (?:href: )?)(\S+\.ipynb)$", lambda m: m[1] + moves.get(m[2], m[2]), l)
                                for l in sb.read_text().splitlines()) + "\n")


# README.md from the processed index notebook (what `nbdev-readme` does with `quarto render -t gfm`)
def _src(c): return "".join(c.get("source", ""))


def _out_md(o, files: Path, rel: str, n: list) -> str:
    d = o.get("data", {})
    if o.get("output_type") == "stream": return "```\n" + "".join(o.get("text", "")).rstrip() + "\n```"
    if o.get("output_type") == "error": return ""
    for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg")):
        if mime in d:
            files.mkdir(parents=True, exist_ok=True)
            n[0] += 1
            name = f"figure-{n[0]}.{ext}"
            (files / name).write_bytes(base64.b64decode("".join(d[mime])))
            return f"![]({rel}/{name})"
    if "text/markdown" in d: return "".join(d["text/markdown"]).strip()
    if "text/html" in d: return "".join(d["text/html"]).strip()
    if "text/plain" in d: return "```\n" + "".join(d["text/plain"]).rstrip() + "\n```"
    return ""


_LINK_RE = re.compile(r"(\]\(\s*<?|<img\s[^>]*?src=[\"'])([^)\s>\"']+)")


def _rebase_links(md: str, prefix: str) -> str:
    "Make links relative to the notebook's folder (nbs/) relative to the project root instead."
    import posixpath
    def f(m):
        t = m[2]
        if not prefix or re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", t, re.I): return m[0]
        return m[1] + posixpath.normpath(posixpath.join(prefix, t))
    return _LINK_RE.sub(f, md)


def nb_to_gfm(nb: dict, files: Path, rel: str, prefix: str = "") -> str:
    """GitHub Markdown of a processed notebook: front matter -> `# title` + `> description`, cells, saved
    outputs (pictures into `files`, linked as `rel/...`); relative links in markdown get `prefix` (nbs/)."""
    import yaml
    parts, n = [], [0]
    for c in nb["cells"]:
        s = _src(c)
        if c["cell_type"] == "raw":
            m = re.match(r"^---\n(.*?)\n---\s*$", s, re.S)
            if m:
                fm = yaml.safe_load(m.group(1)) or {}
                if fm.get("title"): parts.append(f"# {fm['title']}")
                if fm.get("description"): parts.append("> " + str(fm["description"]).strip().replace("\n", "\n> "))
            continue
        if c["cell_type"] == "markdown":
            if s.strip(): parts.append(_rebase_links(s.strip(), prefix))
            continue
        opts = dict(re.findall(r"^#\|\s*([\w-]+)\s*:\s*(\S+)", s, re.M))
        if str(opts.get("include", "")).lower() == "false": continue
        code = "\n".join(l for l in s.splitlines() if not l.startswith("#|")).strip()
        if code and str(opts.get("echo", "")).lower() != "false": parts.append("```python\n" + code + "\n```")
        if str(opts.get("output", "")).lower() != "false":
            parts += [m for m in (_out_md(o, files, rel, n) for o in c.get("outputs", [])) if m]
    return "\n\n".join(parts) + "\n"


def build_readme(cfg, n_workers: int) -> Path:
    "Write README.md (and index_files/ for any pictures in outputs) from the readme notebook."
    if not (cfg.nbs_path / cfg.readme_nb).exists(): raise SystemExit(f"no {cfg.nbs_path / cfg.readme_nb}")
    cache = proc_nbs(cfg.nbs_path, n_workers=n_workers, file_glob=Path(cfg.readme_nb).name)
    nb = json.loads((cache / cfg.readme_nb).read_text())
    rel = Path(cfg.readme_nb).stem + "_files"
    files = cfg.config_path / rel
    shutil.rmtree(files, ignore_errors=True)
    text = nb_to_gfm(nb, files, rel, prefix=cfg.nbs_path.relative_to(cfg.config_path).as_posix())
    (cfg.config_path / "README.md").write_text(text)
    return cfg.config_path / "README.md"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1]), help="project root (with pyproject.toml)")
    ap.add_argument("--out", default=None, help="site folder (default: doc_path, _docs/)")
    ap.add_argument("--renderer", choices=["auto", "quarto", "smalldocs"], default="auto",
                    help="auto: Quarto via nbdev-docs when a quarto binary runs, else smalldocs")
    ap.add_argument("--workers", type=int, default=int(os.environ.get("DOCS_WORKERS", 2)), help="notebook processing workers")
    ap.add_argument("--readme", action="store_true", help="only write README.md from nbs/index.ipynb")
    a = ap.parse_args(argv)
    root = Path(a.root).resolve()
    os.chdir(root)  # nbdev's processors call get_config() from the working directory
    os.environ.setdefault("MPLBACKEND", "Agg"); os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from nbdev.config import get_config
    cfg = get_config(root)
    t0 = time.time()
    if a.readme:
        prepare(cfg)
        if a.renderer == "quarto" or (a.renderer == "auto" and find_quarto()):
            from nbdev.quarto import nbdev_readme
            nbdev_readme.__wrapped__()
            p = cfg.config_path / "README.md"
        else: p = build_readme(cfg, a.workers)
        print(f"README written: {p} ({time.time() - t0:.0f} s)")
        return
    renderer = a.renderer
    if renderer == "auto": renderer = "quarto" if find_quarto() else "smalldocs"
    if renderer == "smalldocs":
        try: import smalldocs  # noqa: F401
        except ImportError: raise SystemExit("smalldocs is not installed: pip install -e '.[docs]' (or run scripts/docs.sh)")
    elif not find_quarto(): raise SystemExit("--renderer quarto: no runnable `quarto` on PATH")
    prepare(cfg)
    for w in title_cell_problems(cfg.nbs_path): print(f"docs: warning: {w}", file=sys.stderr)
    out = build_site(cfg, Path(a.out) if a.out else cfg.doc_path, renderer, a.workers)
    n = len(list(out.rglob("*.html")))
    print(f"docs built with {renderer} in {time.time() - t0:.0f} s: {n} HTML pages; open {out / 'index.html'}")


if __name__ == "__main__":
    main()
