"""Language-model agents: a seat driven by a causal LM that scores each legal action's words
after a prompt made from the text view (`policy`), the project's own small model and its
word-level tokenizer (`model`, `tokenizer`), distillation from the scripted planners
(`distill`), and learning on the LM: PPO (`ppo`) and a Q head (`qhead`).

Nothing is imported here: `import agents.lm.policy` (or the registry's `lm` seat) pulls in torch
and transformers only when a language model is asked for.
"""
