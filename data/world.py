"""A deterministic fictional world: entities, the facts that link them, passages and questions about them.

Everything is invented from syllables with one seeded `random.Random`, so no language model can know
the answers: a question is answerable only by reading the passage that states its fact. That is what
makes retrieval necessary and lets reports compare RAG with closed-book answering honestly.

The world has people, cities, countries, companies, inventions, rivers, seas and universities.
Each fact (a person's birthplace, a company's founder, ...) is written as its own short passage titled
with the entity it describes, with one of several phrasings per fact type, so wording does not give the
answer away and one title heads several passages. Questions are single-hop (one fact) or two-hop bridge
questions ("In which city was the founder of X born?"), each with its gold answer, aliases where natural
and the ids of its supporting passages.

Simplifications: facts are drawn independently (a person may found a company before being born); each
fact appears in exactly one passage; splits are drawn uniformly at random, so an entity can appear in
several splits, but each question appears in one only.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

SEED = 13
SPLIT_SHARES = {"train": 0.6, "dev": 0.15, "test": 0.25}

ONSETS = "b br c ch d dr f g gr h j k kl l m n p pr r s sh st t th tr v w z".split()
VOWELS = "a e i o u ae ai ea io ou".split()
CODAS = ["", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "v"]
OCCUPATIONS = [
    "architect",
    "astronomer",
    "botanist",
    "cartographer",
    "chemist",
    "composer",
    "engineer",
    "geologist",
    "glassblower",
    "historian",
    "linguist",
    "mathematician",
    "painter",
    "physician",
    "poet",
    "sculptor",
    "shipwright",
    "violinist",
    "weaver",
    "zoologist",
]
INDUSTRIES = [
    "textiles",
    "shipbuilding",
    "optics",
    "clockmaking",
    "paper",
    "ceramics",
    "railways",
    "printing",
    "salt",
    "copper mining",
    "silk",
    "glassware",
]
INVENTION_KINDS = [
    "engine",
    "loom",
    "lamp",
    "press",
    "telescope",
    "compass",
    "pump",
    "kiln",
    "sextant",
    "dynamo",
    "barometer",
    "lathe",
]
COMPANY_SUFFIXES = ["Works", "Industries", "Company", "Foundry", "Guild", "Manufactory", "Trading House"]
CITY_SUFFIXES = ["", "", "ford", "vale", "mouth", "holm", "grad", "stad", "port", "wick"]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)).capitalize()


@dataclass
class World:
    """Entities by kind (each a dict of attributes) plus the passages and questions generated from them."""

    entities: dict[str, list[dict]] = field(default_factory=dict)
    passages: list[dict] = field(default_factory=list)
    questions: list[dict] = field(default_factory=list)
    fact_pids: dict[tuple[str, str], str] = field(default_factory=dict)
    """(entity name, fact) -> id of the passage stating it."""


class _Names:
    """Unique invented names: never the same string twice across the whole world."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, build) -> str:
        while True:
            name = build(self.rng)
            if name not in self.used and all(name not in other and other not in name for other in self.used):
                self.used.add(name)
                return name


def _make_entities(rng: random.Random) -> dict[str, list[dict]]:
    names = _Names(rng)
    seas = [{"name": names.make(lambda r: f"the {_word(r, 2)} Sea")} for _ in range(8)]
    countries = [
        {"name": names.make(lambda r: _word(r, 2) + r.choice(["ia", "land", "mark", "or"]))} for _ in range(12)
    ]
    rivers = [
        {
            "name": names.make(lambda r: f"the {_word(r, 2)} River"),
            "sea": rng.choice(seas)["name"],
            "length": rng.randrange(80, 2400, 10),
        }
        for _ in range(40)
    ]
    cities = [
        {
            "name": names.make(lambda r: _word(r, r.choice([1, 2])) + r.choice(CITY_SUFFIXES)),
            "country": rng.choice(countries)["name"],
            "river": rng.choice(rivers)["name"],
            "founded": rng.randrange(600, 1700),
        }
        for _ in range(80)
    ]
    universities = [
        {
            "name": names.make(lambda r: f"the University of {_word(r, 2)}"),
            "city": rng.choice(cities)["name"],
            "founded": rng.randrange(1100, 1900),
        }
        for _ in range(40)
    ]
    people = [
        {
            "name": names.make(lambda r: f"{_word(r, r.choice([1, 2]))} {_word(r, r.choice([2, 3]))}"),
            "born_in": rng.choice(cities)["name"],
            "born": rng.randrange(1700, 1960),
            "studied_at": rng.choice(universities)["name"],
            "occupation": rng.choice(OCCUPATIONS),
        }
        for _ in range(300)
    ]
    companies = [
        {
            "name": names.make(lambda r: f"{_word(r, 2)} {r.choice(COMPANY_SUFFIXES)}"),
            "founder": rng.choice(people)["name"],
            "hq": rng.choice(cities)["name"],
            "founded": rng.randrange(1750, 1990),
            "industry": rng.choice(INDUSTRIES),
        }
        for _ in range(100)
    ]
    inventions = [
        {
            "name": names.make(lambda r: f"the {_word(r, 2)} {r.choice(INVENTION_KINDS)}"),
            "inventor": rng.choice(people)["name"],
            "year": rng.randrange(1720, 1990),
            "maker": rng.choice(companies)["name"],
        }
        for _ in range(80)
    ]
    return {
        "sea": seas,
        "country": countries,
        "river": rivers,
        "city": cities,
        "university": universities,
        "person": people,
        "company": companies,
        "invention": inventions,
    }


# Passage templates per (kind, fact): several phrasings each. `{name}` is the entity, other fields its facts.
PASSAGE_TEMPLATES: dict[tuple[str, str], list[str]] = {
    ("person", "born_in"): [
        "{name} was born in {born_in}.",
        "{name} grew up in {born_in}, the city of their birth, and left it as a young adult.",
        "Records of {born_in} list {name} among the children born there.",
    ],
    ("person", "born"): [
        "{name} was born in {born}.",
        "Born in {born}, {name} was the eldest of four children.",
        "The year of {name}'s birth is recorded as {born}.",
    ],
    ("person", "studied_at"): [
        "{name} studied at {studied_at}.",
        "After school, {name} enrolled at {studied_at}, where they spent five years.",
        "{studied_at} counts {name} among its best-known former students.",
    ],
    ("person", "occupation"): [
        "{name} worked as a {occupation}.",
        "By profession {name} was a {occupation}, and was respected by peers.",
        "{name} is remembered mainly as a {occupation}.",
    ],
    ("company", "founder"): [
        "{name} was founded by {founder}.",
        "{founder} established {name} with a small loan from a relative.",
        "The founder of {name} was {founder}, who ran it for decades.",
    ],
    ("company", "hq"): [
        "{name} is headquartered in {hq}.",
        "The head office of {name} stands in {hq}.",
        "{name}, a maker of {industry}, has its headquarters in {hq}.",
    ],
    ("company", "founded"): [
        "{name} was founded in {founded}.",
        "Since its founding in {founded}, {name} has worked in {industry}.",
        "{name} opened its doors in {founded}.",
    ],
    ("invention", "inventor"): [
        "{name} was invented by {inventor}.",
        "{inventor} designed {name} after years of failed prototypes.",
        "The inventor of {name} was {inventor}.",
    ],
    ("invention", "year"): [
        "{name} was first demonstrated in {year}.",
        "In {year}, {name} was shown to the public for the first time.",
        "The first working {name_plain} dates from {year}.",
    ],
    ("invention", "maker"): [
        "{name} was manufactured by {maker}.",
        "For many years {maker} built {name} under licence.",
    ],
    ("city", "country"): [
        "{name} is a city in {country}.",
        "{name} lies in the north of {country}.",
        "The city of {name} belongs to {country}.",
    ],
    ("city", "river"): [
        "{river} flows through {name}.",
        "{name} was built on the banks of {river}.",
        "Boats on {river} have carried goods through {name} for centuries.",
    ],
    ("city", "founded"): [
        "{name} was founded in {founded}.",
        "Settlers founded {name} in {founded}.",
    ],
    ("river", "sea"): [
        "{Name} flows into {sea}.",
        "{Name} empties into {sea} after a long descent.",
        "The mouth of {name} opens onto {sea}.",
    ],
    ("river", "length"): [
        "{Name} is {length} kilometres long.",
        "Measured from source to mouth, {name} runs {length} kilometres.",
    ],
    ("university", "city"): [
        "{Name} is located in {city}.",
        "{Name} has its main campus in {city}.",
    ],
    ("university", "founded"): [
        "{Name} was founded in {founded}.",
        "{Name} admitted its first students in {founded}.",
    ],
}

# Single-hop question templates per (kind, fact).
QUESTION_TEMPLATES: dict[tuple[str, str], list[str]] = {
    ("person", "born_in"): ["In which city was {name} born?", "Where was {name} born?", "What is {name}'s birthplace?"],
    ("person", "born"): ["In what year was {name} born?", "When was {name} born?"],
    ("person", "studied_at"): ["Which university did {name} attend?", "Where did {name} study?"],
    ("person", "occupation"): ["What was {name}'s profession?", "What did {name} work as?"],
    ("company", "founder"): ["Who founded {name}?", "Who was the founder of {name}?"],
    ("company", "hq"): ["Where is {name} headquartered?", "In which city is the head office of {name}?"],
    ("company", "founded"): ["In what year was {name} founded?", "When was {name} founded?"],
    ("invention", "inventor"): ["Who invented {name}?", "Who was the inventor of {name}?"],
    ("invention", "year"): ["In which year was {name} first demonstrated?"],
    ("invention", "maker"): ["Which company manufactured {name}?"],
    ("city", "country"): ["In which country is {name}?", "Which country does {name} belong to?"],
    ("city", "river"): ["Which river flows through {name}?"],
    ("city", "founded"): ["In what year was {name} founded?"],
    ("river", "sea"): ["Into which sea does {name} flow?"],
    ("river", "length"): ["How many kilometres long is {name}?"],
    ("university", "city"): ["In which city is {name} located?"],
    ("university", "founded"): ["In what year was {name} founded?"],
}

# Two-hop bridge templates: (kind, first fact, kind of the bridge entity, second fact, template).
BRIDGE_TEMPLATES = [
    ("company", "founder", "person", "born_in", "In which city was the founder of {name} born?"),
    ("company", "founder", "person", "studied_at", "Which university did the founder of {name} attend?"),
    ("company", "hq", "city", "country", "In which country is the headquarters of {name}?"),
    ("invention", "inventor", "person", "born", "In what year was the inventor of {name} born?"),
    ("person", "born_in", "city", "river", "Which river flows through the birthplace of {name}?"),
]


def _aliases(value: str) -> list[str]:
    """Natural alternative answers: without a leading 'the', a river without 'River', a person's surname."""
    aliases = [value]
    if value.startswith("the "):
        aliases.append(value[4:])
    if value.endswith(" River"):
        aliases.append(value[4:-6] if value.startswith("the ") else value[:-6])
    return aliases


def _write_passages(world: World, rng: random.Random) -> None:
    for kind in ("person", "company", "invention", "city", "river", "university"):
        for entity in world.entities[kind]:
            title = entity["name"][4:] if entity["name"].startswith("the ") else entity["name"]
            for (template_kind, fact), templates in PASSAGE_TEMPLATES.items():
                if template_kind != kind:
                    continue
                values = {**entity, "Name": entity["name"][0].upper() + entity["name"][1:]}
                values["name_plain"] = entity["name"].removeprefix("the ")
                text = rng.choice(templates).format(**values)
                text = text[0].upper() + text[1:]
                pid = f"w{len(world.passages)}"
                world.passages.append({"pid": pid, "title": title, "text": text})
                world.fact_pids[(entity["name"], fact)] = pid


def _entity(world: World, kind: str, name: str) -> dict:
    return next(e for e in world.entities[kind] if e["name"] == name)


def _write_questions(world: World, rng: random.Random) -> None:
    for (kind, fact), templates in QUESTION_TEMPLATES.items():
        for entity in world.entities[kind]:
            answer = str(entity[fact])
            world.questions.append(
                {
                    "question": rng.choice(templates).format(name=entity["name"]),
                    "answer": answer,
                    "answers": _aliases(answer),
                    "hops": 1,
                    "gold_pids": [world.fact_pids[(entity["name"], fact)]],
                }
            )
    for kind, fact, bridge_kind, bridge_fact, template in BRIDGE_TEMPLATES:
        for entity in world.entities[kind]:
            bridge = _entity(world, bridge_kind, entity[fact])
            answer = str(bridge[bridge_fact])
            world.questions.append(
                {
                    "question": template.format(name=entity["name"]),
                    "answer": answer,
                    "answers": _aliases(answer),
                    "hops": 2,
                    "gold_pids": [
                        world.fact_pids[(entity["name"], fact)],
                        world.fact_pids[(bridge["name"], bridge_fact)],
                    ],
                }
            )
    for question in world.questions:
        question["question"] = question["question"][0].upper() + question["question"][1:]


def generate(seed: int = SEED) -> World:
    """The whole world for `seed`: same seed, same world, byte for byte."""
    rng = random.Random(seed)
    world = World(entities=_make_entities(rng))
    _write_passages(world, rng)
    _write_questions(world, rng)
    rng.shuffle(world.questions)
    for number, question in enumerate(world.questions):
        question["id"] = f"q{number:05d}"
    return world


def split(world: World) -> dict[str, list[dict]]:
    """The fixed train/dev/test split of the (already shuffled) questions."""
    n = len(world.questions)
    n_train, n_dev = int(n * SPLIT_SHARES["train"]), int(n * SPLIT_SHARES["dev"])
    return {
        "train": world.questions[:n_train],
        "dev": world.questions[n_train : n_train + n_dev],
        "test": world.questions[n_train + n_dev :],
    }


def to_jsonl(rows: list[dict]) -> str:
    """Rows as JSON lines with sorted keys: stable bytes for `--check`."""
    return "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)


def render_files(seed: int = SEED) -> dict[str, str]:
    """File name -> content of everything `python -m data.generate` writes."""
    world = generate(seed)
    files = {"corpus.jsonl": to_jsonl(world.passages)}
    files.update({f"{name}.jsonl": to_jsonl(rows) for name, rows in split(world).items()})
    return files
