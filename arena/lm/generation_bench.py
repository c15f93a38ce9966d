"""Decisions/s of a generating LM seat (`arena lm bench --mode generate`): `LMGenerator.act`
(text views, prompts, batched generation of up to `max_tokens` tokens, reading the answers) on
B maze worlds, 1 agent each. Figures only, never asserts."""

from __future__ import annotations

import time

import numpy as np

from agents.base import Observations
from worlds.batch import BatchEnv
from worlds.scenario import Scenario


def generation_speed(
    lm, tokenizer, scenario: Scenario, batches, seconds: float, seed: int, name: str, max_tokens: int
) -> list[dict]:
    from agents.lm.generation import LMGenerator

    print(f"\ndecisions/s, {scenario.name} (1 agent), answers of at most {max_tokens} tokens, sampled")
    print(f"{'batch':>6} | {'decisions/s':>11} | {'ms/call':>8} | {'cpu ms/call':>11} | "
          f"{'in generate':>11} | {'prompt':>6} | tokens/answer | fallbacks")  # fmt: skip
    rows = []
    for B in batches:
        seat = LMGenerator(lm, tokenizer, scenario, seed=seed, max_tokens=max_tokens, model_name=name)
        spent_generating, generated = [0.0], [0]
        generate = seat.generate

        def timed(ids, sample, generate=generate, spent=spent_generating, count=generated):
            t = time.perf_counter()
            out = generate(ids, sample)
            spent[0] += time.perf_counter() - t
            count[0] += sum(len(tokenizer.encode(s, add_special_tokens=False)) for s in out)
            return out

        seat.generate = timed
        env = BatchEnv(scenario, B, seed)
        raw = env.reset()
        obs = Observations.of_batch(scenario, env.world, raw, [0])
        prompt = float(np.mean([len(ids) for ids in seat.token_ids(obs)]))
        env.step(seat.act(obs).reshape(B, 1))  # warm-up
        calls, spent, cpu = 0, 0.0, 0.0
        spent_generating[0], generated[0] = 0.0, 0
        start = dict(seat.stats)
        while spent < seconds or calls < 2:
            obs = Observations.of_batch(scenario, env.world, raw, [0])
            t, c = time.perf_counter(), time.process_time()
            actions = seat.act(obs)
            spent, cpu = spent + time.perf_counter() - t, cpu + time.process_time() - c
            calls += 1
            raw, *_ = env.step(actions.reshape(B, 1))
        fallbacks = seat.stats["fallbacks"] - start["fallbacks"]
        decisions = B * calls
        row = {"batch": B, "decisions_per_s": decisions / spent, "ms_per_call": 1000 * spent / calls,
               "cpu_ms_per_call": 1000 * cpu / calls,
               "generate_share": spent_generating[0] / spent, "prompt_tokens": prompt,
               "tokens_per_answer": generated[0] / decisions,
               "fallback_share": fallbacks / decisions}  # fmt: skip
        rows.append(row)
        print(f"{B:>6} | {row['decisions_per_s']:>11,.1f} | {row['ms_per_call']:>8.1f} | "
              f"{row['cpu_ms_per_call']:>11.1f} | "
              f"{row['generate_share']:>10.0%} | {prompt:>6.0f} | {row['tokens_per_answer']:>13.1f} | "
              f"{row['fallback_share']:.0%}", flush=True)  # fmt: skip
    return rows
