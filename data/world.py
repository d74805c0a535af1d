"""A deterministic fictional world: entities, the facts that link them, passages and questions about them.

Everything is invented from syllables with one seeded `random.Random`, so no language model can know
the answers: a question is answerable only by reading the passage that states its fact. That is what
makes retrieval necessary and lets reports compare RAG with closed-book answering honestly.

The world has people, cities, countries, seas, rivers, mountains, universities, companies, inventions,
bands and albums. Each asked-about fact (a person's birthplace, a company's founder, ...) is stated in
its own passage, titled with the entity it describes, in one of several phrasings, followed by zero to
three generic sentences that state nothing asked about; so one title heads several passages of one to
four sentences. Questions are single-hop (one fact) or two-hop bridge questions ("In which city was the
founder of X born?"). Each gold answer appears verbatim in its supporting passage; aliases are the
natural variants only (the leading "the", a river's bare name, a number with its unit).

Simplifications: every fact appears in exactly one passage, and nothing else is known about countries and
seas; dates are consistent where a person is involved (founders, inventors, climbers and singers are
adults by then), but not otherwise (a company may build an invention older than itself, "under licence");
splits are drawn uniformly at random over questions, so an entity can appear in several splits, but each
question appears in one only.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field

from data.world_text import BRIDGE_TEMPLATES, COLOUR_SENTENCES, PASSAGE_TEMPLATES, QUESTION_TEMPLATES

SEED = 13
SPLIT_SHARES = {"train": 0.6, "dev": 0.15, "test": 0.25}

ONSETS = "b br c ch d dr f g gr h j k kl l m n p pr r s sh st t th tr v w z".split()
VOWELS = "a e i o u ae ai ea io ou".split()
CODAS = ["", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "v"]
OCCUPATIONS = (
    "architect astronomer botanist cartographer chemist composer engineer geologist glassblower historian "
    "linguist mathematician painter physician poet sculptor shipwright violinist weaver zoologist"
).split()
INDUSTRIES = ["textiles", "shipbuilding", "optics", "clockmaking", "paper", "ceramics", "railways", "printing"]
INVENTION_KINDS = "engine loom lamp press telescope compass pump kiln sextant dynamo barometer lathe".split()
COMPANY_SUFFIXES = ["Works", "Industries", "Company", "Foundry", "Guild", "Manufactory", "Trading House"]
CITY_SUFFIXES = ["", "", "ford", "vale", "mouth", "holm", "grad", "stad", "port", "wick"]
BAND_NOUNS = "Lanterns Ravens Anchors Comets Weavers Foxes Bells Tides Engines Pilgrims".split()
ALBUM_NOUNS = "Tides Embers Letters Harbours Winters Gardens Signals Mirrors Roads Echoes".split()
UNITS = {"length": "kilometres", "height": "metres"}
"""Numeric facts whose value plus unit is a natural alias ("1250" and "1250 kilometres")."""


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)).capitalize()


@dataclass
class World:
    """Entities by kind (each a dict of attributes) plus the passages and questions generated from them."""

    entities: dict[str, list[dict]] = field(default_factory=dict)
    """kind -> entities, each a dict with a unique `name` and its facts."""
    passages: list[dict] = field(default_factory=list)
    """`{"pid", "title", "text"}` rows of the corpus."""
    questions: list[dict] = field(default_factory=list)
    """`{"id", "question", "answer", "answers", "gold_pids", "hops"}` rows, shuffled."""
    fact_pids: dict[tuple[str, str], str] = field(default_factory=dict)
    """(entity name, fact) -> id of the passage stating it."""


class _Names:
    """Unique invented names: never the same string twice, nor one name inside another."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, build) -> str:
        while True:
            name = build(self.rng)
            if all(name not in other and other not in name for other in self.used):
                self.used.add(name)
                return name

    def many(self, count: int, build_name, facts) -> list[dict]:
        """`count` entities: a new name from `build_name(rng)` and the facts `facts()` draws for it."""
        return [{"name": self.make(build_name), **facts()} for _ in range(count)]


def _make_places(rng: random.Random, many) -> dict[str, list[dict]]:
    """Seas, countries, rivers, cities and universities (`many(count, build_name, facts)` makes each list)."""
    seas = many(8, lambda r: f"the {_word(r, 2)} Sea", dict)
    countries = many(12, lambda r: _word(r, 2) + r.choice(["ia", "land", "mark", "or"]), dict)
    rivers = many(40, lambda r: f"the {_word(r, 2)} River", lambda: {"sea": rng.choice(seas)["name"]})
    for river in rivers:
        river["length"] = rng.randrange(80, 2400, 10)
    cities = many(
        80,
        lambda r: _word(r, r.choice([1, 2])) + r.choice(CITY_SUFFIXES),
        lambda: {"country": rng.choice(countries)["name"], "river": rng.choice(rivers)["name"]},
    )
    for city in cities:
        city["founded"] = rng.randrange(600, 1700)
    universities = many(40, lambda r: f"the University of {_word(r, 2)}", lambda: {"city": rng.choice(cities)["name"]})
    for university in universities:
        university["founded"] = rng.randrange(1100, 1690)  # before anyone in the world is born
    return {"sea": seas, "country": countries, "river": rivers, "city": cities, "university": universities}


def _make_entities(rng: random.Random) -> dict[str, list[dict]]:
    """Every entity of the world, by kind, each with its name and facts."""
    many = _Names(rng).many
    places = _make_places(rng, many)
    countries, cities, universities = places["country"], places["city"], places["university"]
    people = many(
        300,
        lambda r: f"{_word(r, r.choice([1, 2]))} {_word(r, r.choice([2, 3]))}",
        lambda: {"born_in": rng.choice(cities)["name"], "studied_at": rng.choice(universities)["name"]},
    )
    for person in people:
        person.update(born=rng.randrange(1700, 1960), occupation=rng.choice(OCCUPATIONS))
    born = {person["name"]: person["born"] for person in people}

    def person_and_year(role: str, year: str, age: tuple[int, int], pool: list[dict] = people) -> dict:
        """A person in `role` and the `year` they did it, at an age drawn from `age`."""
        person = rng.choice(pool)["name"]
        return {role: person, year: born[person] + rng.randrange(*age)}

    companies = many(
        100,
        lambda r: f"{_word(r, 2)} {r.choice(COMPANY_SUFFIXES)}",
        lambda: {
            **person_and_year("founder", "founded", (22, 55)),
            "hq": rng.choice(cities)["name"],
            "industry": rng.choice(INDUSTRIES),
        },
    )
    inventions = many(
        80,
        lambda r: f"the {_word(r, 2)} {r.choice(INVENTION_KINDS)}",
        lambda: {**person_and_year("inventor", "year", (20, 60)), "maker": rng.choice(companies)["name"]},
    )
    mountains = many(
        40,
        lambda r: f"Mount {_word(r, 2)}",
        lambda: {
            **person_and_year("first_climber", "climbed", (18, 45)),
            "country": rng.choice(countries)["name"],
            "height": rng.randrange(1200, 8200, 5),
        },
    )
    modern = [person for person in people if person["born"] >= 1900]
    singer = functools.partial(person_and_year, "singer", "formed", (16, 30), modern)
    music = _make_music(rng, many, singer, cities)
    return {**places, "person": people, "company": companies, "invention": inventions, "mountain": mountains, **music}


def _make_music(rng: random.Random, many, singer, cities: list[dict]) -> dict[str, list[dict]]:
    """Bands (a singer and the year from `singer()`, a city) and their albums, released after the band formed."""
    bands = many(
        40,
        lambda r: f"the {_word(r, 2)} {r.choice(BAND_NOUNS)}",
        lambda: {**singer(), "formed_in": rng.choice(cities)["name"]},
    )
    formed = {band["name"]: band["formed"] for band in bands}
    albums = many(60, lambda r: f"{_word(r, 2)} {r.choice(ALBUM_NOUNS)}", lambda: {"band": rng.choice(bands)["name"]})
    for album in albums:
        album["released"] = formed[album["band"]] + rng.randrange(1, 20)
    return {"band": bands, "album": albums}


def _answers(fact: str, value: str | int) -> list[str]:
    """The gold answer as the passage writes it, then natural aliases: with 'the', a river's bare name, a unit."""
    value = str(value)
    answer = value.removeprefix("the ")
    answers = [answer, value] if value != answer else [answer]
    if answer.endswith(" River"):
        answers.append(answer.removesuffix(" River"))
    if fact in UNITS:
        answers.append(f"{answer} {UNITS[fact]}")
    return answers


def _capitalized(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def _write_passages(world: World, rng: random.Random) -> None:
    for kind, entities in world.entities.items():
        facts = [(fact, templates) for (of_kind, fact), templates in PASSAGE_TEMPLATES.items() if of_kind == kind]
        for entity in entities:
            title = entity["name"].removeprefix("the ")
            for fact, templates in facts:
                sentences = [rng.choice(templates).format(**entity, title=title)]
                colour = rng.sample(COLOUR_SENTENCES[kind], rng.choice([0, 1, 1, 2, 3]))
                sentences += [sentence.format(short=entity["name"].split()[-1]) for sentence in colour]
                pid = f"w{len(world.passages)}"
                world.passages.append({"pid": pid, "title": title, "text": " ".join(map(_capitalized, sentences))})
                world.fact_pids[(entity["name"], fact)] = pid


def _question(text: str, fact: str, value: str | int, gold_pids: list[str]) -> dict:
    answers = _answers(fact, value)
    return {"question": _capitalized(text), "answer": answers[0], "answers": answers, "gold_pids": gold_pids}


def _write_questions(world: World, rng: random.Random) -> None:
    for (kind, fact), templates in QUESTION_TEMPLATES.items():
        for entity in world.entities[kind]:
            text = rng.choice(templates).format(name=entity["name"])
            world.questions.append(_question(text, fact, entity[fact], [world.fact_pids[(entity["name"], fact)]]))
    by_name = {entity["name"]: entity for entities in world.entities.values() for entity in entities}
    for kind, fact, bridge_fact, template in BRIDGE_TEMPLATES:
        for entity in world.entities[kind]:
            bridge = by_name[entity[fact]]
            gold_pids = [world.fact_pids[(entity["name"], fact)], world.fact_pids[(bridge["name"], bridge_fact)]]
            world.questions.append(
                _question(template.format(name=entity["name"]), bridge_fact, bridge[bridge_fact], gold_pids)
            )
    for question in world.questions:
        question["hops"] = len(question["gold_pids"])


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


def render_files(world: World) -> dict[str, str]:
    """File name -> content of everything `python -m data.generate` writes for `world`."""
    files = {"corpus.jsonl": to_jsonl(world.passages)}
    files.update({f"{name}.jsonl": to_jsonl(rows) for name, rows in split(world).items()})
    return files
