"""What waits for a commit: it runs once the transaction commits — not when a savepoint inside it is released or
rolled back — and is undone or dropped when the transaction rolls back."""

from __future__ import annotations

from sqlalchemy import text

from confirm import unit_of_work


def test_a_savepoint_is_not_the_commit(session):
    ran, undone, handed = [], [], []
    session.info[unit_of_work.DELIVER] = handed.extend
    session.execute(text("SELECT 1"))
    unit_of_work.after_commit(session, lambda: ran.append("deleted"))
    unit_of_work.on_rollback(session, lambda: undone.append("object removed"))
    unit_of_work.announce(session, 7)
    with session.begin_nested():
        session.execute(text("SELECT 1"))
    try:
        with session.begin_nested():
            raise ValueError("a constraint said no")
    except ValueError:
        pass
    assert (ran, undone, handed) == ([], [], [])  # neither savepoint ended the transaction

    session.commit()

    assert (ran, undone, handed) == (["deleted"], [], [7])


def test_a_rollback_undoes_what_was_written_outside_and_sends_nothing(session):
    undone, handed = [], []
    session.info[unit_of_work.DELIVER] = handed.extend
    session.execute(text("SELECT 1"))
    unit_of_work.on_rollback(session, lambda: undone.append("object removed"))
    unit_of_work.announce(session, 8)

    session.rollback()
    session.commit()

    assert (undone, handed) == (["object removed"], [])


def test_closing_without_a_commit_counts_as_a_rollback(session):
    undone = []
    session.execute(text("SELECT 1"))
    unit_of_work.on_rollback(session, lambda: undone.append("object removed"))

    session.close()

    assert undone == ["object removed"]
