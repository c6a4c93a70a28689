"""Label schemas: the YAML file that names a task's labels, states, hierarchy and wording.

A schema file looks like this (see `assets/schemas/head_ct.yml`):

    name: head_ct
    states: [positive, uncertain, negative]     # optional; "absent" may be added last
    templates: ../templates/head_ct.yml         # optional, relative to this file
    labels:
      haemorrhage:
        group: impression                       # finding | impression | any word
        definition: Blood anywhere inside the skull.
        variants: [haemorrhage, hemorrhage, bleed]
      subdural_haematoma:
        group: impression
        parent: haemorrhage                     # optional
        definition: Blood between the dura and the arachnoid.
        variants: [subdural haematoma, SDH]

Only `yaml`, `dataclasses` and spaCy's registry are imported, so loading stays cheap.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import yaml
from spacy.util import registry

DEFAULT_STATES = ["positive", "uncertain", "negative"]
KNOWN_STATES = DEFAULT_STATES + ["absent"]
LABEL_KEYS = {"group", "parent", "definition", "variants"}
TOP_KEYS = {"name", "states", "labels", "templates", "description"}


class SchemaError(ValueError):
    """A schema file that cannot be used; the message names the file, label and fix."""


@dataclass
class LabelSpec:
    """One label of a schema: where it sits and how radiologists write it."""

    name: str
    group: str
    parent: Optional[str]
    definition: str
    variants: List[str]


@dataclass
class Schema:
    """A loaded, validated label schema."""

    name: str
    states: List[str]
    label_specs: Dict[str, LabelSpec]
    path: Optional[Path] = None
    templates: Optional[Path] = None
    description: str = ""
    _children: Dict[str, List[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for spec in self.label_specs.values():
            if spec.parent is not None:
                self._children.setdefault(spec.parent, []).append(spec.name)

    @property
    def labels(self) -> List[str]:
        """RETURNS (List[str]): The label names in file order."""
        return list(self.label_specs)

    @property
    def hierarchy(self) -> Dict[str, str]:
        """RETURNS (Dict[str, str]): child label -> parent label."""
        return {s.name: s.parent for s in self.label_specs.values() if s.parent is not None}

    @property
    def negative_state(self) -> str:
        """RETURNS (str): The state of a label the report does not mention."""
        return "absent" if "absent" in self.states else "negative"

    def variants(self, label: str) -> List[str]:
        """Get the lexical variants of a label.

        label (str): The label name.
        RETURNS (List[str]): The ways a report may write the label.
        """
        return self.label_specs[label].variants

    def group(self, label: str) -> str:
        """Get the group of a label, e.g. "finding" or "impression".

        label (str): The label name.
        RETURNS (str): The label's group.
        """
        return self.label_specs[label].group

    def parent(self, label: str) -> Optional[str]:
        """Get the parent of a label.

        label (str): The label name.
        RETURNS (Optional[str]): The parent label, or None for a top-level label.
        """
        return self.label_specs[label].parent

    def children(self, label: str) -> List[str]:
        """Get the direct children of a label.

        label (str): The label name.
        RETURNS (List[str]): Child labels in file order.
        """
        return list(self._children.get(label, []))

    def ancestors(self, label: str) -> List[str]:
        """Get the ancestors of a label, nearest first.

        label (str): The label name.
        RETURNS (List[str]): Parent, grandparent, ...
        """
        chain = []
        parent = self.parent(label)
        while parent is not None:
            chain.append(parent)
            parent = self.parent(parent)
        return chain

    def descendants(self, label: str) -> List[str]:
        """Get every label below a label in the hierarchy.

        label (str): The label name.
        RETURNS (List[str]): Children, grandchildren, ...
        """
        found = []
        for child in self.children(label):
            found.append(child)
            found.extend(self.descendants(child))
        return found


def _fail(path: Union[str, Path], message: str, line: Optional[int] = None) -> SchemaError:
    where = f"{path}:{line}" if line is not None else str(path)
    return SchemaError(f"Schema file {where}: {message}")


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise _fail(
            path,
            "file not found. Pass the path of a schema YAML file, e.g. assets/schemas/head_ct.yml.",
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        raise _fail(path, f"invalid YAML ({problem}). Fix the syntax at this line.", line) from None


def _parse_label(path: Path, name: Any, raw: Any) -> LabelSpec:
    if not isinstance(name, str) or not name.strip():
        raise _fail(path, f"label name {name!r} is not a non-empty string.")
    if not isinstance(raw, dict):
        raise _fail(
            path,
            f"label '{name}' must be a mapping with keys "
            f"{sorted(LABEL_KEYS)}, got {type(raw).__name__}.",
        )
    unknown = set(raw) - LABEL_KEYS
    if unknown:
        raise _fail(
            path,
            f"label '{name}' has unknown keys {sorted(unknown)}. "
            f"Allowed keys: {sorted(LABEL_KEYS)}.",
        )
    for key in ("group", "definition", "variants"):
        if key not in raw or raw[key] in (None, ""):
            raise _fail(path, f"label '{name}' is missing '{key}'. Add it under the label.")
    variants = raw["variants"]
    if not isinstance(variants, list) or not variants:
        raise _fail(
            path,
            f"label '{name}' has an empty or non-list 'variants'. List at "
            "least one way a report writes this label.",
        )
    if not all(isinstance(v, str) and v.strip() for v in variants):
        raise _fail(
            path,
            f"label '{name}' has a blank or non-string variant. Quote every variant as a string.",
        )
    seen = set()
    for variant in variants:
        if variant in seen:
            raise _fail(
                path, f"label '{name}' lists the variant '{variant}' twice. Remove the duplicate."
            )
        seen.add(variant)
    definition = str(raw["definition"]).strip()
    if "\n" in definition:
        raise _fail(path, f"label '{name}' has a multi-line definition. Keep it to one line.")
    parent = raw.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise _fail(path, f"label '{name}' has a non-string parent {parent!r}.")
    return LabelSpec(name, str(raw["group"]), parent, definition, [v.strip() for v in variants])


def _duplicate_labels(path: Path, text: str) -> None:
    # yaml.safe_load keeps the last of two equal keys silently; catch it on the nodes.
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if key.value == "labels" and isinstance(value, yaml.MappingNode):
            seen: Dict[str, int] = {}
            for label_node, _ in value.value:
                name = label_node.value
                line = label_node.start_mark.line + 1
                if name in seen:
                    raise _fail(
                        path,
                        f"label '{name}' is defined twice (first at line "
                        f"{seen[name]}). Merge or rename one of them.",
                        line,
                    )
                seen[name] = line


def _check_hierarchy(path: Path, specs: Dict[str, LabelSpec]) -> None:
    for spec in specs.values():
        if spec.parent is not None and spec.parent not in specs:
            raise _fail(
                path,
                f"label '{spec.name}' has unknown parent '{spec.parent}'. "
                "Define the parent label or fix its name.",
            )
    for spec in specs.values():
        chain = [spec.name]
        parent = spec.parent
        while parent is not None:
            if parent in chain:
                cycle = " -> ".join(chain[chain.index(parent) :] + [parent])
                raise _fail(
                    path,
                    f"label '{spec.name}' is in a parent cycle ({cycle}). "
                    "Remove one 'parent' entry of the cycle.",
                )
            chain.append(parent)
            parent = specs[parent].parent


def _parse_states(path: Path, raw: Any) -> List[str]:
    if raw is None:
        return list(DEFAULT_STATES)
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise _fail(path, f"'states' must be a list of strings, got {raw!r}.")
    unknown = [s for s in raw if s not in KNOWN_STATES]
    if unknown:
        raise _fail(
            path,
            f"unknown states {unknown}. Use {DEFAULT_STATES}, optionally followed by 'absent'.",
        )
    if raw[:3] != DEFAULT_STATES or len(raw) > 4 or len(set(raw)) != len(raw):
        raise _fail(path, f"'states' must be {DEFAULT_STATES} or {KNOWN_STATES}, got {raw}.")
    return list(raw)


def load_schema(path: Union[str, Path]) -> Schema:
    """Load and validate a schema YAML file.

    path (Union[str, Path]): The schema file.
    RETURNS (Schema): The validated schema.
    """
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise _fail(path, "the top level must be a mapping with 'name' and 'labels'.")
    _duplicate_labels(path, path.read_text(encoding="utf8"))
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _fail(
            path, f"unknown top-level keys {sorted(unknown)}. Allowed keys: {sorted(TOP_KEYS)}."
        )
    for key in ("name", "labels"):
        if key not in data:
            raise _fail(path, f"missing top-level key '{key}'. Add it to the file.")
    if not isinstance(data["labels"], dict) or not data["labels"]:
        raise _fail(path, "'labels' must be a non-empty mapping of label name -> settings.")
    specs = {}
    for name, raw in data["labels"].items():
        specs[name] = _parse_label(path, name, raw)
    _check_hierarchy(path, specs)
    templates = data.get("templates")
    return Schema(
        name=str(data["name"]),
        states=_parse_states(path, data.get("states")),
        label_specs=specs,
        path=path,
        templates=(path.parent / templates) if templates else None,
        description=str(data.get("description") or ""),
    )


@registry.misc("spacy-radlabels.schema_labels.v1")
def schema_labels(path: Optional[Union[str, Path]]) -> Optional[List[str]]:
    """Read the label names of a schema file, for `[initialize.components...labels]`.

    path (Optional[Union[str, Path]]): The schema file; None leaves the labels to the data.
    RETURNS (Optional[List[str]]): Labels in file order, or None without a schema.
    """
    return load_schema(path).labels if path is not None else None


@registry.misc("spacy-radlabels.schema_hierarchy.v1")
def schema_hierarchy(path: Optional[Union[str, Path]]) -> Optional[Dict[str, str]]:
    """Read the hierarchy of a schema file, for `[initialize.components...hierarchy]`.

    path (Optional[Union[str, Path]]): The schema file; None keeps the component's setting.
    RETURNS (Optional[Dict[str, str]]): child label -> parent label, or None without a schema.
    """
    return load_schema(path).hierarchy if path is not None else None


@registry.misc("spacy-radlabels.schema_states.v1")
def schema_states(path: Optional[Union[str, Path]]) -> Optional[List[str]]:
    """Read the states of a schema file, for `[initialize.components...states]`.

    path (Optional[Union[str, Path]]): The schema file; None keeps the component's setting.
    RETURNS (Optional[List[str]]): The states in file order, or None without a schema.
    """
    return list(load_schema(path).states) if path is not None else None
