"""A run's report as files for CI: the JSON a cloud records (``--json FILE``) and JUnit
XML (``--junit FILE``: one testsuite per scenario, one testcase per expectation, a
failure element carrying its words), which CI systems show as test results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from firmware_sim.expectations import ExpectationResult

__all__ = ["junit_xml", "write_json", "write_junit"]


def write_json(report: dict[str, Any], path: Path) -> None:
    """``report`` as :func:`firmware_sim.run_report.build_report` makes it."""
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def _amount(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _failure_text(outcome: ExpectationResult) -> str:
    lines = [outcome.detail]
    if outcome.devices:
        lines.append("devices: " + ", ".join(outcome.devices))
    lines.append(f"measured: {_amount(outcome.measured)}, limit: {_amount(outcome.limit)}")
    return "\n".join(lines)


def junit_xml(report: dict[str, Any]) -> ET.Element:
    """The ``<testsuites>`` element of one scenario's report."""
    expectations = report["expectations"]
    failed = sum(1 for e in expectations if not e["passed"])
    suites = ET.Element("testsuites", tests=str(len(expectations)), failures=str(failed))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=report["scenario"],
        tests=str(len(expectations)),
        failures=str(failed),
        errors="0",
        skipped="0",
        timestamp=report["started_at"],
    )
    properties = ET.SubElement(suite, "properties")
    for key in ("scenario_file", "seed", "speed", "devices"):
        ET.SubElement(properties, "property", name=key, value=str(report[key]))
    classname = f"aftercare.sim.{Path(report['scenario_file']).stem}"
    for e in expectations:
        case = ET.SubElement(suite, "testcase", name=e["name"], classname=classname)
        outcome = ExpectationResult(
            e["name"], e["passed"], e["detail"], tuple(e["devices"]), e["measured"], e["limit"]
        )
        if not e["passed"]:
            failure = ET.SubElement(case, "failure", message=e["detail"], type="ExpectationFailed")
            failure.text = _failure_text(outcome)
        else:
            ET.SubElement(case, "system-out").text = e["detail"]
    ET.SubElement(suite, "system-out").text = report["summary"]
    return suites


def write_junit(report: dict[str, Any], path: Path) -> None:
    tree = ET.ElementTree(junit_xml(report))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
