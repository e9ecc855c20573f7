"""Districts that supervise schools: the county bureau (县教育局) and the township central school (中心校)."""

from __future__ import annotations

from enum import StrEnum

from confirm.i18n import N_


class DistrictKind(StrEnum):
    """What kind of supervising department a district is."""

    COUNTY_BUREAU = "county_bureau"  # 县教育局
    CENTRAL_SCHOOL = "central_school"  # 中心校 (may sit inside a county)


DISTRICT_KIND_LABELS: dict[DistrictKind, str] = {
    DistrictKind.COUNTY_BUREAU: N_("县教育局"),
    DistrictKind.CENTRAL_SCHOOL: N_("中心校"),
}

MAX_NESTING = 6  # county → township → …: a deeper tree is a data error, and bounds the recursive query
