"""Anonymous programme reports (issue 7): `temanjiwa report`.

Counts for a period, by area and by week or month, from the anonymous `stats` and
`case_stats` tables and the live `cases` (storage/stats.py) — never from anything keyed to a
resident: residents served, screenings by instrument and band, crisis detections by
category and level, escalations to cadres by level, area and outcome, cases that passed
their deadline (SLA), and the time until a cadre claimed a case (median, 90th percentile).

Small cells are suppressed (`Suppressor`):
1. a count of 1–4 is shown as "<5" (primary suppression; 0 is shown);
2. every published sum (a row with its total, a column with its total, an instrument's
   bands with the instrument's count, …) must hide either none or at least two of its
   cells; when exactly one is hidden, the smallest other non-zero cell of that sum is hidden
   too and shown as "x" (secondary suppression), repeated until no sum has a single hidden
   cell. So no hidden count can be recovered by subtracting the others from a total.
   Totals shared by several tables (screenings per period, cases per period) are one cell,
   hidden everywhere or nowhere;
3. a median needs at least 5 claimed cases, a 90th percentile at least 10; fewer show "–".
The cells and sums of every area are solved together, so a report for one area hides exactly
what the report for all areas hides. Reports over different but overlapping date ranges are
NOT protected against each other (their "Seluruh periode" totals could be subtracted): publish
fixed periods (calendar months, quarters) rather than rolling windows.

Weeks are ISO weeks (Monday–Sunday) and months calendar months, in the deployment's time
zone; a week that overlaps the start or end of the chosen period is counted whole.
Output: a CSV in long format (one published number per line; spreadsheet-friendly, UTF-8
with BOM) and a one-page HTML report with inline SVG bars (bot/reports/html_page.py).
"""

from __future__ import annotations
