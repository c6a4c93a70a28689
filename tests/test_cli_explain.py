"""`radlabels explain` and `spacy_radlabels.render`: escaped, well-formed, self-contained."""

import importlib.util
import json
import os
import shutil
import sys
import types
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List

import pytest
import spacy
from typer.testing import CliRunner

import spacy_radlabels
from spacy_radlabels.cli import app
from spacy_radlabels.report import summary_items

HOSTILE = "Possible infarct. <script>alert('x')</script> & <b>no</b> haemorrhage. 出血"
SCREENSHOT_SCRIPT = Path(__file__).parent.parent / "benchmarks" / "screenshot_html.py"
VOID_TAGS = {"meta", "br", "hr", "img", "input", "link", "wbr"}
runner = CliRunner()


class TagChecker(HTMLParser):
    """Collect tag nesting errors and any script or external resource."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: List[str] = []
        self.errors: List[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "script":
            self.errors.append("script tag")
        for name, value in attrs:
            if name in ("src", "href") or name.startswith("on"):
                self.errors.append(f"{name}={value!r} on <{tag}>")
        if tag not in VOID_TAGS:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name in ("src", "href") or name.startswith("on"):
                self.errors.append(f"{name}={value!r} on <{tag}>")

    def handle_endtag(self, tag) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def assert_well_formed(html: str) -> None:
    """Check that HTML nests its tags properly and loads nothing, runs nothing.

    html (str): The HTML.
    """
    checker = TagChecker()
    checker.feed(html)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    assert "https://" not in html and "url(" not in html
    assert html.count("http://") == html.count('xmlns="http://www.w3.org/2000/svg"')


@pytest.fixture(scope="module")
def nlp(trained_pipeline):
    return spacy.load(trained_pipeline)


def test_explain_text_escapes(trained_pipeline, tmp_path):
    output = tmp_path / "page.html"
    result = runner.invoke(app, ["explain", str(trained_pipeline), HOSTILE, "-o", str(output)])
    assert result.exit_code == 0, result.output
    html = output.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    # Tokens are escaped one by one ("<", "script", ">"), so look for the pieces.
    assert "<script" not in html and "&lt;" in html and "<b>" not in html
    assert "出血" in html
    assert_well_formed(html)


def test_explain_input_file_with_limit(trained_pipeline, tmp_path):
    source = tmp_path / "in.jsonl"
    rows = [{"id": f"<r{i}>", "text": f"Possible infarct. No mass. {i}"} for i in range(30)]
    rows[1]["text"] = ""
    rows[2]["text"] = "There is an acute haemorrhage. " * 1500
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / "page.html"
    result = runner.invoke(
        app,
        [
            "explain",
            str(trained_pipeline),
            "--input",
            str(source),
            "--limit",
            "5",
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    html = output.read_text(encoding="utf-8")
    assert html.count('class="rl-doc"') == 5
    assert "&lt;r4&gt;" in html and "&lt;r5&gt;" not in html
    assert_well_formed(html)


def test_explain_needs_text_or_input(trained_pipeline, tmp_path):
    result = runner.invoke(app, ["explain", str(trained_pipeline), "-o", str(tmp_path / "p.html")])
    assert result.exit_code == 1
    assert "--input" in result.output


def test_render_shades_findings(nlp):
    doc = nlp(HOSTILE)
    html = spacy_radlabels.render(doc, jupyter=False)
    assert html.startswith("<style>")
    assert_well_formed(html)
    findings = [label for label, state in doc._.labels.items() if state != "negative"]
    assert html.count("<details") == len(findings)
    if findings:
        assert "<mark " in html
    for label in findings:
        assert f"{doc._.label_scores[label][doc._.labels[label]]:.2f}" in html


def test_render_page_of_many_docs(nlp):
    docs = list(nlp.pipe(["No mass.", "", "Possible infarct."]))
    html = spacy_radlabels.render(docs, page=True, jupyter=False, titles=["a", "b", "c"])
    assert html.startswith("<!DOCTYPE html>") and html.count('class="rl-doc"') == 3
    assert_well_formed(html)


def test_render_unlabelled_doc():
    doc = spacy.blank("en")("<i>plain</i>")
    html = spacy_radlabels.render(doc, jupyter=False)
    assert "not labelled" in html and "&lt;i&gt;plain&lt;/i&gt;" in html


def test_render_displays_in_jupyter(nlp, monkeypatch):
    shown = []
    display_module = types.ModuleType("IPython.display")
    display_module.HTML = lambda html: ("HTML", html)
    display_module.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    assert spacy_radlabels.render(nlp("Possible infarct."), jupyter=True) is None
    assert len(shown) == 1 and shown[0][0] == "HTML" and "radlabels" in shown[0][1]


class TextNodes(HTMLParser):
    """Collect the text a reader sees, one stripped text node at a time."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: List[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.hidden += tag in ("style", "title")

    def handle_endtag(self, tag) -> None:
        self.hidden -= tag in ("style", "title")

    def handle_data(self, data) -> None:
        if not self.hidden and data.strip():
            self.nodes.append(data.strip())


def text_nodes(dom: str) -> List[str]:
    parser = TextNodes()
    parser.feed(dom)
    return parser.nodes


def chips(nodes: List[str], labels: List[str]) -> Dict[str, str]:
    # A chip is the label's text node followed by its details, "· state · p = ...".
    found = {}
    for node, after in zip(nodes, nodes[1:]):
        if node in labels and after.startswith("·"):
            found[node] = after.split("·")[1].strip()
    return found


# CI installs Chromium and sets RADLABELS_REQUIRE_CHROMIUM=1, so there it fails, not skips.
@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("RADLABELS_REQUIRE_CHROMIUM"),
    reason="Chromium is not installed (apt-get install chromium)",
)
def test_pages_render_in_headless_chromium(trained_pipeline, tiny_jsonl, tmp_path):
    spec = importlib.util.spec_from_file_location("screenshot_html", SCREENSHOT_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model, data = str(trained_pipeline), str(tiny_jsonl)
    explain = runner.invoke(app, ["explain", model, "-i", data, "-o", str(tmp_path / "x.html")])
    evaluate = runner.invoke(app, ["evaluate", model, data, "-o", str(tmp_path)])
    assert explain.exit_code == evaluate.exit_code == 0
    for page in ("x.html", "report.html"):
        png = module.screenshot(tmp_path / page, tmp_path / f"{page}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    # The evaluation page shows its headline figures, each name beside its value.
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    nodes = text_nodes(module.dump_dom(tmp_path / "report.html"))
    pairs = set(zip(nodes, nodes[1:]))
    for name, value in summary_items(metrics):
        assert (name, value) in pairs, (name, value)
    # The explain page shows, report by report, the states the pipeline gave each label.
    nodes = text_nodes(module.dump_dom(tmp_path / "x.html"))
    nlp = spacy.load(trained_pipeline)
    records = [json.loads(line) for line in tiny_jsonl.read_text(encoding="utf8").splitlines()]
    starts = [nodes.index(record["id"]) for record in records]
    for record, start, end in zip(records, starts, starts[1:] + [len(nodes)]):
        states = nlp(record["text"])._.labels
        shown = chips(nodes[start:end], list(states))
        assert shown == {label: s for label, s in states.items() if s != "negative"}, record
        assert f"{len(states) - len(shown)} of {len(states)} labels negative" in nodes[start:end]
