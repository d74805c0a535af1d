"""Write the review-pipeline example's data: `python -m examples.review_pipeline.generate` (deterministic).

A review is an opening, one sentence about one part of a product (battery, screen, sound, price, delivery)
whose wording says the part and whether the reviewer liked it, and a closing. `train.jsonl` (48), `dev.jsonl`
(16) and `test.jsonl` (40) hold `{"review", "topic", "sentiment"}`; `teacher.jsonl` the same fields as a
strong LM answered them, which `program.teacher()` replays offline.
"""

from __future__ import annotations

import random
from pathlib import Path

from examples.splits import distinct_rows, write_splits

HERE = Path(__file__).resolve().parent
PRODUCTS = ["headphones", "phone", "tablet", "speaker", "smartwatch", "e-reader", "laptop"]
SENTENCES = {  # topic: (sentences of a reviewer who liked it, of one who did not)
    "battery": (["the battery easily lasts two days", "it charges in under an hour", "battery life is excellent"],
                ["the battery dies before lunch", "it takes all night to charge", "battery life is terrible"]),
    "screen": (["the display is sharp and bright", "colors on the screen look great",
                "the screen is easy to read outside"],
               ["the display is dim and blurry", "the screen scratches far too easily",
                "the screen flickers all the time"]),
    "sound": (["the sound is rich and clear", "the bass is deep without distortion", "voices come through crisp"],
              ["the sound is tinny and flat", "it crackles at high volume", "the audio keeps cutting out"]),
    "price": (["it is a bargain for what you get", "great value for the money", "the price is very fair"],
              ["it is far too expensive", "not worth the money at all", "the price is a rip-off"]),
    "delivery": (["it arrived a day early", "shipping was fast and the box was intact",
                  "the courier was quick and friendly"],
                 ["it arrived two weeks late", "the package came crushed", "the delivery never showed up"]),
}  # fmt: skip
OPENINGS = ["I bought this {p} last month:", "My new {p}:", "Review of the {p}:", "After a week with this {p},"]
CLOSINGS = ["Overall that says it all.", "That is my honest opinion.", "Make of that what you will.", ""]


def review(rng: random.Random) -> dict:
    """One review and its two labels."""
    topic = rng.choice(list(SENTENCES))
    sentiment = rng.choice(["positive", "negative"])
    opening = rng.choice(OPENINGS).format(p=rng.choice(PRODUCTS))
    parts = [opening, f"{rng.choice(SENTENCES[topic][sentiment == 'negative'])}.",
             rng.choice(CLOSINGS)]  # fmt: skip
    return {"review": " ".join(part for part in parts if part), "topic": topic, "sentiment": sentiment}


def main() -> None:
    rows = distinct_rows(review, "review", seed=11)
    write_splits(HERE, rows, teacher=rows)


if __name__ == "__main__":
    main()
