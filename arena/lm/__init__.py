"""`arena lm`: the language-model commands (train, bench, finetune, continual)."""
