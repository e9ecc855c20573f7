"""Campaign statistics for head teachers: the funnel, overdue students, Excel exports."""

from __future__ import annotations

from confirm.services import exports, records, stats
from confirm.services.namesakes import student_labels
from webapp.adapters import db
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404
from webapp.shared.downloads import xlsx_download
from webapp.teacher import bp
from webapp.unit_of_work import attempt


@bp.get("/classes/<int:class_id>/stats.xlsx")
@roles_required(*STAFF)
def class_stats_export(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    campaign = records.active_campaign(s, school_class.school_id)
    campaign_id = campaign.id if campaign else None
    figures = stats.Figures(stats.stage_counts(s, [class_id], campaign_id)[class_id], stats.deadline_of(campaign))
    students = stats.students_with_stage(s, class_id, campaign_id)
    data = stats.class_workbook(school_class, campaign, figures, students, student_labels(s, [class_id]))
    attempt(None, lambda: exports.record_class_export(s, school_class, students=len(students), actor=actor()))
    return xlsx_download(data, f"{school_class.title}-统计.xlsx")
