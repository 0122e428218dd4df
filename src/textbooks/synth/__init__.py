"""Synthetic data from a teacher LLM, the phi-1 way: textbooks and CodeExercises.

    generator = textbook_generator(GenerationConfig(model="m", num=100, seed=0))   # or exercise_generator
    result = generate(generator, TeacherConfig(endpoints=[url], model="m"), "out/textbooks")
    print(format_report(diversity_report("out/textbooks")))

Modules: constraints (seeded draws of topic, audience, style, function name from data/),
templates (prompt files with checked placeholders), generate (the shared resumable loop),
textbooks, exercises (HumanEval-shaped problems, sandbox-checked), diversity (the report), cli.
"""
