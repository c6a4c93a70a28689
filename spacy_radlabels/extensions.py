"""Doc extensions set by the `radlabels` component.

Only msgpack-serialisable values live in `doc.user_data` (states, probabilities and
per-token attention as plain floats), so `DocBin` and `nlp.pipe(n_process>1)` keep them;
`label_evidence` builds Spans on access through a getter.
"""

from typing import Dict, List, Optional, Tuple

from spacy.tokens import Doc, Span

# A label's evidence grows from its attention peak over neighbours holding at least this
# share of the peak's weight, up to MAX_EVIDENCE_TOKENS tokens.
EVIDENCE_SHARE = 0.2
MAX_EVIDENCE_TOKENS = 8


def evidence_bounds(weights: List[float], breaks: List[bool]) -> Optional[Tuple[int, int]]:
    """Find the token span around the attention peak.

    weights (List[float]): One attention weight per token.
    breaks (List[bool]): Per token, whether the span may not grow over it (punctuation,
        whitespace), so evidence stays inside its clause.
    RETURNS (Optional[Tuple[int, int]]): (start, end) token offsets, or None for an empty doc.
    """
    if not weights:
        return None
    peak = max(range(len(weights)), key=weights.__getitem__)
    threshold = weights[peak] * EVIDENCE_SHARE

    def can_take(i: int) -> bool:
        return 0 <= i < len(weights) and not breaks[i] and weights[i] >= threshold

    start, end = peak, peak + 1
    while end - start < MAX_EVIDENCE_TOKENS:
        grow_left = can_take(start - 1)
        grow_right = can_take(end)
        if not (grow_left or grow_right):
            break
        if grow_left and (not grow_right or weights[start - 1] >= weights[end]):
            start -= 1
        else:
            end += 1
    return start, end


def get_label_evidence(doc: Doc) -> Dict[str, Optional[Span]]:
    """Build the evidence Span of every label from the stored attention.

    doc (Doc): A doc processed by `radlabels`.
    RETURNS (Dict[str, Optional[Span]]): label -> Span around the attention peak, or None
        for labels reported negative (or absent).
    """
    attention = doc._.label_attention or {}
    breaks = [token.is_punct or token.is_space for token in doc]
    evidence: Dict[str, Optional[Span]] = {}
    for label in doc._.labels or {}:
        bounds = evidence_bounds(attention.get(label, []), breaks)
        evidence[label] = doc[bounds[0] : bounds[1]] if bounds else None
    return evidence


def install_extensions() -> None:
    """Register the Doc extensions; safe to call any number of times."""
    for name in ("labels", "label_scores", "label_attention"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)
    if not Doc.has_extension("label_evidence"):
        Doc.set_extension("label_evidence", getter=get_label_evidence)
