"""spaCy CLI plugin (entry point `spacy_cli`): adds `spacy radlabels ...`."""

from spacy.cli._util import app as spacy_app

from . import app

spacy_app.add_typer(app, name="radlabels")
