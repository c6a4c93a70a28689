"""Evaluation reports: metrics as JSON, Markdown and a self-contained HTML page with plots.

The HTML page draws its charts as inline SVG and its confusion matrices as shaded
tables: no scripts, no images to fetch, nothing from the network.
"""

import json
from html import escape
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .display import wrap_page

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; }
.card b { display: block; font-size: 1.4em; }
.matrices { display: flex; flex-wrap: wrap; gap: 16px; }
.matrix caption { font-weight: 600; text-align: left; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }
"""
STATE_HEADER = ["state", "P", "R", "F1", "support"]
BAR_COLOURS = ["#d62728", "#e67e00", "#1f77b4", "#2ca02c"]
# Shown for a figure the data cannot define: recall and F1 of a state with no gold support,
# precision of a state never predicted. A 0.000 there would read as a measured failure.
NA = "n/a"
NA_NOTE = (
    "n/a: not defined by the data (recall and F1 of a state with no gold support, precision "
    "of a state never predicted)."
)


def fmt(value: Optional[float]) -> str:
    """Format a metric for a table.

    value (Optional[float]): A metric, or None where undefined.
    RETURNS (str): Three decimals, or "–" for None.
    """
    return "–" if value is None else f"{value:.3f}"


def write_reports(
    metrics: Dict[str, Any],
    output_dir: Path,
    title: str,
    markdown: Optional[Callable[[Dict[str, Any], str], str]] = None,
    html: Optional[Callable[[Dict[str, Any], str], str]] = None,
) -> List[Path]:
    """Write metrics.json, metrics.md and report.html into a folder.

    metrics (Dict[str, Any]): The output of `compute_metrics` (or of the renderers given).
    output_dir (Path): The folder (created if needed).
    title (str): Heading of the Markdown and HTML reports.
    markdown (Optional[Callable]): Renders (metrics, title) as Markdown; `to_markdown` if None.
    html (Optional[Callable]): Renders (metrics, title) as an HTML page; `to_html` if None.
    RETURNS (List[Path]): The files written.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "metrics.json": json.dumps(metrics, indent=2) + "\n",
        "metrics.md": (markdown or to_markdown)(metrics, title),
        "report.html": (html or to_html)(metrics, title),
    }
    paths = []
    for name, content in files.items():
        path = output_dir / name
        path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def label_rows(metrics: Dict[str, Any]) -> List[List[str]]:
    """Build the per-label table: n, accuracy, kappa and P/R/F1 of each finding state.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    RETURNS (List[List[str]]): One row of cells per label.
    """
    rows = []
    for label in metrics["labels"]:
        scores = metrics["per_label"][label]
        row = [label, str(scores["n"]), fmt(scores["accuracy"]), fmt(scores["kappa"])]
        for state in metrics["finding_states"]:
            prf = scores["states"][state]
            row += [*prf_cells(prf, n_predicted(metrics, state, label)), str(prf["support"])]
        rows.append(row)
    return rows


def n_predicted(metrics: Dict[str, Any], state: str, label: Optional[str] = None) -> int:
    """Count the decisions predicted in a state, from the confusion matrices.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    state (str): The state.
    label (Optional[str]): One label, or None for all labels pooled.
    RETURNS (int): How often the state was predicted.
    """
    column = metrics["states"].index(state)
    labels = metrics["labels"] if label is None else [label]
    return sum(row[column] for name in labels for row in metrics["per_label"][name]["confusion"])


def prf_cells(prf: Dict[str, Any], predicted: int) -> List[str]:
    """Format P, R and F1 of one state, "n/a" where the data leave them undefined.

    prf (Dict[str, Any]): {"p", "r", "f", "support"} of the scorer.
    predicted (int): How often the state was predicted.
    RETURNS (List[str]): The P, R and F1 cells.
    """
    unsupported = prf["support"] == 0
    return [
        NA if predicted == 0 else fmt(prf["p"]),
        NA if unsupported else fmt(prf["r"]),
        NA if unsupported else fmt(prf["f"]),
    ]


def label_header(metrics: Dict[str, Any]) -> List[str]:
    """Name the per-label table's columns.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    RETURNS (List[str]): Column headings.
    """
    header = ["label", "n", "acc", "kappa"]
    for state in metrics["finding_states"]:
        header += [f"{state} P", f"{state} R", f"{state} F1", f"{state} n"]
    return header


def state_rows(metrics: Dict[str, Any]) -> List[List[str]]:
    """Build the per-state table, pooled over labels.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    RETURNS (List[List[str]]): One row per state: P, R, F1, support.
    """
    rows = []
    for state in metrics["states"]:
        prf = metrics["per_state"][state]
        rows.append([state, *prf_cells(prf, n_predicted(metrics, state)), str(prf["support"])])
    return rows


def summary_items(metrics: Dict[str, Any]) -> List[List[str]]:
    """List the headline metrics.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    RETURNS (List[List[str]]): [name, value] pairs.
    """
    micro = metrics["micro"]
    return [
        ["docs", str(metrics["n_docs"])],
        ["label decisions", str(metrics["n_pairs"])],
        ["accuracy", fmt(metrics["accuracy"])],
        ["micro P", fmt(micro["p"])],
        ["micro R", fmt(micro["r"])],
        ["micro F1", fmt(micro["f"])],
        ["macro F1", fmt(metrics["macro_f"])],
    ]


def markdown_table(header: List[str], rows: List[List[str]]) -> str:
    """Render a Markdown table.

    header (List[str]): Column headings.
    rows (List[List[str]]): Rows of cells.
    RETURNS (str): The table.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(metrics: Dict[str, Any], title: str) -> str:
    """Render the metrics as Markdown.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    title (str): The heading.
    RETURNS (str): The Markdown report.
    """
    findings = " and ".join(metrics["finding_states"])
    states = metrics["states"]
    parts = [
        f"# {title}\n",
        markdown_table(["metric", "value"], summary_items(metrics)),
        f"Micro and macro F1 are over the finding states ({findings}). {NA_NOTE}\n",
        "## Per label\n",
        markdown_table(label_header(metrics), label_rows(metrics)),
        "## Per state (all labels pooled)\n",
        markdown_table(STATE_HEADER, state_rows(metrics)),
        "## Confusion matrices (rows gold, columns predicted)\n",
    ]
    for label in metrics["labels"]:
        matrix = metrics["per_label"][label]["confusion"]
        rows = [[state, *map(str, counts)] for state, counts in zip(states, matrix)]
        parts.append(f"### {label}\n\n" + markdown_table(["gold \\ pred", *states], rows))
    return "\n".join(parts)


def html_table(header: List[str], rows: List[List[str]]) -> str:
    """Render an escaped HTML table.

    header (List[str]): Column headings.
    rows (List[List[str]]): Rows of cells.
    RETURNS (str): The table.
    """
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def f1_chart(metrics: Dict[str, Any]) -> str:
    """Draw per-label F1 of each finding state as an inline SVG bar chart.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    RETURNS (str): The SVG element with its legend.
    """
    states = metrics["finding_states"]
    labels = metrics["labels"]
    row_h, bar_h, left, width = 8 + 12 * len(states), 11, 230, 420
    height = row_h * len(labels) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" '
        f'height="{height}" role="img" aria-label="F1 per label and state">'
    ]
    for tick in range(0, 11, 2):
        x = left + width * tick / 10
        parts.append(
            f'<line x1="{x}" y1="0" x2="{x}" y2="{height - 20}" stroke="#ddd"/>'
            f'<text x="{x}" y="{height - 6}" font-size="11" text-anchor="middle">'
            f"{tick / 10:.1f}</text>"
        )
    for i, label in enumerate(labels):
        y = i * row_h + 4
        parts.append(
            f'<text x="{left - 6}" y="{y + row_h / 2 + 2}" font-size="12" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        for j, state in enumerate(states):
            prf = metrics["per_label"][label]["states"][state]
            # No gold support: no bar, since F1 is undefined rather than 0.
            w = 0.0 if prf["support"] == 0 else width * prf["f"]
            value = NA if prf["support"] == 0 else f"{prf['f']:.2f}"
            parts.append(
                f'<rect x="{left}" y="{y + j * 12}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{BAR_COLOURS[j % len(BAR_COLOURS)]}">'
                f"<title>{escape(label)} {escape(state)}: F1 {value} "
                f"(n={prf['support']})</title></rect>"
                f'<text x="{left + w + 4:.1f}" y="{y + j * 12 + 9}" font-size="10">'
                f"{value}</text>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span style="background:{BAR_COLOURS[j % len(BAR_COLOURS)]}"></span>{escape(state)}'
        for j, state in enumerate(states)
    )
    return f'<div class="legend">F1 of {legend}</div>' + "".join(parts)


def confusion_table(label: str, matrix: List[List[int]], states: List[str]) -> str:
    """Render one label's confusion matrix as a table shaded by share of its gold row.

    label (str): The label.
    matrix (List[List[int]]): Counts, rows gold, columns predicted.
    states (List[str]): Row and column order.
    RETURNS (str): The table.
    """
    head = "".join(f"<th>{escape(state)}</th>" for state in states)
    rows = []
    for state, counts in zip(states, matrix):
        total = sum(counts) or 1
        cells = []
        for j, count in enumerate(counts):
            rgb = "44, 160, 44" if states[j] == state else "214, 39, 40"
            cells.append(
                f'<td style="background: rgba({rgb}, {0.6 * count / total:.2f})">{count}</td>'
            )
        rows.append(f"<tr><th>{escape(state)}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="matrix"><caption>{escape(label)}</caption>'
        f"<thead><tr><th>gold \\ pred</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table>"
    )


def cards_html(items: List[List[str]]) -> str:
    """Render headline figures as the page's cards.

    items (List[List[str]]): (name, value) pairs, as `summary_items` returns them.
    RETURNS (str): The cards' HTML.
    """
    return "".join(
        f'<div class="card">{escape(name)}<b>{escape(value)}</b></div>' for name, value in items
    )


def to_html(metrics: Dict[str, Any], title: str) -> str:
    """Render the metrics as a self-contained HTML page with a chart and matrices.

    metrics (Dict[str, Any]): The output of `compute_metrics`.
    title (str): The heading.
    RETURNS (str): The HTML document.
    """
    cards = cards_html(summary_items(metrics))
    states = metrics["states"]
    matrices = "".join(
        confusion_table(label, metrics["per_label"][label]["confusion"], states)
        for label in metrics["labels"]
    )
    findings = " and ".join(metrics["finding_states"])
    body = (
        f"<h1>{escape(title)}</h1><div class='cards'>{cards}</div>"
        f"<p>Micro and macro F1 are over the finding states ({escape(findings)}). "
        f"{escape(NA_NOTE)}</p>"
        f"<h2 id='f1'>F1 per label</h2>{f1_chart(metrics)}"
        f"<h2 id='labels'>Per label</h2>{html_table(label_header(metrics), label_rows(metrics))}"
        "<h2 id='states'>Per state (all labels pooled)</h2>"
        f"{html_table(STATE_HEADER, state_rows(metrics))}"
        "<h2 id='confusion'>Confusion matrices</h2><p>Rows gold, columns predicted; shading "
        "is the share of the gold row (green agrees, red confuses).</p>"
        f"<div class='matrices'>{matrices}</div>"
    )
    return wrap_page(title, body, STYLE)


def fmt_rate(value: Optional[float]) -> str:
    """Format a rate as a percentage.

    value (Optional[float]): A rate in [0, 1], or None where nothing was counted.
    RETURNS (str): E.g. "10.6%", or "n/a".
    """
    return NA if value is None else f"{100 * value:.1f}%"


def fmt_or_na(value: Optional[float]) -> str:
    """Format an accuracy that may have no support.

    value (Optional[float]): The accuracy, or None where nothing was counted.
    RETURNS (str): Three decimals, or "n/a".
    """
    return NA if value is None else fmt(value)


def probe_summary_items(metrics: Dict[str, Any]) -> List[List[str]]:
    """List the headline figures of a probe run.

    metrics (Dict[str, Any]): The output of `spacy_radlabels.probe.score_probe`.
    RETURNS (List[List[str]]): [name, value] pairs.
    """
    items = [
        ["cases", str(metrics["n_cases"])],
        ["target decisions", str(metrics["n_target"])],
        ["target accuracy", fmt_or_na(metrics["target_accuracy"])],
        ["unmentioned decisions", str(metrics["n_unmentioned"])],
        ["spurious rate", fmt_rate(metrics["spurious_rate"])],
        ["failed cases", str(metrics["n_failed_cases"])],
    ]
    if metrics["n_summary"]:
        items.append(["summary label accuracy", fmt_or_na(metrics["summary_accuracy"])])
    return items


PROBE_STATE_HEADER = ["state", "n", "accuracy"]


def probe_state_rows(metrics: Dict[str, Any]) -> List[List[str]]:
    """Build the table of target accuracy per expected state.

    metrics (Dict[str, Any]): The output of `score_probe`.
    RETURNS (List[List[str]]): One row per state: n and accuracy ("n/a" without cases).
    """
    return [
        [
            state,
            str(metrics["target_support_per_state"][state]),
            fmt_or_na(metrics["target_accuracy_per_state"][state]),
        ]
        for state in metrics["target_states"]
    ]


def probe_capability_header(metrics: Dict[str, Any]) -> List[str]:
    """Name the per-capability table's columns.

    metrics (Dict[str, Any]): The output of `score_probe`.
    RETURNS (List[str]): Column headings.
    """
    states = [f"{state} acc" for state in metrics["target_states"]]
    return ["capability", "cases", "target n", "target acc", *states, "spurious"]


def probe_capability_rows(metrics: Dict[str, Any]) -> List[List[str]]:
    """Build the per-capability table: target accuracy overall and per state, spurious rate.

    metrics (Dict[str, Any]): The output of `score_probe`.
    RETURNS (List[List[str]]): One row per capability.
    """
    rows = []
    for name, scores in metrics["per_capability"].items():
        per_state = scores["target_accuracy_per_state"]
        rows.append(
            [
                name,
                str(scores["n_cases"]),
                str(scores["n_target"]),
                fmt_or_na(scores["target_accuracy"]),
                *(fmt_or_na(per_state[state]) for state in metrics["target_states"]),
                fmt_rate(scores["spurious_rate"]),
            ]
        )
    return rows


PROBE_TEST_HEADER = ["capability", "test", "cases", "target acc", "spurious"]


def probe_test_rows(metrics: Dict[str, Any]) -> List[List[str]]:
    """Build the per-test table: each frame, noise or section kind on its own.

    metrics (Dict[str, Any]): The output of `score_probe`.
    RETURNS (List[List[str]]): One row per test.
    """
    return [
        [
            scores["capability"],
            scores["test"],
            str(scores["n_cases"]),
            fmt_or_na(scores["target_accuracy"]),
            fmt_rate(scores["spurious_rate"]),
        ]
        for scores in metrics["per_test"]
    ]


PROBE_LABEL_HEADER = ["label", "target n", "target acc", "unmentioned n", "spurious n", "spurious"]


def probe_label_rows(metrics: Dict[str, Any]) -> List[List[str]]:
    """Build the per-label table: target accuracy and how often the label fires unmentioned.

    metrics (Dict[str, Any]): The output of `score_probe`.
    RETURNS (List[List[str]]): One row per label.
    """
    return [
        [
            label,
            str(scores["n_target"]),
            fmt_or_na(scores["target_accuracy"]),
            str(scores["n_unmentioned"]),
            str(scores["n_spurious"]),
            fmt_rate(scores["spurious_rate"]),
        ]
        for label, scores in metrics["per_label"].items()
    ]


PROBE_CASE_HEADER = ["case", "capability", "text", "missed (expected -> predicted)", "spurious"]


def probe_case_rows(metrics: Dict[str, Any]) -> List[List[str]]:
    """Build the table of the cases with the most errors.

    metrics (Dict[str, Any]): The output of `score_probe`.
    RETURNS (List[List[str]]): One row per listed case.
    """
    rows = []
    for case in metrics["worst_cases"]:
        missed = ", ".join(
            f"{label}: {m['expected']} -> {m['predicted']}" for label, m in case["missed"].items()
        )
        spurious = ", ".join(f"{label}: {state}" for label, state in case["spurious"].items())
        text = case["text"].replace("\n", " ⏎ ")
        rows.append([case["id"], case["capability"], text, missed, spurious])
    return rows


PROBE_NOTE = (
    "Target: the labels a case states and the ancestors their states imply (an implied "
    "ancestor is right when at least its state). Spurious: positive or uncertain on a label "
    "the case does not mention."
)


def probe_to_markdown(metrics: Dict[str, Any], title: str) -> str:
    """Render probe metrics as Markdown.

    metrics (Dict[str, Any]): The output of `score_probe`.
    title (str): The heading.
    RETURNS (str): The Markdown report.
    """
    parts = [
        f"# {title}\n",
        markdown_table(["metric", "value"], probe_summary_items(metrics)),
        f"{PROBE_NOTE}\n",
        "## Target accuracy per state\n",
        markdown_table(PROBE_STATE_HEADER, probe_state_rows(metrics)),
        "## Per capability\n",
        markdown_table(probe_capability_header(metrics), probe_capability_rows(metrics)),
        "## Per test\n",
        markdown_table(PROBE_TEST_HEADER, probe_test_rows(metrics)),
        "## Per label\n",
        markdown_table(PROBE_LABEL_HEADER, probe_label_rows(metrics)),
        f"## Worst cases (of {metrics['n_failed_cases']} failed)\n",
        markdown_table(PROBE_CASE_HEADER, probe_case_rows(metrics)),
    ]
    return "\n".join(parts)


def probe_to_html(metrics: Dict[str, Any], title: str) -> str:
    """Render probe metrics as a self-contained HTML page.

    metrics (Dict[str, Any]): The output of `score_probe`.
    title (str): The heading.
    RETURNS (str): The HTML document.
    """
    cards = cards_html(probe_summary_items(metrics))
    body = (
        f"<h1>{escape(title)}</h1><div class='cards'>{cards}</div><p>{escape(PROBE_NOTE)}</p>"
        "<h2 id='states'>Target accuracy per state</h2>"
        f"{html_table(PROBE_STATE_HEADER, probe_state_rows(metrics))}"
        "<h2 id='capabilities'>Per capability</h2>"
        f"{html_table(probe_capability_header(metrics), probe_capability_rows(metrics))}"
        f"<h2 id='tests'>Per test</h2>{html_table(PROBE_TEST_HEADER, probe_test_rows(metrics))}"
        f"<h2 id='labels'>Per label</h2>{html_table(PROBE_LABEL_HEADER, probe_label_rows(metrics))}"
        f"<h2 id='worst'>Worst cases (of {metrics['n_failed_cases']} failed)</h2>"
        f"{html_table(PROBE_CASE_HEADER, probe_case_rows(metrics))}"
    )
    return wrap_page(title, body, STYLE)
