"""``report``: the Markdown write-up of a study, from what the runs stored.

Every number comes from a JSON file under the runs directory and is recorded
with its source (``lazy report --json`` lists them); figures are referenced by
paths relative to the report. A part that was not run says so, with the
command that would run it. The only line that changes between two reports on
the same runs is the one with the generation time.

Modules: ``loader`` (what the runs stored, the matching of runs beyond the study, the strategy table's rows,
the ``ReportContext`` every section receives), ``writer`` (Markdown and the numbers' sources), ``intervals``
(CIs, "separates from baseline", the verdicts' thresholds), ``figures`` (the report's matplotlib figures), one
module per section (``summary``, ``dataset``, ``baseline``, ``learned``, ``robust`` with ``frontier`` and
``sweeps``, ``adversarial``, ``saes``, ``discussion``) and ``compose`` (``run_report``: the sections in order).
"""

from __future__ import annotations

from .compose import SECTIONS, run_report
from .frontier import FRONTIER, frontier_verdict
from .loader import ReportContext, RunFiles, _load, _other_runs
from .writer import REPORT_FILE, TIMESTAMP_PREFIX, Writer

__all__ = ["FRONTIER", "REPORT_FILE", "SECTIONS", "TIMESTAMP_PREFIX", "ReportContext", "RunFiles", "Writer", "_load",
           "_other_runs", "frontier_verdict", "run_report"]
