"""The `radlabels` trainable pipeline component."""

from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, set_dropout_rate
from thinc.types import Floats3d, Ragged

from .extensions import install_extensions
from .gold import validate_gold
from .scorer import DEFAULT_SCORE_WEIGHTS, DEFAULT_STATES, NULL_STATES

default_model_config = """
[model]
@architectures = "spacy-radlabels.PerLabelAttention.v1"
hidden_size = 64

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy-radlabels.CueMultiHashEmbed.v3"
width = 96
rows = [5000, 1000, 2500, 1000]
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
include_static_vectors = false
cue_width = 16

[model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 96
window_size = 1
maxout_pieces = 3
depth = 4
"""
DEFAULT_RADLABELS_MODEL = Config().from_str(default_model_config)["model"]

ModelOutput = Tuple[Floats3d, Ragged]
# How strongly a state reports a finding, for the hierarchy: a child implies its parent
# at least as strongly.
SEVERITY = {"positive": 2, "uncertain": 1}


@Language.factory(
    "radlabels",
    assigns=["doc._.labels", "doc._.label_scores", "doc._.label_attention"],
    default_config={
        "model": DEFAULT_RADLABELS_MODEL,
        "states": list(DEFAULT_STATES),
        "hierarchy": {},
        "class_weights": None,
        "scorer": {"@scorers": "spacy-radlabels.scorer.v1"},
    },
    default_score_weights=DEFAULT_SCORE_WEIGHTS,
)
def make_radlabels(
    nlp: Language,
    name: str,
    model: Model[List[Doc], ModelOutput],
    states: List[str],
    hierarchy: Dict[str, str],
    class_weights: Optional[Dict[str, float]],
    scorer: Optional[Callable],
) -> "RadLabels":
    """Create a `radlabels` component that sets a state for every label of a schema.

    model (Model[List[Doc], Tuple[Floats3d, Ragged]]): State probabilities per doc and
        label, and attention weights per token and label.
    states (List[str]): The states a label can take, e.g. positive, uncertain, negative
        (and absent for CheXpert-style data).
    hierarchy (Dict[str, str]): Child label -> parent label; a child's state raises its
        parent's to at least the same strength. Empty disables the consistency step.
    class_weights (Optional[Dict[str, float]]): Loss weight per gold state (default 1.0).
    scorer (Optional[Callable]): The scoring method.
    """
    return RadLabels(
        nlp.vocab,
        model,
        name,
        states=states,
        hierarchy=hierarchy,
        class_weights=class_weights,
        scorer=scorer,
    )


class RadLabels(TrainablePipe):
    """Set, for every label, the radiologist's reporting state through per-label attention."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], ModelOutput],
        name: str = "radlabels",
        *,
        states: Sequence[str] = DEFAULT_STATES,
        hierarchy: Optional[Dict[str, str]] = None,
        class_weights: Optional[Dict[str, float]] = None,
        scorer: Optional[Callable] = None,
    ) -> None:
        """Initialize the component.

        vocab (Vocab): The shared vocabulary.
        model (Model): The per-label attention model.
        name (str): The component instance name, used to add entries to the losses.
        states (Sequence[str]): The states a label can take.
        hierarchy (Optional[Dict[str, str]]): Child label -> parent label.
        class_weights (Optional[Dict[str, float]]): Loss weight per gold state.
        scorer (Optional[Callable]): The scoring method.
        """
        _check_states(states, class_weights)
        install_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "states": list(states),
            "hierarchy": dict(hierarchy or {}),
            "class_weights": dict(class_weights) if class_weights else None,
        }

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str, ...]): The labels, in model output order."""
        return tuple(self.cfg["labels"])

    @property
    def states(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str, ...]): The states, in model output order."""
        return tuple(self.cfg["states"])

    @property
    def label_data(self) -> List[str]:
        """RETURNS (List[str]): The labels, as `spacy init labels` saves them."""
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add a label before the model is initialized.

        label (str): The label to add.
        RETURNS (int): 0 if the label is already present, otherwise 1.
        """
        _check_label(label)
        if label in self.labels:
            return 0
        if self.model.get_ref("output_layer").has_param("Wo"):
            raise ValueError(
                f"Cannot add label {label!r}: the model is already initialized with labels "
                f"{list(self.labels)}. Give every label to initialize(labels=...) instead."
            )
        self.cfg["labels"].append(label)
        return 1

    def predict(self, docs: Iterable[Doc]) -> ModelOutput:
        """Compute state probabilities and attention without modifying the docs.

        docs (Iterable[Doc]): The docs to predict.
        RETURNS (Tuple[Floats3d, Ragged]): Probabilities (n_docs x n_labels x n_states)
            and attention (n_tokens x n_labels, ragged by doc).
        """
        return self.model.predict(list(docs))

    def set_annotations(self, docs: Iterable[Doc], scores: ModelOutput) -> None:
        """Set `doc._.labels`, `doc._.label_scores` and `doc._.label_attention`.

        docs (Iterable[Doc]): The docs to annotate.
        scores (Tuple[Floats3d, Ragged]): The output of `predict`.
        """
        ops = self.model.ops
        probs = ops.to_numpy(scores[0])
        attention = ops.to_numpy(scores[1].dataXd)
        lengths = ops.to_numpy(scores[1].lengths).tolist()
        best = probs.argmax(axis=-1)
        states, labels = self.states, self.labels
        starts = numpy.cumsum([0] + lengths)
        for i, doc in enumerate(docs):
            doc_states = {label: states[best[i, j]] for j, label in enumerate(labels)}
            doc_states = self._apply_hierarchy(doc_states)
            doc._.labels = doc_states
            doc._.label_scores = {
                label: dict(zip(states, probs[i, j].tolist())) for j, label in enumerate(labels)
            }
            weights = attention[starts[i] : starts[i + 1]]
            doc._.label_attention = {
                label: weights[:, j].tolist()
                for j, label in enumerate(labels)
                if doc_states[label] not in NULL_STATES
            }

    def _apply_hierarchy(self, doc_states: Dict[str, str]) -> Dict[str, str]:
        """Raise each parent's state to at least its children's strength."""
        hierarchy = self.cfg["hierarchy"]
        # One pass per level of the hierarchy lets a grandchild reach its grandparent.
        for _ in range(len(hierarchy)):
            changed = False
            for child, parent in hierarchy.items():
                child_state = doc_states[child]
                if SEVERITY.get(child_state, 0) > SEVERITY.get(doc_states[parent], 0):
                    doc_states[parent] = child_state
                    changed = True
            if not changed:
                break
        return doc_states

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Callable] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples with gold in `reference._.labels`.

        examples (Iterable[Example]): A batch of examples.
        drop (float): The dropout rate.
        sgd (Optional[Callable]): An optimizer.
        losses (Optional[Dict[str, float]]): Accumulated losses, updated in place.
        RETURNS (Dict[str, float]): The updated losses.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "RadLabels.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_logits = self.get_loss(examples, scores)
        backprop(d_logits)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], scores: ModelOutput) -> Tuple[float, Floats3d]:
        """Compute the masked cross-entropy loss and its gradient with respect to the logits.

        examples (Iterable[Example]): The batch, with gold in `reference._.labels`.
        scores (Tuple[Floats3d, Ragged]): The model output for the batch.
        RETURNS (Tuple[float, Floats3d]): The loss and the gradient, shaped like the
            probabilities; zero where a label has no gold.
        """
        examples = list(examples)
        validate_examples(examples, "RadLabels.get_loss")
        probs = scores[0]
        truths, weights = self._gold_arrays(examples)
        truths = self.model.ops.asarray3f(truths)
        weights = self.model.ops.asarray3f(weights)
        d_logits = (probs - truths) * weights
        gold_probs = (probs * truths).sum(axis=-1, keepdims=True)
        loss = -(weights * self.model.ops.xp.log(gold_probs + 1e-8)).sum()
        return float(loss), d_logits

    def _gold_arrays(self, examples: List[Example]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """One-hot gold (n_docs x n_labels x n_states) and loss weights (0 where missing)."""
        label_index = {label: j for j, label in enumerate(self.labels)}
        state_index = {state: k for k, state in enumerate(self.states)}
        class_weights = self.cfg["class_weights"] or {}
        truths = numpy.zeros((len(examples), len(label_index), len(state_index)), dtype="f")
        weights = numpy.zeros((len(examples), len(label_index), 1), dtype="f")
        for i, eg in enumerate(examples):
            gold = validate_gold(
                eg.reference._.labels, self.states, label_index, doc_index=i, doc=eg.reference
            )
            for label, state in gold.items():
                truths[i, label_index[label], state_index[state]] = 1.0
                weights[i, label_index[label], 0] = class_weights.get(state, 1.0)
        return truths, weights

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
        hierarchy: Optional[Dict[str, str]] = None,
        states: Optional[Sequence[str]] = None,
    ) -> None:
        """Initialize the component for training: labels, states, hierarchy and weights.

        get_examples (Callable[[], Iterable[Example]]): Returns a representative sample of
            examples with gold in `reference._.labels`.
        nlp (Optional[Language]): The pipeline the component is part of.
        labels (Optional[Iterable[str]]): The labels, e.g. from a schema; by default the
            labels added with `add_label`, then every other label in the examples' gold.
        hierarchy (Optional[Dict[str, str]]): Child label -> parent label; overrides the
            factory setting.
        states (Optional[Sequence[str]]): The states, e.g. from a schema; overrides the
            factory setting, so a schema with an `absent` state trains with any config.
        """
        validate_get_examples(get_examples, "RadLabels.initialize")
        if nlp is not None:
            self._check_upstream(nlp)
        if states is not None:
            self.cfg["states"] = list(_check_states(states, self.cfg["class_weights"]))
        if labels is None:
            seen = set()
            for i, eg in enumerate(get_examples()):
                seen.update(
                    validate_gold(eg.reference._.labels, self.states, doc_index=i, doc=eg.reference)
                )
            labels = list(self.labels) + sorted(seen - set(self.labels))
        # Re-initializing starts over, so labels are set directly rather than added.
        self.cfg["labels"] = [_check_label(label) for label in dict.fromkeys(labels)]
        if not self.labels:
            raise ValueError(
                "radlabels has no labels: give initialize(labels=[...]) (e.g. from a schema) "
                "or training examples with gold in doc._.labels."
            )
        if hierarchy is not None:
            self.cfg["hierarchy"] = dict(hierarchy)
        for child, parent in self.cfg["hierarchy"].items():
            for label in (child, parent):
                if label not in self.labels:
                    raise ValueError(
                        f"radlabels hierarchy {child!r} -> {parent!r} names {label!r}, which "
                        f"is not a label. Labels: {list(self.labels)}."
                    )
        output_layer = self.model.get_ref("output_layer")
        if output_layer.has_param("Wo"):
            for dim, noun, names in (("nL", "labels", self.labels), ("nS", "states", self.states)):
                if output_layer.get_dim(dim) != len(names):
                    raise ValueError(
                        f"radlabels was already initialized with {output_layer.get_dim(dim)} "
                        f"{noun} and cannot be resized to {list(names)}: add a new component "
                        "instead."
                    )
        for layer in (output_layer, self.model.maybe_get_ref("label_interaction")):
            if layer is not None:
                layer.set_dim("nL", len(self.labels), force=True)
                layer.set_dim("nS", len(self.states), force=True)
        sample = [eg.x for eg in islice(get_examples(), 10)]
        self.model.initialize(X=sample)

    def _check_upstream(self, nlp: Language) -> None:
        """Fail early when a listener's tok2vec/transformer is missing or comes later."""
        upstream = getattr(self.model.get_ref("tok2vec"), "upstream_name", None)
        # component_names keeps frozen and sourced pipes, which `spacy train` disables here.
        names = nlp.component_names
        if upstream is None or self.name not in names:
            return
        earlier = names[: names.index(self.name)]
        wanted = upstream if upstream != "*" else "a tok2vec or transformer"
        found = upstream in earlier or (
            upstream == "*"
            and any(
                nlp.get_pipe(n).__class__.__name__ in ("Tok2Vec", "Transformer") for n in earlier
            )
        )
        if not found:
            raise ValueError(
                f"radlabels listens to {wanted!r}, but no such component comes before it in "
                f"the pipeline {names}. Put {wanted!r} first in [nlp] pipeline, or "
                "give radlabels its own inline tok2vec."
            )


def _check_states(
    states: Sequence[str], class_weights: Optional[Dict[str, float]]
) -> Sequence[str]:
    if len(states) < 2 or len(set(states)) != len(states):
        raise ValueError(f"radlabels needs two or more distinct states, got {list(states)}.")
    unknown = sorted(set(class_weights or {}) - set(states))
    if unknown:
        raise ValueError(f"class_weights name unknown states {unknown}; states: {list(states)}.")
    return states


def _check_label(label: Any) -> str:
    if not isinstance(label, str) or not label:
        raise ValueError(f"radlabels labels must be non-empty strings, got {label!r}.")
    return label
