"""The one exception type for bad user input."""


class UserError(Exception):
    """Bad input from the user (a file, a field, a flag).

    The CLI reports it as one line naming what was wrong and what was expected, and exits with
    code 2 and no traceback. Bugs raise anything else and keep their traceback.
    """
