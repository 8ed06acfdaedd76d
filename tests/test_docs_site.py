"""The documentation site (scripts/docs.sh -> scripts/build_docs.py) builds offline and holds every page.

The site is built from a copy of pyproject.toml and nbs/ in a temporary folder, so the test neither
writes into the work tree nor sees a half-built _docs/. It is rendered by Quarto when a working `quarto`
is on PATH, else by smalldocs (the `docs` extra); with neither, the test is skipped.
"""
import html, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
sys.path.insert(0, str(ROOT / "scripts"))
import build_docs  # noqa: E402

pytestmark = pytest.mark.docs


def _renderer():
    if build_docs.find_quarto(): return "quarto"
    try:
        import smalldocs  # noqa: F401
        return "smalldocs"
    except ImportError: return None


def _page(nb: Path) -> str:
    "Where nbdev puts a notebook's page: its path under nbs/ with the numeric prefix dropped, as .html."
    from nbdev.config import nbpath2html
    return nbpath2html(nb.relative_to(NBS)).as_posix()


def _readme_title() -> str:
    "The README's title: README.md's first `# ` line, or the title of nbs/index.ipynb that it is made from."
    readme = ROOT / "README.md"
    if readme.exists():
        m = re.search(r"^#\s+(.+?)\s*$", readme.read_text(), re.M)
        if m: return m.group(1)
    cells = json.loads((NBS / "index.ipynb").read_text())["cells"]
    md = next(c for c in cells if c["cell_type"] == "markdown")
    return re.search(r"^#\s+(.+?)\s*$", "".join(md["source"]), re.M).group(1)


def _text(p: Path) -> str: return html.unescape(re.sub(r"<[^>]+>", " ", p.read_text()))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    renderer = _renderer()
    if renderer is None:
        pytest.skip("no docs renderer: neither a working `quarto` on PATH nor smalldocs "
                    "(install the docs extra: pip install -e '.[docs]', or run scripts/docs.sh)")
    proj = tmp_path_factory.mktemp("docs") / "proj"
    proj.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", proj)
    # nbdev-docs (the Quarto path) rebuilds lib_path/_modidx.py: give it a copy of the package
    shutil.copytree(ROOT / "sar_lulc", proj / "sar_lulc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(NBS, proj / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_proc", "_docs", ".quarto"))
    out = proj / "site"
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "MPLBACKEND": "Agg", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    t0 = time.time()
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_docs.py"), "--root", str(proj), "--out", str(out),
                        "--renderer", renderer], capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, f"docs build failed ({renderer}):\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}"
    print(f"docs built with {renderer} in {time.time() - t0:.0f} s")
    return out


def test_site_has_every_api_chapter(site):
    chapters = sorted(p for p in NBS.glob("*.ipynb") if build_docs.CHAPTER_RE.match(p.name))
    assert chapters, "no API chapters nbs/NN_*.ipynb"
    missing = [f"{c.name} -> {_page(c)}" for c in chapters if not (site / _page(c)).is_file()]
    assert not missing, f"API pages missing from the site: {missing}"
    for c in chapters:  # a real page: the chapter's title is on it
        cells = json.loads(c.read_text())["cells"]
        m = re.search(r"^#\s+(.+?)\s*$", "".join(next(x for x in cells if x["cell_type"] == "markdown")["source"]), re.M)
        if m: assert m.group(1) in _text(site / _page(c)), f"{_page(c)} does not show its title {m.group(1)!r}"


def test_site_has_every_tutorial(site):
    tuts = sorted((NBS / "tutorials").glob("*.ipynb"))
    missing = [f"tutorials/{t.name} -> {_page(t)}" for t in tuts if not (site / _page(t)).is_file()]
    assert not missing, f"tutorial pages missing from the site: {missing}"


def test_chapters_and_tutorials_show_their_results(site):
    "Outputs kept in the notebooks (scripts/run_notebooks.py) reach the site: figures where results are shown."
    pages = [NBS / "33_predict.ipynb", NBS / "25_study.ipynb", NBS / "41_mapview.ipynb",
             *sorted((NBS / "tutorials").glob("*.ipynb"))]
    bare = [_page(p) for p in pages if "<img" not in (site / _page(p)).read_text(errors="replace")]
    assert not bare, f"pages without a figure: {bare}; run `python scripts/run_notebooks.py` and commit the outputs"


def test_show_results_notebooks_keep_outputs():
    "Every notebook that scripts/run_notebooks.py runs keeps at least one output (run it after editing them)."
    import run_notebooks
    empty = [n for n in run_notebooks.SHOW_RESULTS
             if not any(c.get("outputs") for c in json.loads((ROOT / n).read_text())["cells"])]
    assert not empty, f"notebooks without kept outputs: {empty}; run `python scripts/run_notebooks.py`"


def test_index_has_readme_title_and_sidebar_order(site):
    idx = site / "index.html"
    assert idx.is_file()
    title = _readme_title()
    assert title in _text(idx), f"index.html does not show the README title {title!r}"
    # the sidebar lists the tutorials before the API chapters, each in file order
    body = idx.read_text()
    want = [_page(p) for p in sorted((NBS / "tutorials").glob("*.ipynb"))]
    want += [_page(p) for p in sorted(NBS.glob("*.ipynb")) if build_docs.CHAPTER_RE.match(p.name)]
    pos = [body.find(f'href="{w}"') if f'href="{w}"' in body else body.find(f'{w}"') for w in want]
    assert all(p >= 0 for p in pos), f"sidebar of index.html misses {[w for w, p in zip(want, pos) if p < 0]}"
    assert pos == sorted(pos), "sidebar order is not: tutorials, then API chapters"


def test_sidebar_yml_lists_index_tutorials_then_chapters():
    y = build_docs.sidebar_yaml(NBS)
    tuts = sorted((NBS / "tutorials").glob("*.ipynb"))
    i_tut = y.find("section: Tutorials") if tuts else -1
    assert y.find("- index.ipynb") < y.find("section: API")
    if tuts: assert y.find("- index.ipynb") < i_tut < y.find("section: API")
    for t in tuts: assert f"- tutorials/{t.name}" in y


def test_title_cells_hold_only_front_matter():
    """nbdev turns each notebook's first markdown cell into the page's title and one-line description and
    drops everything else in that cell from the site and the README: prose there is lost."""
    problems = build_docs.title_cell_problems(NBS)
    assert not problems, ("title cells with content that the docs drop (put it in the next markdown cell, "
                          "and keep the '> description' on one line):\n" + "\n".join(problems))


def test_docs_build_runs_only_imports_exports_and_show_doc():
    """nbdev's docs processing runs every cell that contains an import, whole. So chapters keep their imports
    in import-only cells (nbdev's FAQ), and tutorials, which have no API tables, set `skip_showdoc: true`;
    then nbdev's own processing needs no patch (scripts/build_docs.py uses its public functions)."""
    import ast
    bad = []
    for nb in sorted(NBS.glob("*.ipynb")) + sorted((NBS / "tutorials").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        if nb.parent.name == "tutorials":
            if "skip_showdoc: true" not in "".join(cells[0]["source"]): bad.append(f"{nb.name}: no skip_showdoc")
            continue
        for i, c in enumerate(cells):
            s = "".join(c["source"])
            if c["cell_type"] != "code" or re.search(r"^#\|\s*(export|exports|exporti|exec_doc)", s, re.M): continue
            try: tree = ast.parse(s)
            except SyntaxError: continue
            imports = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
            if imports and any(not isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body):
                bad.append(f"{nb.name} cell {i}: imports mixed with code: {s[:60]!r}")
    assert not bad, "\n".join(bad)


def test_result_tables_render_as_tables(site):
    "The study and benchmark chapters' result tables reach the site as tables, not as Markdown text in a code block."
    for nb in ("25_study.ipynb", "27_real_benchmark.ipynb"):
        page = (site / _page(NBS / nb)).read_text(errors="replace")
        pre = [html.unescape(re.sub(r"<[^>]+>", "", b)) for b in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.S)]
        raw = [b[:120] for b in pre if re.search(r"^\s*\|[-: |]+\|\s*$", b, re.M)]
        assert "<table" in page and not raw, (nb, raw)
