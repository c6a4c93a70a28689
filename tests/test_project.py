"""The spaCy project file: every workflow can run from a fresh clone."""

from pathlib import Path

import pytest
from weasel.util import load_project_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("overrides", [{}, {"vars.config": "trf"}])
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
