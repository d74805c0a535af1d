"""Session-scoped pytest fixtures: retrieval.

`tiny_index_dir` is a real index directory (colbert-ai PLAID index with the offline MiniLM checkpoint, plus
BM25) over `TINY_PASSAGES`, 40 hand-written passages on distinct topics, built once per test session
(~30 s on 2 cores once colbert-ai's extensions are compiled). `TINY_QUERIES` pairs questions with the pid
of the one passage that answers them, so a reader can check the expected results by eye.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from data.loaders import Passage

_TOPICS = [
    ("Ada Lovelace", "Ada Lovelace wrote the first published program, for Babbage's Analytical Engine, in 1843."),
    ("Charles Babbage", "Charles Babbage designed the Difference Engine, a mechanical calculator made of brass gears."),
    ("Grace Hopper", "Grace Hopper built the first compiler and made the word debugging popular."),
    ("Alan Turing", "Alan Turing described a universal machine and helped break the Enigma cipher at Bletchley Park."),
    ("Mount Fuji", "Mount Fuji is the highest mountain in Japan, an active volcano near Tokyo."),
    ("Great Barrier Reef", "The Great Barrier Reef off Queensland is the largest coral reef system on Earth."),
    ("Amazon River", "The Amazon River carries more water than any other river, through Brazil and Peru."),
    ("Sahara", "The Sahara is the largest hot desert, covering much of North Africa with sand dunes."),
    ("Honey bees", "Honey bees dance in a figure eight to tell the hive where flowers with nectar are."),
    ("Octopus", "An octopus has three hearts, blue blood and eight arms that can taste what they touch."),
    ("Photosynthesis", "Plants turn sunlight, water and carbon dioxide into sugar and oxygen by photosynthesis."),
    ("Penicillin", "Alexander Fleming discovered penicillin in 1928 when mould killed bacteria on a dish."),
    ("Marie Curie", "Marie Curie won Nobel prizes in physics and chemistry for her work on radioactivity."),
    ("Isaac Newton", "Isaac Newton stated the law of universal gravitation and three laws of motion."),
    ("Moon landing", "Apollo 11 landed on the Moon in July 1969; Neil Armstrong stepped out first."),
    ("Mars", "Mars is called the red planet because iron oxide dust covers its surface."),
    ("Jupiter", "Jupiter, the largest planet, has a storm called the Great Red Spot."),
    ("Black holes", "A black hole's gravity is so strong that not even light can escape it."),
    ("Violin", "The violin has four strings tuned in fifths and is played with a bow."),
    ("Beethoven", "Ludwig van Beethoven composed nine symphonies and kept writing after he went deaf."),
    ("Jazz", "Jazz grew in New Orleans from blues and ragtime, with improvised solos."),
    ("Chess", "In chess a pawn that reaches the last rank is promoted, usually to a queen."),
    ("Football", "A football match has two halves of 45 minutes and eleven players per team."),
    ("Marathon", "A marathon race is 42.195 kilometres long, after the run from Marathon to Athens."),
    ("Sourdough", "Sourdough bread rises with wild yeast and lactic acid bacteria instead of baker's yeast."),
    ("Espresso", "Espresso is coffee brewed by forcing hot water through finely ground beans at high pressure."),
    ("Sushi", "Sushi combines vinegared rice with raw fish, seaweed or vegetables."),
    ("Chocolate", "Chocolate is made from roasted cacao beans that grow in pods on cacao trees."),
    ("Great Wall", "The Great Wall of China was built over centuries to keep northern raiders out."),
    ("Pyramids of Giza", "The pyramids of Giza were built as tombs for Egyptian pharaohs such as Khufu."),
    ("Roman aqueducts", "Roman aqueducts carried fresh water into cities using a gentle downhill slope."),
    ("Printing press", "Johannes Gutenberg's printing press with movable type spread books across Europe."),
    ("Steam engine", "James Watt improved the steam engine, which powered factories and railways."),
    ("Telephone", "Alexander Graham Bell patented the telephone in 1876."),
    ("Internet", "The internet links networks with the TCP/IP protocols that Vint Cerf co-designed."),
    ("Bicycle", "A bicycle's chain turns the rear wheel when the rider pushes the pedals."),
    ("Lighthouse", "A lighthouse warns ships away from rocks with a bright rotating lamp."),
    ("Volcano", "Lava erupts from a volcano when molten rock rises through cracks in the crust."),
    ("Tides", "Ocean tides rise and fall twice a day, pulled mainly by the Moon's gravity."),
    ("Rainbow", "A rainbow appears when sunlight is refracted and reflected inside raindrops."),
]

TINY_PASSAGES = [Passage(f"p{number}", title, text) for number, (title, text) in enumerate(_TOPICS)]

TINY_QUERIES = [
    ("Who wrote the first program for the Analytical Engine?", "p0"),
    ("Which cipher did Turing help to break?", "p3"),
    ("What is the tallest mountain in Japan?", "p4"),
    ("How many hearts does an octopus have?", "p9"),
    ("Who discovered penicillin?", "p11"),
    ("Why is Mars red?", "p15"),
    ("How long is a marathon?", "p23"),
    ("Who patented the telephone?", "p33"),
]


@pytest.fixture(scope="session")
def tiny_index_dir(tmp_path_factory) -> Path:
    """A ColBERT + BM25 index directory over TINY_PASSAGES (read-only: copy it before changing it)."""
    from retrieval.build import build_index

    return build_index(TINY_PASSAGES, tmp_path_factory.mktemp("retrieval") / "tiny-index", checkpoint="minilm-colbert")
