"""CheXpert label coding: positive 1, negative 0, uncertain -1, not mentioned blank."""

from typing import Any, Optional, Sequence

STATE_TO_CODE = {"positive": 1, "negative": 0, "uncertain": -1, "absent": None}
CODE_TO_STATE = {1: "positive", 0: "negative", -1: "uncertain"}


def to_chexpert(state: str) -> Optional[int]:
    """Code a state the CheXpert way.

    state (str): "positive", "negative", "uncertain" or "absent".
    RETURNS (Optional[int]): 1, 0, -1, or None (blank) for "absent".
    """
    return STATE_TO_CODE[state]


def check_codable(states: Sequence[str]) -> None:
    """Check that every state has a CheXpert code.

    states (Sequence[str]): A component's or schema's states.
    """
    uncodable = [state for state in states if state not in STATE_TO_CODE]
    if uncodable:
        raise ValueError(
            f"States {uncodable} have no CheXpert code (only {list(STATE_TO_CODE)} do); "
            "use the state words instead of CheXpert coding."
        )


def parse_code(value: Any) -> Optional[int]:
    """Read a CheXpert cell: 1, 0, -1 as numbers or text ("1.0" too), blank as None.

    value (Any): A CSV cell (str) or JSON value (int, float, str or None).
    RETURNS (Optional[int]): The code, or None for blank.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a CheXpert code (1, 0, -1 or blank)")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a CheXpert code (1, 0, -1 or blank)") from None
    if number not in CODE_TO_STATE:
        raise ValueError(f"{value!r} is not a CheXpert code (1, 0, -1 or blank)")
    return int(number)


def is_code(value: Any) -> bool:
    """Tell whether a non-blank cell holds a CheXpert code.

    value (Any): A CSV cell or JSON value.
    RETURNS (bool): True for 1, 0, -1 (as numbers or text).
    """
    try:
        return parse_code(value) is not None
    except ValueError:
        return False


def code_to_state(code: Optional[int], states: Sequence[str]) -> str:
    """Read a CheXpert code as a state of a schema.

    Blank means "not mentioned": "absent" where the schema has that state, otherwise
    "negative" (the schema folds not-mentioned into negative).

    code (Optional[int]): 1, 0, -1 or None.
    states (Sequence[str]): The schema's states.
    RETURNS (str): The state.
    """
    if code is None:
        return "absent" if "absent" in states else "negative"
    return CODE_TO_STATE[code]
