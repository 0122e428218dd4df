"""`python -m textbooks.teacher.llama_server [--extra_buffers false] ARGS...`: llama-cpp-python's
OpenAI-compatible server (`python -m llama_cpp.server ARGS...`), optionally without llama.cpp's
extra CPU buffer types (weights repacked for AMX or for interleaved SIMD kernels).

Why a wrapper: on CPUs with AMX (Intel Sapphire Rapids and later) a native build of
llama-cpp-python 0.3.36 crashes in its AMX matrix multiply on the first request
(`ggml_backend_amx_mul_mat`; llama.cpp issue 20824, open), and the server has no flag to avoid it.
llama.cpp's model parameter `use_extra_bufts` does, but llama-cpp-python's `Llama` always takes
the default parameters; so the defaults it reads are changed here, before the server loads a model.
"""

from __future__ import annotations

import sys


def without_extra_buffer_types() -> None:
    import llama_cpp.llama_cpp as llama

    defaults = llama.llama_model_default_params

    def model_params():
        params = defaults()
        params.use_extra_bufts = False
        return params

    llama.llama_model_default_params = model_params


def main(argv: list[str]) -> None:
    if argv[:1] == ["--extra_buffers"]:
        value = argv[1] if len(argv) > 1 else "nothing"
        if value not in ("true", "false"):
            sys.exit(f"--extra_buffers: {value}; expected true or false")
        if value == "false":
            without_extra_buffer_types()
        argv = argv[2:]
    from llama_cpp.server.__main__ import main as serve

    sys.argv = [sys.argv[0], *argv]
    serve()


if __name__ == "__main__":
    main(sys.argv[1:])
