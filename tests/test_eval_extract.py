"""Reading the program out of a chat model's answer: code blocks or bare code, then the AST pass."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from textbooks.eval.extract import extract_program, mbpp_entry_point

F = "```"  # a fence, so the answers below read like the Markdown models write


def text(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")


PROMPT = text('''
    from typing import List


    def below_zero(operations: List[int]) -> bool:
        """ Is the balance ever below zero? """
''')
SOLUTION = text("""
    def below_zero(operations):
        balance = 0
        for op in operations:
            balance += op
            if balance < 0:
                return True
        return False
""")
RESTORED = "from typing import List\n\n\n" + SOLUTION


@dataclass
class Case:
    name: str
    answer: str
    program: str | None  # None: no program, `problem` says why
    problem: str | None = None
    entry_point: str = "below_zero"
    prompt: str = PROMPT


CASES = [
    Case("a lone python block", f"{F}python\n{SOLUTION}{F}\n", RESTORED),
    Case("prose before and after the block",
         f"Sure! Here is the function:\n\n{F}python\n{SOLUTION}{F}\n\nIn this implementation, we keep a running balance.\n",
         RESTORED),
    Case("an untagged fence", f"{F}\n{SOLUTION}{F}", RESTORED),
    Case("a py tag", f"{F}py\n{SOLUTION}{F}", RESTORED),
    Case("a Python3 tag in capitals", f"{F}Python3\n{SOLUTION}{F}", RESTORED),
    Case("a fence with trailing spaces and an indented closing fence", f"{F}python   \n{SOLUTION}  {F}  \n", RESTORED),
    Case("a last block cut off by max_tokens", f"Here you go:\n{F}python\n{SOLUTION}", RESTORED),
    Case("Windows line endings", f"Here:\r\n{F}python\r\n{SOLUTION.replace(chr(10), chr(13) + chr(10))}{F}\r\n", RESTORED),
    Case("a usage block after the solution is dropped",
         f"{F}python\n{SOLUTION}{F}\n\nExample:\n\n{F}python\nprint(below_zero([1, -2]))  # True\n{F}\n", RESTORED),
    Case("a bash block is not code to run",
         f"{F}bash\npip install numpy\n{F}\n{F}python\n{SOLUTION}{F}\n", RESTORED),
    Case("an output block is not code to run", f"{F}python\n{SOLUTION}{F}\nOutput:\n{F}output\nTrue\n{F}\n", RESTORED),
    Case("a better second version replaces the first",
         f"First try:\n{F}python\ndef below_zero(operations):\n    return False\n{F}\nBetter:\n{F}python\n{SOLUTION}{F}\n",
         RESTORED),
    Case("a helper in its own block is kept",
         f"{F}python\ndef below_zero(operations):\n    return lowest(operations) < 0\n{F}\nwith the helper\n"
         f"{F}python\ndef lowest(operations):\n    return min(prefix_sums(operations), default=0)\n\n"
         f"def prefix_sums(xs):\n    total = 0\n    for x in xs:\n        total += x\n        yield total\n{F}\n",
         "from typing import List\n\n\ndef below_zero(operations):\n    return lowest(operations) < 0\n\n\n"
         "def lowest(operations):\n    return min(prefix_sums(operations), default=0)\n\n\n"
         "def prefix_sums(xs):\n    total = 0\n    for x in xs:\n        total += x\n        yield total\n"),
    Case("bare code with no fence", SOLUTION, RESTORED),
    Case("bare code between paragraphs of prose",
         f"The idea is to track the balance.\n\n{SOLUTION}\nThis runs in O(n) time: each operation is seen once.\n",
         RESTORED),
    Case("a function after many broken lines is still found",
         "Trying:\n" + "x = (  # unfinished\n" * 200 + f"\n{SOLUTION}", RESTORED),
    Case("no code at all", "I'm sorry, but I can't help with that. Could you tell me more about the problem?",
         None, "no code in the answer"),
    Case("an empty answer", "", None, "no code in the answer"),
    Case("a block that does not parse", f"{F}python\ndef below_zero(operations)\n    return False\n{F}",
         None, "no code in the answer"),
    Case("code that defines another function",
         f"{F}python\ndef is_negative(operations):\n    return sum(operations) < 0\n{F}",
         None, "no function named below_zero in the answer's code"),
    Case("the prompt's imports are added, the answer's kept once",
         f"{F}python\nfrom typing import List\nimport math\n\ndef below_zero(operations: List[int]) -> bool:\n"
         f"    return math.inf < 0\n{F}",
         "from typing import List\nimport math\n\n\ndef below_zero(operations: List[int]) -> bool:\n    return math.inf < 0\n"),
    Case("an unused import of the answer is kept (imports are cheap and may be needed at run time)",
         f"{F}python\nimport os\n{SOLUTION}{F}", "from typing import List\nimport os\n\n\n" + SOLUTION),
    Case("a __main__ block, asserts and prints are dropped",
         f"{F}python\n{SOLUTION}\nassert below_zero([-1])\nprint(below_zero([1]))\n\n"
         f"if __name__ == '__main__':\n    import doctest\n    doctest.testmod()\n{F}", RESTORED),
    Case("a helper nobody calls is dropped",
         f"{F}python\ndef unused(x):\n    return x\n\n{SOLUTION}{F}", RESTORED),
    Case("a class the function uses is kept whole",
         f"{F}python\nclass Account:\n    def __init__(self):\n        self.balance = 0\n\n    def apply(self, op):\n"
         f"        self.balance += op\n        return self.balance\n\n\ndef below_zero(operations):\n"
         f"    account = Account()\n    return any(account.apply(op) < 0 for op in operations)\n\n\n"
         f"account = Account()\nprint(below_zero([1, -3]))\n{F}",
         "from typing import List\n\n\nclass Account:\n    def __init__(self):\n        self.balance = 0\n\n"
         "    def apply(self, op):\n        self.balance += op\n        return self.balance\n\n\n"
         "def below_zero(operations):\n    account = Account()\n    return any(account.apply(op) < 0 for op in operations)\n"),
    Case("a method of a Solution class is bound where the tests call it",
         f"{F}python\nclass Solution:\n    def below_zero(self, operations: List[int]) -> bool:\n"
         f"        return min(accumulate(operations), default=0) < 0\n{F}",
         "from typing import List\n\n\nclass Solution:\n    def below_zero(self, operations: List[int]) -> bool:\n"
         "        return min(accumulate(operations), default=0) < 0\n\n\nbelow_zero = Solution().below_zero\n"),
    Case("a class that needs constructor arguments is not bound",
         f"{F}python\nclass Ledger:\n    def __init__(self, operations):\n        self.operations = operations\n\n"
         f"    def below_zero(self):\n        return False\n{F}",
         None, "no function named below_zero in the answer's code"),
    Case("a constant the function reads is kept, an unused one dropped",
         f"{F}python\nFLOOR = 0\nVERSION = '1.0'\n\ndef below_zero(operations):\n    return sum(operations) < FLOOR\n{F}",
         "from typing import List\n\n\nFLOOR = 0\n\n\ndef below_zero(operations):\n    return sum(operations) < FLOOR\n"),
    Case("a decorator stays with its function",
         f"{F}python\nfrom functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef below_zero(operations):\n    return False\n{F}",
         "from typing import List\nfrom functools import lru_cache\n\n\n@lru_cache(maxsize=None)\ndef below_zero(operations):\n    return False\n"),
    Case("a block indented inside a list item is dedented",
         f"1. Define the function:\n\n    {F}python\n" + textwrap.indent(SOLUTION, "    ") + f"    {F}\n", RESTORED),
    Case("a prose line inside the block is cut away",
         f"{F}python\nHere is the code:\n{SOLUTION}{F}", RESTORED),
    Case("a nested function stays inside its parent",
         f"{F}python\ndef below_zero(operations):\n    def step(b, op):\n        return b + op\n    b = 0\n"
         f"    for op in operations:\n        b = step(b, op)\n        if b < 0:\n            return True\n    return False\n{F}",
         "from typing import List\n\n\ndef below_zero(operations):\n    def step(b, op):\n        return b + op\n    b = 0\n"
         "    for op in operations:\n        b = step(b, op)\n        if b < 0:\n            return True\n    return False\n"),
    Case("an entry point bound to a lambda",
         f"{F}python\nbelow_zero = lambda operations: any(s < 0 for s in accumulate(operations))\n{F}",
         "from typing import List\n\n\nbelow_zero = lambda operations: any(s < 0 for s in accumulate(operations))\n"),
    Case("an async entry point", f"{F}python\nasync def below_zero(operations):\n    return False\n{F}",
         "from typing import List\n\n\nasync def below_zero(operations):\n    return False\n"),
]

HELPER_PROMPT = text('''
    def is_palindrome(string: str) -> bool:
        """ Test if given string is a palindrome """
        return string == string[::-1]


    def make_palindrome(string: str) -> str:
        """ Find the shortest palindrome that begins with a supplied string. """
''')
MAKE = "def make_palindrome(string):\n    i = 0\n    while not is_palindrome(string[i:]):\n        i += 1\n    return string + string[:i][::-1]\n"
CASES += [
    Case("a helper the prompt defines is restored when the answer calls it without defining it",
         f"{F}python\n{MAKE}{F}",
         'def is_palindrome(string: str) -> bool:\n    """ Test if given string is a palindrome """\n'
         "    return string == string[::-1]\n\n\n" + MAKE,
         entry_point="make_palindrome", prompt=HELPER_PROMPT),
    Case("the answer's own version of the prompt's helper wins",
         f"{F}python\ndef is_palindrome(s):\n    return s == ''.join(reversed(s))\n\n{MAKE}{F}",
         "def is_palindrome(s):\n    return s == ''.join(reversed(s))\n\n\n" + MAKE,
         entry_point="make_palindrome", prompt=HELPER_PROMPT),
    Case("an MBPP prompt (a docstring) adds nothing",
         f"{F}python\nimport re\ndef remove_lowercase(s):\n    return re.sub('[a-z]', '', s)\n{F}",
         "import re\n\n\ndef remove_lowercase(s):\n    return re.sub('[a-z]', '', s)\n",
         entry_point="remove_lowercase",
         prompt='"""\nWrite a function to remove lowercase substrings from a given string.\n'
                "assert remove_lowercase('PYTHon')==('PYTH')\n\"\"\"\n"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_program_of_an_answer(case):
    found = extract_program(case.answer, case.entry_point, case.prompt)
    assert (found.program, found.problem) == (case.program, case.problem)


def test_there_are_at_least_thirty_hand_written_answers():
    assert len({c.name for c in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("test, entry_point", [
    ("assert remove_Occ(\"hello\",\"l\") == \"heo\"", "remove_Occ"),
    ("assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))", "similar_elements"),
    ("assert math.isclose(volume_cone(5,12), 314.15926535897927, rel_tol=0.001)", "volume_cone"),
    ("assert round(area_tetrahedron(3), 2) == 15.59", "area_tetrahedron"),
    ("assert sorted(heap_queue_largest([25, 35], 2)) == [35, 25]", "heap_queue_largest"),
    ("assert not is_not_prime(2)", "is_not_prime"),
    ("assert len(x) == 3", None),
    ("assert (", None),
])
def test_mbpp_entry_point_is_the_function_its_first_test_calls(test, entry_point):
    assert mbpp_entry_point(test) == entry_point
