"""Writing a report's files, and the content it reads its labels from."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import Config, default_content_dir
from bot.reports.csv_file import report_csv
from bot.reports.html_page import render_html
from bot.reports.model import Report
from flows.linter import load_content
from flows.model import Content

log = logging.getLogger(__name__)


def file_stem(report: Report) -> str:
    area = f"-{report.spec.area}" if report.spec.area else ""
    return (
        f"laporan-temanjiwa{area}-{report.spec.start.isoformat()}-"
        f"{report.spec.end.isoformat()}-{'minggu' if report.spec.by == 'week' else 'bulan'}"
    )


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(report)
    csv_path = out_dir / f"{stem}.csv"
    html_path = out_dir / f"{stem}.html"
    csv_path.write_text(report_csv(report), encoding="utf-8-sig")
    html_path.write_text(render_html(report), encoding="utf-8")
    return csv_path, html_path


def load_report_content(config: Config, content_dir: Path | None) -> Content | None:
    """Flow titles and band labels for the report; None (ids shown) if content cannot load."""
    try:
        return load_content(Path(content_dir or config.content or default_content_dir()))
    except Exception as exc:  # a report must not fail on a content problem
        log.warning("content could not be loaded (%s): the report shows instrument ids", exc)
        return None
