"""Telling students apart and times as the school reads them: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime

from confirm.clock import local_time
from confirm.presentation import Namesake, distinguishing_labels, stable_identifier


def labels_of(*students: Namesake) -> list[str]:
    labels = distinguishing_labels(students)
    return [str(labels[s.id]) for s in students]


def test_a_name_alone_in_its_class_is_shown_bare():
    assert labels_of(Namesake(1, 10, "唐俊杰", "20150308"), Namesake(2, 11, "唐俊杰", "20150308")) == [
        "唐俊杰", "唐俊杰"]


def test_two_namesakes_in_a_class_are_told_apart_by_birth_date():
    assert labels_of(Namesake(1, 10, "唐俊杰", "20150308", upload_no="A1"),
                     Namesake(2, 10, "唐俊杰", "20151120", upload_no="A2")) == [
        "唐俊杰（2015-03-08）", "唐俊杰（2015-11-20）"]


def test_the_class_number_is_preferred_when_the_school_gave_one():
    assert labels_of(Namesake(1, 10, "唐俊杰", "20150308", "07"), Namesake(2, 10, "唐俊杰", "20151120", "31")) == [
        "唐俊杰（学号 07）", "唐俊杰（学号 31）"]


def test_five_namesakes_stay_distinct_even_with_shared_birth_dates_and_no_dates():
    students = (Namesake(1, 10, "王芳", "20150308", upload_no="U1"),
                Namesake(2, 10, "王芳", "20150308", upload_no="U2"),
                Namesake(3, 10, "王芳", "20150309", upload_no="U3"),
                Namesake(4, 10, "王芳", "", upload_no="U4"),
                Namesake(5, 10, "王芳", "20150308", "12", upload_no="U5"))
    labels = labels_of(*students)
    assert len(set(labels)) == 5
    assert labels == ["王芳（2015-03-08 · 上传号 U1）", "王芳（2015-03-08 · 上传号 U2）", "王芳（2015-03-09）",
                      "王芳（上传号 U4）", "王芳（学号 12）"]


def test_a_stable_identifier_is_the_student_number_or_class_name_and_birth_date():
    assert stable_identifier("三年级 1班", "唐俊杰", "20150308", "G520102201503080011") == "G520102201503080011"
    assert stable_identifier("三年级 1班", "唐俊杰", "20150308") == "三年级 1班/唐俊杰/2015-03-08"


def test_times_are_shown_in_beijing_time():
    assert local_time(datetime(2026, 9, 8, 8, 22, tzinfo=UTC)) == "2026-09-08 16:22"
    assert local_time(None) == ""


def test_at_seven_in_the_morning_in_beijing_today_is_beijings_date_not_the_servers():
    from datetime import date

    from confirm.clock import local_today

    assert local_today(datetime(2026, 12, 1, 23, 20, tzinfo=UTC)) == date(2026, 12, 2)  # 07:20 on the 2nd
    assert local_today(datetime(2026, 12, 1, 15, 59, tzinfo=UTC)) == date(2026, 12, 1)  # 23:59 on the 1st
