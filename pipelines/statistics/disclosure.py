"""Disclosure control over the whole published record of a month: no published figure, alone or combined with
any other, may reveal an enterprise group's business.

1. **Primary rules** (``primary.py``) flag a cell backed by too few enterprise groups (``A``) or dominated by
   its largest contributor (``O``), for every measure.
2. **The record.** Versions of a month already published cannot be withdrawn, so the new version is protected
   together with them: a cell suppressed in any earlier version stays suppressed (``D`` when it is no longer
   confidential itself), and the **change** of a cell since an earlier version where it was published is a cell
   of its own, with its own contributors (the groups whose figures changed) and the same primary rules. A cell
   whose change is confidential is withheld (``D``): publishing it would publish one group's correction.
3. **Secondary suppression** (``D``): every sum relation (a total and its parts, along any dimension, across every
   table) gets at least two suppressed members, cheapest first.
4. **The audit decides** (``audit.py``): a linear programme per measure over every version side by side, with
   each version's sums and the equality of every cell a correction did not touch; then one with the atoms under
   the cells too (``cells.py``), from the pattern the first found. Each confidential value
   (of any version) must stay uncertain by ``protection_percent`` of itself either way, each cell hidden only to
   protect others by ``secondary_percent``, and each confidential change by ``protection_percent`` of the change.
   While any falls short, cells beside it are withheld (never one out unchanged) and the audit reruns: a
   neighbour each while many fall short, then the free cells of the cheapest move that protects it (``cover``).
   The measures are audited two at a time, each in a thread (HiGHS solves outside Python's lock).

Inputs are *cell groups*: one row per cell and enterprise group (``GROUP``) with a column per measure.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.statistics.audit import Certificate, Directions, Interval, RecordAudit, Target
from pipelines.statistics.cells import DIMENSIONS, TOTAL, list_sum_relations, merge_atoms, zone_of_province
from pipelines.statistics.primary import (
    ABSENT,
    DOMINANT,
    FEW,
    FREE,
    SECONDARY,
    Rules,
    apply_primary_rules,
    change_groups,
    compute_rule_figures,
    measures_of,
)

_log = logging.getLogger(__name__)
# Measures audited side by side, each in a thread (HiGHS solves outside the GIL). A constant, not the machine's
# core count: the pattern found depends on it, and a month must get the same flags on any machine.
MEASURES_AT_ONCE = 2
# Up to this many weak targets get each an exact cover (the cheapest move that protects it); more at once (the
# first rounds) get one neighbour each, the next audit sorts out the rest.
COVER_AT_MOST = 8


@dataclass(frozen=True)
class Published:
    """An earlier version of the month: its cell groups (recomputed from its submissions), its flags and its
    atoms (finest cells, see ``protect_record``)."""

    version: int
    cell_groups: pl.DataFrame
    flags: dict[tuple, str]
    atoms: pl.DataFrame | None = None


def protect_cells(
    cell_groups: pl.DataFrame, rules: Rules, zones: dict[str, str] | None = None, atoms: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The cells of a first release with ``conf_status`` (a month with nothing published before)."""
    return protect_record(cell_groups, [], rules, zones, atoms)[0]


def protect_record(
    cell_groups: pl.DataFrame,
    earlier: list[Published],
    rules: Rules,
    zones: dict[str, str] | None = None,
    atoms: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, Certificate]:
    """The new version's cells with ``conf_status``, protected together with every earlier version, and the
    certificate of what the audit proved. ``atoms``: the finest cells under the published ones (contributions,
    keyed by ``DIMENSIONS``), for this version and in each of ``earlier``; the audit then sees what an attacker
    who knows which of them hold data sees (``cells.py``). Without them it sees the published cells' sums alone,
    which is all there is when the finest cells are published themselves."""
    record = _Record(cell_groups, earlier, rules, zones, atoms)
    return record.protect(), record.certificate


class _Record:
    """The month's versions side by side: version ``len(earlier)`` (the last block) is the one being protected."""

    def __init__(
        self,
        cell_groups: pl.DataFrame,
        earlier: list[Published],
        rules: Rules,
        zones: dict[str, str] | None,
        atoms: pl.DataFrame | None,
    ) -> None:
        self.rules, self.earlier = rules, earlier
        self.measures = measures_of(cell_groups)
        versions = [*(p.cell_groups for p in earlier), cell_groups]
        # Summed exactly (integers, decimals) before the LP's floats: "unchanged" must mean equal to the token.
        sums = [
            g.group_by(DIMENSIONS).agg(pl.col(self.measures).sum()).with_columns(pl.col(self.measures).cast(pl.Float64))
            for g in versions
        ]
        self.keys = sorted(set().union(*(s.select(DIMENSIONS).iter_rows() for s in sums)))
        self.n, self.blocks = len(self.keys), len(versions)
        index = {k: i for i, k in enumerate(self.keys)}
        # values[m][v, c]: the true value of measure m in version v, cell c (zero where the version has no cell)
        self.values = {m: np.zeros((self.blocks, self.n)) for m in self.measures}
        self.present = np.zeros((self.blocks, self.n), dtype=bool)
        for v, s in enumerate(sums):
            rows = [index[k] for k in s.select(DIMENSIONS).iter_rows()]
            self.present[v, rows] = True
            for m in self.measures:
                self.values[m][v, rows] = s[m].to_numpy()
        self.flags = np.full((self.blocks, self.n), ABSENT, dtype="<U1")
        for v, published in enumerate(earlier):
            for key, flag in published.flags.items():
                self.flags[v, index[key]] = flag
        zones = zone_of_province() if zones is None else zones
        self.relations = list_sum_relations(self.keys, zones)
        # The national totals (every classification a total, of each use): what regulators read first.
        self.national = np.array([all(v == TOTAL for v in k[1:]) for k in self.keys], dtype=bool)
        every_atoms = [p.atoms for p in earlier] + [atoms]
        if len({a is None for a in every_atoms}) > 1:
            raise ValueError("atoms for every version of the record, or for none")
        self.unknowns = merge_atoms(every_atoms, self.keys, self.measures, zones) if atoms is not None else None
        self.status = self._first_status(cell_groups, index)
        self.certificate = Certificate(
            [p.version for p in earlier] + [earlier[-1].version + 1 if earlier else 1],
            self.measures,
            len(self.relations),
            0,
            atoms=self.unknowns.count if self.unknowns is not None else 0,
        )

    # --- which cells start hidden --------------------------------------------------------------------------

    def _first_status(self, cell_groups: pl.DataFrame, index: dict[tuple, int]) -> np.ndarray:
        figures = compute_rule_figures(cell_groups)
        status = np.full(self.n, ABSENT, dtype="<U1")
        status[[index[k] for k in figures.select(DIMENSIONS).iter_rows()]] = apply_primary_rules(figures, self.rules)
        present = self.present[-1]
        carried = present & (status == FREE) & np.isin(self.flags[:-1], [FEW, DOMINANT, SECONDARY]).any(axis=0)
        status[carried] = SECONDARY  # once withheld, withheld in every later version
        # The change since each earlier version is a cell of its own: contributors are the groups whose figures
        # changed. (Pairs of earlier versions were audited when the later of them went out.)
        self.changes: list[tuple[int, np.ndarray]] = []  # (earlier version, cells whose change is confidential)
        for old, published in enumerate(self.earlier):
            figures = compute_rule_figures(change_groups(cell_groups, published.cell_groups))
            confidential = np.zeros(self.n, dtype=bool)
            rows = [index[k] for k in figures.select(DIMENSIONS).iter_rows()]
            confidential[rows] = apply_primary_rules(figures, self.rules) != FREE
            self.changes.append((old, confidential))
            status[confidential & present & (self.flags[old] == FREE) & (status == FREE)] = SECONDARY
        return status

    # --- the loop ----------------------------------------------------------------------------------------------

    def protect(self) -> pl.DataFrame:
        links = {m: self._links(m) for m in self.measures}
        self.out = {m: self._already_out(m) for m in self.measures}
        self.certificate.unchanged_cell_links = int(sum(len(v) for v in links.values()))
        # The cells' programme first: it finds nearly the whole pattern at a fraction of the cost. The atoms' then
        # proves every target afresh (what the first proved, it proved for a weaker attacker) and mends the rest.
        # What the first finds beyond any withholding, the stronger attacker narrows too: set aside for both.
        exposed: dict[str, set[tuple]] = {m: set() for m in self.measures}
        self._remedy(self._audits(links, with_atoms=False), exposed)
        if self.unknowns is not None:
            self._remedy(self._audits(links, with_atoms=True), exposed)
        self.certificate.unprotectable = sum(len(targets) for targets in exposed.values())
        self.certificate.targets = self._target_counts()
        keys = [k for k, p in zip(self.keys, self.present[-1], strict=True) if p]
        frame = pl.DataFrame(keys, schema=list(DIMENSIONS), orient="row")
        return frame.with_columns(conf_status=pl.Series(self.status[self.present[-1]]))

    def _audits(self, links: dict[str, np.ndarray], with_atoms: bool) -> dict[str, RecordAudit]:
        """A programme per measure. Columns: every version's cells, then (``with_atoms``) the atoms under them,
        never published; rows: the cells' sums, which cells the atoms make, and the links. The atoms' programme
        mostly proves again what the cells' did: spread solves first (batch solves of its size cost a second)."""
        truth = {m: self.values[m].ravel() for m in self.measures}
        relations = [
            (v * self.n + parent, tuple(v * self.n + c for c in children))
            for v in range(self.blocks)
            for parent, children in self.relations
        ]
        hidden = [np.flatnonzero(np.isin(self.flags, [FEW, DOMINANT, SECONDARY]))]  # withheld before
        if with_atoms and self.unknowns is not None:
            relations += self.unknowns.relations(self.n, self.relations)
            hidden.append(self.blocks * self.n + np.arange(int(self.unknowns.present.sum())))  # never published
            truth = {m: np.concatenate([truth[m], self.unknowns.truth(m)]) for m in self.measures}
            links = {m: np.vstack([links[m], self.unknowns.links(m, self.n)]) for m in self.measures}
        audits = {m: RecordAudit(truth[m], relations, links[m], with_atoms) for m in self.measures}
        for audit in audits.values():
            audit.hide(np.concatenate(hidden))
        return audits

    def _remedy(self, audits: dict[str, RecordAudit], exposed: dict[str, set[tuple]]) -> None:
        """Audit, withhold beside what falls short, audit again: until every target is proven protected or
        ``exposed`` (beyond any withholding: counted, named, left)."""
        last = self.blocks - 1
        by_member: dict[int, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
        for relation in self.relations:
            for member in (relation[0], *relation[1]):
                by_member[member].append(relation)
        proven: dict[str, set[tuple]] = {m: set() for m in self.measures}
        margins: list[float] = []
        directions = Directions(len(audits[self.measures[0]].truth))  # a move one measure found often proves the next
        with ThreadPoolExecutor(MEASURES_AT_ONCE) as threads:
            while weak := self._weak(audits, threads, directions, proven, exposed, margins):
                few, progress = len(weak) <= COVER_AT_MOST, False
                for m, interval in weak if few else {iv.target.cell: (m, iv) for m, iv in weak}.values():
                    movable = (self.status == FREE) & ~self.out[m]
                    if few:  # the cover must see every cell withheld so far, this round's neighbours too
                        audits[m].hide(last * self.n + np.flatnonzero(np.isin(self.status, [FEW, DOMINANT, SECONDARY])))
                    covered = self._cover(audits[m], interval, movable) if few else np.zeros(0, dtype=np.int64)
                    if covered is None:  # no cell this version may still withhold would protect it: out before
                        self._set_aside(m, interval, exposed)
                        progress = True
                        continue
                    withheld = covered - last * self.n
                    if not len(withheld) and (candidates := self._candidates(interval, by_member, self.out[m])):
                        need = max(interval.target.need_low, interval.target.need_high)
                        withheld = [_complement(candidates, self.values[m][last], need)]
                    self.status[withheld] = SECONDARY
                    progress |= len(withheld) > 0
                for m, interval in [] if progress else weak:  # nothing left to withhold: what is weak stays so
                    self._set_aside(m, interval, exposed)
        self.certificate.smallest_margin = round(min(margins), 4) if margins else None

    def _weak(
        self,
        audits: dict[str, RecordAudit],
        threads: ThreadPoolExecutor,
        directions: Directions,
        proven: dict[str, set[tuple]],
        exposed: dict[str, set[tuple]],
        margins: list[float],
    ) -> list[tuple[str, Interval]]:
        """One audit of the targets neither ``proven`` (hiding more only widens what is proven) nor ``exposed``:
        the measures two at a time, until a pair leaves some weak."""
        self._complete_relations()
        hidden = (self.blocks - 1) * self.n + np.flatnonzero(np.isin(self.status, [FEW, DOMINANT, SECONDARY]))
        weak: list[tuple[str, Interval]] = []
        for at in range(0, len(self.measures), MEASURES_AT_ONCE):
            group = self.measures[at : at + MEASURES_AT_ONCE]
            settled = {m: proven[m] | exposed[m] for m in group}
            targets = {m: [t for t in self._targets(m) if (t.columns, t.coefs) not in settled[m]] for m in group}
            for m in group:
                audits[m].hide(hidden)
            jobs = [threads.submit(audits[m].intervals, targets[m], directions.rows) for m in group]
            for m, job in zip(group, jobs, strict=True):
                intervals = job.result()
                directions.add(audits[m].found)  # in the measures' order, whichever thread ended first
                for interval in intervals:
                    if interval.protected:
                        proven[m].add((interval.target.columns, interval.target.coefs))
                        margins.append(interval.margin)
                    elif not weak or weak[0][0] == m:  # one measure's at a time, as if audited in turn
                        weak.append((m, interval))
            if weak:  # measures move together: widening one usually widens the next, so mend before going on
                break
        return weak

    def _set_aside(self, measure: str, interval: Interval, exposed: dict[str, set[tuple]]) -> None:
        """Count a value no withholding can protect, and name it for the operator (not the value: logs travel
        further than the warehouse). Holding the release back would not help: what narrows it is out for good."""
        versions, target = self.certificate.versions_covered, interval.target
        if (target.columns, target.coefs) in exposed[measure]:
            return
        exposed[measure].add((target.columns, target.coefs))
        what = "level" if target.kind == "cell" else f"change since v{versions[target.columns[1] // self.n]}"
        sides = [s for s, short in (("below", interval.short_below), ("above", interval.short_above)) if short]
        _log.warning(
            "v%d: the %s of %s in cell %s is narrowed %s by values earlier versions published; no cell of this "
            "version can widen it (counted unprotectable in the certificate)",
            versions[target.columns[0] // self.n],
            what,
            measure,
            dict(zip(DIMENSIONS, self.keys[target.cell], strict=True)),
            " and ".join(sides),
        )

    def _already_out(self, measure: str) -> np.ndarray:
        """Cells of the new version unchanged since a version that published them free: links pin them there."""
        same = (self.values[measure][:-1] == self.values[measure][-1]) & (self.flags[:-1] == FREE)
        return self.present[-1] & same.any(axis=0)

    def _links(self, measure: str) -> np.ndarray:
        """Pairs of columns (version, cell) known to be equal: a cell whose value two versions share."""
        values, pairs = self.values[measure], []
        for new, old in ((a, b) for a in range(1, self.blocks) for b in range(a)):
            same = np.flatnonzero((values[new] == values[old]) & (self.present[new] | self.present[old]))
            pairs.append(np.column_stack([new * self.n + same, old * self.n + same]))
        return np.vstack(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)

    def _targets(self, measure: str) -> list[Target]:
        """Every value of the record that must stay uncertain, for one measure."""
        values, last, flags = self.values[measure], self.blocks - 1, self.flags.copy()
        flags[last] = self.status
        targets, public = [], 0
        # A cell some version published free is out at that level: what stays to protect is how it changed (the
        # change targets below), not its level; nothing withheld now could hide a value that is out.
        already = (flags == FREE).any(axis=0)
        for v in range(self.blocks):
            hidden = np.isin(flags[v], [FEW, DOMINANT, SECONDARY]) & (values[v] != 0)
            public += int((hidden & already).sum())
            for c in np.flatnonzero(hidden & ~already):
                need = self.rules.required(flags[v, c]) * abs(values[v, c])
                targets.append(Target((v * self.n + int(c),), (1.0,), need, need, int(c), "cell"))
        for old, confidential in self.changes:
            for c in np.flatnonzero(confidential):
                delta = values[last, c] - values[old, c]
                if delta == 0 or (flags[old, c] in (FREE, ABSENT) and flags[last, c] in (FREE, ABSENT)):
                    continue  # unchanged, or both sides published (a change the rules allowed when it was out)
                need = self.rules.protection_percent / 100.0 * abs(delta)
                # The attacker knows no value is negative: a change cannot be shown to move past that.
                need_low = min(need, values[last, c]) if flags[old, c] in (FREE, ABSENT) else need
                need_high = min(need, values[old, c]) if flags[last, c] in (FREE, ABSENT) else need
                columns = (last * self.n + int(c), old * self.n + int(c))
                targets.append(Target(columns, (1.0, -1.0), need_low, need_high, int(c), "change"))
        self._public_values = public
        return targets

    def _target_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        self.certificate.already_public = 0
        for m in self.measures:
            for t in self._targets(m):
                counts[t.kind] += 1
            self.certificate.already_public += self._public_values
        return dict(counts)

    def _cover(self, audit: RecordAudit, interval: Interval, movable: np.ndarray) -> np.ndarray | None:
        """The cover of a weak target, from the free cells but the national totals if it can be: a unit of a
        large cell costs the cover little, and it would otherwise withhold the headline figure first."""
        last = (self.blocks - 1) * self.n
        covered = audit.cover(interval, last + np.flatnonzero(movable & ~self.national))
        return audit.cover(interval, last + np.flatnonzero(movable)) if covered is None else covered

    def _candidates(self, interval: Interval, by_member: dict[int, list], out: np.ndarray) -> list[int]:
        """Cells of the new version that can widen a weak target, the national totals last. Never a cell whose
        value is ``out`` (published unchanged before): withholding it now would hide nothing."""
        free = (self.status == FREE) & ~out
        return self._neighbours(interval, by_member, free & ~self.national) or self._neighbours(
            interval, by_member, free
        )

    def _neighbours(self, interval: Interval, by_member: dict[int, list], free: np.ndarray) -> list[int]:
        """Among ``free``: a neighbour in one of its sums; else a cell the LP found holding it back; else any
        in a sum with a hidden one; else any."""
        hidden = (self.status != FREE) & (self.status != ABSENT)
        cell, last = interval.target.cell, self.blocks - 1
        binding = [col - last * self.n for col in interval.binding if col >= last * self.n]
        return (
            [i for r in by_member[cell] for i in (r[0], *r[1]) if free[i]]
            or [i for i in binding if free[i]]
            or [i for p, ch in self.relations if hidden[[p, *ch]].any() for i in (p, *ch) if free[i]]
            or list(np.flatnonzero(free))
        )

    def _complete_relations(self) -> None:
        """No sum may have exactly one suppressed member: hide a part (or the total) that can cover it."""
        tokens = self.values["total_tokens" if "total_tokens" in self.values else self.measures[0]][-1]
        status, changed = self.status, True
        out = np.logical_and.reduce(list(self.out.values()))  # hiding these would cover nothing
        while changed:
            changed = False
            for parent, children in self.relations:
                members = (parent, *children)
                suppressed = [i for i in members if status[i] not in (FREE, ABSENT)]
                if len(suppressed) != 1:
                    continue
                free_parts = [i for i in children if status[i] == FREE and not out[i]]
                required = self.rules.protection_percent / 100.0 * tokens[suppressed[0]]
                if free_parts:
                    status[_complement(free_parts, tokens, required)] = SECONDARY
                elif status[parent] == FREE and not out[parent]:
                    status[parent] = SECONDARY
                else:
                    continue
                changed = True


def _complement(candidates: list[int], values: np.ndarray, required: float) -> int:
    """The cheapest cell to hide beside a weak one: the smallest that is at least the protection it needs
    (a smaller one cannot hide the difference), else the largest there is."""
    enough = [i for i in candidates if values[i] >= required]
    if enough:
        return min(enough, key=lambda i: (values[i], i))
    return max(candidates, key=lambda i: (values[i], -i))
