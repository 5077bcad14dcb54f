"""Checks for the chapters' exercises.

Every exercise ends with a short check cell that tests a student's answer without giving the
solution away: it looks for the names the exercise asks the answer to be stored in, and tests
what can be tested of them (a range, a shape, agreement with the chapter's own results or with
the library). In the book the worked solution runs above it and the check passes; in the
student edition (``tools/make_student_edition.py``) the solution is gone and the check says
what is missing until the student has answered.
"""

from __future__ import annotations

from collections.abc import Callable


class NotAnswered(AssertionError):
    """The exercise's answer has not been written yet (a name it asks for is not defined)."""


class WrongAnswer(AssertionError):
    """The answer is there but fails the check."""


def check(exercise: int | str, test: Callable[[], bool], wanted: str) -> None:
    """Run ``test`` (a function of no arguments that reads the student's names) and say whether
    exercise ``exercise``'s answer passes; ``wanted`` says what the answer should be, in the
    words of the exercise.

    Raises :class:`NotAnswered` when ``test`` reads a name that is not defined yet, and
    :class:`WrongAnswer` when it returns something false.
    """
    try:
        passed = test()
    except NameError as error:
        message = f"Exercise {exercise} is not answered yet ({error}). Wanted: {wanted}"
        raise NotAnswered(message) from None
    if not passed:
        message = f"Exercise {exercise}: the answer does not pass the check. Wanted: {wanted}"
        raise WrongAnswer(message)
    print(f"Exercise {exercise}: the answer passes the check.")
