"""`load_program(run, lm=URL)` and `programs.serve --lm URL`: answering through an OpenAI-compatible server.

The server is a stand-in for vLLM/SGLang/TGI (none runs in the test suite): a loopback stub speaking the
OpenAI chat API whose generation is the exported directory's, run by transformers alone as
`ragdistill_prompt.json` describes (`tests.finetune.test_export.generate_from_export`).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from core.errors import RagdistillError
from core.serving.runtime import serve_in_thread
from finetune.export import export_student
from finetune.served import ServedStudentLM
from programs import load_program
from programs.serve.service import ServeConfig, create_app, load_service_program
from tests.finetune.test_export import generate_from_export

QUESTIONS = ["In which city was the founder of Shovki Foundry born?", "Who founded Heanthour Works?"]


def openai_stub(export_dir: Path, prompts: list[str]) -> ThreadingHTTPServer:
    """A loopback OpenAI-compatible server of `export_dir` (model id `student`); it records the prompts it gets."""

    class Handler(BaseHTTPRequestHandler):
        def reply(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.reply({"object": "list", "data": [{"id": "student", "object": "model"}]})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            (message,) = request["messages"]  # the StudentAdapter sends one user message
            prompts.append(message["content"])
            text = generate_from_export(export_dir, message["content"], request.get("max_tokens"))
            self.reply({
                "id": "stub", "object": "chat.completion", "created": int(time.time()), "model": request["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })  # fmt: skip

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_program_and_service_answer_through_a_served_export_as_in_process(tiny_run: Path, tmp_path: Path):
    prompts: list[str] = []
    server = openai_stub(export_student(tiny_run, tmp_path / "export"), prompts)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        remote = load_program(tiny_run, lm=url)
        assert isinstance(remote.lm, ServedStudentLM) and remote.lm.model == "openai/student"
        in_process = load_program(tiny_run)
        local = [in_process(q).answer for q in QUESTIONS]
        assert [remote(q).answer for q in QUESTIONS] == local
        config = ServeConfig(lm=url, timeout_s=60)  # python -m programs.serve RUN --lm URL (warm-up: one prompt)
        with serve_in_thread(create_app(load_service_program(tiny_run, config), config=config)) as service:
            answer = httpx.post(f"{service}/v1/answer", json={"question": QUESTIONS[0]}, timeout=60).json()
        assert answer["answer"] == local[0] and answer["model"] == "openai/student"
    finally:
        server.shutdown()
    assert len(prompts) == len(QUESTIONS) + 2 and all(p.startswith("answer the question based on") for p in prompts)


def test_a_server_that_cannot_be_reached_is_one_line():
    with pytest.raises(RagdistillError, match="cannot list the models served at http://127.0.0.1:9/v1"):
        ServedStudentLM("http://127.0.0.1:9/v1")
