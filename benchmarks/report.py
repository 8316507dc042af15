"""Figures, targets and the markdown / JSON tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from benchmarks.stats import median, ratio

STACKS = ("ours", "ref", "limit")
STACK_TITLES = {"ours": "ours", "ref": "reference", "limit": "limit"}


@dataclass
class Target:
    """A goal from issue 7. ``against``: ``ref`` (ours/reference), ``limit`` or ``value``."""

    against: str
    op: str  # "<=" or ">="
    threshold: float
    text: str

    def met(self, figure: Figure) -> bool | None:
        value = figure.value("ours") if self.against == "value" else figure.ratio(self.against)
        if value is None or math.isnan(value):
            return None
        return value <= self.threshold if self.op == "<=" else value >= self.threshold


@dataclass
class Figure:
    workload: str
    key: str
    label: str
    unit: str
    better: str  # "higher" or "lower"
    rounds: dict[str, list[float]] = field(default_factory=dict)
    target: Target | None = None
    note: str = ""

    def add(self, stack: str, value: float) -> None:
        self.rounds.setdefault(stack, []).append(value)

    def value(self, stack: str) -> float | None:
        values = self.rounds.get(stack)
        if not values:
            return None
        result = median(values)
        return None if math.isnan(result) else result

    def ratio(self, against: str) -> float | None:
        return ratio(self.value("ours"), self.value(against))

    def as_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "better": self.better,
            "rounds": self.rounds,
            "median": {stack: self.value(stack) for stack in STACKS},
            "ours_over_ref": self.ratio("ref"),
            "ours_over_limit": self.ratio("limit"),
            "target": None
            if self.target is None
            else {
                "against": self.target.against,
                "op": self.target.op,
                "threshold": self.target.threshold,
                "text": self.target.text,
                "met": self.target.met(self),
            },
            "note": self.note,
        }


def fmt(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit in {"req/s", "conn/s"}:
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:.2f}" if value < 10 else f"{value:,.1f}"
    if unit == "s":
        return f"{value:.3f}"
    if unit == "KiB":
        return f"{value:,.1f}"
    if unit == "x":
        return f"{value:.3f}"
    return f"{value:.4g}"


def fmt_ratio(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.2f}x" if value >= 0.01 else f"{value:.4f}x"


def target_cells(figure: Figure) -> tuple[str, str]:
    if figure.target is None:
        return "", ""
    met = figure.target.met(figure)
    return figure.target.text, {True: "yes", False: "**no**", None: "n/a"}[met]


def markdown_table(figures: list[Figure]) -> str:
    lines = [
        "| figure | unit | ours | reference | limit | ours/ref | ours/limit | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for figure in figures:
        target, met = target_cells(figure)
        label = figure.label + (f" ({figure.note})" if figure.note else "")
        lines.append(
            f"| {label} | {figure.unit} | {fmt(figure.value('ours'), figure.unit)} | "
            f"{fmt(figure.value('ref'), figure.unit)} | {fmt(figure.value('limit'), figure.unit)} | "
            f"{fmt_ratio(figure.ratio('ref'))} | {fmt_ratio(figure.ratio('limit'))} | "
            f"{target} | {met} |"
        )
    return "\n".join(lines)
