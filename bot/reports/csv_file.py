"""The programme report as CSV, in long format: one published number per line."""

from __future__ import annotations

import csv
import io

from bot.reports.model import NO_VALUE, WHOLE, Report

CSV_HEADER = ("tabel", "baris", "periode", "mulai", "sampai", "nilai")


def report_csv(report: Report) -> str:
    """Long format: one published number per line; '<5' and 'x' are suppressed cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    first, last = report.periods[0], report.periods[-1]
    whole = (WHOLE, first.start.isoformat(), last.covered_end.isoformat())
    writer.writerow(("Info", "Daerah", "", "", "", report.area_title))
    writer.writerow(
        (
            "Info",
            "Periode",
            *whole[0:1],
            whole[1],
            whole[2],
            "per minggu" if report.spec.by == "week" else "per bulan",
        )
    )
    writer.writerow(
        (
            "Info",
            "Dibuat",
            "",
            "",
            "",
            report.generated_at.astimezone(report.config.tz).isoformat(timespec="minutes"),
        )
    )
    writer.writerow(
        (
            "Info",
            "Aturan",
            "",
            "",
            "",
            "<5 = 1 sampai 4 (disembunyikan); x = "
            "disembunyikan agar angka <5 tidak bisa dihitung dari jumlah",
        )
    )
    for period in report.incomplete:  # its "sampai" is the report's day, not the period's end
        writer.writerow(
            (
                "Info",
                "Belum lengkap",
                period.label,
                period.start.isoformat(),
                period.covered_end.isoformat(),
                period.title,
            )
        )
    for grid in report.grids.values():
        for name, row, total in zip(
            grid.rows, grid.cells, grid.row_totals or [None] * len(grid.rows), strict=True
        ):
            for period, key in zip(report.periods, row, strict=True):
                writer.writerow(
                    (
                        grid.title,
                        name,
                        period.label,
                        period.start.isoformat(),
                        period.covered_end.isoformat(),
                        report.shown(key),
                    )
                )
            if total is not None:
                writer.writerow((grid.title, name, *whole, report.shown(total)))
        if grid.col_totals is not None and len(grid.rows) != 1:  # one row: its own total
            for period, key in zip(report.periods, grid.col_totals, strict=True):
                writer.writerow(
                    (
                        grid.title,
                        "Jumlah",
                        period.label,
                        period.start.isoformat(),
                        period.covered_end.isoformat(),
                        report.shown(key),
                    )
                )
        if grid.grand is not None and len(grid.rows) != 1:
            writer.writerow((grid.title, "Jumlah", *whole, report.shown(grid.grand)))
    for row in report.claim_times:
        period = row.period
        where = (
            (period.label, period.start.isoformat(), period.covered_end.isoformat())
            if period
            else whole
        )
        writer.writerow(
            ("Waktu sampai kasus diambil kader", "Kasus yang diambil", *where, row.claimed)
        )
        for name, value in (("Median (menit)", row.median), ("Persentil ke-90 (menit)", row.p90)):
            writer.writerow(
                (
                    "Waktu sampai kasus diambil kader",
                    name,
                    *where,
                    NO_VALUE if value is None else round(value),
                )
            )
    return out.getvalue()
