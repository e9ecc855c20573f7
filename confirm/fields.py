"""THE field schema of the national student record (学籍信息), declared once.

Import, the parent's record page, the correction form, export and the printed sheet are all
generated from these tables; adding a field means adding one ``Field`` here.
Codes and names follow ../shared/spec/domain.md §1–2.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from confirm.i18n import N_


class Kind(StrEnum):
    """How a field's value is written, checked and shown."""

    TEXT = "text"
    CODE = "code"  # one of ``choices``; stored as the code, shown and exported as the name
    BOOL = "bool"  # 1-是 / 0-否
    DATE = "date"  # YYYYMMDD
    YEAR_MONTH = "year_month"  # YYYYMM
    DIVISION = "division"  # 12-digit administrative division code
    PHONE = "phone"
    POSTCODE = "postcode"
    EMAIL = "email"
    URL = "url"
    NUMBER = "number"
    ID_NUMBER = "id_number"  # GB 11643 when the matching id type is 居民身份证
    SCHOOL_CODE = "school_code"  # 10-digit 学校标识码
    VALIDITY = "validity"  # YYYYMMDD-YYYYMMDD


class Editor(StrEnum):
    """Who may change a field's value."""

    PARENT = "parent"  # the parent may request a correction
    SCHOOL = "school"  # school-managed; parents only see it


class Requirement(StrEnum):
    """When a field must have a value."""

    OPTIONAL = "optional"
    REQUIRED = "required"
    UNLESS_ID_TYPE_OTHER = "unless_id_type_other"  # 身份证件号: required unless 身份证件类型 = 其他
    WITH_MEMBER_ID_NUMBER = "with_member_id_number"  # member's ID type: required when a number is given
    IF_STUDENT_HAS_NO_ID = "if_student_has_no_id"  # member's ID number: required when the student has none


@dataclass(frozen=True)
class Choice:
    """One option of a code list: the national code, its name and accepted aliases."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A block of the record as laid out on the paper form."""

    key: str
    label_zh: str
    label_en: str

    def label(self, locale: str | None = None) -> str:
        """The section title in ``locale`` (Chinese unless English is asked for)."""
        return self.label_en if locale and locale.startswith("en") else self.label_zh


@dataclass(frozen=True)
class Field:
    """One record field: everything import, forms, the sheet and export need to know."""

    key: str
    label_zh: str
    label_en: str
    kind: Kind
    section: str
    requirement: Requirement = Requirement.OPTIONAL
    choices: tuple[Choice, ...] = ()
    key_data: bool = False
    editor: Editor = Editor.PARENT
    headers: tuple[str, ...] = ()  # template header spellings; the first is written on export
    kd: int | None = None  # column KD_Fnn of the national Excel template (None: not a template column)
    max_length: int = 200
    help_zh: str = ""

    def label(self, locale: str | None = None) -> str:
        """The field label in ``locale`` (Chinese unless English is asked for)."""
        return self.label_en if locale and locale.startswith("en") else self.label_zh

    @property
    def is_required(self) -> bool:
        """True when the field must always have a value."""
        return self.requirement is Requirement.REQUIRED

    @property
    def parent_editable(self) -> bool:
        """True when a parent may request a correction of this field."""
        return self.editor is Editor.PARENT

    def choice_for_code(self, code: str) -> Choice | None:
        """The option with national code ``code``, if any."""
        return next((c for c in self.choices if c.code == code), None)

    def display(self, value: str | None) -> str:
        """The value as a person reads it: option names for codes, the raw text otherwise."""
        if value is None or value == "":
            return ""
        if self.choices:
            choice = self.choice_for_code(value)
            return choice.name if choice else value
        return value


def _choices(pairs: str) -> tuple[Choice, ...]:
    """Parse ``"1-男,2-女"`` into choices."""
    out = []
    for item in pairs.split(","):
        code, _, name = item.partition("-")
        out.append(Choice(code.strip(), name.strip()))
    return tuple(out)


YES_NO = (
    Choice("1", "是", ("Y", "y", "yes", "true", "True", "TRUE")),
    Choice("0", "否", ("N", "n", "no", "false", "False", "FALSE")),
)

ETHNICITIES = (
    *_choices(
        "01-汉族,02-蒙古族,03-回族,04-藏族,05-维吾尔族,06-苗族,07-彝族,08-壮族,09-布依族,10-朝鲜族,"
        "11-满族,12-侗族,13-瑶族,14-白族,15-土家族,16-哈尼族,17-哈萨克族,18-傣族,19-黎族"
    ),
    Choice("20", "傈僳族", ("僳僳族",)),
    *_choices(
        "21-佤族,22-畲族,23-高山族,24-拉祜族,25-水族,26-东乡族,27-纳西族,28-景颇族,29-柯尔克孜族,"
        "30-土族,31-达斡尔族,32-仫佬族,33-羌族,34-布朗族,35-撒拉族"
    ),
    Choice("36", "毛南族", ("毛难族",)),
    *_choices(
        "37-仡佬族,38-锡伯族,39-阿昌族,40-普米族,41-塔吉克族,42-怒族,43-乌孜别克族,44-俄罗斯族,45-鄂温克族"
    ),
    Choice("46", "德昂族", ("崩龙族",)),
    *_choices(
        "47-保安族,48-裕固族,49-京族,50-塔塔尔族,51-独龙族,52-鄂伦春族,53-赫哲族,54-门巴族,55-珞巴族,"
        "56-基诺族,97-其他,98-外国血统中国籍人士"
    ),
)

ID_TYPES = _choices(
    "1-居民身份证,6-香港特区护照/身份证明,7-澳门特区护照/身份证明,8-台湾居民来往大陆通行证,"
    "9-境外永久居住证,A-护照,Z-其他"
)
RESIDENT_ID = "1"
NO_ID = "Z"

NATIONALITIES = (
    Choice("CHN", "中国", ("中华人民共和国",)),
    Choice("HKG", "香港", ("中国香港",)),
    Choice("MAC", "澳门", ("中国澳门",)),
    Choice("TWN", "台湾", ("中国台湾",)),
) + _choices(
    "USA-美国,CAN-加拿大,GBR-英国,FRA-法国,DEU-德国,"
    "ITA-意大利,ESP-西班牙,RUS-俄罗斯,JPN-日本,KOR-韩国,PRK-朝鲜,MNG-蒙古,VNM-越南,LAO-老挝,MMR-缅甸,"
    "THA-泰国,KHM-柬埔寨,MYS-马来西亚,SGP-新加坡,IDN-印度尼西亚,PHL-菲律宾,IND-印度,PAK-巴基斯坦,"
    "NPL-尼泊尔,KAZ-哈萨克斯坦,AUS-澳大利亚,NZL-新西兰,BRA-巴西,ZAF-南非,XXA-无国籍,XXX-国籍不明"
)

SECTIONS = (
    Section("basic", N_("学生个人基础信息"), "Basic information"),
    Section("auxiliary", N_("学生个人辅助信息"), "Additional information"),
    Section("enrolment", N_("学生学籍基本信息"), "Enrolment information"),
    Section("contact", N_("学生个人联系信息"), "Contact information"),
    Section("extended", N_("学生个人扩展信息"), "Family circumstances"),
    Section("transport", N_("学生上下学交通方式"), "Travel to school"),
)
MEMBER_SECTION = Section("member", N_("家庭成员或监护人信息"), "Family member or guardian")

K = Kind
R = Requirement
S = Editor.SCHOOL

STUDENT_FIELDS: tuple[Field, ...] = (
    # 学生个人基础信息
    Field("school_code", "学校标识码", "School identifier code", K.SCHOOL_CODE, "basic", R.REQUIRED,
          editor=S, kd=1, headers=("学校标识码",), max_length=10),
    Field("name", "姓名", "Name", K.TEXT, "basic", R.REQUIRED, key_data=True, kd=2, headers=("姓名",), max_length=50),
    Field("gender", "性别", "Gender", K.CODE, "basic", R.REQUIRED,
          (Choice("1", "男", ("男性",)), Choice("2", "女", ("女性",))), key_data=True,
          kd=3, headers=("性别",)),
    Field("birth_date", "出生日期", "Date of birth", K.DATE, "basic", R.REQUIRED, key_data=True,
          kd=4, headers=("出生日期",), help_zh=N_("格式：20150308")),
    Field("birthplace_code", "出生地行政区划代码", "Birthplace division code", K.DIVISION, "basic", R.REQUIRED,
          kd=5, headers=("出生地行政区划代码",), help_zh=N_("12位代码，一般为身份证号前6位加000000")),
    Field("native_place", "籍贯", "Native place", K.TEXT, "basic", R.REQUIRED, kd=6, headers=("籍贯",)),
    Field("ethnicity", "民族", "Ethnic group", K.CODE, "basic", R.REQUIRED, ETHNICITIES, key_data=True,
          kd=7, headers=("民族",)),
    Field("nationality", "国籍/地区", "Nationality/region", K.CODE, "basic", R.REQUIRED, NATIONALITIES,
          kd=8, headers=("国籍/地区", "国籍")),
    Field("id_type", "身份证件类型", "ID document type", K.CODE, "basic", R.REQUIRED, ID_TYPES, key_data=True,
          kd=9, headers=("身份证件类型",)),
    Field("id_number", "身份证件号", "ID document number", K.ID_NUMBER, "basic", R.UNLESS_ID_TYPE_OTHER,
          key_data=True, kd=13, headers=("身份证件号",), max_length=30),
    Field("hmtoc", "港澳台侨外", "HK/Macau/Taiwan/overseas status", K.CODE, "basic", R.REQUIRED,
          _choices("00-否,01-香港同胞,02-香港同胞亲属,03-澳门同胞,04-澳门同胞亲属,05-台湾同胞,06-台湾同胞亲属,"
                   "11-华侨,12-侨眷,13-归侨,14-归侨子女,21-归国留学人员,31-非华裔中国人,41-外籍华裔人,"
                   "51-外国人,99-其他"), kd=10, headers=("港澳台侨外",)),
    Field("political_status", "政治面貌", "Political status", K.CODE, "basic",
          choices=_choices("01-中共党员,02-中共预备党员,03-共青团员,13-群众"), kd=12, headers=("政治面貌",)),
    Field("health", "健康状况", "Health status", K.CODE, "basic", R.REQUIRED,
          _choices("10-健康或良好,20-一般或较弱,30-有慢性病,40-有生理缺陷,50-残疾"), kd=11, headers=("健康状况",)),
    # 学生个人辅助信息
    Field("name_pinyin", "姓名拼音", "Name in pinyin", K.TEXT, "auxiliary", headers=("姓名拼音",)),
    Field("former_name", "曾用名", "Former name", K.TEXT, "auxiliary", kd=35, headers=("曾用名",), max_length=50),
    Field("id_validity", "身份证件有效期", "ID validity period", K.VALIDITY, "auxiliary",
          kd=36, headers=("身份证件有效期",), help_zh=N_("格式：20200601-20300601")),
    Field("hukou_place_code", "户口所在地行政区划", "Household registration division code", K.DIVISION,
          "auxiliary", R.REQUIRED, kd=15, headers=("户口所在地行政区划",)),
    Field("hukou_type", "户口性质", "Household registration type", K.CODE, "auxiliary", R.REQUIRED,
          _choices("1-农业户口,2-非农业户口"), kd=14, headers=("户口性质",)),
    Field("specialty", "特长", "Special talents", K.TEXT, "auxiliary", kd=38, headers=("特长",), max_length=50),
    Field("blood_type", "血型", "Blood type", K.CODE, "auxiliary",
          choices=_choices("1-未知血型,2-A血型,3-B血型,4-AB血型,5-O血型,6-RH阳性血型,7-RH阴性血型,8-HLA血型,"
                           "9-未定血型,10-其他血型"), kd=37, headers=("血型",)),
    # 学生学籍基本信息 (school-managed)
    Field("aux_student_no", "学籍辅号", "Provincial auxiliary student number", K.TEXT, "enrolment", editor=S,
          kd=39, headers=("学籍辅号",), max_length=50),
    Field("class_seat_no", "班内学号", "Number within class", K.TEXT, "enrolment", editor=S,
          kd=40, headers=("班内学号",), max_length=20),
    Field("enroll_ym", "入学年月", "Enrolment year-month", K.YEAR_MONTH, "enrolment", R.REQUIRED, editor=S,
          kd=17, headers=("入学年月",)),
    Field("enroll_mode", "入学方式", "Mode of admission", K.CODE, "enrolment", R.REQUIRED,
          _choices("11-就近入学,12-其他,21-统一招生考试/普通入学,22-体育特招,23-艺术特招,99-其他"), editor=S,
          kd=18, headers=("入学方式",)),
    Field("attend_mode", "就读方式", "Day student or boarder", K.CODE, "enrolment", R.REQUIRED,
          _choices("1-走读,2-住校"), editor=S, kd=19, headers=("就读方式",)),
    Field("student_source", "学生来源", "Student source", K.CODE, "enrolment",
          choices=_choices("1-正常入学,2-借读,9-其他"), editor=S, kd=41, headers=("学生来源",)),
    # 学生个人联系信息
    Field("current_address", "现住址", "Current address", K.TEXT, "contact", R.REQUIRED, kd=20, headers=("现住址",)),
    Field("mailing_address", "通信地址", "Mailing address", K.TEXT, "contact", R.REQUIRED, kd=21,
          headers=("通信地址",)),
    Field("home_address", "家庭地址", "Home address", K.TEXT, "contact", R.REQUIRED, kd=22, headers=("家庭地址",)),
    Field("phone", "联系电话", "Contact phone", K.PHONE, "contact", R.REQUIRED, kd=23, headers=("联系电话",),
          max_length=30),
    Field("postcode", "邮政编码", "Postcode", K.POSTCODE, "contact", R.REQUIRED, kd=24, headers=("邮政编码",)),
    Field("email", "电子信箱", "Email", K.EMAIL, "contact", kd=42, headers=("电子信箱",)),
    Field("homepage", "主页地址", "Homepage", K.URL, "contact", kd=43, headers=("主页地址",)),
    # 学生个人扩展信息
    Field("only_child", "是否独生子女", "Only child?", K.BOOL, "extended", R.REQUIRED, YES_NO,
          kd=25, headers=("是否独生子女",)),
    Field("preschool", "是否受过学前教育", "Received preschool education?", K.BOOL, "extended", R.REQUIRED,
          YES_NO, kd=26, headers=("是否受过学前教育",)),
    Field("left_behind", "是否留守儿童", "Left-behind child?", K.CODE, "extended", R.REQUIRED,
          _choices("0-非留守儿童,1-单亲留守儿童,2-双亲留守儿童"), kd=27, headers=("是否留守儿童", "是否农村留守儿童")),
    Field("migrant_child", "是否进城务工人员随迁子女", "Child of migrant workers?", K.BOOL, "extended",
          R.REQUIRED, YES_NO, kd=72, headers=("是否进城务工人员随迁子女", "是否随迁子女")),
    Field("orphan", "是否孤儿", "Orphan?", K.BOOL, "extended", R.REQUIRED, YES_NO, kd=30, headers=("是否孤儿",)),
    Field("martyr_child", "是否烈士或优抚子女", "Child of a martyr or entitled group?", K.BOOL, "extended",
          R.REQUIRED, YES_NO, kd=31, headers=("是否烈士或优抚子女",)),
    Field("inclusive_class", "随班就读", "Inclusive class placement", K.CODE, "extended",
          choices=_choices("0-非随班就读,1-视力残疾随班就读,2-听力残疾随班就读,3-智力残疾随班就读,9-其他残疾随班就读"),
          kd=46, headers=("随班就读",)),
    Field("disability_type", "残疾类型", "Disability type", K.CODE, "extended",
          choices=_choices("0-无残疾,1-视力残疾,2-听力残疾,3-言语残疾,4-肢体残疾,5-智力残疾,6-精神残疾,7-多重残疾,"
                           "8-其他残疾"), kd=44, headers=("残疾类型",)),
    Field("gov_funded_place", "是否由政府购买学位", "Government-purchased place?", K.BOOL, "extended",
          choices=YES_NO, kd=45, headers=("是否由政府购买学位",)),
    Field("needs_aid", "是否需要申请资助", "Needs financial aid?", K.BOOL, "extended", R.REQUIRED, YES_NO,
          kd=28, headers=("是否需要申请资助",)),
    Field("one_subsidy", "是否享受一补", "Receives the boarding subsidy (一补)?", K.BOOL, "extended",
          R.REQUIRED, YES_NO, kd=29, headers=("是否享受一补",)),
    # 学生上下学交通方式
    Field("commute_distance_km", "上下学距离(公里)", "Distance to school (km)", K.NUMBER, "transport",
          kd=32, headers=("上下学距离", "上下学距离(公里)")),
    Field("commute_mode", "上下学方式", "Travel to school", K.CODE, "transport",
          choices=_choices("1-步行,2-自行车（含摩托车、电动自行车）,3-公共交通（含城市公交、农村客运、地铁）,"
                           "4-家长自行接送,5-校车,9-其他"), kd=33, headers=("上下学方式", "上下学交通方式")),
    Field("school_bus", "是否需要乘坐校车", "Needs the school bus?", K.BOOL, "transport", choices=YES_NO,
          kd=34, headers=("是否需要乘坐校车", "是否乘坐校车")),
)

# Family members: the template has two blocks, 成员1… and 成员2…; ``headers`` hold the part after 成员N.
MEMBER_FIELDS: tuple[Field, ...] = (
    Field("name", "姓名", "Name", K.TEXT, "member", R.REQUIRED, headers=("姓名",), max_length=50),
    Field("relation", "关系", "Relationship", K.CODE, "member", R.REQUIRED,
          _choices("1-父亲,2-母亲,3-祖父母或外祖父母,4-兄弟姐妹,9-其他"), headers=("关系",)),
    Field("relation_note", "关系说明", "Relationship note", K.TEXT, "member", headers=("关系说明",),
          max_length=50),
    Field("current_address", "现住址", "Current address", K.TEXT, "member", R.REQUIRED, headers=("现住址",)),
    Field("hukou_place_code", "户口所在地行政区划", "Household registration division code", K.DIVISION,
          "member", R.REQUIRED, headers=("户口所在地行政区划",)),
    Field("phone", "联系电话", "Contact phone", K.PHONE, "member", R.REQUIRED, headers=("联系电话",),
          max_length=30),
    Field("is_guardian", "是否监护人", "Legal guardian?", K.BOOL, "member", R.REQUIRED, YES_NO,
          headers=("是否监护人",)),
    Field("id_type", "身份证件类型", "ID document type", K.CODE, "member", R.WITH_MEMBER_ID_NUMBER, ID_TYPES,
          headers=("身份证件类型",)),
    Field("id_number", "身份证件号", "ID document number", K.ID_NUMBER, "member", R.IF_STUDENT_HAS_NO_ID,
          headers=("身份证件号",), max_length=30),
    Field("ethnicity", "民族", "Ethnic group", K.CODE, "member", choices=ETHNICITIES, headers=("民族",)),
    Field("employer", "工作单位", "Employer", K.TEXT, "member", headers=("工作单位",)),
    Field("position", "职务", "Job title", K.TEXT, "member", headers=("职务",), max_length=50),
)

MEMBER_SLOTS = (1, 2)
KEY_DATA_KEYS = frozenset(f.key for f in STUDENT_FIELDS if f.key_data)

_STUDENT_BY_KEY = {f.key: f for f in STUDENT_FIELDS}
_MEMBER_BY_KEY = {f.key: f for f in MEMBER_FIELDS}


def student_field(key: str) -> Field:
    """The student field called ``key`` (KeyError if there is none)."""
    return _STUDENT_BY_KEY[key]


def member_field(key: str) -> Field:
    """The family-member field called ``key`` (KeyError if there is none)."""
    return _MEMBER_BY_KEY[key]


def field_for(slot: int, key: str) -> Field:
    """The field ``key`` of the student (slot 0) or of family member ``slot`` (1 or 2)."""
    return student_field(key) if slot == 0 else member_field(key)


def fields_in_section(section: str) -> tuple[Field, ...]:
    """The student fields of one section, in form order."""
    return tuple(f for f in STUDENT_FIELDS if f.section == section)


def member_header(slot: int, f: Field, spelling: int = 0) -> str:
    """The template column header of member field ``f`` in block ``slot`` (e.g. 成员1姓名)."""
    return f"成员{slot}{f.headers[spelling]}"
