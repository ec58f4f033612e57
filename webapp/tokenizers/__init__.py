"""The tokenizer lesson's JSON API: tokenize with several tokenizers, replay BPE, toy BPE."""
