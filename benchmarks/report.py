"""Figures, targets and the markdown / JSON tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from benchmarks.stats import median, ratio

#: ``loop1`` / ``loopN``: the ORM limit (query + serializer + JSON in a plain
#: loop in one process, on one thread / on as many threads as ours uses).
STACKS = ("ours", "ref", "limit", "loop1", "loopN")
STACK_TITLES = {
    "ours": "ours",
    "ref": "reference",
    "limit": "limit",
    "loop1": "ORM loop, 1 thread",
    "loopN": "ORM loop, N threads",
}


@dataclass
class Target:
    """A goal from issue 14. ``against``: ``ref`` (ours/reference), ``limit``,
    ``loop1`` (the single-thread ORM loop) or ``value`` (ours alone)."""

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
    also: list[Target] = field(default_factory=list)  # further targets of this row

    @property
    def targets(self) -> list[Target]:
        return ([self.target] if self.target is not None else []) + self.also

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
            "ours_over_loop1": self.ratio("loop1"),
            "ours_over_loopN": self.ratio("loopN"),
            "targets": [
                {
                    "against": target.against,
                    "op": target.op,
                    "threshold": target.threshold,
                    "text": target.text,
                    "met": target.met(self),
                }
                for target in self.targets
            ],
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
    if not figure.targets:
        return "", ""
    words = {True: "yes", False: "**no**", None: "n/a"}
    return (
        "; ".join(target.text for target in figure.targets),
        "; ".join(words[target.met(figure)] for target in figure.targets),
    )


def markdown_table(figures: list[Figure]) -> str:
    """One row per figure; the ORM-loop columns only when some figure has them."""
    loops = any(stack in f.rounds for f in figures for stack in ("loop1", "loopN"))
    head = "| figure | unit | ours | reference | limit |"
    rule = "|---|---|---:|---:|---:|"
    if loops:
        head += " ORM loop 1 thr | ORM loop N thr |"
        rule += "---:|---:|"
    head += " ours/ref | ours/limit |"
    rule += "---:|---:|"
    if loops:
        head += " ours/loop1 | ours/loopN |"
        rule += "---:|---:|"
    lines = [head + " target | met |", rule + "---|---|"]
    for figure in figures:
        target, met = target_cells(figure)
        label = figure.label + (f" ({figure.note})" if figure.note else "")
        row = (
            f"| {label} | {figure.unit} | {fmt(figure.value('ours'), figure.unit)} | "
            f"{fmt(figure.value('ref'), figure.unit)} | {fmt(figure.value('limit'), figure.unit)} |"
        )
        if loops:
            row += (
                f" {fmt(figure.value('loop1'), figure.unit)} |"
                f" {fmt(figure.value('loopN'), figure.unit)} |"
            )
        row += f" {fmt_ratio(figure.ratio('ref'))} | {fmt_ratio(figure.ratio('limit'))} |"
        if loops:
            row += f" {fmt_ratio(figure.ratio('loop1'))} | {fmt_ratio(figure.ratio('loopN'))} |"
        lines.append(row + f" {target} | {met} |")
    return "\n".join(lines)
