"""Rephrasings written by hand (new names, new words, a different algorithm, same behaviour), and
near misses: functions on a benchmark problem's topic whose behaviour differs. Each rephrasing is
checked against the problem's own tests when the set is built (make_rephrase_set.py)."""

REPHRASINGS = [
    ("humaneval", "HumanEval/0", '''
def any_pair_nearer_than(values, gap):
    """Tell whether a list of floats holds two entries whose distance is below `gap`."""
    ordered = sorted(values)
    return any(b - a < gap for a, b in zip(ordered, ordered[1:]))
'''),
    ("humaneval", "HumanEval/3", '''
from itertools import accumulate


def account_goes_negative(movements):
    # Deposits are positive, withdrawals negative; the account starts empty. Does the running
    # balance ever dip under zero?
    return any(level < 0 for level in accumulate(movements))
'''),
    ("humaneval", "HumanEval/4", '''
def average_distance_from_mean(data):
    """The average absolute gap between each data point and the arithmetic mean of the data."""
    centre = sum(data) / len(data)
    gaps = [abs(point - centre) for point in data]
    return sum(gaps) / len(gaps)
'''),
    ("humaneval", "HumanEval/8", '''
def total_and_multiplied(seq):
    """A pair: everything added up, and everything multiplied together (0 and 1 for nothing)."""
    acc_sum, acc_prod = 0, 1
    idx = 0
    while idx < len(seq):
        acc_sum += seq[idx]
        acc_prod *= seq[idx]
        idx += 1
    return acc_sum, acc_prod
'''),
    ("humaneval", "HumanEval/12", '''
def pick_longest(words):
    # The longest word; on a tie the earliest one wins; nothing for an empty input.
    if not words:
        return None
    best = words[0]
    for w in words[1:]:
        if len(w) > len(best):
            best = w
    return best
'''),
    ("humaneval", "HumanEval/13", '''
def highest_common_factor(x, y):
    """Biggest whole number that divides both x and y."""
    return x if y == 0 else highest_common_factor(y, x % y)
'''),
    ("humaneval", "HumanEval/16", '''
def how_many_unique_letters(text):
    """Number of different characters in text when upper and lower case count as one."""
    seen = {}
    for ch in text:
        seen[ch.lower()] = True
    return len(seen)
'''),
    ("humaneval", "HumanEval/27", '''
def invert_letter_case(phrase):
    """Capitals become small letters and small letters become capitals."""
    return "".join(ch.lower() if ch.isupper() else ch.upper() for ch in phrase)
'''),
    ("humaneval", "HumanEval/34", '''
def distinct_in_order(items):
    """Every value once, smallest first."""
    out = []
    for item in sorted(items):
        if not out or out[-1] != item:
            out.append(item)
    return out
'''),
    ("humaneval", "HumanEval/55", '''
def nth_fibonacci(k):
    """Fibonacci number number k (0, 1, 1, 2, 3, 5, ...)."""
    a, b = 0, 1
    for _ in range(k):
        a, b = b, a + b
    return a
'''),
    ("humaneval", "HumanEval/60", '''
def add_up_to(limit):
    """1 + 2 + ... + limit, by Gauss's formula."""
    return limit * (limit + 1) // 2
'''),
    ("humaneval", "HumanEval/52", '''
def everything_under(readings, ceiling):
    """True if no reading reaches the ceiling."""
    return all(r < ceiling for r in readings)
'''),
    ("humaneval", "HumanEval/30", '''
def keep_strictly_positive(values):
    """Drop zeros and negatives."""
    return list(filter(lambda v: v > 0, values))
'''),
    ("humaneval", "HumanEval/42", '''
def bump_each(values):
    # each entry plus one, as a new list
    return list(map(lambda v: v + 1, values))
'''),
    ("mbpp", "12", '''
def order_rows_by_total(matrix):
    """Rows of a matrix ordered from the smallest row sum to the largest."""
    keyed = [(sum(row), position, row) for position, row in enumerate(matrix)]
    keyed.sort()
    return [row for _, _, row in keyed]
'''),
    ("mbpp", "23", '''
def best_row_sum(rows):
    """Largest total among the inner lists."""
    return max(sum(row) for row in rows)
'''),
    ("mbpp", "62", '''
def lowest(values):
    best = values[0]
    for v in values:
        if v < best:
            best = v
    return best
'''),
    ("mbpp", "66", '''
def count_non_negative(values):
    """How many entries are zero or more."""
    return sum(1 for v in values if v >= 0)
'''),
    ("mbpp", "127", '''
def times_without_star(a, b):
    """a times b using only addition (b may be negative)."""
    total = 0
    for _ in range(abs(b)):
        total += a
    return total if b >= 0 else -total
'''),
    ("mbpp", "145", '''
def spread(values, count):
    """Difference between the biggest and the smallest of the first `count` values."""
    window = values[:count]
    return max(window) - min(window)
'''),
    ("mbpp", "227", '''
def smallest_of(a, b, c):
    return sorted([a, b, c])[0]
'''),
    ("mbpp", "41", '''
def evens_only(values):
    """Keep the values divisible by two."""
    return [v for v in values if not v & 1]
'''),
]

# Same topic as a benchmark problem, different behaviour: these must not be flagged.
NEAR_MISSES = [
    '''
def has_far_elements(numbers, threshold):
    """Check whether some two numbers are further apart than threshold."""
    return bool(numbers) and max(numbers) - min(numbers) > threshold
''',
    '''
def below_limit_at_end(operations, limit):
    """Is the final balance below the limit after applying every operation?"""
    return sum(operations) < limit
''',
    '''
def median_absolute_deviation(numbers):
    """Median of the absolute deviations from the median."""
    ordered = sorted(numbers)
    mid = ordered[len(ordered) // 2]
    deviations = sorted(abs(x - mid) for x in numbers)
    return deviations[len(deviations) // 2]
''',
    '''
def sum_squares_and_cubes(numbers):
    """A tuple of the sum of squares and the sum of cubes."""
    return sum(n * n for n in numbers), sum(n ** 3 for n in numbers)
''',
    '''
def shortest(strings):
    """The shortest string, or an empty string for an empty list."""
    return min(strings, key=len) if strings else ""
''',
    '''
def least_common_multiple(a, b):
    """Smallest positive number that both a and b divide."""
    x, y = a, b
    while y:
        x, y = y, x % y
    return a * b // x
''',
    '''
def count_repeated_characters(text):
    """How many characters appear more than once (case sensitive)."""
    seen = {}
    for ch in text:
        seen[ch] = seen.get(ch, 0) + 1
    return sum(1 for c in seen.values() if c > 1)
''',
    '''
def swap_first_letter_case(word):
    """Flip the case of the first letter only."""
    return word[:1].swapcase() + word[1:]
''',
    '''
def duplicates(values):
    """The values that occur more than once, sorted."""
    return sorted({v for v in values if values.count(v) > 1})
''',
    '''
def tribonacci(n):
    """The n-th tribonacci number: each one the sum of the three before it."""
    a, b, c = 0, 0, 1
    for _ in range(n):
        a, b, c = b, c, a + b + c
    return a
''',
    '''
def sum_of_squares_to_n(n):
    """1 + 4 + 9 + ... + n*n."""
    return n * (n + 1) * (2 * n + 1) // 6
''',
    '''
def any_above(readings, floor):
    """True if at least one reading is above the floor."""
    return any(r > floor for r in readings)
''',
    '''
def get_negative(values):
    """Only the negative numbers of the list."""
    return [v for v in values if v < 0]
''',
    '''
def decrement_list(values):
    """Each element minus two."""
    return [v - 2 for v in values]
''',
    '''
def sort_matrix_by_max(matrix):
    """Rows ordered by their largest element, descending."""
    return sorted(matrix, key=max, reverse=True)
''',
    '''
def minimum_row_sum(rows):
    """Smallest total among the inner lists."""
    return min(sum(r) for r in rows)
''',
    '''
def largest_num(xs):
    """Largest number in a list."""
    return max(xs)
''',
    '''
def count_negative(values):
    """How many entries are below zero."""
    return sum(1 for v in values if v < 0)
''',
    '''
def divide_int(x, y):
    """Integer division without the // operator, by repeated subtraction (non-negative inputs)."""
    count = 0
    while x >= y:
        x -= y
        count += 1
    return count
''',
    '''
def max_of_three(a, b, c):
    """Largest of three numbers."""
    return max(a, max(b, c))
''',
    '''
def filter_odd_numbers(nums):
    """Odd numbers only."""
    return [n for n in nums if n % 2]
''',
]
