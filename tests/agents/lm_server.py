"""A small, real OpenAI-compatible server for the tests, on 127.0.0.1: a local model folder
(the shipped model) behind `/v1/models`, `/v1/completions` and `/v1/chat/completions`.

Why not only `transformers serve`: it serves chat completions and completions (the tests use it
for generation), but transformers 5.25 lists `echo` and `logprobs` among the fields it ignores,
so it returns no log-probabilities and a scoring seat cannot score through it. This server
returns them as vLLM does: with `echo`, each choice's `logprobs` covers the prompt's own tokens
(`tokens`, `token_logprobs`, `text_offset`, the first token conditioned on BOS) and then the
generated ones. It is a standard-library `ThreadingHTTPServer`; the model runs under a lock,
and `max_in_flight` counts the requests it held at once (with `delay` seconds spent outside the
lock on each), so a test can see that a seat's rows arrive together; `fail_next` answers that
many requests with HTTP 503, as a server overloaded for a moment.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from agents.lm.model import load_model


class ModelServer:
    def __init__(self, folder: str, name: str, delay: float = 0.0):
        self.model, self.tokenizer = load_model(folder)
        self.name, self.delay = name, delay
        self.lock, self.count_lock = threading.Lock(), threading.Lock()
        self.in_flight = self.max_in_flight = self.requests = self.fail_next = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ModelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the model ----------------------------------------------------------------------------
    @torch.no_grad()
    def complete(self, prompt: str, body: dict, index: int) -> dict:
        tok = self.tokenizer
        enc = tok(prompt, add_special_tokens=False, return_offsets_mapping=True)
        ids = [tok.bos_token_id, *enc["input_ids"]]
        new = self.generate(ids, body)
        text = self.cut(tok.decode(new, skip_special_tokens=True), body.get("stop"))
        choice = {"index": index, "text": text, "finish_reason": "length", "logprobs": None}
        if body.get("logprobs") is not None:
            logp = torch.log_softmax(self.model(input_ids=torch.tensor([ids + new])).logits[0].float(), -1)
            full = ids + new
            every = [float(logp[i - 1, full[i]]) for i in range(1, len(full))]
            tokens = [prompt[a:b] for a, b in enc["offset_mapping"]] + [tok.decode([t]) for t in new]
            offsets = [a for a, _ in enc["offset_mapping"]] + [len(prompt)] * len(new)
            shown = every if body.get("echo") else every[len(ids) - 1 :]
            if not body.get("echo"):
                tokens, offsets = tokens[len(ids) - 1 :], offsets[len(ids) - 1 :]
            choice["logprobs"] = {"tokens": tokens, "token_logprobs": shown, "text_offset": offsets}
            if body.get("echo"):
                choice["text"] = prompt + text
        return choice

    def generate(self, ids: list[int], body: dict) -> list[int]:
        temperature = float(body.get("temperature", 1.0) or 0.0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(body.get("seed") or 0))
            out = self.model.generate(
                input_ids=torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=int(body.get("max_tokens") or 16),
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_k=0 if temperature > 0 else None,
                top_p=None,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        return out[0, len(ids) :].tolist()

    @staticmethod
    def cut(text: str, stop) -> str:
        for s in [stop] if isinstance(stop, str) else stop or []:
            if s in text:
                text = text[: text.index(s)]
        return text

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        if body.get("model") != self.name:
            said = f"The model `{body.get('model')}` does not exist."
            return 404, {"error": {"message": said, "code": 404}}
        with self.lock:
            if path == "/v1/completions":
                prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
                choices = [self.complete(p, body, k) for k, p in enumerate(prompts)]
                return 200, {"id": "cmpl", "object": "text_completion", "created": 0, "model": self.name,
                             "choices": choices}  # fmt: skip
            messages = body["messages"]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            new = self.generate(ids, body)
            said = self.tokenizer.decode(new, skip_special_tokens=True)
        message = {"role": "assistant", "content": said}
        return 200, {"id": "chat", "object": "chat.completion", "created": 0, "model": self.name,
                     "choices": [{"index": 0, "message": message, "finish_reason": "length"}]}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path == "/v1/models":
            models = [{"id": owner.name, "object": "model", "owned_by": "test"}]
            self.send(200, {"object": "list", "data": models})
        else:
            self.send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        owner = self.server.owner
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with owner.count_lock:
            owner.in_flight += 1
            owner.requests += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
            failing, owner.fail_next = owner.fail_next > 0, max(0, owner.fail_next - 1)
        try:
            if failing:
                self.send(503, {"error": {"message": "overloaded, try again"}})
                return
            time.sleep(owner.delay)
            if self.path not in ("/v1/completions", "/v1/chat/completions"):
                self.send(404, {"error": {"message": f"no route {self.path}"}})
                return
            self.send(*owner.answer(self.path, body))
        finally:
            with owner.count_lock:
                owner.in_flight -= 1
