"""What scoring produces: one PersonScore per person, with its explanation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class FitHit:
    """A fit rule that held for this person."""

    name: str
    points: float


@dataclass(frozen=True, kw_only=True)
class RuleContribution:
    """What one engagement rule added: after decay and cap, with what they took off."""

    name: str
    points: float  # what the rule contributed to engagement
    matched: int  # events that matched the rule
    counted: int  # events counted after once_per
    decay: float  # points lost to decay (undecayed minus decayed)
    capped: float  # points lost to the rule's max


@dataclass(frozen=True, kw_only=True)
class FactorHit:
    """A factor of the predictive model that held: the log-odds it added to p_convert."""

    name: str
    weight: float


# How many factors an explanation lists on each side.
TOP_FACTORS = 5


@dataclass(frozen=True, kw_only=True)
class PersonScore:
    person_id: int
    stage: str  # the stage the person was in when scored
    fit: float
    grade: str
    engagement: float
    score: float
    metrics: dict[str, float | None] = field(default_factory=dict)
    criteria: dict[str, bool] = field(default_factory=dict)
    # Segments, hand-raises and owner rules: "segment:<name>", "hand_raise:<name>", "route:<i>".
    conditions: dict[str, bool] = field(default_factory=dict)
    fit_rules: tuple[FitHit, ...] = ()
    engagement_rules: tuple[RuleContribution, ...] = ()
    account_id: int | None = None
    account_fit: float | None = None
    account_engagement: float | None = None
    account_score: float | None = None
    # The spec's predictive model (spec `model:`); None without one.
    p_convert: float | None = None
    factors: tuple[FactorHit, ...] = ()

    @property
    def hand_raises(self) -> list[str]:
        """The hand-raises that hold, by name, in the spec's order."""
        prefix = "hand_raise:"
        return [
            k.removeprefix(prefix) for k, v in self.conditions.items() if k.startswith(prefix) and v
        ]

    def explanation(self) -> dict[str, Any]:
        """The JSON document stored with the score and shown in the API and dashboard;
        "model" (p_convert and its top factors) only when the spec has a model."""
        document: dict[str, Any] = {
            "fit": [{"rule": h.name, "points": h.points} for h in self.fit_rules],
            "engagement": [
                {
                    "rule": r.name,
                    "points": r.points,
                    "matched": r.matched,
                    "counted": r.counted,
                    "decay": r.decay,
                    "capped": r.capped,
                }
                for r in self.engagement_rules
            ],
            "account": None
            if self.account_id is None
            else {
                "id": self.account_id,
                "fit": self.account_fit,
                "engagement": self.account_engagement,
                "score": self.account_score,
            },
        }
        if self.p_convert is not None:
            held = sorted(self.factors, key=lambda f: -f.weight)
            document["model"] = {
                "p_convert": self.p_convert,
                "for": [{"factor": f.name, "weight": f.weight} for f in held if f.weight > 0][
                    :TOP_FACTORS
                ],
                "against": [
                    {"factor": f.name, "weight": f.weight} for f in reversed(held) if f.weight < 0
                ][:TOP_FACTORS],
            }
        return document
