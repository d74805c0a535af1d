"""Gold targets for every step of a retrieve-then-answer program: the answer's label, and derived search queries.

A gold target is what one predictor call should output, given the inputs it saw; `optimizers.gold_runs` re-runs a
program with every call answering its gold target, so each step sees what the earlier gold steps retrieved. The
answer step has a label: the example's gold answer (`answer`). A query-writing step (a predictor
whose only output is `query`, as in `MultiHopRAG`) has none; where the example names its supporting passages
(`gold_pids`) and they are in the corpus, one is derived by this rule:

    the query is the title of the first supporting passage that the step's context (the passages found by the
    earlier hops) does not hold yet, among those whose title can be read in the step's inputs (the question,
    or the text of a passage found so far).

So on a two-hop bridge question ("In which city was the founder of Shovki Foundry born?") the first query is
the entity the question names ("Shovki Foundry"); once that passage is found, it names the bridge entity, and
the second query is the bridge passage's title ("Naer Kaevshork"). A comparison question ("Which is older, A
or B?") names both entities: the first query is A, the second B (unless the first hop found B too). A one-hop
question whose passage the first hop found gives the second step no query; that step is taught to stop instead:

    a later step (its context is not empty) whose context holds every supporting passage gets `NO_QUERY` ("none"),
    and `MultiHopRAG` then answers from what it has.

Limits, said plainly:
- "Read" means the title's words occur as whole words in the question or a found passage, compared after
  SQuAD normalization (lowercase, no punctuation or articles), with a possessive 's and a trailing
  parenthetical ("Kiss and Tell (1945 film)" -> "Kiss and Tell") removed. Aliases, paraphrases and spelling
  variants are missed; a step with no readable missing title gets no target and its call is left out of the
  gold training data (as every query step was before). A title is never guessed from what the step cannot see.
- A supporting passage counts as found only when that very passage (`title | text`) is in the context;
  another passage with the same title does not.
- The query is a title (without its parenthetical): one entity per query, no other keywords. Every hop
  searches for one entity, which suits title-headed corpora (the world, Wikipedia); it is not tuned per corpus.
- A target depends only on the step's inputs: with no earlier gold step (the first hop), it cannot correct a
  retriever that misses the title it searches for; the later step then gets the target its context calls for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dspy
from dspy.evaluate.metrics import normalize_text

from data.loaders import Passage

QUERY_FIELD = "query"
NO_QUERY = "none"
"""The query that says a step's context already holds every passage needed: `MultiHopRAG` stops searching."""

_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")
_POSSESSIVE = re.compile(r"['\u2019]s\b")


def mention(title: str) -> str:
    """The form of a title a question names: without a trailing parenthetical ("Kiss and Tell (1945 film)")."""
    return _PARENTHETICAL.sub("", title).strip() or title.strip()


def _words(text: str) -> str:
    """Normalized text padded with spaces, so whole-word containment is a substring test."""
    return f" {normalize_text(_POSSESSIVE.sub('', text))} "


def readable(title: str, texts: list[str]) -> bool:
    """Whether the title's mention occurs as whole words in one of `texts` (see the module docstring)."""
    words = _words(mention(title))
    return words.strip() != "" and any(words in _words(text) for text in texts)


@dataclass(frozen=True)
class QueryTargets:
    """Derives query targets from an example's supporting passages, looked up by pid in the corpus."""

    passages: Mapping[str, Passage]
    """The corpus by pid; supporting passages absent from it are ignored."""

    def query(self, example: dspy.Example, inputs: Mapping[str, Any]) -> str | None:
        """The gold query for a query step that saw `inputs` (`question`, `context`), or None (module docstring)."""
        context = [str(passage) for passage in inputs.get("context") or []]
        texts = [str(inputs.get("question") or example.get("question") or ""), *context]
        for pid in example.get("gold_pids") or []:
            passage = self.passages.get(str(pid))
            if passage is None or passage.as_context() in context:
                continue
            if readable(passage.title, texts):
                return mention(passage.title)
        return None

    def complete(self, example: dspy.Example, inputs: Mapping[str, Any]) -> bool:
        """Whether a later step's context (not empty) already holds every supporting passage: nothing to search."""
        context = [str(passage) for passage in inputs.get("context") or []]
        supporting = [self.passages[str(pid)] for pid in example.get("gold_pids") or [] if str(pid) in self.passages]
        return bool(context and supporting) and all(passage.as_context() in context for passage in supporting)


def gold_outputs(
    predictor: dspy.Predict, inputs: Mapping[str, Any], example: dspy.Example, queries: QueryTargets | None
) -> dict[str, Any] | None:
    """The gold outputs of one predictor call: the example's labels when it has every output field (the answer
    step), a derived query (or `NO_QUERY`) for a query step when `queries` is given, else None (no gold target)."""
    labels = example.labels()
    names = list(predictor.signature.output_fields)
    if all(name in labels for name in names):
        return {name: labels[name] for name in names}
    if names == [QUERY_FIELD] and queries is not None:
        if query := queries.query(example, inputs):
            return {QUERY_FIELD: query}
        if queries.complete(example, inputs):
            return {QUERY_FIELD: NO_QUERY}
    return None
