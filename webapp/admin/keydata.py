"""The school admin's approval of key-data corrections (姓名, 性别, 出生日期, 民族, 身份证件类型, 身份证件号)."""
