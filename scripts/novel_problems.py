"""The source of the `novel` benchmark: 50 problems written for this project, in phi-1's spirit
(unusual combinations of ordinary concepts: a small simulation, a puzzle with a twist, data
wrangling with an odd rule). Each has a HumanEval-layout prompt, a reference body, hidden tests
(`check(candidate)`) and a plausible wrong body that the tests must reject.

    python scripts/novel_problems.py      # writes src/textbooks/benchmarks/data/novel.jsonl

Code is easier to review here than inside JSON strings; the JSONL is what ships and is loaded.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "textbooks" / "eval" / "data" / "novel.jsonl"
PROBLEMS: list[dict] = []


def problem(prompt: str, solution: str, test: str, wrong: str) -> None:
    """`prompt`: imports, signature and docstring; `solution` and `wrong`: function bodies written
    flush left (indented here); `test`: a `check(candidate)` function."""
    prompt = textwrap.dedent(prompt).lstrip("\n")
    entry_point = prompt.split("def ", 1)[1].split("(", 1)[0]

    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip("\n"), "    ") + "\n"

    PROBLEMS.append({
        "task_id": f"Novel/{len(PROBLEMS)}",
        "entry_point": entry_point,
        "prompt": prompt,
        "canonical_solution": body(solution),
        "test": textwrap.dedent(test).strip("\n") + "\n",
        "plausible_wrong": body(wrong),
    })


# 0: a small simulation -- an elevator sweeping in one direction first
problem('''
    def elevator_stops(requests: list, start: int) -> list:
        """An elevator waits at floor `start` with every requested floor known in advance. It first
        serves a request at its own floor (if any), then goes up serving every requested floor above
        it in increasing order, then comes down serving the floors below in decreasing order.
        A floor requested several times is served once. Return the floors in the order served.
        >>> elevator_stops([5, 2, 8, 3], 4)
        [5, 8, 3, 2]
        >>> elevator_stops([1, 1, 6], 6)
        [6, 1]
        """
''', '''
    pending = set(requests)
    order = [start] if start in pending else []
    up = sorted(f for f in pending if f > start)
    down = sorted((f for f in pending if f < start), reverse=True)
    return order + up + down
''', '''
    def check(candidate):
        assert candidate([5, 2, 8, 3], 4) == [5, 8, 3, 2]
        assert candidate([1, 1, 6], 6) == [6, 1]
        assert candidate([], 3) == []
        assert candidate([3, 3, 3], 3) == [3]
        assert candidate([0, -2, 7, 7, 4], 4) == [4, 7, 0, -2]
        assert candidate([10, 9, 8], 1) == [8, 9, 10]
        assert candidate([1, 2, 3], 9) == [3, 2, 1]
''', '''
    return sorted(set(requests))
''')

# 1: a ball bouncing in a corridor
problem('''
    def bounce_position(width: int, start: int, velocity: int, steps: int) -> int:
        """A ball moves along a corridor of cells 0 .. width-1, `velocity` cells per step (negative
        means leftwards). It bounces off both walls: a move that would pass cell 0 or cell width-1
        comes back by the distance it overshot (from 0 moving left by 2 it lands on 2). Return the
        ball's cell after `steps` steps. A corridor of one cell keeps the ball at 0.
        >>> bounce_position(5, 0, 1, 5)
        3
        >>> bounce_position(5, 2, -3, 1)
        1
        """
''', '''
    if width == 1:
        return 0
    period = 2 * (width - 1)
    p = (start + velocity * steps) % period
    return period - p if p > width - 1 else p
''', '''
    def check(candidate):
        assert candidate(5, 0, 1, 5) == 3
        assert candidate(5, 2, -3, 1) == 1
        assert candidate(1, 0, 7, 100) == 0
        assert candidate(2, 0, 1, 3) == 1
        assert candidate(4, 3, 1, 1) == 2
        assert candidate(6, 1, 13, 1) == 4
        assert candidate(6, 1, 13, 2) == 3
        assert candidate(10, 9, -20, 7) == 5
        assert candidate(3, 1, 0, 50) == 1
''', '''
    return (start + velocity * steps) % width
''')

# 2: a queue whose customers give up
problem('''
    def queue_waits(arrivals: list, durations: list, patience: int) -> list:
        """Customers arrive at a single counter at the times in `arrivals` (sorted) and need
        `durations[i]` minutes of service each, first come first served. A customer who would have to
        wait more than `patience` minutes leaves at once and takes no service time. Return each
        customer's wait in minutes, or -1 for those who left.
        >>> queue_waits([0, 1, 2, 10], [5, 5, 5, 1], 4)
        [0, 4, -1, 0]
        """
''', '''
    free_at = 0
    waits = []
    for arrival, duration in zip(arrivals, durations):
        start = max(arrival, free_at)
        if start - arrival > patience:
            waits.append(-1)
            continue
        waits.append(start - arrival)
        free_at = start + duration
    return waits
''', '''
    def check(candidate):
        assert candidate([0, 1, 2, 10], [5, 5, 5, 1], 4) == [0, 4, -1, 0]
        assert candidate([], [], 3) == []
        assert candidate([0, 0, 0], [2, 2, 2], 0) == [0, -1, -1]
        assert candidate([0, 0, 0], [2, 2, 2], 2) == [0, 2, -1]
        assert candidate([0, 3, 3, 4], [3, 1, 1, 1], 1) == [0, 0, 1, 1]
        assert candidate([5, 6, 20], [10, 1, 1], 100) == [0, 9, 0]
''', '''
    free_at = 0
    waits = []
    for arrival, duration in zip(arrivals, durations):
        start = max(arrival, free_at)
        waits.append(start - arrival if start - arrival <= patience else -1)
        free_at = start + duration
    return waits
''')

# 3: a one-dimensional game of life on a ring
problem('''
    def ring_life(cells: str, generations: int) -> str:
        """`cells` is a ring of cells ('#' alive, '.' dead): the first and last are neighbours.
        Each generation, all at once: a live cell survives only if exactly one of its two neighbours
        is alive; a dead cell comes alive only if both of its neighbours are alive.
        Return the ring after `generations` generations.
        >>> ring_life('#.#', 1)
        '###'
        >>> ring_life('#..#', 3)
        '#..#'
        """
''', '''
    n = len(cells)
    for _ in range(generations):
        alive = [c == '#' for c in cells]
        nxt = []
        for i in range(n):
            count = alive[i - 1] + alive[(i + 1) % n]
            nxt.append('#' if (count == 1 if alive[i] else count == 2) else '.')
        cells = ''.join(nxt)
    return cells
''', '''
    def check(candidate):
        assert candidate('#.#', 1) == '###'
        assert candidate('#.#', 2) == '...'
        assert candidate('#..#', 3) == '#..#'
        assert candidate('.#..', 0) == '.#..'
        assert candidate('#...', 1) == '....'
        assert candidate('##..##', 1) == '.#..#.'
        assert candidate('#.#.....', 1) == '.#......'
        assert candidate('##......', 1) == '##......'
''', '''
    n = len(cells)
    for _ in range(generations):
        alive = [c == '#' for c in cells]
        nxt = []
        for i in range(n):
            count = (alive[i - 1] if i > 0 else 0) + (alive[i + 1] if i + 1 < n else 0)
            nxt.append('#' if (count == 1 if alive[i] else count == 2) else '.')
        cells = ''.join(nxt)
    return cells
''')

# 4: a thermostat with hysteresis
problem('''
    def heater_switch_ons(readings: list, low: float, high: float) -> int:
        """A heater starts off. Reading the temperatures in order, it switches on when a reading is
        below `low` and switches off when a reading is above `high`; otherwise it keeps its state.
        Return how many times it switched on.
        >>> heater_switch_ons([20, 17, 16, 18, 22, 23, 17, 25], 18, 21)
        2
        """
''', '''
    on = False
    count = 0
    for t in readings:
        if not on and t < low:
            on = True
            count += 1
        elif on and t > high:
            on = False
    return count
''', '''
    def check(candidate):
        assert candidate([20, 17, 16, 18, 22, 23, 17, 25], 18, 21) == 2
        assert candidate([], 18, 21) == 0
        assert candidate([10, 10, 10], 18, 21) == 1
        assert candidate([17, 19, 17, 19, 17], 18, 21) == 1
        assert candidate([17, 22, 17, 22, 17], 18, 21) == 3
        assert candidate([18, 21, 18, 21], 18, 21) == 0
''', '''
    return sum(1 for t in readings if t < low)
''')

# 5: rotate each word by its position
problem('''
    def rotate_by_position(sentence: str) -> str:
        """Rotate the letters of each word of `sentence` to the right by the word's position in the
        sentence (the first word by 0, the second by 1, ...); a rotation longer than the word wraps
        around. Words are separated by single spaces, which are kept.
        >>> rotate_by_position('abc def ghi')
        'abc fde hig'
        """
''', '''
    words = sentence.split(' ')
    out = []
    for i, word in enumerate(words):
        k = i % len(word) if word else 0
        out.append(word[len(word) - k:] + word[:len(word) - k] if k else word)
    return ' '.join(out)
''', '''
    def check(candidate):
        assert candidate('abc def ghi') == 'abc fde hig'
        assert candidate('') == ''
        assert candidate('hello') == 'hello'
        assert candidate('a b c d') == 'a b c d'
        assert candidate('xy xy xy xy') == 'xy yx xy yx'
        assert candidate('one two three four') == 'one otw eethr ourf'
''', '''
    words = sentence.split(' ')
    return ' '.join(w[i % len(w):] + w[:i % len(w)] if w else w for i, w in enumerate(words))
''')

# 6: a Caesar shift that depends on the vowels before
problem('''
    def vowel_shift(text: str) -> str:
        """Shift every letter of `text` forward in the alphabet (z wraps to a, Z to A, case kept) by
        the number of vowels (a, e, i, o, u, either case) that come before it in the original text.
        Other characters stay as they are.
        >>> vowel_shift('abc')
        'acd'
        >>> vowel_shift('hello')
        'hemmp'
        """
''', '''
    out = []
    vowels = 0
    for ch in text:
        if ch.isascii() and ch.isalpha():
            base = ord('a') if ch.islower() else ord('A')
            out.append(chr(base + (ord(ch) - base + vowels) % 26))
        else:
            out.append(ch)
        if ch.lower() in 'aeiou':
            vowels += 1
    return ''.join(out)
''', '''
    def check(candidate):
        assert candidate('abc') == 'acd'
        assert candidate('hello') == 'hemmp'
        assert candidate('') == ''
        assert candidate('aZ') == 'aA'
        assert candidate('Eye, eye!') == 'Ezf, gbh!'
        assert candidate('xyz') == 'xyz'
        assert candidate('aaaa') == 'abcd'
''', '''
    out = []
    vowels = 0
    for ch in text:
        if ch.lower() in 'aeiou':
            vowels += 1
        if ch.isascii() and ch.isalpha():
            base = ord('a') if ch.islower() else ord('A')
            out.append(chr(base + (ord(ch) - base + vowels) % 26))
        else:
            out.append(ch)
    return ''.join(out)
''')

# 7: stairs with broken steps and no two long strides in a row
problem('''
    def climb_ways(n: int, broken: list) -> int:
        """Count the ways to climb from the ground (step 0) to exactly step `n`, taking 1, 2 or 3
        steps at a time, never landing on a step listed in `broken`, and never taking two 3-step
        strides in a row. Standing at the top already (n = 0) is one way.
        >>> climb_ways(3, [])
        4
        >>> climb_ways(4, [2])
        3
        """
''', '''
    blocked = set(broken)
    # ways[i][t]: ways to stand on step i, t = 1 when the last stride was 3 steps
    ways = [[0, 0] for _ in range(n + 1)]
    ways[0][0] = 1
    for i in range(n + 1):
        for stride in (1, 2, 3):
            j = i + stride
            if j > n or j in blocked:
                continue
            if stride == 3:
                ways[j][1] += ways[i][0]
            else:
                ways[j][0] += ways[i][0] + ways[i][1]
    return sum(ways[n])
''', '''
    def check(candidate):
        assert candidate(3, []) == 4
        assert candidate(4, [2]) == 3
        assert candidate(0, []) == 1
        assert candidate(4, []) == 7
        assert candidate(6, []) == 23
        assert candidate(4, [4]) == 0
        assert candidate(6, [3]) == 8
        assert candidate(9, [4, 5]) == 9
''', '''
    blocked = set(broken)
    ways = [0] * (n + 1)
    ways[0] = 1
    for i in range(1, n + 1):
        if i not in blocked:
            ways[i] = sum(ways[i - s] for s in (1, 2, 3) if i - s >= 0)
    return ways[n]
''')

# 8: a ledger that rounds each transaction, halves to even
problem('''
    from decimal import Decimal, ROUND_HALF_EVEN


    def ledger_balance(transactions: list) -> str:
        """Each transaction is a string such as '+12.50' or '-3.005'. Round every amount to whole
        cents before adding it, a half cent going to the even cent ('1.005' counts 1.00, '1.015'
        counts 1.02). Return the balance with exactly two decimals, '0.00' rather than '-0.00'.
        >>> ledger_balance(['+1.005', '+1.015'])
        '2.02'
        >>> ledger_balance(['+0.005', '+0.005', '+0.005'])
        '0.00'
        """
''', '''
    total = Decimal('0.00')
    for t in transactions:
        total += Decimal(t).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN)
    if total == 0:
        total = Decimal('0.00')
    return f'{total:.2f}'
''', '''
    def check(candidate):
        assert candidate(['+1.005', '+1.015']) == '2.02'
        assert candidate(['+0.005', '+0.005', '+0.005']) == '0.00'
        assert candidate(['-2.675']) == '-2.68'
        assert candidate(['-0.004']) == '0.00'
        assert candidate(['+10', '-2.5']) == '7.50'
        assert candidate([]) == '0.00'
        assert candidate(['+0.015', '+0.025']) == '0.04'
        assert candidate(['+0.125', '+0.135', '-0.001']) == '0.26'
''', '''
    total = sum(Decimal(t) for t in transactions)
    total = total.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN)
    return f'{total:.2f}' if total != 0 else '0.00'
''')

# 9: a car park with a waiting line
problem('''
    def parking_lot(events: list, capacity: int) -> list:
        """`events` are ('in', plate) or ('out', plate) in time order. A car arriving when all
        `capacity` spaces are taken joins a waiting line; whenever a parked car leaves, the first
        car in the line takes its space. An 'out' for a car still in the line means it gives up
        and leaves the line. Return the plates parked at the end, in the order they got a space.
        >>> parking_lot([('in', 'A'), ('in', 'B'), ('in', 'C'), ('out', 'A')], 2)
        ['B', 'C']
        """
''', '''
    parked, waiting = [], []
    for kind, plate in events:
        if kind == 'in':
            (parked if len(parked) < capacity else waiting).append(plate)
        elif plate in parked:
            parked.remove(plate)
            if waiting:
                parked.append(waiting.pop(0))
        elif plate in waiting:
            waiting.remove(plate)
    return parked
''', '''
    def check(candidate):
        assert candidate([('in', 'A'), ('in', 'B'), ('in', 'C'), ('out', 'A')], 2) == ['B', 'C']
        events = [('in', 'A'), ('in', 'B'), ('in', 'C'), ('in', 'D'), ('out', 'A'), ('out', 'D'), ('out', 'B')]
        assert candidate(events, 2) == ['C']
        assert candidate([('in', 'X'), ('in', 'Y'), ('out', 'Y'), ('out', 'X')], 1) == []
        assert candidate([('in', 'A'), ('in', 'B'), ('out', 'A'), ('in', 'C')], 3) == ['B', 'C']
        assert candidate([], 4) == []
        assert candidate([('in', 'A'), ('in', 'B'), ('in', 'C'), ('out', 'A'), ('out', 'B')], 1) == ['C']
''', '''
    parked, waiting = [], []
    for kind, plate in events:
        if kind == 'in':
            (parked if len(parked) < capacity else waiting).append(plate)
        elif plate in parked:
            parked.remove(plate)
            if waiting:
                parked.append(waiting.pop(0))
    return parked
''')

# 10: a garden whose tallest plants get pruned
problem('''
    def garden(heights: list, days: int) -> list:
        """Plants stand in a row. Each day, all at once: a plant strictly taller than each of its
        neighbours is cut to half its height (rounded down), and every other plant grows by 1.
        A plant at either end has one neighbour; a plant alone in the row has none and is never cut.
        Return the heights after `days` days.
        >>> garden([1, 5, 2], 1)
        [2, 2, 3]
        >>> garden([1, 5, 2], 2)
        [3, 3, 1]
        """
''', '''
    h = list(heights)
    for _ in range(days):
        nxt = []
        for i, x in enumerate(h):
            neighbours = h[max(0, i - 1):i] + h[i + 1:i + 2]
            nxt.append(x // 2 if neighbours and all(x > y for y in neighbours) else x + 1)
        h = nxt
    return h
''', '''
    def check(candidate):
        assert candidate([1, 5, 2], 1) == [2, 2, 3]
        assert candidate([1, 5, 2], 2) == [3, 3, 1]
        assert candidate([7], 3) == [10]
        assert candidate([4, 4], 2) == [6, 6]
        assert candidate([], 5) == []
        assert candidate([9, 1], 1) == [4, 2]
        assert candidate([3, 1, 3], 0) == [3, 1, 3]
        assert candidate([3, 1, 3], 1) == [1, 2, 1]
''', '''
    h = list(heights)
    for _ in range(days):
        nxt = list(h)
        for i in range(len(h)):
            if 0 < i < len(h) - 1 and h[i] > h[i - 1] and h[i] > h[i + 1]:
                nxt[i] = h[i] // 2
            else:
                nxt[i] = h[i] + 1
        h = nxt
    return h
''')

# 11: a robot that can only recharge on some cells
problem('''
    def robot_walk(commands: str, battery: int) -> tuple:
        """A robot starts at (0, 0) with a full battery of `battery` units. 'N', 'S', 'E' and 'W'
        move it one cell ('N' is y + 1, 'E' is x + 1) for one unit each; a move with no charge left
        is skipped. 'C' recharges the battery to full, but only on a charging station: a cell whose
        x + y is a multiple of 5 (negative sums too, such as (-3, -2)). Return the final (x, y).
        >>> robot_walk('NNNN', 2)
        (0, 2)
        >>> robot_walk('EEEEECEEE', 5)
        (8, 0)
        """
''', '''
    x = y = 0
    charge = battery
    moves = {'N': (0, 1), 'S': (0, -1), 'E': (1, 0), 'W': (-1, 0)}
    for c in commands:
        if c == 'C':
            if (x + y) % 5 == 0:
                charge = battery
        elif charge > 0:
            dx, dy = moves[c]
            x, y = x + dx, y + dy
            charge -= 1
    return (x, y)
''', '''
    def check(candidate):
        assert candidate('NNNN', 2) == (0, 2)
        assert candidate('EEEEECEEE', 5) == (8, 0)
        assert candidate('EECEE', 2) == (2, 0)
        assert candidate('WWWSSCNN', 5) == (-3, 0)
        assert candidate('', 3) == (0, 0)
        assert candidate('CNSNS', 1) == (0, 1)
        assert candidate('NECSSCWW', 2) == (1, 1)
''', '''
    x = y = 0
    charge = battery
    moves = {'N': (0, 1), 'S': (0, -1), 'E': (1, 0), 'W': (-1, 0)}
    for c in commands:
        if c == 'C':
            charge = battery
        elif charge > 0:
            dx, dy = moves[c]
            x, y = x + dx, y + dy
            charge -= 1
    return (x, y)
''')

# 12: run-length encoding whose counts are single digits
problem('''
    def capped_rle(s: str) -> str:
        """Run-length encode `s` as count then character ('aaab' -> '3a1b'), but a count is never
        more than 9: a longer run is written as several runs, the full ones first.
        >>> capped_rle('aaab')
        '3a1b'
        >>> capped_rle('a' * 12)
        '9a3a'
        """
''', '''
    import itertools
    out = []
    for ch, group in itertools.groupby(s):
        n = len(list(group))
        while n > 0:
            out.append(f'{min(n, 9)}{ch}')
            n -= 9
    return ''.join(out)
''', '''
    def check(candidate):
        assert candidate('aaab') == '3a1b'
        assert candidate('a' * 12) == '9a3a'
        assert candidate('') == ''
        assert candidate('b' * 18) == '9b9b'
        assert candidate('a' * 9 + 'b') == '9a1b'
        assert candidate('xyz') == '1x1y1z'
        assert candidate('1111') == '41'
        assert candidate('z' * 20 + 'y' * 10) == '9z9z2z9y1y'
''', '''
    import itertools
    return ''.join(f'{len(list(g))}{ch}' for ch, g in itertools.groupby(s))
''')

# 13: keep the latest version of each record
problem('''
    def latest_versions(records: list) -> list:
        """`records` are dicts with an 'id' and a 'version' (and other keys). Keep one record per
        id: the one with the highest version, or, among several with that version, the last one.
        Return the kept records ordered by where their id first appears in `records`.
        >>> latest_versions([{'id': 'b', 'version': 1}, {'id': 'a', 'version': 2}, {'id': 'b', 'version': 3}])
        [{'id': 'b', 'version': 3}, {'id': 'a', 'version': 2}]
        """
''', '''
    best = {}
    for record in records:
        key = record['id']
        if key not in best or record['version'] >= best[key]['version']:
            best[key] = record
    return list(best.values())
''', '''
    def check(candidate):
        rows = [{'id': 'b', 'version': 1}, {'id': 'a', 'version': 2}, {'id': 'b', 'version': 3}]
        assert candidate(rows) == [{'id': 'b', 'version': 3}, {'id': 'a', 'version': 2}]
        rows = [{'id': 'z', 'version': 1, 'v': 'x'}, {'id': 'y', 'version': 2},
                {'id': 'z', 'version': 3, 'v': 'y'}, {'id': 'z', 'version': 3, 'v': 'z'}, {'id': 'y', 'version': 1}]
        assert candidate(rows) == [{'id': 'z', 'version': 3, 'v': 'z'}, {'id': 'y', 'version': 2}]
        assert candidate([]) == []
        rows = [{'id': 1, 'version': 5, 'n': 1}, {'id': 1, 'version': 4, 'n': 2}]
        assert candidate(rows) == [{'id': 1, 'version': 5, 'n': 1}]
''', '''
    best = {}
    for record in records:
        key = record['id']
        if key not in best or record['version'] > best[key]['version']:
            best[key] = record
    return [best[k] for k in sorted(best)]
''')

# 14: splitting a bill in whole cents
problem('''
    def split_bill(items: list) -> dict:
        """`items` are (price_in_cents, [names of those sharing it]). Each item is split equally
        among its sharers in whole cents; the cents left over go one each to its sharers in
        alphabetical order. Return {name: total cents} for everyone who shares anything.
        >>> split_bill([(100, ['bob', 'amy', 'cat'])])
        {'amy': 34, 'bob': 33, 'cat': 33}
        """
''', '''
    totals = {}
    for price, names in items:
        share, left = divmod(price, len(names))
        for i, name in enumerate(sorted(names)):
            totals[name] = totals.get(name, 0) + share + (1 if i < left else 0)
    return totals
''', '''
    def check(candidate):
        assert candidate([(100, ['bob', 'amy', 'cat'])]) == {'amy': 34, 'bob': 33, 'cat': 33}
        assert candidate([(10, ['z']), (5, ['y', 'z'])]) == {'z': 12, 'y': 3}
        assert candidate([(2, ['d', 'c', 'b', 'a'])]) == {'a': 1, 'b': 1, 'c': 0, 'd': 0}
        assert candidate([]) == {}
        assert candidate([(7, ['m', 'k']), (7, ['k', 'm'])]) == {'k': 8, 'm': 6}
''', '''
    totals = {}
    for price, names in items:
        share, left = divmod(price, len(names))
        for i, name in enumerate(names):
            totals[name] = totals.get(name, 0) + share + (1 if i < left else 0)
    return totals
''')

# 15: paydays that dodge the weekend
problem('''
    import calendar
    import datetime


    def paydays(year: int, months: int) -> list:
        """Pay comes on the 15th and on the last day of each month; when that day is a Saturday or
        a Sunday it comes on the Friday before. Return the paydays of the first `months` months of
        `year`, in order, as 'YYYY-MM-DD' strings.
        >>> paydays(2024, 1)
        ['2024-01-15', '2024-01-31']
        """
''', '''
    out = []
    for month in range(1, months + 1):
        for day in (15, calendar.monthrange(year, month)[1]):
            d = datetime.date(year, month, day)
            while d.weekday() >= 5:
                d -= datetime.timedelta(days=1)
            out.append(d.isoformat())
    return out
''', '''
    def check(candidate):
        assert candidate(2024, 1) == ['2024-01-15', '2024-01-31']
        assert candidate(2024, 3) == ['2024-01-15', '2024-01-31', '2024-02-15', '2024-02-29',
                                      '2024-03-15', '2024-03-29']
        assert candidate(2024, 6)[-2:] == ['2024-06-14', '2024-06-28']
        assert candidate(2023, 2)[-1] == '2023-02-28'
        assert candidate(2025, 0) == []
        assert len(candidate(2025, 12)) == 24
        assert candidate(2025, 11)[-4:] == ['2025-10-15', '2025-10-31', '2025-11-14', '2025-11-28']
''', '''
    out = []
    for month in range(1, months + 1):
        for day in (15, calendar.monthrange(year, month)[1]):
            d = datetime.date(year, month, day)
            while d.weekday() >= 5:
                d += datetime.timedelta(days=1)
            out.append(d.isoformat())
    return out
''')

# 16: the longest wait for a daily bus, across midnight
problem('''
    def longest_gap(departures: list) -> int:
        """`departures` are a day's bus times 'HH:MM' (at least one, in any order); the same
        timetable runs every day. Return the longest wait in minutes between one departure and the
        next, counting the wait from the day's last bus to the next day's first.
        >>> longest_gap(['06:00', '12:00', '18:00'])
        720
        >>> longest_gap(['23:50', '00:10'])
        1420
        """
''', '''
    minutes = sorted(int(t[:2]) * 60 + int(t[3:]) for t in departures)
    gaps = [b - a for a, b in zip(minutes, minutes[1:])]
    gaps.append(minutes[0] + 1440 - minutes[-1])
    return max(gaps)
''', '''
    def check(candidate):
        assert candidate(['06:00', '12:00', '18:00']) == 720
        assert candidate(['23:50', '00:10']) == 1420
        assert candidate(['12:00']) == 1440
        assert candidate(['00:00', '23:59', '12:00']) == 720
        assert candidate(['09:15', '07:45', '08:30']) == 1350
        assert candidate(['10:00', '10:00', '22:30']) == 750
''', '''
    minutes = sorted(int(t[:2]) * 60 + int(t[3:]) for t in departures)
    return max([b - a for a, b in zip(minutes, minutes[1:])] or [0])
''')

# 17: a leaking, overflowing water tank
problem('''
    def tank_spills(inflows: list, capacity: int, leak_percent: int) -> list:
        """A water tank starts empty. Each hour, first that hour's inflow (litres) is poured in and
        whatever exceeds `capacity` spills over; then the tank loses `leak_percent` percent of what
        it holds, rounded down to whole litres. Return the litres spilled in each hour.
        >>> tank_spills([50, 50, 50], 100, 10)
        [0, 0, 36]
        """
''', '''
    level = 0
    spills = []
    for inflow in inflows:
        level += inflow
        spill = max(0, level - capacity)
        level -= spill
        spills.append(spill)
        level -= level * leak_percent // 100
    return spills
''', '''
    def check(candidate):
        assert candidate([50, 50, 50], 100, 10) == [0, 0, 36]
        assert candidate([200], 100, 50) == [100]
        assert candidate([30, 30, 30, 30], 50, 0) == [0, 10, 30, 30]
        assert candidate([10, 10, 10], 10, 100) == [0, 0, 0]
        assert candidate([], 10, 5) == []
        assert candidate([99, 99], 100, 1) == [0, 98]
''', '''
    level = 0
    spills = []
    for inflow in inflows:
        level += inflow
        level -= level * leak_percent // 100
        spill = max(0, level - capacity)
        level -= spill
        spills.append(spill)
    return spills
''')

# 18: lanterns in a circle, toggled over wrapping ranges
problem('''
    def lanterns_lit(n: int, toggles: list) -> int:
        """`n` lanterns stand in a circle, numbered 1 to n, all unlit. Each toggle (a, b) flips
        every lantern from a to b inclusive, counting upwards; when a > b the range wraps past n
        back to 1 (with n = 5, (4, 2) flips 4, 5, 1 and 2). Return how many are lit at the end.
        >>> lanterns_lit(5, [(4, 2)])
        4
        """
''', '''
    lit = [False] * (n + 1)
    for a, b in toggles:
        i = a
        while True:
            lit[i] = not lit[i]
            if i == b:
                break
            i = i % n + 1
    return sum(lit)
''', '''
    def check(candidate):
        assert candidate(5, [(4, 2)]) == 4
        assert candidate(5, [(1, 5), (2, 3)]) == 3
        assert candidate(5, [(3, 3)]) == 1
        assert candidate(6, [(5, 2), (1, 6)]) == 2
        assert candidate(4, []) == 0
        assert candidate(3, [(2, 1)]) == 3
        assert candidate(10, [(9, 1), (10, 10)]) == 2
''', '''
    lit = [False] * (n + 1)
    for a, b in toggles:
        for i in range(min(a, b), max(a, b) + 1):
            lit[i] = not lit[i]
    return sum(lit)
''')

# 19: an edit distance that knows the keyboard
problem('''
    def keyboard_distance(a: str, b: str) -> int:
        """The cheapest way to edit lowercase `a` into `b`, where inserting or deleting a letter
        costs 2, replacing a letter by its neighbour on the same row of a QWERTY keyboard costs 1,
        and any other replacement costs 2. The rows are 'qwertyuiop', 'asdfghjkl' and 'zxcvbnm'.
        >>> keyboard_distance('cat', 'vat')
        1
        >>> keyboard_distance('cat', 'bat')
        2
        """
''', '''
    rows = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm']

    def replace(x, y):
        if x == y:
            return 0
        for row in rows:
            if x in row and y in row and abs(row.index(x) - row.index(y)) == 1:
                return 1
        return 2

    previous = [2 * j for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        current = [2 * i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 2, current[j - 1] + 2, previous[j - 1] + replace(a[i - 1], b[j - 1]))
        previous = current
    return previous[-1]
''', '''
    def check(candidate):
        assert candidate('cat', 'cat') == 0
        assert candidate('cat', 'vat') == 1
        assert candidate('cat', 'bat') == 2
        assert candidate('', 'ab') == 4
        assert candidate('abc', '') == 6
        assert candidate('qw', 'wq') == 2
        assert candidate('hello', 'jello') == 1
        assert candidate('p', 'a') == 2
        assert candidate('kitten', 'sitting') == 6
        assert candidate('lp', 'pl') == 4
''', '''
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
        previous = current
    return previous[-1]
''')

# 20: first in, first out stock accounting
problem('''
    def fifo_cost(events: list) -> int:
        """Stock is bought and sold in whole units. `events` are ('buy', quantity, unit_price) or
        ('sell', quantity), in order; a sale takes the oldest units in stock first. Return the
        total purchase price of all the units sold. A sale of more units than are in stock raises
        ValueError.
        >>> fifo_cost([('buy', 10, 5), ('buy', 10, 7), ('sell', 15)])
        85
        """
''', '''
    lots = []  # [quantity, unit price], oldest first
    cost = 0
    for event in events:
        if event[0] == 'buy':
            lots.append([event[1], event[2]])
            continue
        need = event[1]
        if need > sum(q for q, _ in lots):
            raise ValueError('not enough stock')
        while need:
            quantity, price = lots[0]
            take = min(quantity, need)
            cost += take * price
            need -= take
            if take == quantity:
                lots.pop(0)
            else:
                lots[0][0] -= take
    return cost
''', '''
    def check(candidate):
        assert candidate([('buy', 10, 5), ('buy', 10, 7), ('sell', 15)]) == 85
        assert candidate([('buy', 3, 2), ('sell', 1), ('buy', 3, 10), ('sell', 4)]) == 26
        assert candidate([]) == 0
        assert candidate([('buy', 5, 4)]) == 0
        try:
            candidate([('buy', 1, 1), ('sell', 2)])
        except ValueError:
            pass
        else:
            raise AssertionError('selling more than the stock must raise ValueError')
''', '''
    lots = []
    cost = 0
    for event in events:
        if event[0] == 'buy':
            lots.append([event[1], event[2]])
            continue
        need = event[1]
        if need > sum(q for q, _ in lots):
            raise ValueError('not enough stock')
        while need:
            quantity, price = lots[-1]
            take = min(quantity, need)
            cost += take * price
            need -= take
            if take == quantity:
                lots.pop()
            else:
                lots[-1][0] -= take
    return cost
''')

# 21: totals from a CSV with comments and decimal commas
problem('''
    import csv


    def csv_totals(text: str) -> dict:
        """`text` is CSV whose header names the columns 'name' and 'amount' (in any order, maybe
        among others). Lines starting with '#' are comments. An amount may use a decimal comma,
        quoted ("3,50"). Names match ignoring case and surrounding spaces and are reported in lower
        case. Return {name: total amount}, each total rounded to 2 decimals.
        >>> csv_totals('name,amount\\\\nAnn,3.5\\\\n# note,100\\\\nann ,"1,25"\\\\n')
        {'ann': 4.75}
        """
''', '''
    lines = [line for line in text.splitlines() if not line.startswith('#')]
    totals = {}
    for row in csv.DictReader(lines):
        name = row['name'].strip().lower()
        totals[name] = totals.get(name, 0.0) + float(row['amount'].strip().replace(',', '.'))
    return {name: round(total, 2) for name, total in totals.items()}
''', '''
    def check(candidate):
        assert candidate('name,amount\\nAnn,3.5\\n# note,100\\nann ,"1,25"\\n') == {'ann': 4.75}
        assert candidate('name,amount\\nAnn,3.5\\n# ignore,100\\nann ,"1,25"\\nBob,2\\n') == {'ann': 4.75, 'bob': 2.0}
        assert candidate('amount,id,name\\n1,7,X\\n2,8,x\\n') == {'x': 3.0}
        assert candidate('name,amount\\n') == {}
        assert candidate('# exported\\nname,amount\\nZoe,0.1\\nzoe,0.2\\n') == {'zoe': 0.3}
''', '''
    totals = {}
    for row in csv.DictReader(text.splitlines()):
        name = row['name'].strip().lower()
        totals[name] = totals.get(name, 0.0) + float(row['amount'].strip().replace(',', '.'))
    return {name: round(total, 2) for name, total in totals.items()}
''')

# 22: a frog on lily pads that flip after each jump
problem('''
    def frog_jumps(pads: list) -> int:
        """A frog starts on pad 0 of a row of lily pads (at least one). On pad i it jumps pads[i]
        places (leftwards when negative; 0 means it jumps on the spot), and the pad it jumped from
        then changes the sign of its number. Return how many jumps it makes until it lands outside
        the row, or -1 if it is still on the row after 1000 jumps.
        >>> frog_jumps([1, -1, 3])
        3
        """
''', '''
    pads = list(pads)
    i = 0
    for jumps in range(1, 1001):
        step = pads[i]
        pads[i] = -step
        i += step
        if not 0 <= i < len(pads):
            return jumps
    return -1
''', '''
    def check(candidate):
        assert candidate([1, -1, 3]) == 3
        assert candidate([1, 1, 1]) == 3
        assert candidate([2, -1, 5]) == 2
        assert candidate([0]) == -1
        assert candidate([1, -1]) == 3
        assert candidate([2, 0, -1]) == -1
        assert candidate([1, 1, -2, 1]) == 4
        assert candidate([-1]) == 1
''', '''
    i = 0
    for jumps in range(1, 1001):
        i += pads[i]
        if not 0 <= i < len(pads):
            return jumps
    return -1
''')

# 23: where a knight can be after exactly k moves
problem('''
    def knight_squares(start: str, moves: int, blocked: list) -> list:
        """A knight stands on `start` (such as 'b1') of a chessboard (files a-h, ranks 1-8) and makes
        exactly `moves` moves, never landing on a square in `blocked`; it may come back to squares
        it has visited. Return the sorted list of the squares it can end on.
        >>> knight_squares('a1', 1, [])
        ['b3', 'c2']
        """
''', '''
    blocked = set(blocked)
    current = {start}
    jumps = ((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2))
    for _ in range(moves):
        reached = set()
        for square in current:
            f, r = ord(square[0]) - ord('a'), int(square[1]) - 1
            for df, dr in jumps:
                if 0 <= f + df < 8 and 0 <= r + dr < 8:
                    name = chr(ord('a') + f + df) + str(r + dr + 1)
                    if name not in blocked:
                        reached.add(name)
        current = reached
    return sorted(current)
''', '''
    def check(candidate):
        assert candidate('a1', 1, []) == ['b3', 'c2']
        assert candidate('a1', 1, ['b3']) == ['c2']
        assert candidate('a1', 0, []) == ['a1']
        assert candidate('a1', 2, ['b3', 'c2']) == []
        assert candidate('a1', 2, []) == ['a1', 'a3', 'a5', 'b4', 'c1', 'c5', 'd2', 'd4', 'e1', 'e3']
        assert candidate('h8', 1, []) == ['f7', 'g6']
        assert candidate('a1', 2, ['a1']) == ['a3', 'a5', 'b4', 'c1', 'c5', 'd2', 'd4', 'e1', 'e3']
''', '''
    blocked = set(blocked)
    seen = {start}
    frontier = {start}
    jumps = ((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2))
    for _ in range(moves):
        reached = set()
        for square in frontier:
            f, r = ord(square[0]) - ord('a'), int(square[1]) - 1
            for df, dr in jumps:
                if 0 <= f + df < 8 and 0 <= r + dr < 8:
                    name = chr(ord('a') + f + df) + str(r + dr + 1)
                    if name not in blocked:
                        reached.add(name)
        frontier = reached
        seen |= reached
    return sorted(seen)
''')

# 24: a league table whose tie-break favours away goals
problem('''
    def league_table(results: list) -> list:
        """`results` are matches written 'HOME h-a AWAY' (one-word team names), e.g. 'Ants 2-1 Bees'.
        A win is worth 3 points and a draw 1. Rank teams by points, then goal difference, then goals
        scored, where in this last tie-break a goal scored away from home counts twice, then by name.
        Return the team names, first place first.
        >>> league_table(['Ants 2-2 Bees'])
        ['Bees', 'Ants']
        """
''', '''
    stats = {}  # name: [points, goal difference, weighted goals]
    for line in results:
        home, score, away = line.split()
        h, a = map(int, score.split('-'))
        for name, scored, conceded, weight in ((home, h, a, 1), (away, a, h, 2)):
            s = stats.setdefault(name, [0, 0, 0])
            s[0] += 3 if scored > conceded else 1 if scored == conceded else 0
            s[1] += scored - conceded
            s[2] += weight * scored
    return sorted(stats, key=lambda n: (-stats[n][0], -stats[n][1], -stats[n][2], n))
''', '''
    def check(candidate):
        assert candidate(['Ants 2-2 Bees']) == ['Bees', 'Ants']
        assert candidate(['Ants 2-1 Bees']) == ['Ants', 'Bees']
        assert candidate(['Cats 0-0 Ants']) == ['Ants', 'Cats']
        assert candidate(['Ants 3-0 Bees', 'Bees 2-0 Cats', 'Cats 1-0 Ants']) == ['Ants', 'Bees', 'Cats']
        assert candidate(['Dogs 4-0 Eels', 'Eels 1-0 Dogs', 'Eels 0-0 Fish']) == ['Eels', 'Dogs', 'Fish']
        assert candidate([]) == []
''', '''
    stats = {}
    for line in results:
        home, score, away = line.split()
        h, a = map(int, score.split('-'))
        for name, scored, conceded in ((home, h, a), (away, a, h)):
            s = stats.setdefault(name, [0, 0, 0])
            s[0] += 3 if scored > conceded else 1 if scored == conceded else 0
            s[1] += scored - conceded
            s[2] += scored
    return sorted(stats, key=lambda n: (-stats[n][0], -stats[n][1], -stats[n][2], n))
''')

# 25: crossword patterns with a vowel wildcard
problem('''
    def crossword_matches(pattern: str, words: list) -> list:
        """`pattern` holds letters, '?' (any one letter) and '#' (any one vowel: a, e, i, o, u).
        Return the words that fit it exactly, ignoring case, in their original order and spelling.
        >>> crossword_matches('c#t', ['cat', 'cyt', 'coat', 'CUT'])
        ['cat', 'CUT']
        """
''', '''
    def fits(p, w):
        if p == '?':
            return w.isalpha()
        if p == '#':
            return w.lower() in 'aeiou'
        return p.lower() == w.lower()

    return [w for w in words if len(w) == len(pattern) and all(fits(p, c) for p, c in zip(pattern, w))]
''', '''
    def check(candidate):
        assert candidate('c#t', ['cat', 'cyt', 'coat', 'CUT']) == ['cat', 'CUT']
        assert candidate('c#t', ['cat', 'cot', 'cut', 'cyt', 'coat', 'CAT']) == ['cat', 'cot', 'cut', 'CAT']
        assert candidate('??', ['ab', 'a1', 'abc']) == ['ab']
        assert candidate('#?#', ['ada', 'eve', 'bob', 'Ugu']) == ['ada', 'eve', 'Ugu']
        assert candidate('', ['', 'a']) == ['']
        assert candidate('B?#', ['bye', 'BEE', 'bed']) == ['bye', 'BEE']
''', '''
    def fits(p, w):
        if p in '?#':
            return w.isalpha()
        return p.lower() == w.lower()

    return [w for w in words if len(w) == len(pattern) and all(fits(p, c) for p, c in zip(pattern, w))]
''')

# 26: a tiny stack language
problem('''
    def run_stack(program: str):
        """Run a tiny stack language whose tokens are separated by spaces. An integer (such as 7 or
        -3) is pushed. '+', '-' and '*' pop two values and push the result, '-' giving the deeper
        value minus the top ('5 3 -' leaves 2). 'dup' pushes a copy of the top, 'swap' exchanges the
        top two, 'over' pushes a copy of the second from the top. Return the top of the stack at the
        end, or None if it is empty. A token needing more values than the stack holds raises
        IndexError; an unknown token raises ValueError.
        >>> run_stack('2 3 4 * +')
        14
        """
''', '''
    needs = {'+': 2, '-': 2, '*': 2, 'dup': 1, 'swap': 2, 'over': 2}
    stack = []
    for token in program.split():
        if token.lstrip('-').isdigit():
            stack.append(int(token))
            continue
        if token not in needs:
            raise ValueError(f'unknown token {token!r}')
        if len(stack) < needs[token]:
            raise IndexError(f'{token!r} needs {needs[token]} values')
        if token == 'dup':
            stack.append(stack[-1])
        elif token == 'swap':
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif token == 'over':
            stack.append(stack[-2])
        else:
            b, a = stack.pop(), stack.pop()
            stack.append(a + b if token == '+' else a - b if token == '-' else a * b)
    return stack[-1] if stack else None
''', '''
    def check(candidate):
        assert candidate('2 3 4 * +') == 14
        assert candidate('5 3 -') == 2
        assert candidate('') is None
        assert candidate('1 2 swap -') == 1
        assert candidate('3 dup *') == 9
        assert candidate('1 2 over') == 1
        assert candidate('4 -6 +') == -2
        assert candidate('7 8 over over - -') == 9
        for program, error in (('1 +', IndexError), ('swap', IndexError), ('1 2 pow', ValueError)):
            try:
                candidate(program)
            except error:
                pass
            else:
                raise AssertionError(f'{program!r} must raise {error.__name__}')
''', '''
    stack = []
    for token in program.split():
        if token.lstrip('-').isdigit():
            stack.append(int(token))
        elif token == 'dup':
            stack.append(stack[-1])
        elif token == 'swap':
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif token == 'over':
            stack.append(stack[-2])
        elif token in '+-*':
            b, a = stack.pop(), stack.pop()
            stack.append(a + b if token == '+' else b - a if token == '-' else a * b)
        else:
            raise ValueError(token)
    return stack[-1] if stack else None
''')

# 27: library fines, capped per loan
problem('''
    import datetime


    def library_fines(loans: list, today: str) -> int:
        """Each loan is (kind, borrowed, returned): kind 'book' or 'dvd', dates 'YYYY-MM-DD',
        returned None while still out. A book is due 14 days after it was borrowed and a DVD 7 days
        after; each day late costs 10 cents for a book and 50 for a DVD, counted up to the day it
        came back (or `today` while it is still out). Each loan's fine is capped at 500 cents.
        Return the total fine in cents.
        >>> library_fines([('book', '2024-01-01', '2024-01-20')], '2024-02-01')
        50
        """
''', '''
    due = {'book': 14, 'dvd': 7}
    rate = {'book': 10, 'dvd': 50}
    total = 0
    for kind, borrowed, returned in loans:
        days = (datetime.date.fromisoformat(returned or today) - datetime.date.fromisoformat(borrowed)).days
        total += min(500, max(0, days - due[kind]) * rate[kind])
    return total
''', '''
    def check(candidate):
        assert candidate([('book', '2024-01-01', '2024-01-20')], '2024-02-01') == 50
        assert candidate([('book', '2024-01-01', '2024-01-15')], '2024-02-01') == 0
        assert candidate([('dvd', '2024-02-25', '2024-03-05')], '2024-04-01') == 100
        assert candidate([('dvd', '2024-01-01', None)], '2024-03-01') == 500
        assert candidate([('book', '2024-01-01', None)], '2024-01-10') == 0
        assert candidate([], '2024-01-10') == 0
        loans = [('dvd', '2024-01-01', None), ('book', '2023-01-01', '2023-12-31'), ('book', '2024-01-01', '2024-01-16')]
        assert candidate(loans, '2024-03-01') == 1010
''', '''
    due = {'book': 14, 'dvd': 7}
    rate = {'book': 10, 'dvd': 50}
    total = 0
    for kind, borrowed, returned in loans:
        days = (datetime.date.fromisoformat(returned or today) - datetime.date.fromisoformat(borrowed)).days
        total += max(0, days - due[kind]) * rate[kind]
    return min(500, total)
''')

# 28: seating groups together in a cinema
problem('''
    def seat_groups(groups: list, rows: int, seats: int, reserved: list) -> list:
        """A cinema has `rows` rows (row 0 at the front) of `seats` seats each (numbered from 0);
        the (row, seat) pairs in `reserved` are already taken. Groups arrive in order, of the sizes
        in `groups`; a group takes the front-most row with enough free seats side by side, and there
        the left-most such block. A group that fits nowhere is turned away. Return, for each group,
        (row, first seat) or None.
        >>> seat_groups([3, 3, 2, 4], 2, 5, [])
        [(0, 0), (1, 0), (0, 3), None]
        """
''', '''
    taken = [[False] * seats for _ in range(rows)]
    for r, s in reserved:
        taken[r][s] = True
    placements = []
    for size in groups:
        placed = None
        for r in range(rows):
            run = 0
            for s in range(seats):
                run = 0 if taken[r][s] else run + 1
                if run == size:
                    placed = (r, s - size + 1)
                    break
            if placed:
                break
        if placed:
            for s in range(placed[1], placed[1] + size):
                taken[placed[0]][s] = True
        placements.append(placed)
    return placements
''', '''
    def check(candidate):
        assert candidate([3, 3, 2, 4], 2, 5, []) == [(0, 0), (1, 0), (0, 3), None]
        assert candidate([6], 1, 5, []) == [None]
        assert candidate([1, 1, 1], 1, 2, []) == [(0, 0), (0, 1), None]
        assert candidate([2], 2, 4, [(0, 1)]) == [(0, 2)]
        assert candidate([3], 2, 4, [(0, 1)]) == [(1, 0)]
        assert candidate([1, 2], 1, 5, [(0, 1), (0, 3)]) == [(0, 0), None]
        assert candidate([], 3, 3, []) == []
''', '''
    free = [[s for s in range(seats) if (r, s) not in reserved] for r in range(rows)]
    placements = []
    for size in groups:
        placed = None
        for r in range(rows):
            if len(free[r]) >= size:
                placed = (r, free[r][0])
                free[r] = free[r][size:]
                break
        placements.append(placed)
    return placements
''')

# 29: sorting by digital root
problem('''
    def digital_root_sort(numbers: list) -> list:
        """Sort integers by their digital root (sum the digits of the absolute value, again and again
        until one digit is left; 0 for 0), then those with more digits first, then by value.
        Return a new list.
        >>> digital_root_sort([10, 1, 19, 100, 28])
        [100, 10, 19, 28, 1]
        """
''', '''
    def root(n):
        n = abs(n)
        return 0 if n == 0 else 1 + (n - 1) % 9

    return sorted(numbers, key=lambda n: (root(n), -len(str(abs(n))), n))
''', '''
    def check(candidate):
        assert candidate([10, 1, 19, 100, 28]) == [100, 10, 19, 28, 1]
        assert candidate([-5, 5, 14]) == [14, -5, 5]
        assert candidate([0, 9, 18]) == [0, 18, 9]
        assert candidate([]) == []
        assert candidate([99, 18, 2, 11]) == [11, 2, 18, 99]
        data = [3, 12, 21]
        assert candidate(data) == [12, 21, 3] and data == [3, 12, 21]
''', '''
    return sorted(numbers, key=lambda n: (sum(map(int, str(abs(n)))), -len(str(abs(n))), n))
''')

# 30: a spreadsheet of sums, with cycles refused
problem('''
    def evaluate_sheet(cells: dict) -> dict:
        """`cells` maps names such as 'A1' to an integer or to a formula: '=' and then terms joined
        by '+', each term a cell name or an integer ('=A1+B2+3'). A cell named in a formula but
        absent from `cells` counts as 0. Return {name: value} for every cell of `cells`. A formula
        that depends on itself, directly or through other cells, raises ValueError.
        >>> evaluate_sheet({'A1': 2, 'B1': '=A1+3', 'C1': '=B1+B1+A1'})
        {'A1': 2, 'B1': 5, 'C1': 12}
        """
''', '''
    values = {}
    visiting = set()

    def value(name):
        if name in values:
            return values[name]
        if name not in cells:
            return 0
        if name in visiting:
            raise ValueError(f'{name} depends on itself')
        content = cells[name]
        if isinstance(content, int):
            result = content
        else:
            visiting.add(name)
            result = 0
            for term in content[1:].split('+'):
                term = term.strip()
                result += int(term) if term.lstrip('-').isdigit() else value(term)
            visiting.discard(name)
        values[name] = result
        return result

    return {name: value(name) for name in cells}
''', '''
    def check(candidate):
        assert candidate({'A1': 2, 'B1': '=A1+3', 'C1': '=B1+B1+A1'}) == {'A1': 2, 'B1': 5, 'C1': 12}
        assert candidate({'A1': '=Z9+1'}) == {'A1': 1}
        assert candidate({'X1': '=10'}) == {'X1': 10}
        assert candidate({'C3': '=B2+B2', 'B2': '=A1+A1', 'A1': 7}) == {'C3': 28, 'B2': 14, 'A1': 7}
        assert candidate({}) == {}
        for cycle in ({'A1': '=B1', 'B1': '=A1'}, {'A1': '=A1+1'}, {'A1': '=B1+1', 'B1': '=C1', 'C1': '=A1', 'D1': 4}):
            try:
                candidate(cycle)
            except ValueError:
                pass
            else:
                raise AssertionError(f'{cycle} has a cycle: expected ValueError')
''', '''
    def value(name):
        if name not in cells:
            return 0
        content = cells[name]
        if isinstance(content, int):
            return content
        return sum(int(t) if t.strip().lstrip('-').isdigit() else value(t.strip()) for t in content[1:].split('+'))

    return {name: value(name) for name in cells}
''')

# 31: the next date that reads the same backwards
problem('''
    import datetime


    def next_palindrome_date(date: str) -> str:
        """Return the first date strictly after `date` ('YYYY-MM-DD', a year from 1000 on) whose
        eight digits YYYYMMDD read the same backwards, also as 'YYYY-MM-DD'.
        >>> next_palindrome_date('2020-02-01')
        '2020-02-02'
        """
''', '''
    day = datetime.date.fromisoformat(date)
    while True:
        day += datetime.timedelta(days=1)
        digits = day.isoformat().replace('-', '')
        if digits == digits[::-1]:
            return day.isoformat()
''', '''
    def check(candidate):
        assert candidate('2020-02-01') == '2020-02-02'
        assert candidate('2020-02-02') == '2021-12-02'
        assert candidate('2021-12-02') == '2030-03-02'
        assert candidate('2019-01-01') == '2020-02-02'
        assert candidate('1999-12-31') == '2001-10-02'
''', '''
    day = datetime.date.fromisoformat(date)
    while True:
        digits = day.isoformat().replace('-', '')
        if digits == digits[::-1]:
            return day.isoformat()
        day += datetime.timedelta(days=1)
''')

# 32: change from a till with limited coins
problem('''
    def change_coins(amount: int, coins: dict) -> list:
        """Pay `amount` cents using at most coins[value] coins of each value, with as few coins as
        possible. Return the coin values used, largest first, or None if it cannot be done. When
        several ways use the fewest coins, return the one that is largest when the lists are
        compared as Python lists.
        >>> change_coins(30, {25: 1, 10: 3, 1: 5})
        [10, 10, 10]
        """
''', '''
    values = sorted(coins, reverse=True)
    best = None

    # Depth first, more of the larger coins tried first: the first fewest-coin way found is the
    # largest of them as a list.
    def search(i, left, used):
        nonlocal best
        if left == 0:
            if best is None or len(used) < len(best):
                best = list(used)
            return
        if i == len(values) or (best is not None and len(used) >= len(best)):
            return
        v = values[i]
        for k in range(min(coins[v], left // v), -1, -1):
            search(i + 1, left - k * v, used + [v] * k)

    search(0, amount, [])
    return best
''', '''
    def check(candidate):
        assert candidate(30, {25: 1, 10: 3, 1: 5}) == [10, 10, 10]
        assert candidate(30, {25: 2, 10: 3, 5: 1}) == [25, 5]
        assert candidate(8, {5: 1, 2: 1}) is None
        assert candidate(7, {5: 1, 2: 1}) == [5, 2]
        assert candidate(0, {1: 0}) == []
        assert candidate(6, {3: 2, 4: 1, 2: 1}) == [4, 2]
        assert candidate(40, {25: 1, 20: 2, 10: 0, 5: 3}) == [20, 20]
        assert candidate(11, {5: 1, 2: 5, 1: 0}) == [5, 2, 2, 2]
''', '''
    result = []
    for v in sorted(coins, reverse=True):
        k = min(coins[v], amount // v)
        result += [v] * k
        amount -= k * v
    return result if amount == 0 else None
''')

# 33: word wrap that hyphenates long words
problem('''
    def wrap_hyphen(text: str, width: int) -> list:
        """Wrap the words of `text` into lines of at most `width` characters (width >= 2), words
        joined by single spaces, filling each line before starting the next. A word that does not
        fit on the current line starts a new one. A word longer than `width` is cut into pieces of
        width - 1 letters, each followed by '-' on a line of its own, and the rest of the word
        (at most `width` letters) goes on like an ordinary word.
        >>> wrap_hyphen('abcdefg b', 5)
        ['abcd-', 'efg b']
        """
''', '''
    lines = []
    line = ''
    for word in text.split():
        if line and len(line) + 1 + len(word) <= width:
            line += ' ' + word
            continue
        if line:
            lines.append(line)
        while len(word) > width:
            lines.append(word[:width - 1] + '-')
            word = word[width - 1:]
        line = word
    if line:
        lines.append(line)
    return lines
''', '''
    def check(candidate):
        assert candidate('abcdefg b', 5) == ['abcd-', 'efg b']
        assert candidate('a abcdefg b', 4) == ['a', 'abc-', 'defg', 'b']
        assert candidate('the quick brown fox', 10) == ['the quick', 'brown fox']
        assert candidate('abcdefghij', 4) == ['abc-', 'def-', 'ghij']
        assert candidate('', 5) == []
        assert candidate('  spaced   out ', 6) == ['spaced', 'out']
        assert candidate('ab cd', 2) == ['ab', 'cd']
        assert candidate('abc', 2) == ['a-', 'bc']
''', '''
    lines = []
    line = ''
    for word in text.split():
        if line and len(line) + 1 + len(word) <= width:
            line += ' ' + word
            continue
        if line:
            lines.append(line)
        while len(word) > width:
            lines.append(word[:width] + '-')
            word = word[width:]
        line = word
    if line:
        lines.append(line)
    return lines
''')

# 34: waiting at a traffic light
problem('''
    def light_wait(arrival: int, green: int, yellow: int, red: int) -> int:
        """A traffic light shows green from second 0 for `green` seconds, then yellow for `yellow`,
        then red for `red`, and starts over. It changes exactly at the boundaries (at second
        `green` it is yellow). A car arriving at second `arrival` drives on at once on green and
        otherwise waits for the next green. Return how many seconds it waits.
        >>> light_wait(30, 30, 5, 25)
        30
        """
''', '''
    cycle = green + yellow + red
    t = arrival % cycle
    return 0 if t < green else cycle - t
''', '''
    def check(candidate):
        assert candidate(30, 30, 5, 25) == 30
        assert candidate(0, 30, 5, 25) == 0
        assert candidate(29, 30, 5, 25) == 0
        assert candidate(59, 30, 5, 25) == 1
        assert candidate(60, 30, 5, 25) == 0
        assert candidate(125, 30, 5, 25) == 0
        assert candidate(95, 30, 5, 25) == 25
        assert candidate(33, 30, 5, 25) == 27
''', '''
    cycle = green + yellow + red
    t = arrival % cycle
    return 0 if t < green + yellow else cycle - t
''')

# 35: towers seen from either end of the street
problem('''
    def visible_towers(heights: list) -> int:
        """Towers stand in a row. One is visible from the left if it is strictly taller than every
        tower to its left, and from the right if it is strictly taller than every tower to its
        right. Return how many towers are visible from at least one end.
        >>> visible_towers([3, 1, 4, 1, 5])
        3
        """
''', '''
    seen = set()
    for order in (range(len(heights)), range(len(heights) - 1, -1, -1)):
        tallest = None
        for i in order:
            if tallest is None or heights[i] > tallest:
                seen.add(i)
                tallest = heights[i]
    return len(seen)
''', '''
    def check(candidate):
        assert candidate([3, 1, 4, 1, 5]) == 3
        assert candidate([5, 1, 2, 3, 1]) == 3
        assert candidate([2, 2, 2]) == 2
        assert candidate([]) == 0
        assert candidate([7]) == 1
        assert candidate([1, 3, 2, 3, 1]) == 4
        assert candidate([-2, -5, -1]) == 2
''', '''
    count = 0
    for order in (heights, heights[::-1]):
        tallest = None
        for h in order:
            if tallest is None or h > tallest:
                count += 1
                tallest = h
    return count
''')

# 36: perfect out-shuffles of an odd or even deck
problem('''
    def faro_shuffle(deck: list, times: int) -> list:
        """Out-shuffle `deck` `times` times: cut it into two halves, the first half one card larger
        when the count is odd, and interleave them one card at a time starting with the first card
        of the first half. Return the new order.
        >>> faro_shuffle([1, 2, 3, 4, 5], 1)
        [1, 4, 2, 5, 3]
        """
''', '''
    deck = list(deck)
    for _ in range(times):
        half = (len(deck) + 1) // 2
        first, second = deck[:half], deck[half:]
        deck = [card for pair in zip(first, second) for card in pair] + first[len(second):]
    return deck
''', '''
    def check(candidate):
        assert candidate([1, 2, 3, 4, 5], 1) == [1, 4, 2, 5, 3]
        assert candidate([1, 2, 3, 4, 5, 6], 1) == [1, 4, 2, 5, 3, 6]
        assert candidate(list(range(1, 9)), 3) == list(range(1, 9))
        assert candidate([], 4) == []
        assert candidate(list('abcdefg'), 2) == list('acegbdf')
        assert candidate([1], 5) == [1]
''', '''
    deck = list(deck)
    for _ in range(times):
        half = len(deck) // 2
        first, second = deck[:half], deck[half:]
        deck = [card for pair in zip(first, second) for card in pair] + second[len(first):]
    return deck
''')

# 37: islands on a map that wraps around a cylinder
problem('''
    def cylinder_islands(grid: list) -> int:
        """`grid` is a list of equal-length strings of '#' (land) and '.' (water) drawn on a
        cylinder: the left and right edges touch, so the first and last cells of a row are
        neighbours. Land cells joined up, down, left or right (across that seam too) form one island.
        Return the number of islands.
        >>> cylinder_islands(['#..#'])
        1
        """
''', '''
    if not grid:
        return 0
    rows, cols = len(grid), len(grid[0])
    seen = set()
    islands = 0
    for r in range(rows):
        for c in range(cols):
            if grid[r][c] != '#' or (r, c) in seen:
                continue
            islands += 1
            stack = [(r, c)]
            seen.add((r, c))
            while stack:
                y, x = stack.pop()
                for ny, nx in ((y + 1, x), (y - 1, x), (y, (x + 1) % cols), (y, (x - 1) % cols)):
                    if 0 <= ny < rows and grid[ny][nx] == '#' and (ny, nx) not in seen:
                        seen.add((ny, nx))
                        stack.append((ny, nx))
    return islands
''', '''
    def check(candidate):
        assert candidate(['#..#']) == 1
        assert candidate(['#.#.']) == 2
        assert candidate(['#...', '...#']) == 2
        assert candidate(['##', '..', '##']) == 2
        assert candidate([]) == 0
        assert candidate(['#']) == 1
        assert candidate(['.#.', '#.#', '.#.']) == 3
        assert candidate(['#..#', '#..#', '....', '.##.']) == 2
''', '''
    if not grid:
        return 0
    rows, cols = len(grid), len(grid[0])
    seen = set()
    islands = 0
    for r in range(rows):
        for c in range(cols):
            if grid[r][c] != '#' or (r, c) in seen:
                continue
            islands += 1
            stack = [(r, c)]
            seen.add((r, c))
            while stack:
                y, x = stack.pop()
                for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                    if 0 <= ny < rows and 0 <= nx < cols and grid[ny][nx] == '#' and (ny, nx) not in seen:
                        seen.add((ny, nx))
                        stack.append((ny, nx))
    return islands
''')

# 38: Morse code whose letter gaps were lost
problem('''
    def morse_readings(code: str) -> int:
        """`code` is Morse ('.' and '-') with the gaps between letters lost. Count the ways to read
        it as a sequence of these letters only: E '.', T '-', I '..', A '.-', N '-.', M '--',
        S '...', O '---'. The empty code has one reading.
        >>> morse_readings('...')
        4
        >>> morse_readings('.-.')
        3
        """
''', '''
    letters = {'.', '-', '..', '.-', '-.', '--', '...', '---'}
    ways = [1] + [0] * len(code)
    for i in range(1, len(code) + 1):
        for k in (1, 2, 3):
            if i >= k and code[i - k:i] in letters:
                ways[i] += ways[i - k]
    return ways[len(code)]
''', '''
    def check(candidate):
        assert candidate('...') == 4
        assert candidate('.-.') == 3
        assert candidate('') == 1
        assert candidate('.') == 1
        assert candidate('---') == 4
        assert candidate('.-') == 2
        assert candidate('..-') == 3
        assert candidate('-.-.') == 5
        assert candidate('......') == 24
''', '''
    ways = [1] + [0] * len(code)
    for i in range(1, len(code) + 1):
        for k in (1, 2, 3):
            if i >= k:
                ways[i] += ways[i - k]
    return ways[len(code)]
''')

# 39: scaling a recipe written with mixed numbers
problem('''
    from fractions import Fraction


    def scale_recipe(lines: list, factor: Fraction) -> list:
        """Each line is 'QUANTITY UNIT INGREDIENT...', the quantity a whole number ('2'), a fraction
        ('3/4') or a mixed number ('1 1/2': whole part, one space, fraction). Multiply each quantity
        by `factor` and write it the same way: whole numbers plain, proper fractions in lowest terms,
        larger non-whole amounts as mixed numbers. The rest of each line is kept as it is.
        >>> scale_recipe(['3/4 tsp salt'], Fraction(2))
        ['1 1/2 tsp salt']
        """
''', '''
    out = []
    for line in lines:
        parts = line.split(' ')
        quantity, rest = Fraction(parts[0]), parts[1:]
        if '/' not in parts[0] and rest and '/' in rest[0]:
            quantity += Fraction(rest[0])
            rest = rest[1:]
        q = quantity * factor
        whole, part = divmod(q.numerator, q.denominator)
        if part == 0:
            text = str(whole)
        elif whole == 0:
            text = f'{part}/{q.denominator}'
        else:
            text = f'{whole} {part}/{q.denominator}'
        out.append(' '.join([text] + rest))
    return out
''', '''
    def check(candidate):
        assert candidate(['3/4 tsp salt'], Fraction(2)) == ['1 1/2 tsp salt']
        assert candidate(['2 cups flour'], Fraction(3, 2)) == ['3 cups flour']
        assert candidate(['1 1/2 cups milk'], Fraction(1, 3)) == ['1/2 cups milk']
        assert candidate(['1 egg'], Fraction(1, 2)) == ['1/2 egg']
        assert candidate(['2 2/3 cup rolled oats'], Fraction(3)) == ['8 cup rolled oats']
        assert candidate([], Fraction(5)) == []
        assert candidate(['5 g yeast', '1 3/4 l water'], Fraction(1, 10)) == ['1/2 g yeast', '7/40 l water']
''', '''
    out = []
    for line in lines:
        parts = line.split(' ')
        q = Fraction(parts[0]) * factor
        whole, part = divmod(q.numerator, q.denominator)
        if part == 0:
            text = str(whole)
        elif whole == 0:
            text = f'{part}/{q.denominator}'
        else:
            text = f'{whole} {part}/{q.denominator}'
        out.append(' '.join([text] + parts[1:]))
    return out
''')

# 40: a maze with a locked door and its key
problem('''
    def key_maze(grid: list) -> int:
        """`grid` is a list of equal-length strings: 'S' the start, 'E' the exit, '#' wall, '.'
        floor, 'k' a key and 'D' a door that can be passed only after the key was picked up (by
        stepping on it). Each move up, down, left or right is one step. Return the fewest steps from
        S to E, or -1 if E cannot be reached.
        >>> key_maze(['SkDE'])
        3
        """
''', '''
    from collections import deque
    rows, cols = len(grid), len(grid[0])
    start = next((r, c) for r in range(rows) for c in range(cols) if grid[r][c] == 'S')
    queue = deque([(start[0], start[1], False, 0)])
    seen = {(start[0], start[1], False)}
    while queue:
        r, c, key, steps = queue.popleft()
        if grid[r][c] == 'E':
            return steps
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if not (0 <= nr < rows and 0 <= nc < cols) or grid[nr][nc] == '#':
                continue
            if grid[nr][nc] == 'D' and not key:
                continue
            state = (nr, nc, key or grid[nr][nc] == 'k')
            if state not in seen:
                seen.add(state)
                queue.append((*state, steps + 1))
    return -1
''', '''
    def check(candidate):
        assert candidate(['SkDE']) == 3
        assert candidate(['SD.E', '.###', '..k.']) == 11
        assert candidate(['S.E']) == 2
        assert candidate(['SDE']) == -1
        assert candidate(['S#E']) == -1
        assert candidate(['S.E', 'D..']) == 2
        assert candidate(['S..', '##D', 'k.E']) == -1
''', '''
    from collections import deque
    rows, cols = len(grid), len(grid[0])
    start = next((r, c) for r in range(rows) for c in range(cols) if grid[r][c] == 'S')
    queue = deque([(start, 0)])
    seen = {start}
    while queue:
        (r, c), steps = queue.popleft()
        if grid[r][c] == 'E':
            return steps
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < rows and 0 <= nc < cols and grid[nr][nc] not in '#D' and (nr, nc) not in seen:
                seen.add((nr, nc))
                queue.append(((nr, nc), steps + 1))
    return -1
''')

# 41: a vertical bar chart with clipped bars
problem('''
    def bar_chart(values: list, height: int) -> list:
        """Draw the non-negative integers `values` as a vertical bar chart `height` rows tall, one
        column per value, top row first: '#' where a bar reaches, ' ' elsewhere. A bar taller than
        `height` is clipped, its top cell drawn as '^'. Rows keep their trailing spaces.
        >>> bar_chart([1, 3, 0, 2], 3)
        [' #  ', ' # #', '## #']
        """
''', '''
    rows = []
    for level in range(height, 0, -1):
        row = ''
        for v in values:
            if v > height and level == height:
                row += '^'
            else:
                row += '#' if v >= level else ' '
        rows.append(row)
    return rows
''', '''
    def check(candidate):
        assert candidate([1, 3, 0, 2], 3) == [' #  ', ' # #', '## #']
        assert candidate([5, 2], 3) == ['^ ', '##', '##']
        assert candidate([3], 3) == ['#', '#', '#']
        assert candidate([], 2) == ['', '']
        assert candidate([0, 0], 1) == ['  ']
        assert candidate([2, 9, 4], 1) == ['^^^']
''', '''
    rows = []
    for level in range(height, 0, -1):
        row = ''
        for v in values:
            if v >= height and level == height:
                row += '^'
            else:
                row += '#' if v >= level else ' '
        rows.append(row)
    return rows
''')

# 42: an abelian sandpile settling down
problem('''
    def topple(grid: list) -> list:
        """An abelian sandpile: `grid` is a list of rows of grain counts. While some cell holds 4 or
        more grains it topples: it loses 4 and each of its up to four neighbours (up, down, left,
        right) gains one; grains pushed off the edge are lost. Return the stable grid as new lists,
        leaving `grid` unchanged.
        >>> topple([[0, 0, 0], [0, 4, 0], [0, 0, 0]])
        [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
        """
''', '''
    g = [list(row) for row in grid]
    unstable = True
    while unstable:
        unstable = False
        for i in range(len(g)):
            for j in range(len(g[i])):
                if g[i][j] >= 4:
                    unstable = True
                    g[i][j] -= 4
                    for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                        if 0 <= a < len(g) and 0 <= b < len(g[a]):
                            g[a][b] += 1
    return g
''', '''
    def check(candidate):
        assert candidate([[0, 0, 0], [0, 4, 0], [0, 0, 0]]) == [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
        grid = [[4]]
        assert candidate(grid) == [[0]] and grid == [[4]]
        assert candidate([[0, 0, 0], [0, 16, 0], [0, 0, 0]]) == [[2, 1, 2], [1, 0, 1], [2, 1, 2]]
        assert candidate([[3, 3], [3, 3]]) == [[3, 3], [3, 3]]
        assert candidate([[5, 3], [3, 3]]) == [[3, 1], [1, 1]]
        assert candidate([]) == []
''', '''
    g = [list(row) for row in grid]
    unstable = True
    while unstable:
        unstable = False
        for i in range(len(g)):
            for j in range(len(g[i])):
                if g[i][j] > 4:
                    unstable = True
                    g[i][j] -= 4
                    for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                        if 0 <= a < len(g) and 0 <= b < len(g[a]):
                            g[a][b] += 1
    return g
''')

# 43: events per weekday, late nights counting for the next day
problem('''
    import datetime


    def weekday_counts(timestamps: list) -> list:
        """`timestamps` are 'YYYY-MM-DD HH:MM'. Count them by weekday, Monday first, except that an
        event at 22:00 or later counts for the next day. Return the seven counts.
        >>> weekday_counts(['2024-01-01 10:00', '2024-01-01 22:00'])
        [1, 1, 0, 0, 0, 0, 0]
        """
''', '''
    counts = [0] * 7
    for stamp in timestamps:
        moment = datetime.datetime.strptime(stamp, '%Y-%m-%d %H:%M')
        day = moment.date() + datetime.timedelta(days=1 if moment.hour >= 22 else 0)
        counts[day.weekday()] += 1
    return counts
''', '''
    def check(candidate):
        assert candidate(['2024-01-01 10:00', '2024-01-01 22:00']) == [1, 1, 0, 0, 0, 0, 0]
        assert candidate(['2024-01-07 23:59']) == [1, 0, 0, 0, 0, 0, 0]
        assert candidate(['2024-01-07 21:59']) == [0, 0, 0, 0, 0, 0, 1]
        assert candidate([]) == [0] * 7
        assert candidate(['2024-02-29 22:30', '2024-03-01 00:00']) == [0, 0, 0, 0, 2, 0, 0]
''', '''
    counts = [0] * 7
    for stamp in timestamps:
        moment = datetime.datetime.strptime(stamp, '%Y-%m-%d %H:%M')
        day = moment.date() + datetime.timedelta(days=1 if moment.hour > 22 else 0)
        counts[day.weekday()] += 1
    return counts
''')

# 44: merging two lists by the weight of what is left
problem('''
    def heavier_first_merge(a: list, b: list) -> list:
        """Merge two lists of numbers: again and again take the next number from the front of the
        list whose remaining numbers have the larger sum, taking from `a` on a tie. Once one list is
        used up, take the rest of the other. Return the merged list.
        >>> heavier_first_merge([1, 2], [5])
        [5, 1, 2]
        """
''', '''
    i = j = 0
    left_a, left_b = sum(a), sum(b)
    out = []
    while i < len(a) or j < len(b):
        if j == len(b) or (i < len(a) and left_a >= left_b):
            out.append(a[i])
            left_a -= a[i]
            i += 1
        else:
            out.append(b[j])
            left_b -= b[j]
            j += 1
    return out
''', '''
    def check(candidate):
        assert candidate([1, 2], [5]) == [5, 1, 2]
        assert candidate([3], [3]) == [3, 3]
        assert candidate([1, 1, 1], [2]) == [1, 1, 2, 1]
        assert candidate([], [4, 5]) == [4, 5]
        assert candidate([-1, 10], [3]) == [-1, 10, 3]
        assert candidate([], []) == []
''', '''
    i = j = 0
    out = []
    while i < len(a) or j < len(b):
        if j == len(b) or (i < len(a) and a[i] >= b[j]):
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out
''')

# 45: loading a barbell from the heaviest plates down
problem('''
    def load_barbell(target: float, plates: dict, bar: float = 20.0) -> list:
        """Load a barbell weighing `bar` kg to exactly `target` kg. `plates` maps a plate weight to
        how many such plates there are; plates go on in pairs, one on each side. For each weight
        from the heaviest down, put on as many pairs as there are and as fit without passing the
        target. Return the weights on one side, heaviest first, or None if this does not reach the
        target exactly.
        >>> load_barbell(60, {20: 2, 10: 2})
        [20]
        """
''', '''
    left = target - bar
    if left < 0:
        return None
    side = []
    for weight in sorted(plates, reverse=True):
        pairs = min(plates[weight] // 2, int(left // (2 * weight)))
        side += [weight] * pairs
        left -= 2 * weight * pairs
    return side if left == 0 else None
''', '''
    def check(candidate):
        assert candidate(60, {20: 2, 10: 2}) == [20]
        assert candidate(95, {25: 2, 10: 2, 2.5: 2, 1.25: 2}) == [25, 10, 2.5]
        assert candidate(20, {}) == []
        assert candidate(15, {5: 2}) is None
        assert candidate(50, {15: 3, 5: 2}) == [15]
        assert candidate(40, {10: 1, 5: 4}) == [5, 5]
        assert candidate(100, {25: 2, 20: 2, 5: 4}) is None
        assert candidate(35, {5: 2}, bar=25) == [5]
''', '''
    left = target - bar
    side = []
    for weight in sorted(plates, reverse=True):
        pairs = min(plates[weight], int(left // (2 * weight)))
        side += [weight] * pairs
        left -= 2 * weight * pairs
    return side if left == 0 else None
''')

# 46: the longest warm spell, forgiving single cool days
problem('''
    def warm_streak(temps: list, threshold: float) -> int:
        """A day is warm when its temperature is above `threshold`. A streak is a run of warm days
        in which a single cool day is forgiven when the days on both sides of it are warm (two cool
        days in a row end it). Return the number of warm days in the longest streak; forgiven days
        do not count.
        >>> warm_streak([25, 18, 26, 27], 20)
        3
        """
''', '''
    warm = [t > threshold for t in temps]
    best = current = 0
    for i, w in enumerate(warm):
        if w:
            current += 1
        elif not (0 < i < len(warm) - 1 and warm[i - 1] and warm[i + 1]):
            current = 0
        best = max(best, current)
    return best
''', '''
    def check(candidate):
        assert candidate([25, 18, 26, 27], 20) == 3
        assert candidate([25, 18, 17, 26], 20) == 1
        assert candidate([15, 16], 20) == 0
        assert candidate([21, 19, 22, 19, 23], 20) == 3
        assert candidate([19, 21, 22], 20) == 2
        assert candidate([], 20) == 0
        assert candidate([20, 21], 20) == 1
        assert candidate([21, 22, 23, 10, 10, 21, 5, 21, 21], 20) == 3
''', '''
    best = current = 0
    for t in temps:
        current = current + 1 if t > threshold else 0
        best = max(best, current)
    return best
''')

# 47: a bakery oven that splits orders across batches
problem('''
    def bakery(orders: list, oven: int, bake: int) -> list:
        """`orders` are (minute, loaves), in time order, loaves >= 1. One oven bakes up to `oven`
        loaves at a time, taking `bake` minutes. Whenever the oven is empty and loaves are waiting,
        it starts a batch at once, filled with waiting loaves oldest order first (an order may be
        split across batches). Return, for each order, the minute its last loaf comes out.
        >>> bakery([(0, 15)], 10, 30)
        [60]
        """
''', '''
    waiting = []  # [order index, loaves not yet baked], oldest first
    done = [0] * len(orders)
    time, k = 0, 0
    while k < len(orders) or waiting:
        if not waiting:
            time = max(time, orders[k][0])
        while k < len(orders) and orders[k][0] <= time:
            waiting.append([k, orders[k][1]])
            k += 1
        space, finished = oven, []
        while waiting and space:
            take = min(waiting[0][1], space)
            space -= take
            waiting[0][1] -= take
            if waiting[0][1] == 0:
                finished.append(waiting.pop(0)[0])
        time += bake
        for index in finished:
            done[index] = time
    return done
''', '''
    def check(candidate):
        assert candidate([(0, 15)], 10, 30) == [60]
        assert candidate([(0, 5)], 10, 30) == [30]
        assert candidate([(0, 4), (5, 4)], 10, 30) == [30, 60]
        assert candidate([(0, 6), (0, 6)], 10, 20) == [20, 40]
        assert candidate([(10, 1), (100, 1)], 5, 20) == [30, 120]
        assert candidate([], 3, 3) == []
        assert candidate([(0, 2), (1, 25), (2, 1)], 10, 10) == [10, 40, 40]
''', '''
    waiting = []
    done = [0] * len(orders)
    time, k = 0, 0
    while k < len(orders) or waiting:
        if not waiting:
            time = max(time, orders[k][0])
        while k < len(orders) and orders[k][0] <= time:
            waiting.append([k, orders[k][1]])
            k += 1
        space = oven
        while waiting and space:
            take = min(waiting[0][1], space)
            space -= take
            waiting[0][1] -= take
            if not done[waiting[0][0]]:
                done[waiting[0][0]] = time + bake
            if waiting[0][1] == 0:
                waiting.pop(0)
        time += bake
    return done
''')

# 48: meeting hours that suit every time zone
problem('''
    def common_hours(offsets: list) -> list:
        """Team members live at whole-hour offsets from UTC (-5, 0, 9, ...). Each works 09:00 to 17:00
        local time, so a one-hour meeting starting at local hour h suits them when 9 <= h <= 16 (the
        day wraps: UTC 23:00 is 09:00 at offset +10). Return the UTC hours 0-23 at which a one-hour
        meeting suits everyone, in increasing order.
        >>> common_hours([-5, 1])
        [14, 15]
        """
''', '''
    return [u for u in range(24) if all(9 <= (u + o) % 24 <= 16 for o in offsets)]
''', '''
    def check(candidate):
        assert candidate([-5, 1]) == [14, 15]
        assert candidate([0]) == list(range(9, 17))
        assert candidate([0, 1]) == list(range(9, 16))
        assert candidate([10, -10]) == [0, 1, 2, 23]
        assert candidate([]) == list(range(24))
        assert candidate([0, 12]) == []
''', '''
    return [u for u in range(24) if all(9 <= u + o <= 16 for o in offsets)]
''')

# 49: curving grades, but not the failing ones
problem('''
    def curve_grades(scores: list) -> list:
        """Curve exam scores (0 to 100): every score of 40 or more gets the same bonus, the number
        of points that lifts the class's best score to 100 but never more than 15; scores below 40
        are left alone. Return the new scores in the same order.
        >>> curve_grades([70, 85, 30])
        [85, 100, 30]
        """
''', '''
    if not scores:
        return []
    bonus = min(15, 100 - max(scores))
    return [s + bonus if s >= 40 else s for s in scores]
''', '''
    def check(candidate):
        assert candidate([70, 85, 30]) == [85, 100, 30]
        assert candidate([50, 60]) == [65, 75]
        assert candidate([100, 40]) == [100, 40]
        assert candidate([]) == []
        assert candidate([39, 40, 95]) == [39, 45, 100]
        assert candidate([30, 20]) == [30, 20]
''', '''
    if not scores:
        return []
    bonus = min(15, 100 - max(scores))
    return [s + bonus for s in scores]
''')


def main() -> None:
    assert len(PROBLEMS) == 50, len(PROBLEMS)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for row in PROBLEMS:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(PROBLEMS)} problems to {OUT}")


if __name__ == "__main__":
    main()
