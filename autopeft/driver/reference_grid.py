"""A reference's learning-rate grid, extended past the edge its best member sits on.

A reference tuned on a grid is only as strong as the grid is wide: one that peaks at the
highest (or lowest) rate may do better beyond it, and a found configuration that beats it
there beats an under-tuned reference (issue 37: IA3, BitFit and prefix tuning all peaked at
the top of their grids). So once every member of a grid is trained, a best member at an edge
of its grid line (the members that share its other rate) gets one more member one grid step
beyond that edge (the line's own geometric step there), and again, until the best lies
inside, at most ``MAX_EXTENSIONS`` times per reference and never outside ``RATE_BOUNDS``.
Each added member is kept as a reference of the study like the spec's members, marked with
what extended it (``ReferenceRecord.extended``), so a resumed study neither trains it again
nor forgets it.
"""

from __future__ import annotations

from dataclasses import replace

from autopeft.driver.prepare import PreparedStudy
from autopeft.executors import TrialRequest, TrialResult
from autopeft.space.base import Point
from autopeft.spec.rate_grids import RATES, grid_name, rate_tag
from autopeft.store.records import ReferenceRecord, tuned_references
from autopeft.store.study import StudyStore
from autopeft.store.trials import reference_record

MAX_EXTENSIONS = 3  # members added to one reference's grid
RATE_BOUNDS = (1e-6, 1.0)  # no learning rate outside these is tried
_TAGS = {"learning_rate": "lr", "head_learning_rate": "h"}


def member_name(reference: str, rates: dict[str, float]) -> str:
    """A grid member's name, as ``expand_rate_grids`` names the spec's: ``NAME.lrA.hB``."""
    return reference + "".join(f".{_TAGS[key]}{rate_tag(rates[key])}" for key in RATES if key in rates)


def beyond_edge(best: ReferenceRecord, members: list[ReferenceRecord]) -> tuple[str, float, str] | None:
    """(rate, value, side) of the one member to add when ``best`` sits at an edge of a grid line
    (the members that share its other rate, two or more), one geometric step past it; None when
    it lies inside on every line, or the step would leave ``RATE_BOUNDS``."""
    mine = best.point["hyperparameters"]
    for key in RATES:
        others = [k for k in RATES if k != key]
        line = sorted(
            {
                m.point["hyperparameters"][key]
                for m in members
                if all(m.point["hyperparameters"][k] == mine[k] for k in others)
            }
        )
        rate = mine[key]
        if len(line) < 2 or line[0] < rate < line[-1]:
            continue
        side, neighbour = ("above", line[-2]) if rate == line[-1] else ("below", line[1])
        value = float(f"{rate * rate / neighbour:.6g}")  # one step of the line's ratio at that edge
        if RATE_BOUNDS[0] <= value <= RATE_BOUNDS[1]:
            return key, value, side
    return None


class ReferenceGrids:
    """The loop's view of its references' grids: the point of every member (the spec's and the
    added ones) and, as members finish, the requests that extend a grid."""

    def __init__(self, store: StudyStore, prepared: PreparedStudy, first_number: int) -> None:
        self.store = store
        self.prepared = prepared
        self.points: dict[str, Point] = dict(prepared.references)
        self.notes: dict[str, str] = {}  # added member -> what extended the grid
        self.next_number = first_number  # request numbers below the spec's references'
        self.requested: set[str] = set()

    def record(self, name: str, result: TrialResult) -> ReferenceRecord:
        """The trained (or failed) member, marked when it extended its grid."""
        return replace(reference_record(name, self.points[name], result), extended=self.notes.get(name))

    def extensions(self) -> list[TrialRequest]:
        """A request for each grid whose members are all trained and whose best sits at an
        edge (see the module's docstring); none while any member of the grid is untrained."""
        trained = self.store.references()
        done = {r.name for r in trained}
        requests = []
        for best, _ in tuned_references([r for r in trained if not r.failed], self.store.objectives[0]):
            reference = grid_name(best.name)
            members = [r for r in trained if grid_name(r.name) == reference]
            spec_members = [name for name in self.prepared.references if grid_name(name) == reference]
            added = [r for r in members if r.extended is not None]
            if best.name == reference or len(added) >= MAX_EXTENSIONS or not set(spec_members) <= done:
                continue
            scored = [r for r in members if not r.failed]
            metric = self.store.objectives[0].name
            if sum(r.values[metric] == best.values[metric] for r in scored) > 1:
                continue  # a tie for the best (all at chance, say): no peak to follow
            edge = beyond_edge(best, scored)
            if edge is None:
                continue
            key, value, side = edge
            tagged = best.name[len(reference) :]  # the rates the grid's names carry
            rates = {k: best.point["hyperparameters"][k] for k in RATES if f".{_TAGS[k]}" in tagged} | {key: value}
            name = member_name(reference, rates)
            if name in done or name in self.requested:
                continue
            source = Point.from_dict(best.point)
            self.points[name] = replace(source, hyperparameters=replace(source.hyperparameters, **{key: value}))
            self.notes[name] = f"{key} {side} {rate_tag(best.point['hyperparameters'][key])}, where {best.name} peaked"
            self.requested.add(name)
            self.next_number -= 1
            requests.append(TrialRequest(self.next_number, self.points[name], self.store.spec.seed, reference=name))
        return requests
