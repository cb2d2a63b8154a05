"""Checklists as data: the bundled ones load, a model's steps combine with the shared
ones, and a bad file is refused with its path, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.heal.playbook import PlaybookError, load_playbook
from cloud.setup import ChecklistError, Checklists, load_checklist

SHARED = """\
model: "*"
steps:
  - id: network
    title: Online
    verified_by: device
    checks: [network]
  - id: warranty
    title: Warranty
    verified_by: owner
    instructions: Register it.
    next_action: Register
"""


def test_every_bundled_model_has_device_steps_first_then_owner_steps() -> None:
    checklists = Checklists.load()
    for model in ("heatpump-hp200", "evcharger-ec11"):
        steps = checklists.for_model(model).steps
        assert [s.id for s in steps] == [
            "network",
            "firmware_current",
            "sensor_selftest",
            "calibration",
            "placement",
            "owner_preferences",
            "warranty_registration",
        ]
        assert all(s.instructions and s.next_action for s in steps if s.verified_by == "owner")
        assert all(s.checks for s in steps if s.verified_by == "device")
    unknown = checklists.for_model("toaster-t1")
    assert "placement" not in [s.id for s in unknown.steps]


def test_a_model_step_replaces_the_shared_one_in_place(tmp_path: Path) -> None:
    (tmp_path / "any-model.yaml").write_text(SHARED)
    (tmp_path / "kettle.yaml").write_text(
        "model: kettle\nsteps:\n"
        "  - {id: network, title: Kettle online, verified_by: device, checks: [network]}\n"
        "  - {id: boil, title: Boils, verified_by: device, checks: [boil]}\n"
    )
    steps = Checklists.load(tmp_path).for_model("kettle").steps
    assert [(s.id, s.title) for s in steps] == [
        ("network", "Kettle online"),
        ("boil", "Boils"),
        ("warranty", "Warranty"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (SHARED.replace("verified_by: device", "verified_by: robot"), 5, "verified_by"),
        (SHARED.replace("    checks: [network]\n", ""), 3, "names the self-checks"),
        (SHARED.replace("    next_action: Register\n", ""), 7, "needs instructions"),
        (SHARED.replace("id: warranty", "id: network"), 3, "repeated: ['network']"),
        (SHARED + "    help: {smoke: x}\n", 7, "help for ['smoke']"),
        (SHARED + "    stall_after_s: -1\n", 12, "greater than 0"),
        ("model: [\n", 2, "not YAML"),
    ],
)
def test_a_bad_checklist_names_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ChecklistError) as refused:
        load_checklist(path)
    assert refused.value.line == line, str(refused.value)
    assert reason in refused.value.reason
    assert str(refused.value).startswith(f"{path}:{line}: ")


def test_playbooks_are_refused_by_the_same_loader(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text('model: "*"\nsignatures:\n  overheat/x: []\n')
    with pytest.raises(PlaybookError) as refused:
        load_playbook(path)
    assert refused.value.line == 3
    assert isinstance(refused.value, ValueError)
