"""The supervisor's district page: every school under the district with its funnel, counts only, overdue first;
a school's classes; messages to a school; a district sees nothing of another district."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from benchmarks.stats_queries import StatementCounter
from confirm.clock import local_today
from confirm.districts import DistrictKind
from confirm.models import Campaign, Confirmation, DistrictMessage, Notification, School, StoredFile
from confirm.services.common import SYSTEM
from confirm.services.districts import add_school_to_district
from tests.factories import (
    make_campaign,
    make_class,
    make_district,
    make_parent,
    make_school,
    make_student,
    make_supervisor,
)
from tests.webapp.test_teacher_review import logged_in


def _approve(db, campaign, student) -> None:
    sheet = StoredFile(school_id=student.school_id, student_id=student.id, kind="sheet",
                       storage_key=f"t/{student.id}", sha256="0" * 64, content_type="image/jpeg", size_bytes=1,
                       uploaded_by_kind="parent", uploaded_by_id=0)
    db.add(sheet)
    db.flush()
    db.add(Confirmation(campaign_id=campaign.id, student_id=student.id, state="approved", sheet_file_id=sheet.id))
    db.flush()


@pytest.fixture
def county(db, world):
    """A county holding the world's school and a central school with one more (overdue) school; its supervisor."""
    county = make_district(db, world.school, name="道真县教育局")
    township = make_district(db, parent=county, name="玉溪镇中心校", kind=DistrictKind.CENTRAL_SCHOOL.value)
    late = make_school(db, name="玉溪镇小学")
    campaign = Campaign(school_id=late.id, name="秋季核查", deadline=local_today() - timedelta(days=2))
    db.add(campaign)
    late_class = make_class(db, late)
    late_students = [make_student(db, late_class) for _ in range(4)]
    _approve(db, campaign, late_students[0])
    add_school_to_district(db, late, township, on=local_today() - timedelta(days=10), actor=SYSTEM)
    supervisor = make_supervisor(db, county, username="county_sup")
    township_supervisor = make_supervisor(db, township, username="township_sup")
    other = make_district(db, world.other_school, name="别县教育局")
    other_supervisor = make_supervisor(db, other, username="other_sup")
    db.commit()
    return {"county": county, "township": township, "late": late, "late_class": late_class,
            "late_students": late_students, "supervisor": supervisor, "township_supervisor": township_supervisor,
            "other": other, "other_supervisor": other_supervisor}


def _school_names_in_table(page: str) -> list[str]:
    import re

    return re.findall(r'<a href="/district/schools/\d+">([^<]+)</a>', page)


def test_supervisor_lands_on_the_district_page_with_every_school_overdue_first(app, db, world, county):
    client = app.test_client()
    response = client.post("/login", data={"login": "county_sup", "password": "correct-horse-9"})
    assert response.headers["Location"].endswith("/district/")
    page = client.get("/district/").get_data(as_text=True)
    assert _school_names_in_table(page) == [county["late"].name, world.school.name]  # the overdue school first
    assert "已逾期" in page and "已过 2 天" in page
    assert "1<small class=\"pct\">25%</small>" in page  # 1 of the late school's 4 students approved
    by_name = client.get("/district/?sort=school").get_data(as_text=True)
    assert _school_names_in_table(by_name) == sorted([county["late"].name, world.school.name])


def test_a_central_school_sees_only_its_own_schools(app, world, county):
    page = logged_in(app, "township_sup").get("/district/").get_data(as_text=True)
    assert _school_names_in_table(page) == [county["late"].name]


def test_a_district_without_schools_says_so(app, db):
    empty = make_district(db, name="空县教育局")
    make_supervisor(db, empty, username="empty_sup")
    db.commit()
    page = logged_in(app, "empty_sup").get("/district/").get_data(as_text=True)
    assert "本机构下还没有学校" in page and "district-table" not in page


def test_district_page_statements_do_not_grow_with_schools(app, db, world, county):
    client = logged_in(app, "county_sup")
    client.get("/district/")
    with StatementCounter(app.extensions["db_engine"]) as few:
        assert client.get("/district/").status_code == 200
    for _n in range(6):
        school = make_school(db)
        make_campaign(db, school)
        school_class = make_class(db, school)
        for _ in range(3):
            make_student(db, school_class)
        add_school_to_district(db, school, county["township"], on=local_today(), actor=SYSTEM)
    db.commit()
    with StatementCounter(app.extensions["db_engine"]) as many:
        page = client.get("/district/").get_data(as_text=True)
    assert len(_school_names_in_table(page)) == 8
    assert few.count == many.count <= 10


def test_export_has_every_school_with_its_figures(app, world, county):
    response = logged_in(app, "county_sup").get("/district/export.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = [tuple(r) for r in workbook["各校进度"].iter_rows(values_only=True)]
    by_school = {r[1]: r for r in rows[2:]}
    assert set(by_school) == {county["late"].name, world.school.name, "合计"}
    late = by_school[county["late"].name]
    assert late[0] == county["late"].code and late[3] == -2
    assert late[-4:] == (4, 25, 3, 0)  # 合计, 完成率%, 未完成, 待核办


def test_school_page_shows_class_counts_and_no_student_data(app, world, county):
    client = logged_in(app, "county_sup")
    page = client.get(f"/district/schools/{world.school.id}").get_data(as_text=True)
    assert world.class_a.title in page and world.class_b.title in page
    for student in world.students_a + world.students_b:
        assert student.name not in page and student.id_number not in page
    home = client.get("/district/").get_data(as_text=True)
    for student in world.students_a + county["late_students"]:
        assert student.name not in home and student.id_number not in home


def test_supervisor_messages_a_school_admin_in_app_and_by_sms(app, db, world, county, outbox):
    world.admin.phone = "13800009999"
    db.merge(world.admin)
    db.commit()
    client = logged_in(app, "county_sup")
    url = f"/district/schools/{world.school.id}/message"
    refused = client.post(url, data={"body": "  "})
    assert refused.status_code == 400 and "请填写要发给学校的内容" in refused.get_data(as_text=True)
    assert client.post(url, data={"body": "请本周五前完成未注册学生的通知"}).status_code == 302
    message = db.scalar(select(DistrictMessage))
    assert (message.school_id, message.district_id) == (world.school.id, county["county"].id)
    assert [phone for phone, _text in outbox] == ["13800009999"] and "道真县教育局" in outbox[0][1]
    admin = logged_in(app, world.admin.username)
    assert "请本周五前完成未注册学生的通知" in admin.get("/admin/").get_data(as_text=True)
    assert admin.post("/admin/district-messages/read").status_code == 302
    db.expire_all()
    assert db.scalar(select(DistrictMessage.read_at)) is not None


@pytest.mark.parametrize("method, path", [
    ("GET", "/district/schools/{school}"),
    ("POST", "/district/schools/{school}/message"),
    ("POST", "/district/schools/{school}/key-data-setting"),
])
def test_a_supervisor_of_another_district_gets_404_on_every_school(app, db, world, county, method, path):
    client = logged_in(app, "other_sup")
    for school in (world.school, county["late"]):
        response = client.open(path.format(school=school.id), method=method, data={"body": "x"})
        assert response.status_code == 404
    assert db.scalar(select(DistrictMessage)) is None
    assert db.scalar(select(Campaign.key_data_needs_district).where(Campaign.id == world.campaign.id)) is False


def test_a_moved_school_leaves_the_old_district_and_shows_in_the_new_one(app, db, world, county):
    add_school_to_district(db, db.merge(county["late"]), county["other"], on=local_today(), actor=SYSTEM)
    db.commit()
    old = logged_in(app, "county_sup")
    page = old.get("/district/").get_data(as_text=True)
    assert _school_names_in_table(page) == [world.school.name]
    assert "已转出的学校" in page and county["late"].name in page  # history kept
    assert old.get(f"/district/schools/{county['late'].id}").status_code == 404
    new = logged_in(app, "other_sup")
    assert county["late"].name in _school_names_in_table(new.get("/district/").get_data(as_text=True))
    assert new.get(f"/district/schools/{county['late'].id}").status_code == 200


def test_school_staff_and_parents_cannot_open_the_district_area(app, world, county):
    for login in (world.admin.username, world.teacher.username, world.parent.phone):
        assert logged_in(app, login).get("/district/").status_code == 403


def test_supervisor_cannot_open_school_or_class_pages(app, world, county):
    client = logged_in(app, "county_sup")
    for path in ("/admin/", f"/teacher/classes/{world.class_a.id}", f"/teacher/students/{world.students_a[0].id}",
                 f"/parent/students/{world.students_a[0].id}"):
        assert client.get(path).status_code == 403


def test_setting_decides_whether_key_data_goes_to_the_district(app, db, world, county):
    client = logged_in(app, "county_sup")
    url = f"/district/schools/{world.school.id}/key-data-setting"
    assert client.post(url, data={"required": "y"}).status_code == 302
    db.expire_all()
    assert db.get(Campaign, world.campaign.id).key_data_needs_district is True
    assert client.post(url, data={}).status_code == 302
    db.expire_all()
    assert db.get(Campaign, world.campaign.id).key_data_needs_district is False


def test_parent_linked_students_count_as_registered(app, db, world, county):
    make_parent(db, county["late_students"][1])
    db.commit()
    rows = load_workbook(io.BytesIO(logged_in(app, "county_sup").get("/district/export.xlsx").get_data()),
                         read_only=True)["各校进度"]
    late = next(r for r in rows.iter_rows(values_only=True) if r[1] == county["late"].name)
    # 未注册 (n, %), 已注册未提交 (n, %) come right after the four leading columns
    assert late[4:8] == (2, 50, 1, 25)
    assert db.scalar(select(School.district_id).where(School.id == county["late"].id)) == county["township"].id
    assert db.scalar(select(Notification)) is None


# --- a district of many schools: counted in the background, read from SchoolProgress -------------------------


@pytest.fixture
def few_live(monkeypatch):
    """Count only a district of one school in the request: the county of these tests reads SchoolProgress rows."""
    from confirm.services import district_stats

    monkeypatch.setattr(district_stats, "LIVE_SCHOOLS", 1)


def test_a_large_district_counts_in_the_background_and_says_when(app, db, world, county, few_live):
    from confirm.models import SchoolProgress

    client = logged_in(app, "county_sup")
    first = client.get("/district/").get_data(as_text=True)
    # nothing counted yet: both schools wait for the job (which ran after that response: no Redis in tests)
    assert first.count("正在统计，请稍后刷新") == 2
    counted = {p.school_id: p for p in db.scalars(select(SchoolProgress))}
    assert set(counted) == {world.school.id, county["late"].id}
    assert counted[county["late"].id].counts == {"unregistered": 3, "approved": 1}
    second = client.get("/district/").get_data(as_text=True)
    assert "正在统计" not in second and "各校人数每 10 分钟统计一次" in second
    assert "1<small class=\"pct\">25%</small>" in second  # the late school's figures, from its row


def test_an_old_count_is_counted_again(app, db, world, county, few_live):
    from confirm.models import SchoolProgress, utcnow
    from confirm.services import district_stats

    client = logged_in(app, "county_sup")
    client.get("/district/")
    old = utcnow() - district_stats.PROGRESS_TTL - timedelta(minutes=1)
    for row in db.scalars(select(SchoolProgress)):
        row.counted_at = old
    _approve(db, db.get(Campaign, world.campaign.id), world.students_a[1])
    db.commit()
    before = client.get("/district/").get_data(as_text=True)  # both old: shown as counted, then counted again
    assert "各校人数每 10 分钟统计一次" in before
    db.expire_all()
    rows = {p.school_id: p for p in db.scalars(select(SchoolProgress))}
    assert all(p.counted_at > old for p in rows.values())
    assert rows[world.school.id].counts.get("approved") == 1


def test_refresh_command_counts_every_school_once(app, db, world, county, runner):
    from confirm.models import SchoolProgress

    result = runner.invoke(args=["refresh-district-stats"])
    assert result.exit_code == 0 and "counted 3 schools" in result.output  # the world's, the late one, the other
    again = runner.invoke(args=["refresh-district-stats"])
    assert "counted 0 schools" in again.output  # counted a moment ago
    assert "counted 3 schools" in runner.invoke(args=["refresh-district-stats", "--all"]).output
    assert len(db.scalars(select(SchoolProgress)).all()) == 3


def test_large_district_page_statements_do_not_grow_with_schools(app, db, world, county, few_live):
    client = logged_in(app, "county_sup")
    client.get("/district/")
    with StatementCounter(app.extensions["db_engine"]) as few:
        client.get("/district/")
    for _n in range(5):
        school = make_school(db)
        make_campaign(db, school)
        make_student(db, make_class(db, school))
        add_school_to_district(db, school, county["township"], on=local_today(), actor=SYSTEM)
    db.commit()
    client.get("/district/")  # the new schools are counted by the job after this response
    with StatementCounter(app.extensions["db_engine"]) as many:
        page = client.get("/district/").get_data(as_text=True)
    assert len(_school_names_in_table(page)) == 7 and "正在统计" not in page
    assert few.count == many.count <= 10


# --- a province's page: 50 schools a page, the sort and the search kept across pages -----------------------------


@pytest.fixture
def one_a_page(monkeypatch):
    """One school per page, so the county's two schools (three with ``third``) make two pages."""
    from confirm.services import district_stats

    monkeypatch.setattr(district_stats, "PAGE_SIZE", 1)


def _page_links(page: str) -> list[str]:
    import re

    nav = page[page.index('<nav class="pager"'):]
    return [link.replace("&amp;", "&") for link in re.findall(r'<a href="([^"]+)">\d+</a>', nav[:nav.index("</nav>")])]


def test_every_school_is_reachable_page_by_page_overdue_first(app, world, county, one_a_page):
    client = logged_in(app, "county_sup")
    first = client.get("/district/").get_data(as_text=True)
    assert _school_names_in_table(first) == [county["late"].name]  # the overdue school on page 1
    assert _page_links(first) == ["/district/?page=2"] and 'aria-current="page">1<' in first
    second = client.get("/district/?page=2").get_data(as_text=True)
    assert _school_names_in_table(second) == [world.school.name]
    assert "全部学校合计" in second and ">5<" in second  # the totals are the district's, on every page: 4 + 1
    assert _school_names_in_table(client.get("/district/?page=99").get_data(as_text=True)) == [world.school.name]
    assert _school_names_in_table(client.get("/district/?page=x").get_data(as_text=True)) == [county["late"].name]


def test_a_paged_table_is_sorted_on_the_server_not_in_the_browser(app, world, county, one_a_page):
    page = logged_in(app, "county_sup").get("/district/").get_data(as_text=True)
    assert "district-table" in page and "data-sortable" not in page  # sort.js would sort one page only


@pytest.mark.parametrize("sort", ["school", "-school", "days", "-days", "unregistered", "-approved", "total",
                                  "done", "-done", "behind", "keydata"])
def test_the_sort_is_kept_across_pages(app, world, county, one_a_page, sort):
    from confirm.services import district_stats

    client = logged_in(app, "county_sup")
    with app.app_context():
        from webapp.adapters import db as adapters_db

        expected = [r.school.name for r in district_stats.district_table(
            adapters_db.session(), county["county"], sort=sort).rows]
    first = client.get(f"/district/?sort={sort}").get_data(as_text=True)
    assert _page_links(first) == [f"/district/?sort={sort}&page=2"]
    second = client.get(_page_links(first)[0]).get_data(as_text=True)
    assert _school_names_in_table(first) + _school_names_in_table(second) == expected


def test_search_finds_schools_by_name_or_code_and_keeps_it_in_sort_links(app, world, county):
    from urllib.parse import quote

    client = logged_in(app, "county_sup")
    by_name = client.get("/district/?q=" + county["late"].name[1:4]).get_data(as_text=True)
    assert _school_names_in_table(by_name) == [county["late"].name] and "找到 1 所学校" in by_name
    assert f'href="/district/?sort=school&amp;q={quote(county["late"].name[1:4])}"' in by_name  # a sort keeps it
    by_code = client.get(f"/district/?q={world.school.code}&sort=-done").get_data(as_text=True)
    assert _school_names_in_table(by_code) == [world.school.name]
    assert 'name="sort" value="-done"' in by_code  # searching again keeps the sort
    nothing = client.get("/district/?q=没有这所学校").get_data(as_text=True)
    assert "找到 0 所学校" in nothing and "district-table" not in nothing and "显示全部学校" in nothing


def test_paging_and_search_add_no_statement(app, db, world, county, one_a_page):
    client = logged_in(app, "county_sup")
    client.get("/district/")
    with StatementCounter(app.extensions["db_engine"]) as plain:
        client.get("/district/")
    with StatementCounter(app.extensions["db_engine"]) as paged:
        client.get(f"/district/?page=2&sort=-done&q={world.school.code}")
    assert plain.count == paged.count <= 10
