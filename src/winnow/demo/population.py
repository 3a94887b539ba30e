"""Who lives in the demo world: companies and the people who work there.

Each company and person carries a hidden propensity to buy. The journeys in
`winnow.demo.world` are drawn from it, so a spec that scores the right signals ranks
the real buyers first, and the demo can tell how well it did.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FREE_EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "proton.me")

# (value, weight): what a mid-2020s analytics vendor's inbound looks like.
INDUSTRIES = (
    ("software", 25),
    ("fintech", 10),
    ("e-commerce", 12),
    ("media", 7),
    ("healthcare", 8),
    ("logistics", 7),
    ("manufacturing", 10),
    ("education", 8),
    ("government", 5),
    ("non-profit", 5),
    ("analytics vendor", 3),
)
TARGET_INDUSTRIES = {"software", "fintech", "e-commerce", "media", "healthcare", "logistics"}
COUNTRIES = (
    ("US", 34),
    ("GB", 9),
    ("DE", 8),
    ("FR", 5),
    ("CA", 5),
    ("NL", 4),
    ("SE", 3),
    ("JP", 8),
    ("AU", 4),
    ("IN", 9),
    ("BR", 6),
    ("ES", 5),
)
TARGET_COUNTRIES = {"US", "CA", "GB", "DE", "FR", "NL", "SE", "JP", "AU"}

# (title, weight, how much the title itself adds to the will to buy)
TITLES = (
    ("VP of Data", 3, 0.25),
    ("Head of Analytics", 4, 0.25),
    ("Director of Business Intelligence", 3, 0.2),
    ("Chief Technology Officer", 2, 0.2),
    ("CEO & Founder", 3, 0.15),
    ("VP Engineering", 2, 0.15),
    ("Data Analyst", 14, 0.1),
    ("Senior Data Engineer", 9, 0.1),
    ("Analytics Engineer", 7, 0.12),
    ("Software Engineer", 10, 0.0),
    ("Product Manager", 8, 0.05),
    ("Marketing Manager", 8, 0.0),
    ("Operations Manager", 6, 0.0),
    ("Account Executive", 4, -0.1),
    ("Consultant", 5, -0.05),
    ("Student", 6, -0.4),
    ("Marketing Intern", 3, -0.35),
)
BAD_FIT_TITLES = {"Student", "Marketing Intern"}

_PREFIXES = (
    "Acme", "Blue", "North", "Bright", "Nova", "Vertex", "Quill", "Harbor", "Summit", "Pine",
    "Iron", "Silver", "Echo", "Atlas", "Cobalt", "Red", "Granite", "Orbit", "Maple", "Delta",
    "Crescent", "Falcon", "Juniper", "Kite", "Lattice", "Meridian", "Nimbus", "Oak", "Prism",
    "Tidal", "Umbra", "Willow", "Zephyr", "Alder", "Beacon", "Cinder", "Drift", "Ember",
)  # fmt: skip
_SUFFIXES = (
    "Labs", "Systems", "Logistics", "Health", "Pay", "Works", "Media", "Foods", "Cloud",
    "Bank", "Retail", "Energy", "Learning", "Robotics", "Studio", "Freight", "Insights",
    "Security", "Travel", "Goods",
)  # fmt: skip
_MIDDLES = (
    "bay", "peak", "river", "stone", "sky", "field", "bridge", "lake", "hill", "park", "gate",
    "wood", "light", "line", "point", "mark",
)  # fmt: skip
_TLDS = (".com", ".com", ".com", ".io", ".co", ".de", ".co.uk", ".jp", ".fr", ".ai")
FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam", "Maya", "Nils", "Olu", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor",
    "Wen", "Xavier", "Yuki", "Zara", "Aiko", "Bruno", "Carmen", "Daniel", "Emma", "Felix",
    "Hana", "Ivan", "Julia", "Kenji", "Lena", "Marco", "Nadia", "Omar", "Paula", "Ren",
    "Sofia", "Tomas", "Vera", "Will", "Yara", "Ken", "Mei", "Noah",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Okafor", "Martin", "Patel", "Rossi", "Haddad", "Kim", "Tanaka", "Silva",
    "Berg", "Adeyemi", "Murphy", "Cohen", "Larsen", "Balogun", "Sharma", "Fischer", "Garcia",
    "Nakamura", "Rahman", "Novak", "Dubois", "Chen", "Moreau", "Sato", "Khan", "Schmidt",
    "Lopez", "Ito", "Jensen", "Weber", "Costa", "Yamamoto", "Ali", "Meyer", "Brown",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Company:
    group_id: str
    name: str
    domain: str
    industry: str
    employees: int
    country: str
    # Hidden: how likely this company is to buy at all (0..1).
    propensity: float

    @property
    def traits(self) -> dict[str, object]:
        return {
            "name": self.name,
            "domain": self.domain,
            "industry": self.industry,
            "employees": self.employees,
            "country": self.country,
        }


@dataclass(frozen=True, kw_only=True)
class Resident:
    """A person of the world (not yet of any workspace)."""

    user_id: str
    anonymous_id: str
    first_name: str
    last_name: str
    email: str
    title: str
    company: Company | None
    # Hidden: how much this person wants what the product does (0..1).
    intent: float

    @property
    def traits(self) -> dict[str, object]:
        return {
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "name": f"{self.first_name} {self.last_name}",
            "title": self.title,
        }

    @property
    def bad_fit(self) -> bool:
        return (
            self.title in BAD_FIT_TITLES
            or self.company is None
            or self.company.industry == "analytics vendor"
        )


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    values, weights = zip(*weighted, strict=True)
    return str(rng.choices(values, weights)[0])


def make_companies(rng: random.Random, count: int) -> list[Company]:
    companies: list[Company] = []
    names: set[str] = set()
    while len(companies) < count:
        prefix, suffix = rng.choice(_PREFIXES), rng.choice(_SUFFIXES)
        name = f"{prefix} {suffix}"
        for _ in range(20):
            if name not in names:
                break
            name = f"{prefix}{rng.choice(_MIDDLES)} {suffix}"
        else:
            name = f"{name} {len(companies)}"
        names.add(name)
        industry = pick(rng, INDUSTRIES)
        country = pick(rng, COUNTRIES)
        employees = max(2, int(rng.lognormvariate(4.3, 1.5)))
        fit = (
            0.35 * (industry in TARGET_INDUSTRIES)
            + 0.2 * (country in TARGET_COUNTRIES)
            + 0.3 * (50 <= employees <= 2000)
            + 0.15 * (employees > 2000)
        )
        if industry == "analytics vendor":
            fit = 0.0
        slug = name.lower().replace(" ", "")
        companies.append(
            Company(
                group_id=f"acct_{len(companies) + 1:05d}",
                name=name,
                domain=slug + rng.choice(_TLDS),
                industry=industry,
                employees=employees,
                country=country,
                propensity=min(1.0, max(0.0, 0.15 + 0.7 * fit + rng.gauss(0, 0.12))),
            )
        )
    return companies


def make_residents(rng: random.Random, count: int, companies: list[Company]) -> list[Resident]:
    """People, most at a company (bigger companies send more), some on free email."""
    weights = [c.employees**0.5 for c in companies]
    titles = tuple((t, w) for t, w, _ in TITLES)
    lift = {t: bonus for t, _, bonus in TITLES}
    residents: list[Resident] = []
    emails: set[str] = set()
    for index in range(count):
        company = rng.choices(companies, weights)[0] if rng.random() < 0.85 else None
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = company.domain if company else rng.choice(FREE_EMAIL_DOMAINS)
        email = f"{first}.{last}@{domain}".lower()
        if email in emails:
            email = f"{first}.{last}{index}@{domain}".lower()
        emails.add(email)
        title = pick(rng, titles)
        base = company.propensity if company else 0.1
        intent = rng.betavariate(2, 5) * 0.6 + 0.5 * base + lift[title]
        residents.append(
            Resident(
                user_id=f"user_{index + 1:05d}",
                anonymous_id=f"anon-{rng.getrandbits(48):012x}",
                first_name=first,
                last_name=last,
                email=email,
                title=title,
                company=company,
                intent=min(1.0, max(0.0, intent)),
            )
        )
    return residents
