"""The spaCy project file: every workflow can run from a fresh clone."""

import shlex
from pathlib import Path

import pytest
from spacy.cli._util import parse_config_overrides
from spacy.util import load_config, registry
from weasel.util import load_project_config

from spacy_radlabels.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "overrides",
    [{}, {"vars.config": "cpu-novectors"}, {"vars.config": "trf"}, {"vars.config": "trf-frozen"}],
)
def test_workflow_deps_exist_or_come_from_earlier_steps(overrides):
    config = load_project_config(ROOT, overrides=overrides)
    commands = {command["name"]: command for command in config["commands"]}
    assert {"all", "chest"} <= set(config["workflows"])
    for workflow, steps in config["workflows"].items():
        made: set = set()
        for step in steps:
            assert step in commands, f"workflow {workflow}: no command {step}"
            for dep in commands[step].get("deps", []):
                assert dep in made or (ROOT / dep).exists(), f"{workflow}/{step}: {dep}"
            made.update(commands[step].get("outputs", []))


@pytest.mark.parametrize(
    "overrides",
    [{}, {"vars.config": "cpu-novectors"}, {"vars.config": "trf"}, {"vars.config": "trf-frozen"}],
)
def test_train_commands_give_the_component_every_state_of_their_schema(overrides):
    config = load_project_config(ROOT, overrides=overrides)
    trained = 0
    for command in config["commands"]:
        for line in command["script"]:
            args = shlex.split(line)
            if args[:4] != ["python", "-m", "spacy", "train"]:
                continue
            # Only the dotted config overrides; --output and --gpu-id are train's own options.
            pairs = list(zip(args[5::2], args[6::2]))
            settings = parse_config_overrides([x for pair in pairs if "." in pair[0] for x in pair])
            train_config = load_config(ROOT / args[4], overrides=settings, interpolate=True)
            # `spacy train` passes [initialize.components.radlabels] to the component.
            init = registry.resolve(train_config["initialize"]["components"]["radlabels"])
            states = init.get("states") or train_config["components"]["radlabels"]["states"]
            schema = load_schema(ROOT / settings["paths.schema"])
            missing = set(schema.states) - set(states)
            assert not missing, f"{command['name']}: states {states} lack {missing}"
            trained += 1
    assert trained >= 2
