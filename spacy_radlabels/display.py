"""Self-contained HTML for labelled reports: each finding's state, probability and attention.

For every label whose state is not negative/absent, the report is shown with its tokens
shaded by that label's attention (darker = more weight), like displaCy's entity view.
Pages have no scripts and load nothing from the network; all report text is escaped.
"""

from html import escape
from typing import Iterable, List, Optional, Sequence, Union

from spacy.tokens import Doc
from spacy.util import is_in_jupyter

from .scorer import NULL_STATES

# Tokens under this share of a label's peak weight stay unshaded (and unwrapped, so
# long reports stay small).
MIN_SHADE = 0.03
STATE_RGB = {"positive": "214, 39, 40", "uncertain": "230, 126, 0"}
DEFAULT_RGB = "31, 119, 180"

STYLE = """
.radlabels { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: #222; line-height: 1.5; max-width: 1100px; }
.radlabels .rl-doc { border: 1px solid #ddd; border-radius: 6px; padding: 12px 16px;
  margin: 0 0 18px 0; background: #fff; }
.radlabels .rl-title { font-weight: 600; margin-bottom: 6px; }
.radlabels .rl-chip { display: inline-block; border-radius: 4px; padding: 1px 7px;
  margin: 2px 4px 2px 0; font-size: 0.85em; color: #fff; }
.radlabels .rl-positive { background: rgb(214, 39, 40); }
.radlabels .rl-uncertain { background: rgb(230, 126, 0); }
.radlabels .rl-other { background: rgb(31, 119, 180); }
.radlabels .rl-muted { color: #777; font-size: 0.85em; }
.radlabels details { margin: 6px 0; }
.radlabels summary { cursor: pointer; }
.radlabels .rl-text { white-space: pre-wrap; word-wrap: break-word; border-left: 3px solid #eee;
  padding: 4px 10px; margin: 4px 0 0 0; font-size: 0.95em; }
.radlabels mark { color: inherit; padding: 0; border-radius: 2px; }
"""


def render(
    docs: Union[Doc, Iterable[Doc]],
    page: bool = False,
    jupyter: Optional[bool] = None,
    titles: Optional[Sequence[str]] = None,
) -> Optional[str]:
    """Render labelled docs as HTML with per-label attention shading.

    docs (Union[Doc, Iterable[Doc]]): Doc(s) processed by a pipeline with `radlabels`.
    page (bool): Render a full HTML page instead of a fragment.
    jupyter (Optional[bool]): Display inline in Jupyter; None detects it (like displaCy).
    titles (Optional[Sequence[str]]): A heading per doc, e.g. report ids.
    RETURNS (Optional[str]): The HTML; None when it was displayed in Jupyter.
    """
    doc_list: List[Doc] = [docs] if isinstance(docs, Doc) else list(docs)
    if titles is not None and len(titles) != len(doc_list):
        raise ValueError(f"{len(titles)} titles for {len(doc_list)} docs.")
    parts = [render_doc(doc, titles[i] if titles else None) for i, doc in enumerate(doc_list)]
    body = f'<div class="radlabels">{"".join(parts)}</div>'
    html = wrap_page("Report labels", body, STYLE) if page else f"<style>{STYLE}</style>{body}"
    if jupyter or (jupyter is None and is_in_jupyter()):
        from IPython.display import HTML, display

        # The span keeps MathJax from reading "$" in reports (as displaCy does).
        display(HTML(f'<span class="tex2jax_ignore">{html}</span>'))
        return None
    return html


def render_doc(doc: Doc, title: Optional[str] = None) -> str:
    """Render one doc: a chip per finding and the text shaded by each finding's attention.

    doc (Doc): A labelled doc.
    title (Optional[str]): A heading, e.g. the report id.
    RETURNS (str): An HTML fragment.
    """
    states = doc._.labels or {}
    scores = doc._.label_scores or {}
    attention = doc._.label_attention or {}
    evidence = doc._.label_evidence if states else {}
    findings = [label for label, state in states.items() if state not in NULL_STATES]
    parts = ['<div class="rl-doc">']
    if title is not None:
        parts.append(f'<div class="rl-title">{escape(str(title))}</div>')
    chips = "".join(chip(label, states[label]) for label in findings)
    summary = f"{len(states) - len(findings)} of {len(states)} labels negative"
    if not states:
        summary = "not labelled (no radlabels annotations)"
    parts.append(f'<div>{chips} <span class="rl-muted">{summary}</span></div>')
    for i, label in enumerate(findings):
        state = states[label]
        prob = scores.get(label, {}).get(state)
        span = evidence.get(label)
        details = [chip(label, state), escape(state)]
        if prob is not None:
            details.append(f"p = {prob:.2f}")
        if span is not None:
            details.append(f"evidence: <q>{escape(span.text)}</q>")
        text = shaded_text(doc, attention.get(label), state)
        parts.append(
            f"<details{' open' if i == 0 else ''}><summary>{' · '.join(details)}</summary>"
            f'<div class="rl-text">{text}</div></details>'
        )
    if not findings:
        parts.append(f'<div class="rl-text">{escape(doc.text)}</div>')
    parts.append("</div>")
    return "".join(parts)


def chip(label: str, state: str) -> str:
    """Render a label as a coloured chip.

    label (str): The label.
    state (str): Its state (sets the colour).
    RETURNS (str): An HTML span.
    """
    css = f"rl-{state}" if state in STATE_RGB else "rl-other"
    return f'<span class="rl-chip {css}" title="{escape(state)}">{escape(label)}</span>'


def shaded_text(doc: Doc, weights: Optional[Sequence[float]], state: str) -> str:
    """Render a doc's text with each token shaded by its share of the peak attention.

    doc (Doc): The doc.
    weights (Optional[Sequence[float]]): One attention weight per token, or None.
    state (str): The label's state (sets the colour).
    RETURNS (str): Escaped HTML that keeps the text's whitespace.
    """
    if not weights or len(weights) != len(doc) or max(weights) <= 0:
        return escape(doc.text)
    peak = max(weights)
    rgb = STATE_RGB.get(state, DEFAULT_RGB)
    parts = []
    for token, weight in zip(doc, weights):
        share = weight / peak
        text = escape(token.text)
        if share >= MIN_SHADE:
            text = (
                f'<mark style="background: rgba({rgb}, {share:.2f})" '
                f'title="attention {weight:.4f}">{text}</mark>'
            )
        parts.append(text + escape(token.whitespace_))
    return "".join(parts)


def wrap_page(title: str, body: str, style: str) -> str:
    """Wrap a body in a complete, self-contained HTML page.

    title (str): The page title (escaped here).
    body (str): The page's HTML body.
    style (str): CSS for the page.
    RETURNS (str): The HTML document.
    """
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{style}\n"
        "body { margin: 24px; background: #fafafa; }</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
