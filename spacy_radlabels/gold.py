"""Validation of gold annotations in `doc._.labels`."""

from typing import Any, Collection, Dict, Optional

from spacy.tokens import Doc


class GoldError(ValueError):
    """Training or evaluation gold that the component cannot use."""


def _describe(doc_index: Optional[int], doc: Optional[Doc]) -> str:
    where = f"doc {doc_index}" if doc_index is not None else "a doc"
    if doc is None:
        return where
    snippet = doc.text[:60].replace("\n", " ")
    return f"{where} ({snippet!r}{'...' if len(doc.text) > 60 else ''})"


def validate_gold(
    gold: Any,
    states: Collection[str],
    labels: Optional[Collection[str]] = None,
    *,
    doc_index: Optional[int] = None,
    doc: Optional[Doc] = None,
) -> Dict[str, str]:
    """Check one doc's gold: a dict of known labels to known states.

    gold (Any): The value of `doc._.labels` on a reference doc (None means no gold).
    states (Collection[str]): The component's states.
    labels (Optional[Collection[str]]): The component's labels, or None to accept any.
    doc_index (Optional[int]): Position of the doc in its corpus, for the message.
    doc (Optional[Doc]): The doc, quoted in the message (its text is read only on error).
    RETURNS (Dict[str, str]): The gold, as a dict ({} when None).
    """
    if gold is None:
        return {}
    if not isinstance(gold, dict):
        raise GoldError(
            f"Gold doc._.labels of {_describe(doc_index, doc)} is a {type(gold).__name__}, "
            "not a dict. Set doc._.labels = {label: state}, e.g. {'haemorrhage': 'negative'}."
        )
    for label, state in gold.items():
        if labels is not None and label not in labels:
            raise GoldError(
                f"Gold label {label!r} of {_describe(doc_index, doc)} is not one of the "
                f"component's labels {sorted(labels)}. Add it to the schema (or give it to "
                "initialize(labels=...)), or drop it from the data."
            )
        if state not in states:
            raise GoldError(
                f"Gold state {state!r} for label {label!r} of {_describe(doc_index, doc)} is "
                f"not one of the states {list(states)}. Use one of them, or set the "
                "component's `states`."
            )
    return gold
