"""Template files: the carrier phrases, sites and report furniture the generator renders.

See `assets/templates/head_ct.yml` for a commented example. Loading checks every family,
site and sentence against the schema, so a template error names the file and what to fix.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import yaml

from ..schema import Schema

KINDS = ("single", "coord", "differential", "pair", "combo", "question")
ASSERTED_STATES = ("positive", "uncertain", "negative")
SECTIONS = ("findings", "impression")
# The slots each kind's patterns may and must use.
KIND_SLOTS = {
    "single": ({"X"}, {"X"}),
    "coord": ({"X_or", "X_and"}, set()),
    "differential": ({"X", "Y"}, {"X", "Y"}),
    "pair": ({"X", "Y"}, {"X", "Y"}),
    "combo": ({"F", "X"}, {"F", "X"}),
    "question": ({"X", "Y"}, {"X"}),
}
SLOT_RE = re.compile(r"\{([A-Za-z_]+)\}")
FAMILY_KEYS = {"id", "kind", "state", "patterns", "heldout", "comparison", "labels", "sections"}
SITE_WORD_KEYS = ("pre", "post", "sizes", "measures", "denied")
SITE_KEYS = {"labels", "temporal", "apart", *SITE_WORD_KEYS}
APART_KEYS = {"words", "nouns"}
NORMAL_KEYS = {"text", "unless", "abnormal", "negates"}
SHORT_KEYS = {"text", "labels", "normal", "heldout"}
TOP_KEYS = {
    "name",
    "include",
    "differential_share",
    "hedged_again_share",
    "train_cases",
    "train_cases_share",
    "heldout_variants",
    "headers",
    "sites",
    "combos",
    "clinical",
    "normal",
    "families",
    "fragments",
    "label_free",
}
HEADER_KEYS = ("title", "clinical", "comparison", "findings", "impression")


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file, entry and fix."""


@dataclass
class Family:
    """A family of carrier patterns sharing a kind, a state and a hold-out flag."""

    id: str
    kind: str
    state: Optional[str]
    patterns: List[str]
    heldout: bool = False
    comparison: bool = False
    labels: Optional[List[str]] = None
    sections: List[str] = field(default_factory=lambda: list(SECTIONS))


@dataclass
class Apart:
    """A label named by a qualifier and a noun with the place between them.

    "acute left MCA infarct" is an acute infarct: `words` hold the qualifiers ("acute"),
    `nouns` the nouns ("infarct"), which may name the label's ancestors.
    """

    words: List[str]
    nouns: List[str]


@dataclass
class Site:
    """Where a group of labels sits, and the words rendered around them."""

    name: str
    labels: List[str]
    pre: List[str] = field(default_factory=list)
    post: List[str] = field(default_factory=list)
    sizes: List[str] = field(default_factory=list)
    measures: List[str] = field(default_factory=list)
    # Words that qualify a denied mention and keep it denied ("no definite X", "no large X").
    denied: List[str] = field(default_factory=list)
    temporal: Dict[str, List[str]] = field(default_factory=dict)
    apart: Dict[str, Apart] = field(default_factory=dict)


@dataclass
class NormalSentence:
    """A sentence that names no label; `unless` lists labels that must be negative.

    An `abnormal` sentence reports an abnormality that no label covers (CheXpert's "other
    findings": granuloma, emphysema, degenerative change): the report is then not normal,
    so the schema's summary labels are not positive. A sentence that states a structure
    normal ("Heart size is normal.") `negates` the labels it rules out: under CheXpert's
    conventions they become negative, not absent; they are also in `unless`.
    """

    text: str
    unless: List[str] = field(default_factory=list)
    abnormal: bool = False
    negates: List[str] = field(default_factory=list)


@dataclass
class ShortText:
    """A short item written out whole: a fragment ("No bleed.", "Stable.") or a label-free one.

    `labels` are the states the text states (a fragment's only; a label-free text names no
    label). `normal` marks a text that calls the whole study normal ("NAD."), which makes the
    schema's summary labels positive when nothing else is found.
    """

    text: str
    labels: Dict[str, str] = field(default_factory=dict)
    normal: bool = False
    heldout: bool = False


@dataclass
class Templates:
    """A loaded, validated template file."""

    name: str
    path: Path
    families: List[Family]
    heldout_variants: Dict[str, List[str]]
    headers: Dict[str, List[str]]
    sites: Dict[str, Site]
    combos: Dict[str, List[str]]
    symptoms: List[str]
    normal_findings: List[NormalSentence]
    normal_impression: List[NormalSentence]
    fragments: List[ShortText] = field(default_factory=list)
    label_free: List[ShortText] = field(default_factory=list)
    # Share of a report's main findings written as a differential; None: the generator's.
    differential_share: Optional[float] = None
    # Share of positive findings stated once more, hedged, in the same section.
    hedged_again_share: float = 0.0
    # Hand-written reports with gold mixed into train and dev (never test_heldout), and
    # their share of train.
    train_cases: Optional[Path] = None
    train_cases_share: float = 0.0

    def site_of(self, label: str) -> Optional[Site]:
        """Find the site of a label.

        label (str): The label name.
        RETURNS (Optional[Site]): The site, or None for a label rendered bare.
        """
        for site in self.sites.values():
            if label in site.labels:
                return site
        return None

    def label_regex(self, schema: Schema, label: str) -> re.Pattern:
        """Compile a regex that finds a label's mentions in generated text.

        schema (Schema): The schema whose variants name the label.
        label (str): The label name.
        RETURNS (re.Pattern): Matches a variant, or a site's `apart` qualifier and noun with
            up to three words between them ("acute left MCA territory infarct").
        """
        regex = mention_regex(schema.variants(label))
        site = self.site_of(label)
        if site is None or label not in site.apart:
            return regex
        apart = site.apart[label]
        words, nouns = (mention_regex(w).pattern for w in (apart.words, apart.nouns))
        return re.compile(rf"{regex.pattern}|{words}(?: [\w-]+){{1,3}} {nouns}", re.IGNORECASE)

    def heldout_patterns(self) -> List[str]:
        """RETURNS (List[str]): Every pattern of a held-out family."""
        return [p for f in self.families if f.heldout for p in f.patterns]

    def heldout_short_texts(self) -> List[str]:
        """RETURNS (List[str]): Every held-out fragment and label-free text."""
        return [s.text for s in self.fragments + self.label_free if s.heldout]


def _fail(path: Path, message: str, line: Optional[int] = None) -> TemplateError:
    where = f"{path}:{line}" if line is not None else str(path)
    return TemplateError(f"Template file {where}: {message}")


def mention_regex(phrases: Sequence[str]) -> re.Pattern:
    """Compile a case-insensitive whole-word regex matching any of the phrases.

    phrases (Sequence[str]): Label variants.
    RETURNS (re.Pattern): Matches a phrase not glued to letters, digits or hyphens.
    """
    ordered = sorted(set(phrases), key=len, reverse=True)
    body = "|".join(re.escape(p) for p in ordered)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def labels_mentioned(text: str, schema: Schema) -> List[str]:
    """List the labels whose variants occur in a text.

    text (str): Any text.
    schema (Schema): The schema whose variants to look for.
    RETURNS (List[str]): Labels in schema order.
    """
    return [lab for lab in schema.labels if mention_regex(schema.variants(lab)).search(text)]


def _strings(path: Path, value: Any, where: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, f"{where} must be a list of non-empty strings, got {value!r}.")
    return [v.strip() for v in value]


def _known(path: Path, schema: Schema, labels: Sequence[str], where: str) -> None:
    for label in labels:
        if label not in schema.label_specs:
            raise _fail(
                path,
                f"{where} names label '{label}', which schema {schema.path} "
                "does not define. Fix the name or add the label to the schema.",
            )


def _parse_family(path: Path, schema: Schema, raw: Any, index: int) -> Family:
    if not isinstance(raw, dict) or "id" not in raw:
        raise _fail(path, f"families[{index}] must be a mapping with an 'id'.")
    fid = raw["id"]
    unknown = set(raw) - FAMILY_KEYS
    if unknown:
        raise _fail(
            path,
            f"family '{fid}' has unknown keys {sorted(unknown)}. Allowed: {sorted(FAMILY_KEYS)}.",
        )
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _fail(path, f"family '{fid}' has kind {kind!r}; use one of {list(KINDS)}.")
    state = raw.get("state")
    if kind == "question" and state is not None:
        raise _fail(path, f"family '{fid}': a question asserts nothing, remove its 'state'.")
    if kind != "question" and state not in ASSERTED_STATES:
        raise _fail(
            path, f"family '{fid}' has state {state!r}; use one of {list(ASSERTED_STATES)}."
        )
    if kind == "differential" and state != "uncertain":
        raise _fail(
            path,
            f"family '{fid}': a differential makes its members uncertain; set state: uncertain.",
        )
    patterns = _strings(path, raw.get("patterns"), f"family '{fid}' patterns")
    if not patterns:
        raise _fail(path, f"family '{fid}' has no patterns. Add at least one.")
    labels = raw.get("labels")
    if labels is not None:
        labels = _strings(path, labels, f"family '{fid}' labels")
        _known(path, schema, labels, f"family '{fid}'")
    allowed, required = KIND_SLOTS[kind]
    for pattern in patterns:
        slots = set(SLOT_RE.findall(pattern))
        if slots - allowed:
            raise _fail(
                path,
                f"family '{fid}' pattern '{pattern}' uses slots "
                f"{sorted(slots - allowed)}; a {kind} family allows {sorted(allowed)}.",
            )
        if kind == "coord":
            complete = len(slots) == 1
        elif kind == "single":
            # A family restricted to one label may spell that label out instead of {X}.
            complete = slots == {"X"} or (labels is not None and len(labels) == 1)
        else:
            complete = required <= slots
        if not complete:
            raise _fail(
                path,
                f"family '{fid}' pattern '{pattern}' lacks a slot: a {kind} family needs "
                + (f"{sorted(required)}." if required else f"one of {sorted(allowed)}."),
            )
    sections = _strings(path, raw.get("sections"), f"family '{fid}' sections")
    if kind == "question":
        sections = ["clinical"]
    elif not sections:
        sections = list(SECTIONS)
    elif set(sections) - set(SECTIONS):
        raise _fail(path, f"family '{fid}' has sections {sections}; use {list(SECTIONS)}.")
    return Family(
        fid,
        kind,
        state,
        patterns,
        bool(raw.get("heldout", False)),
        bool(raw.get("comparison", False)),
        labels,
        sections,
    )


def _parse_site(path: Path, schema: Schema, name: str, raw: Any) -> Site:
    if not isinstance(raw, dict):
        raise _fail(path, f"site '{name}' must be a mapping with keys {sorted(SITE_KEYS)}.")
    unknown = set(raw) - SITE_KEYS
    if unknown:
        raise _fail(path, f"site '{name}' has unknown keys {sorted(unknown)}.")
    labels = _strings(path, raw.get("labels"), f"site '{name}' labels")
    _known(path, schema, labels, f"site '{name}'")
    temporal = raw.get("temporal") or {}
    if not isinstance(temporal, dict):
        raise _fail(path, f"site '{name}' temporal must map label -> list of words.")
    _known(path, schema, list(temporal), f"site '{name}' temporal")
    words = {k: _strings(path, raw.get(k), f"site '{name}' {k}") for k in SITE_WORD_KEYS}
    words["temporal"] = {
        lab: _strings(path, w, f"site '{name}' temporal of '{lab}'") for lab, w in temporal.items()
    }
    apart = raw.get("apart") or {}
    if not isinstance(apart, dict):
        raise _fail(path, f"site '{name}' apart must map label -> {{words: [...], nouns: [...]}}.")
    if apart and not words["pre"]:
        raise _fail(path, f"site '{name}' has `apart` labels but no `pre` places to put between.")
    return Site(
        name,
        labels,
        **words,
        apart={lab: _parse_apart(path, name, labels, lab, value) for lab, value in apart.items()},
    )


def _parse_apart(path: Path, site: str, labels: List[str], label: str, raw: Any) -> Apart:
    where = f"site '{site}' apart of '{label}'"
    if label not in labels:
        raise _fail(path, f"{where}: '{label}' is not one of the site's labels; add it there.")
    if not isinstance(raw, dict) or set(raw) != APART_KEYS:
        raise _fail(path, f"{where} must be a mapping with exactly the keys {sorted(APART_KEYS)}.")
    return Apart(*(_strings(path, raw[key], f"{where} {key}") for key in ("words", "nouns")))


def _parse_normal(path: Path, schema: Schema, raw: Any, where: str) -> List[NormalSentence]:
    sentences = []
    for item in raw or []:
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise _fail(path, f"{where}: each entry needs a 'text' string, got {item!r}.")
        unknown = set(item) - NORMAL_KEYS
        if unknown:
            raise _fail(
                path,
                f"{where} '{item['text']}' has unknown keys {sorted(unknown)}. "
                f"Allowed: {sorted(NORMAL_KEYS)}.",
            )
        unless = _strings(path, item.get("unless"), f"{where} '{item['text']}' unless")
        negates = _strings(path, item.get("negates"), f"{where} '{item['text']}' negates")
        _known(path, schema, negates, f"{where} '{item['text']}' negates")
        if unless != ["all"]:
            unless += [lab for lab in negates if lab not in unless]
            _known(path, schema, unless, f"{where} '{item['text']}'")
        abnormal = item.get("abnormal", False)
        if not isinstance(abnormal, bool):
            raise _fail(path, f"{where} '{item['text']}': abnormal must be true or false.")
        sentences.append(NormalSentence(item["text"], unless, abnormal, negates))
    return sentences


def _parse_short(path: Path, schema: Schema, raw: Any, where: str, stated: bool) -> List[ShortText]:
    if raw is not None and not isinstance(raw, list):
        raise _fail(path, f"{where} must be a list of {{text: ...}} mappings, got {raw!r}.")
    texts = []
    for item in raw or []:
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise _fail(path, f"{where}: each entry needs a 'text' string, got {item!r}.")
        text = item["text"].strip()
        keys = SHORT_KEYS if stated else SHORT_KEYS - {"labels"}
        unknown = set(item) - keys
        if unknown:
            raise _fail(
                path,
                f"{where} '{text}' has unknown keys {sorted(unknown)}. Allowed: {sorted(keys)}.",
            )
        labels = item.get("labels") or {}
        if not isinstance(labels, dict):
            raise _fail(path, f"{where} '{text}': labels must map label -> state.")
        _known(path, schema, list(labels), f"{where} '{text}'")
        for label, state in labels.items():
            if state not in ASSERTED_STATES:
                raise _fail(
                    path,
                    f"{where} '{text}' gives '{label}' state {state!r}; use one of "
                    f"{list(ASSERTED_STATES)}.",
                )
            if label not in labels_mentioned(text, schema):
                raise _fail(
                    path,
                    f"{where} '{text}' gives '{label}' a state but does not name it. "
                    "Use one of the label's variants in the text.",
                )
        flags = {key: item.get(key, False) for key in ("normal", "heldout")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise _fail(path, f"{where} '{text}': {key} must be true or false.")
        texts.append(ShortText(text, dict(labels), **flags))
    return texts


def _check_no_mentions(path: Path, schema: Schema, tpl: Templates) -> None:
    # Text outside the slots must not name a label, or the gold would miss a mention.
    def check(text: str, where: str, allowed: Sequence[str] = ()) -> None:
        for label in labels_mentioned(SLOT_RE.sub(" ", text), schema):
            if label not in allowed:
                raise _fail(
                    path,
                    f"{where} '{text}' names label '{label}' outside a slot. "
                    "Reword it so that only slots name labels.",
                )

    for family in tpl.families:
        allowed: List[str] = []
        for label in family.labels or []:
            allowed.extend([label] + schema.ancestors(label))
        for pattern in family.patterns:
            check(pattern, f"family '{family.id}' pattern", allowed)
    for sentence in tpl.normal_findings + tpl.normal_impression:
        check(sentence.text, "normal sentence")
    for fragment in tpl.fragments:
        allowed = []
        for label in fragment.labels:
            allowed.extend([label] + schema.ancestors(label))
        check(fragment.text, "fragment", allowed)
    for text in tpl.label_free:
        check(text.text, "label_free text")
    for symptom in tpl.symptoms:
        check(symptom, "clinical symptom")
    for kind, headers in tpl.headers.items():
        for header in headers:
            check(header, f"{kind} header")
    for site in tpl.sites.values():
        for word in site.pre + site.post + site.sizes + site.measures:
            check(word, f"site '{site.name}' word")
        for words in site.temporal.values():
            for word in words:
                check(word, f"site '{site.name}' temporal word")
        for label, apart in site.apart.items():
            for word in apart.words:
                check(word, f"site '{site.name}' apart word of '{label}'")
            for noun in apart.nouns:
                check(noun, f"site '{site.name}' apart noun of '{label}'", schema.ancestors(label))


def _check_coverage(path: Path, tpl: Templates) -> None:
    for heldout in (False, True):
        for state in ASSERTED_STATES:
            if not any(
                f.kind == "single"
                and f.state == state
                and f.heldout == heldout
                and f.labels is None
                and not f.comparison
                for f in tpl.families
            ):
                which = "held-out" if heldout else "seen"
                raise _fail(
                    path,
                    f"no {which} single family for state '{state}' that works "
                    "for every label. Add one (heldout: "
                    f"{str(heldout).lower()}, no 'labels', no 'comparison').",
                )
    for kind in ("question", "coord"):
        if not any(f.kind == kind and not f.heldout for f in tpl.families):
            raise _fail(path, f"no seen '{kind}' family. Add one.")


def _read(path: Path) -> Dict[str, Any]:
    if not path.exists():
        raise _fail(
            path,
            "file not found. Pass --templates PATH or set 'templates:' in the "
            "schema file, e.g. templates: ../templates/head_ct.yml",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        raise _fail(path, f"invalid YAML ({problem}). Fix the syntax at this line.", line) from None
    if not isinstance(data, dict):
        raise _fail(path, "the top level must be a mapping with 'families'.")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _fail(path, f"unknown top-level keys {sorted(unknown)}. Allowed: {sorted(TOP_KEYS)}.")
    if not data.get("families"):
        raise _fail(path, "missing 'families'. Add carrier phrase families.")
    return data


def _check_unique_ids(path: Path, families: List[Family], what: str) -> None:
    ids = [family.id for family in families]
    for fid in ids:
        if ids.count(fid) > 1:
            raise _fail(path, f"{what} id '{fid}' is used twice. Rename one of them.")


def _merge_families(path: Path, own: List[Family], included: List[Family]) -> List[Family]:
    """Merge included families into a file's own: a shared id adds the file's patterns.

    path (Path): The including template file, for error messages.
    own (List[Family]): The file's own families.
    included (List[Family]): The included files' families, in include order.
    RETURNS (List[Family]): Included families (with the file's patterns of the same id
        appended), then the file's other families.
    """
    by_id = {family.id: family for family in own}
    merged = []
    for family in included:
        mine = by_id.pop(family.id, None)
        if mine is None:
            merged.append(family)
            continue
        settings = ("kind", "state", "heldout", "comparison", "labels", "sections")
        differ = [key for key in settings if getattr(mine, key) != getattr(family, key)]
        if differ:
            raise _fail(
                path,
                f"family '{family.id}' differs from the included family of that id in "
                f"{differ}. Give it the same settings to add patterns to it, or another id.",
            )
        patterns = list(dict.fromkeys(family.patterns + mine.patterns))
        merged.append(Family(**{**vars(family), "patterns": patterns}))
    return merged + [family for family in own if family.id in by_id]


def _include_paths(path: Path, data: Dict[str, Any]) -> List[Path]:
    # Include paths are relative to the including file's folder.
    return [path.parent / name for name in _strings(path, data.get("include"), "include")]


def _included_families(path: Path, schema: Schema, data: Dict[str, Any]) -> List[Family]:
    """Parse the families of the files a template file includes (shared cue inventories).

    path (Path): The including template file.
    schema (Schema): The schema the families must fit.
    data (Dict[str, Any]): The including file's content.
    RETURNS (List[Family]): The included families, in include order.
    """
    families: List[Family] = []
    for inc_path in _include_paths(path, data):
        if not inc_path.exists():
            raise _fail(path, f"included file {inc_path} not found. Fix the path in 'include'.")
        included = _read(inc_path)
        if set(included) != {"families"}:
            raise _fail(
                inc_path,
                f"an included file holds only 'families'; it has {sorted(set(included))}. "
                "Move the rest into the including template file.",
            )
        families += [
            _parse_family(inc_path, schema, item, i) for i, item in enumerate(included["families"])
        ]
    _check_unique_ids(path, families, "included family")
    return families


def _parse_train_cases(path: Path, data: Dict[str, Any]) -> Optional[Path]:
    # The path is relative to the template file's folder, as include paths are.
    name = data.get("train_cases")
    if name is None:
        if data.get("train_cases_share") is not None:
            raise _fail(
                path,
                "train_cases_share needs train_cases, the .jsonl file of cases: "
                "add it or drop the share.",
            )
        return None
    if not isinstance(name, str):
        raise _fail(path, f"train_cases must be a path to a .jsonl file, not {name!r}.")
    cases = path.parent / name
    if not cases.is_file():
        raise _fail(path, f"train_cases file {cases} not found. Fix the path in 'train_cases'.")
    if data.get("train_cases_share") is None:
        raise _fail(path, "train_cases needs train_cases_share, their share of train (0 to 0.5).")
    return cases


def _parse_share(path: Path, data: Dict[str, Any], key: str) -> Optional[float]:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 0.5:
        raise _fail(path, f"{key} must be a number from 0 to 0.5, not {value!r}.")
    return float(value)


def _parse_heldout_variants(path: Path, schema: Schema, raw: Any) -> Dict[str, List[str]]:
    if not isinstance(raw, dict):
        raise _fail(path, "heldout_variants must map label -> list of variants.")
    _known(path, schema, list(raw), "heldout_variants")
    result = {}
    for label, variants in raw.items():
        variants = _strings(path, variants, f"heldout_variants of '{label}'")
        for variant in variants:
            if variant not in schema.variants(label):
                raise _fail(
                    path,
                    f"held-out variant '{variant}' of label '{label}' is not "
                    f"among the label's variants in {schema.path}. Add it there.",
                )
        for other in schema.labels:
            for seen in schema.variants(other):
                if seen not in variants and mention_regex(variants).search(seen):
                    raise _fail(
                        path,
                        f"held-out variant of '{label}' occurs inside the seen "
                        f"variant '{seen}' of '{other}', so training would see it. "
                        "Hold out the longer variant too, or choose another.",
                    )
        if set(variants) >= set(schema.variants(label)):
            raise _fail(
                path, f"label '{label}' holds out all its variants; keep at least one for training."
            )
        result[label] = variants
    return result


def included_files(path: Union[str, Path]) -> List[Path]:
    """List the files a template file includes (for provenance hashes).

    path (Union[str, Path]): The template YAML file.
    RETURNS (List[Path]): The included files, in include order, relative to its folder.
    """
    path = Path(path)
    return _include_paths(path, _read(path))


def train_cases_file(path: Union[str, Path]) -> Optional[Path]:
    """Return the hand-written training cases a template file names (for provenance hashes).

    path (Union[str, Path]): The template YAML file.
    RETURNS (Optional[Path]): Its `train_cases` file, or None.
    """
    path = Path(path)
    return _parse_train_cases(path, _read(path))


def load_templates(path: Union[str, Path], schema: Schema) -> Templates:
    """Load and validate a template file against a schema.

    path (Union[str, Path]): The template YAML file.
    schema (Schema): The schema whose labels the templates render.
    RETURNS (Templates): The validated templates.
    """
    path = Path(path)
    data = _read(path)
    if not isinstance(data["families"], list):
        raise _fail(path, "'families' must be a list of family mappings.")
    families = [_parse_family(path, schema, raw, i) for i, raw in enumerate(data["families"])]
    _check_unique_ids(path, families, "family")
    included = _included_families(path, schema, data)
    families = _merge_families(path, families, included)
    sites = {n: _parse_site(path, schema, n, raw) for n, raw in (data.get("sites") or {}).items()}
    seen_labels: Dict[str, str] = {}
    for site in sites.values():
        for label in site.labels:
            if label in seen_labels:
                raise _fail(
                    path,
                    f"label '{label}' is in sites '{seen_labels[label]}' and "
                    f"'{site.name}'. Keep it in one site.",
                )
            seen_labels[label] = site.name
    combos = data.get("combos") or {}
    if not isinstance(combos, dict):
        raise _fail(path, "combos must map finding label -> list of impression labels.")
    _known(path, schema, list(combos), "combos")
    for finding, impressions in combos.items():
        _known(
            path,
            schema,
            _strings(path, impressions, f"combos of '{finding}'"),
            f"combos of '{finding}'",
        )
    headers = data.get("headers") or {}
    clinical = data.get("clinical") or {}
    normal = data.get("normal") or {}
    tpl = Templates(
        name=str(data.get("name") or path.stem),
        path=path,
        families=families,
        heldout_variants=_parse_heldout_variants(path, schema, data.get("heldout_variants") or {}),
        headers={k: _strings(path, headers.get(k), f"headers.{k}") for k in HEADER_KEYS},
        sites=sites,
        combos={k: list(v) for k, v in combos.items()},
        symptoms=_strings(path, clinical.get("symptoms"), "clinical.symptoms"),
        normal_findings=_parse_normal(path, schema, normal.get("findings"), "normal.findings"),
        normal_impression=_parse_normal(
            path, schema, normal.get("impression"), "normal.impression"
        ),
        fragments=_parse_short(path, schema, data.get("fragments"), "fragments", True),
        label_free=_parse_short(path, schema, data.get("label_free"), "label_free", False),
        differential_share=_parse_share(path, data, "differential_share"),
        hedged_again_share=_parse_share(path, data, "hedged_again_share") or 0.0,
        train_cases=_parse_train_cases(path, data),
        train_cases_share=_parse_share(path, data, "train_cases_share") or 0.0,
    )
    for key in ("clinical", "findings", "impression"):
        if not tpl.headers[key]:
            raise _fail(path, f"headers.{key} is empty. List at least one section header.")
    _check_coverage(path, tpl)
    _check_no_mentions(path, schema, tpl)
    return tpl
