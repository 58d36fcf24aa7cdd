"""How the admin writes dates and times (``FORMAT_MODULE_PATH``): every moment with its zone
("2 Dec 2026, 16:28 UTC"), so nobody has to guess which clock a due date or a sign-off
time is on. Django's own English formats would win over plain settings, hence a module."""

DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "Y-m-d"
# A time of day alone has no zone to name: times stored here are moments (datetimes).
TIME_FORMAT = "H:i"
