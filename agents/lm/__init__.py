"""Language-model agents. Seats (`spec` reads `lm:SOURCE#OPTIONS`): one that scores each legal
action's words after a prompt made from the text view (`policy`), one that generates an answer
and reads the action from it (`generation`, `answer`), and one on a model server (`served`,
`served_seat`); the prompts they share (`prompt`, `chat` for instruct models' templates,
`prompting`); the project's own small model and its word-level tokenizer (`model`,
`tokenizer`), distillation from the scripted planners (`distill`), and learning on the LM: PPO
(`ppo`) and a Q head (`qhead`).

Nothing is imported here: `import agents.lm.policy` (or the registry's `lm` seat) pulls in torch
and transformers only when a language model is asked for.
"""
