"""World files: the shipped default loads; invalid worlds fail with a ConfigError naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arinsight.config import default_path, load_ladder
from arinsight.errors import ConfigError
from arinsight.sim import load_world
from arinsight.sim.world import World, with_experiment


def _default_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        default_path("world_default.yaml").read_text(encoding="utf-8")
    )
    return data


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    p = tmp_path / "world.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def test_default_world_loads() -> None:
    w = load_world()
    assert isinstance(w, World)
    assert list(w.segments) == ["enterprise", "smb", "consumer"]
    assert w.start_date.isoformat() == "2024-01-01"
    assert w.months == 24
    assert sum(s.customers for s in w.segments.values()) == 20_000
    assert w.experiment is None


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        # an unknown top-level key (a typo) must be named, not ignored
        (lambda d: d.update(montsh=12), "montsh"),
        # an unknown nested key inside an archetype
        (lambda d: d["archetypes"]["punctual"]["natural_pay"].update(nevr=0.1), "nevr"),
        # a share outside 0..1
        (
            lambda d: d["archetypes"]["forgetful"]["natural_pay"].update(never_share=1.5),
            "archetypes.forgetful.natural_pay.never_share",
        ),
        # archetype mix that does not sum to 1
        (
            lambda d: d["segments"]["smb"]["archetypes"].update(punctual=0.9),
            "segments.smb",
        ),
        # a segment referring to an archetype that is not defined
        (
            lambda d: d["segments"]["consumer"]["archetypes"].update(
                punctual=0.0, ghost=d["segments"]["consumer"]["archetypes"]["punctual"]
            ),
            "ghost",
        ),
        # an unknown channel in a lift table
        (
            lambda d: d["archetypes"]["punctual"]["reminder_response"]["lift"].update(fax=0.1),
            "fax",
        ),
        # a required key missing
        (lambda d: d["dunning"].pop("posting_delay"), "dunning.posting_delay"),
    ],
)
def test_invalid_world_names_file_and_key(tmp_path: Path, mutate: Any, key: str) -> None:
    data = _default_data()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as exc:
        load_world(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert key in msg


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_world(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_world(bad)


def test_experiment_ladder_path_is_relative_to_the_world(tmp_path: Path) -> None:
    ladder_src = default_path("ladder_default.yaml").read_text(encoding="utf-8")
    (tmp_path / "alt.yaml").write_text(ladder_src.replace("name: default", "name: alt"))
    data = _default_data()
    data["experiment"] = {"share": 0.25, "ladder": "alt.yaml"}
    w = load_world(_write(tmp_path, data))
    assert w.experiment is not None
    assert w.experiment.ladder.name == "alt"
    assert w.experiment.share == 0.25


def test_experiment_ladder_missing_file_is_a_config_error(tmp_path: Path) -> None:
    data = _default_data()
    data["experiment"] = {"share": 0.25, "ladder": "missing.yaml"}
    with pytest.raises(ConfigError, match="experiment.ladder"):
        load_world(_write(tmp_path, data))


def test_with_experiment_copies_the_world() -> None:
    w = load_world()
    w2 = with_experiment(w, load_ladder(), 0.5)
    assert w.experiment is None
    assert w2.experiment is not None and w2.experiment.share == 0.5
