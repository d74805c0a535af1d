"""Retrieve-then-answer programs: `RAG`, `MultiHopRAG` and the `ClosedBook` baseline.

Each program takes its retriever when it is built, never from `dspy.settings`, and returns a
`dspy.Prediction` with `answer`, `context` (the passages as the LM saw them, `title | text`),
`passages` (the `Hit`s, so metrics can check passage ids) and `hop_pids` (the pids each search returned,
one list per hop, so a report can tell which hop found a passage); `MultiHopRAG` adds `query_pids`, what each
hop's written query alone returned (so a report can tell how often the learned query finds its gold passage).

`choose_program(trainset)` is `--program auto`: the multi-hop program when the training questions include
two-hop ones (two or more gold passages, or `hops` 2), the single-hop one otherwise. `balanced_by_hops` draws a
multi-hop program's training questions half one-hop, half two-hop, so that its second query step sees as many
questions where it must search again as questions where it must stop.

The retriever is any object with `search(query, k) -> list[Hit]` (see `retrieval/base.py`), a
`dspy.ColBERTv2` client, or the URL of a ColBERTv2-protocol server (ours, `python -m retrieval.serve`,
or the hosted one; a guarded server's key rides in the URL, `...?api_key=KEY`, and is redacted from errors).
It lives in a `PassageSearch` holder that is not a DSPy parameter, so it stays out of `program.save("x.json")`,
and that program copies share instead of copying (optimizers deep-copy programs many times; an index must
not be copied each time).

`MultiHopRAG` stops early when a later hop's query writer says nothing is missing (`NO_QUERY`, "none"): a
one-hop question then answers from the first hop's passages alone, as `RAG` would, instead of from whatever a
needless second search brings. Its answer context puts the latest hop's passages first: the last query asked
for what was still missing, so on a bridge question ("Where was the founder of X born?") the passages about the
bridge entity, which hold the answer, lead, and the passages about X, which only name the bridge, follow. A
small student then learns one rule for both kinds of question: the answer is in the passages found last.

Search that cannot lose the question (`fusion="rrf"`, the default): a written query can be bad (a 135M student
writing a title it has never seen), and a bad query must not replace a good one. So each hop also searches with
the question itself (from the second hop on, the question followed by the lead sentence of the previous hop's
best passage: what is known so far) and keeps the top `k` of the rankings fused by reciprocal rank
(`retrieval.fusion`; on ties the question's ranking wins). From the second hop on, a third ranking joins: the
question followed by the written query. The query names the entity the first hop revealed (the founder), the
question what is asked about it (where they were born); the entity's name alone ranks its passages in no useful
order, so the passage stating the asked fact may sit below the `k` kept, while the two together rank it first and
the fusion, counting it twice, keeps it. `fusion="off"` searches with the written query alone.

Copy checks (`copy_check=True`, the default): a small student misspells the names it copies, and a misspelt
query or answer finds or scores nothing. So a written query (from the question and the passages found so far)
and the answer (from its passages) that do not occur in what their step read are replaced by the most similar
span of it, when one is similar enough (`programs.spans`).

Offered choices (`offered_choices=True`, the default): a question that offers its answers ("yes or no?", "X or
Y?") is answered with the offered answer that the student, scoring each, finds the passages support most
(`programs.choices`); an LM that cannot score (a teacher) keeps its generated answer. A student whose training
answers name a chosen option in full, as its passage opens (`full_names`, learned at compile time: HotpotQA's
"Adeline Virginia Woolf" for "Virginia Woolf"), answers with that name.

Both QA programs can refuse (`refusal_threshold`, None by default: never): a distilled student whose
validation questions include unanswerable ones answers `UNANSWERABLE` when it finds that string about as likely
as its own answer (`programs.refusal`).

Simplified: one `dspy.Predict` per step (no chain of thought), up to three searches per hop (no batching), and
multi-hop context is the de-duplicated union of every hop's passages, latest hop first (no re-ranking).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import dspy
from dspy.evaluate.metrics import normalize_text

from core.errors import ConfigError, ProgramError, ServiceError, first_line
from core.serving.guard import redact_key
from data.loaders import UNANSWERABLE
from optimizers.metrics import abstained
from optimizers.targets import NO_QUERY
from programs.choices import YES_NO, choose, full_name, question_choices
from programs.refusal import refusal_gap, refuses
from programs.signatures import ClosedBookAnswer, GenerateAnswer, GenerateSearchQuery
from programs.spans import snap_to_span
from retrieval.base import Hit, check_k
from retrieval.fusion import reciprocal_rank_fusion

PROGRAMS = ("rag", "multihop", "closedbook")
AUTO = "auto"
Fusion = Literal["rrf", "off"]
FUSIONS: tuple[str, ...] = ("rrf", "off")
"""How a multi-hop search combines the written query with the question: reciprocal rank fusion, or not at all."""


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
            raise ProgramError(
                f"cannot search with {type(retriever).__name__}: give a retriever with search(query, k), "
                "a dspy.ColBERTv2 client or a ColBERTv2 server URL"
            )
        self.retriever = retriever

    def search(self, query: str, k: int) -> list[Hit]:
        """The top-`k` passages for `query`."""
        if isinstance(self.retriever, dspy.ColBERTv2):
            try:
                results = self.retriever(query, k=k)
            except Exception as err:  # its message names the URL, which may carry an API key
                raise ServiceError(redact_key(f"search at {self.retriever.url} failed: {first_line(err)}")) from None
            return [hit_from_colbertv2(result) for result in results]
        return list(self.retriever.search(query, k))

    def __deepcopy__(self, memo: dict) -> PassageSearch:
        # Copies of a program share one retriever (see the module docstring).
        return self


class RAG(dspy.Module):
    """Retrieve `k` passages for the question, then answer from them."""

    def __init__(self, retriever: Any, k: int = 5, copy_check: bool = True, offered_choices: bool = True):
        super().__init__()
        self.search = PassageSearch(retriever)
        self.k = k
        self.copy_check = copy_check
        self.offered_choices = offered_choices
        self.generate_answer = dspy.Predict(GenerateAnswer)
        self.refusal_threshold: float | None = None
        self.full_names = False

    def forward(self, question: str) -> dspy.Prediction:
        hits = self.search.search(question, self.k)
        context = [hit.as_context() for hit in hits]
        answer = answer_or_refuse(self, context, question)
        return dspy.Prediction(answer=answer, context=context, passages=hits, hop_pids=[[hit.pid for hit in hits]])


class MultiHopRAG(dspy.Module):
    """Write a query, retrieve, write a new query from what was found (or `NO_QUERY`), retrieve again, answer.

    With `fusion="rrf"` each hop also searches with the question (later hops: the question and the lead sentence
    of the previous hop's best passage, and the question and the written query) and keeps the top `k` of the
    rankings fused by reciprocal rank.
    """

    def __init__(
        self,
        retriever: Any,
        k: int = 5,
        hops: int = 2,
        fusion: Fusion = "rrf",
        copy_check: bool = True,
        offered_choices: bool = True,
    ):
        super().__init__()
        if fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {fusion!r}: choose one of {', '.join(FUSIONS)}")
        self.search = PassageSearch(retriever)
        self.k = k
        self.fusion = fusion
        self.copy_check = copy_check
        self.offered_choices = offered_choices
        self.generate_query = [dspy.Predict(GenerateSearchQuery) for _ in range(hops)]
        self.generate_answer = dspy.Predict(GenerateAnswer)
        self.refusal_threshold: float | None = None
        self.full_names = False

    def forward(self, question: str) -> dspy.Prediction:
        found_by_hop: list[list[Hit]] = []  # the passages each hop added, none twice
        hop_pids: list[list[str]] = []  # what each hop returned (fused with the question's ranking, if on)
        query_pids: list[list[str]] = []  # what each written query alone returned
        latest: list[Hit] = []
        for hop, generate_query in enumerate(self.generate_query):
            # A new list per step (DSPy's trace keeps each call's inputs by reference), latest hop first.
            context = [hit.as_context() for hits in reversed(found_by_hop) for hit in hits]
            query = generate_query(context=context, question=question).query
            if hop and is_no_query(query):
                break
            if self.copy_check:
                query = snap_to_span(query, [question, *context])
            written = self.search.search(query, self.k)
            query_pids.append([hit.pid for hit in written])
            latest = self.fused(written, anchor_queries(question, query, latest)) if self.fusion == "rrf" else written
            hop_pids.append([hit.pid for hit in latest])
            seen, added = set(context), []
            for hit in latest:
                if hit.as_context() not in seen:
                    seen.add(hit.as_context())
                    added.append(hit)
            found_by_hop.append(added)
        hits = [hit for hits in reversed(found_by_hop) for hit in hits]
        context = [hit.as_context() for hit in hits]
        answer = answer_or_refuse(self, context, question)
        return dspy.Prediction(answer=answer, context=context, passages=hits, hop_pids=hop_pids, query_pids=query_pids)

    def fused(self, written: list[Hit], anchors: list[str]) -> list[Hit]:
        """The top `k` of the anchors' rankings fused with the written query's (the first anchor's on ties)."""
        rankings = [self.search.search(anchor, self.k) for anchor in anchors]
        return reciprocal_rank_fusion([*rankings, written], key=lambda hit: hit.pid)[: self.k]


def answer_or_refuse(program: RAG | MultiHopRAG, context: list[str], question: str) -> str:
    """The program's answer from `context` (one of the question's offered choices, or copy-checked, if on), or
    `UNANSWERABLE` when its refusal gap reaches its `refusal_threshold`."""
    answer = program.generate_answer(context=context, question=question).answer
    lm = program.generate_answer.lm or dspy.settings.lm
    offered = question_choices(question) if program.offered_choices and not abstained(answer) else []
    chosen = choose(lm, context, question, offered) if offered else None
    if chosen is not None:
        answer = (program.full_names and offered != YES_NO and full_name(chosen, context)) or chosen
    elif program.copy_check and not abstained(answer):
        answer = snap_to_span(answer, context)
    if program.refusal_threshold is None:
        return answer
    gap = refusal_gap(lm, context, question, answer)
    return UNANSWERABLE if refuses(gap, program.refusal_threshold) else answer


def anchor_queries(question: str, query: str, previous: list[Hit]) -> list[str]:
    """What a hop searches with besides its written `query`: the question (first hop); from the second hop on, the
    question followed by the lead sentence of the previous hop's best passage (what is known so far), and the
    question followed by the written query (the entity it names, with what the question asks about it)."""
    if not previous:
        return [question]
    lead = re.split(r"(?<=[.!?])\s+", previous[0].text.strip(), maxsplit=1)[0]
    return [f"{question} {previous[0].title}: {lead}", f"{question} {query}"]


def is_no_query(query: str) -> bool:
    """Whether a query writer said that nothing is missing: `NO_QUERY` (any case, punctuation) or nothing at all."""
    return normalize_text(str(query or "")) in ("", NO_QUERY)


class ClosedBook(dspy.Module):
    """Answer from the LM's own knowledge, with no retrieval: the baseline retrieval must beat."""

    def __init__(self):
        super().__init__()
        self.generate_answer = dspy.Predict(ClosedBookAnswer)

    def forward(self, question: str) -> dspy.Prediction:
        prediction = self.generate_answer(question=question)
        return dspy.Prediction(answer=prediction.answer, context=[], passages=[], hop_pids=[])


def build_program(
    name: str,
    retriever: Any = None,
    k: int = 5,
    fusion: Fusion = "rrf",
    copy_check: bool = True,
    offered_choices: bool = True,
) -> dspy.Module:
    """The program called `name` (one of `PROGRAMS`) over `retriever`; closed book ignores the settings, `rag` the
    fusion."""
    if name == "closedbook":
        return ClosedBook()
    if name not in PROGRAMS:
        raise ConfigError(f"unknown program {name!r}: choose one of {', '.join(PROGRAMS)}")
    if retriever is None:
        raise ConfigError(f"the {name!r} program needs a retriever")
    k = check_k(k)
    if name == "rag":
        return RAG(retriever, k=k, copy_check=copy_check, offered_choices=offered_choices)
    return MultiHopRAG(retriever, k=k, fusion=fusion, copy_check=copy_check, offered_choices=offered_choices)


def is_two_hop(example: dspy.Example) -> bool:
    """Whether a QA example is a two-hop question (its `hops`, 2 for two or more gold passages)."""
    return int(example.get("hops") or 1) >= 2


def choose_program(trainset: list[dspy.Example]) -> tuple[str, str]:
    """`--program auto`: `multihop` when a training question is two-hop, else `rag`; with the reason, in words."""
    two_hop = sum(map(is_two_hop, trainset))
    name = "multihop" if two_hop else "rag"
    return name, f"auto: {two_hop} of {len(trainset)} training questions have two gold passages"


def balanced_by_hops(pool: list[dspy.Example], size: int) -> list[dspy.Example]:
    """`size` questions of `pool`, half one-hop and half two-hop (the other kind fills in where one runs short),
    each kind in pool order, the result in pool order."""
    two_hop = [i for i, example in enumerate(pool) if is_two_hop(example)]
    one_hop = [i for i, example in enumerate(pool) if not is_two_hop(example)]
    take_two = min(len(two_hop), max(size // 2, size - len(one_hop)))
    chosen = sorted(two_hop[:take_two] + one_hop[: size - take_two])
    return [pool[i] for i in chosen]
