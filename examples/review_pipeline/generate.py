"""Write the review-pipeline example's data: `python -m examples.review_pipeline.generate` (deterministic).

A review is an opening, one sentence about one part of a product (battery, screen, sound, price, delivery)
whose wording says the part and whether the reviewer liked it, and a closing. `train.jsonl` (48), `dev.jsonl`
(16) and `test.jsonl` (40) hold `{"review", "topic", "sentiment"}`; `teacher.jsonl` the same fields as a
strong LM answered them, which `program.teacher()` replays offline.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"train": 48, "dev": 16, "test": 40}
PRODUCTS = ["headphones", "phone", "tablet", "speaker", "smartwatch", "e-reader", "laptop"]
SENTENCES = {
    "battery": {"positive": ["the battery easily lasts two days", "it charges in under an hour",
                             "battery life is excellent"],
                "negative": ["the battery dies before lunch", "it takes all night to charge",
                             "battery life is terrible"]},
    "screen": {"positive": ["the display is sharp and bright", "colors on the screen look great",
                            "the screen is easy to read outside"],
               "negative": ["the display is dim and blurry", "the screen scratches far too easily",
                            "the screen flickers all the time"]},
    "sound": {"positive": ["the sound is rich and clear", "the bass is deep without distortion",
                           "voices come through crisp"],
              "negative": ["the sound is tinny and flat", "it crackles at high volume",
                           "the audio keeps cutting out"]},
    "price": {"positive": ["it is a bargain for what you get", "great value for the money",
                           "the price is very fair"],
              "negative": ["it is far too expensive", "not worth the money at all", "the price is a rip-off"]},
    "delivery": {"positive": ["it arrived a day early", "shipping was fast and the box was intact",
                              "the courier was quick and friendly"],
                 "negative": ["it arrived two weeks late", "the package came crushed", "the delivery never showed up"]},
}  # fmt: skip
OPENINGS = ["I bought this {p} last month:", "My new {p}:", "Review of the {p}:", "After a week with this {p},"]
CLOSINGS = ["Overall that says it all.", "That is my honest opinion.", "Make of that what you will.", ""]


def review(rng: random.Random) -> dict:
    """One review and its two labels."""
    topic = rng.choice(list(SENTENCES))
    sentiment = rng.choice(["positive", "negative"])
    parts = [rng.choice(OPENINGS).format(p=rng.choice(PRODUCTS)), f"{rng.choice(SENTENCES[topic][sentiment])}.",
             rng.choice(CLOSINGS)]  # fmt: skip
    return {"review": " ".join(part for part in parts if part), "topic": topic, "sentiment": sentiment}


def main() -> None:
    rng = random.Random(11)
    rows, seen = [], set()
    while len(rows) < sum(SIZES.values()):
        row = review(rng)
        if row["review"] not in seen:
            seen.add(row["review"])
            rows.append(row)
    start = 0
    for split, size in SIZES.items():
        lines = [json.dumps(row) for row in rows[start : start + size]]
        (HERE / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        start += size
    (HERE / "teacher.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
