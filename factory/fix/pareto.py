"""The candidates of a fix run and their Pareto set, as GEPA keeps them.

Every tested patch that fixes at least one conversation and breaks no held-out one becomes a
candidate, with its pass rate on every conversation. The Pareto set holds the candidates that are
best on some conversation (the highest pass rate there among all candidates) and that no other
candidate dominates (at least as good everywhere, better somewhere). A patch that fixes one
conversation and breaks another is such a candidate: it is never applied (a patch may not break a
conversation that passed), but it stays in the set and in the report, as GEPA keeps partial
solutions. The candidate applied to the spec is the one of the set that breaks nothing that passed
before the run and passes the most conversations (the earliest on a tie).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Candidate", "Pool"]


@dataclass
class Candidate:
    """One version of the spec and how every conversation fared on it."""

    id: int
    """0 is the spec as it was."""
    iteration: int
    parent: int | None
    scores: dict[str, float]
    """Conversation -> pass rate (passed attempts / attempts)."""
    passing: list[str]
    text: str = field(repr=False)
    broke: list[str] = field(default_factory=list)
    """Conversations that passed before the run and fail on this candidate."""

    @property
    def applicable(self) -> bool:
        return not self.broke


@dataclass
class Pool:
    """Every candidate of the run; `front()` is their Pareto set, `applied()` the one the spec holds."""

    candidates: list[Candidate] = field(default_factory=list)

    def add(self, candidate: Candidate) -> Candidate:
        self.candidates.append(candidate)
        return candidate

    def best_on(self, candidate: Candidate) -> list[str]:
        """The conversations on which no candidate has a higher pass rate (and this one passes at least once)."""
        return [name for name, score in candidate.scores.items()
                if score > 0 and score >= max(c.scores.get(name, 0.0) for c in self.candidates)]

    def dominates(self, a: Candidate, b: Candidate) -> bool:
        names = set(a.scores) | set(b.scores)
        at_least = all(a.scores.get(n, 0.0) >= b.scores.get(n, 0.0) for n in names)
        return at_least and any(a.scores.get(n, 0.0) > b.scores.get(n, 0.0) for n in names)

    def front(self) -> list[Candidate]:
        """The Pareto set: best on some conversation, dominated by no candidate (in the order they were found)."""
        best = [c for c in self.candidates if self.best_on(c)]
        return [c for c in best if not any(self.dominates(o, c) for o in self.candidates if o is not c)]

    def applied(self) -> Candidate:
        """The candidate the spec should hold: of the Pareto set, those that break nothing, the one passing the
        most conversations; the spec as it was when none of them does."""
        usable = [c for c in self.front() if c.applicable]
        if not usable:
            return self.candidates[0]
        return max(usable, key=lambda c: (len(c.passing), -c.id))
