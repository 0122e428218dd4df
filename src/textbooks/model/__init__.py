"""The phi-1 model: `phi` (config, model, KV cache), `generate` (batched decoding).

Nothing is imported here so that `textbooks --help` does not pay for torch; import the modules.
"""
