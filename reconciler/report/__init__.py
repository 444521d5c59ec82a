"""Renderers: plans and drift reports as text, JSON, Markdown and JUnit XML (strings; no I/O)."""

from __future__ import annotations

from .json_report import DRIFT_FORMAT_VERSION, drift_to_dict, render_drift_json, render_plan_json
from .junit import render_drift_junit
from .markdown import render_drift_markdown, render_plan_markdown
from .text import render_drift_text, render_plan_text

__all__ = [
    "DRIFT_FORMAT_VERSION",
    "drift_to_dict",
    "render_drift_json",
    "render_drift_junit",
    "render_drift_markdown",
    "render_drift_text",
    "render_plan_json",
    "render_plan_markdown",
    "render_plan_text",
]
