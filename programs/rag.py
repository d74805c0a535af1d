"""Retrieve-then-answer programs: `RAG`, `MultiHopRAG` and the `ClosedBook` baseline.

Each program takes its retriever when it is built, never from `dspy.settings`, and returns a
`dspy.Prediction` with `answer`, `context` (the passages as the LM saw them, `title | text`),
`passages` (the `Hit`s, so metrics can check passage ids) and `hop_pids` (the pids each search returned,
one list per hop, so a report can tell which hop found a passage).

`choose_program(trainset)` is `--program auto`: the multi-hop program when the training questions include
two-hop ones (two or more gold passages, or `hops` 2), the single-hop one otherwise.

The retriever is any object with `search(query, k) -> list[Hit]` (see `retrieval/base.py`), a
`dspy.ColBERTv2` client, or the URL of a ColBERTv2-protocol server (ours, `python -m retrieval.serve`,
or the hosted one). It lives in a `PassageSearch` holder that is not a DSPy parameter, so it stays out
of `program.save("x.json")`, and that program copies share instead of copying (optimizers deep-copy
programs many times; an index must not be copied each time).

Simplified: one `dspy.Predict` per step (no chain of thought), one search per hop (no batching), and
multi-hop context is the de-duplicated union of every hop's passages in the order found (no re-ranking).
"""

from __future__ import annotations

from typing import Any

import dspy

from core.errors import RagdistillError
from programs.signatures import ClosedBookAnswer, GenerateAnswer, GenerateSearchQuery
from retrieval.base import Hit, check_k

PROGRAMS = ("rag", "multihop", "closedbook")
AUTO = "auto"


def hit_from_colbertv2(result: dict[str, Any]) -> Hit:
    """A `dspy.ColBERTv2` result (`long_text`, `pid`, `score`, maybe `title`) as a `Hit`.

    Servers put the title inside the text as `title | text`; we split it back out so that
    `Hit.as_context()` gives the same string the server sent.
    """
    long_text = str(result["long_text"])
    title = str(result.get("title") or "")
    if title and long_text.startswith(f"{title} | "):
        text = long_text[len(title) + 3 :]
    elif not title and " | " in long_text:
        title, text = long_text.split(" | ", 1)
    else:
        text = long_text
    return Hit(pid=str(result.get("pid", "")), title=title, text=text, score=float(result.get("score", 0.0)))


class PassageSearch:
    """The retriever a program holds: one `search(query, k)` whatever kind of retriever it wraps."""

    def __init__(self, retriever: Any):
        if isinstance(retriever, str):
            retriever = dspy.ColBERTv2(url=retriever)
        if not isinstance(retriever, dspy.ColBERTv2) and not callable(getattr(retriever, "search", None)):
            raise RagdistillError(
                f"cannot search with {type(retriever).__name__}: give a retriever with search(query, k), "
                "a dspy.ColBERTv2 client or a ColBERTv2 server URL"
            )
        self.retriever = retriever

    def search(self, query: str, k: int) -> list[Hit]:
        """The top-`k` passages for `query`."""
        if isinstance(self.retriever, dspy.ColBERTv2):
            return [hit_from_colbertv2(result) for result in self.retriever(query, k=k)]
        return list(self.retriever.search(query, k))

    def __deepcopy__(self, memo: dict) -> PassageSearch:
        # Copies of a program share one retriever (see the module docstring).
        return self


class RAG(dspy.Module):
    """Retrieve `k` passages for the question, then answer from them."""

    def __init__(self, retriever: Any, k: int = 5):
        super().__init__()
        self.search = PassageSearch(retriever)
        self.k = k
        self.generate_answer = dspy.Predict(GenerateAnswer)

    def forward(self, question: str) -> dspy.Prediction:
        hits = self.search.search(question, self.k)
        context = [hit.as_context() for hit in hits]
        prediction = self.generate_answer(context=context, question=question)
        return dspy.Prediction(
            answer=prediction.answer, context=context, passages=hits, hop_pids=[[hit.pid for hit in hits]]
        )


class MultiHopRAG(dspy.Module):
    """Write a query, retrieve, write a new query from what was found, retrieve again, then answer."""

    def __init__(self, retriever: Any, k: int = 5, hops: int = 2):
        super().__init__()
        self.search = PassageSearch(retriever)
        self.k = k
        self.generate_query = [dspy.Predict(GenerateSearchQuery) for _ in range(hops)]
        self.generate_answer = dspy.Predict(GenerateAnswer)

    def forward(self, question: str) -> dspy.Prediction:
        context: list[str] = []
        hits: list[Hit] = []
        hop_pids: list[list[str]] = []
        for generate_query in self.generate_query:
            query = generate_query(context=context, question=question).query
            found = self.search.search(query, self.k)
            hop_pids.append([hit.pid for hit in found])
            context = list(context)  # a new list per hop: DSPy's trace keeps each call's inputs by reference
            for hit in found:
                if hit.as_context() not in context:
                    context.append(hit.as_context())
                    hits.append(hit)
        prediction = self.generate_answer(context=context, question=question)
        return dspy.Prediction(answer=prediction.answer, context=context, passages=hits, hop_pids=hop_pids)


class ClosedBook(dspy.Module):
    """Answer from the LM's own knowledge, with no retrieval: the baseline retrieval must beat."""

    def __init__(self):
        super().__init__()
        self.generate_answer = dspy.Predict(ClosedBookAnswer)

    def forward(self, question: str) -> dspy.Prediction:
        prediction = self.generate_answer(question=question)
        return dspy.Prediction(answer=prediction.answer, context=[], passages=[], hop_pids=[])


def build_program(name: str, retriever: Any = None, k: int = 5) -> dspy.Module:
    """The program called `name` (one of `PROGRAMS`) over `retriever`; closed book ignores both."""
    if name == "closedbook":
        return ClosedBook()
    if name not in PROGRAMS:
        raise RagdistillError(f"unknown program {name!r}: choose one of {', '.join(PROGRAMS)}")
    if retriever is None:
        raise RagdistillError(f"the {name!r} program needs a retriever")
    k = check_k(k)
    return RAG(retriever, k=k) if name == "rag" else MultiHopRAG(retriever, k=k)


def choose_program(trainset: list[dspy.Example]) -> tuple[str, str]:
    """`--program auto`: `multihop` when a training question is two-hop, else `rag`; with the reason, in words."""
    two_hop = sum(1 for example in trainset if int(example.get("hops") or 1) >= 2)
    name = "multihop" if two_hop else "rag"
    return name, f"auto: {two_hop} of {len(trainset)} training questions have two gold passages"
