"""What a schedule says in English, and the schedules cronsole refuses (each with its message)."""

from __future__ import annotations

import pytest

from cronsole.core.scheduling.describe import describe
from cronsole.core.scheduling.triggers import ScheduleError, parse_schedule

# Each line read against man 5 crontab by hand: what the schedule does, not how it is written.
WORDS = [
    ("0 2 * * *", "At 02:00"),
    ("* * * * *", "Every minute"),
    ("*/5 * * * *", "Every 5 minutes"),
    ("0 * * * *", "Every hour"),
    ("@hourly", "Every hour"),
    ("@daily", "At 00:00"),
    ("@weekly", "At 00:00, on Sunday"),
    ("@monthly", "At 00:00, on the 1st of the month"),
    ("@yearly", "At 00:00, on the 1st of the month, only in January"),
    ("0 0 */2 * *", "At 00:00, every 2nd day of the month from the 1st to the 31st"),
    ("0 0 * * */2", "At 00:00, on Tuesday, Thursday, Saturday and Sunday"),
    (
        "0 0 */2 * mon",
        "At 00:00, every 2nd day of the month from the 1st to the 31st, if it is a Monday",
    ),
    ("0 0 1 * 0-6", "At 00:00, every day"),  # the 1st OR any weekday
    ("0 0 * * mon/2", "At 00:00, on Sunday, Monday, Wednesday and Friday"),  # 1,3,5,7
    ("0 0 * * 0,7", "At 00:00, on Sunday"),
    ("0 0 * * 0-7", "At 00:00"),
    ("0 9 * * 1-5", "At 09:00, on Monday through Friday"),
    ("0 9 * * MON-FRI", "At 09:00, on Monday through Friday"),
    ("0 9 * * sat,sun", "At 09:00, on Saturday and Sunday"),
    ("0 9 * * 5-7", "At 09:00, on Friday through Sunday"),
    ("0 9 1 * mon", "At 09:00, on the 1st of the month, and on every Monday"),
    ("0 9 13 * fri", "At 09:00, on the 13th of the month, and on every Friday"),
    ("0 9 1,15 * *", "At 09:00, on days 1 and 15 of the month"),
    ("0 9 1-7 * *", "At 09:00, on days 1 through 7 of the month"),
    ("0 0 1,2,3,5 * *", "At 00:00, on days 1 through 3 and 5 of the month"),
    ("30 2 * jan *", "At 02:30, only in January"),
    ("30 2 * 1-3 *", "At 02:30, only in January through March"),
    ("30 2 * jan,jul *", "At 02:30, only in January and July"),
    ("0 0 1 */3 *", "At 00:00, on the 1st of the month, only in January, April, July and October"),
    ("0 0 * 1-6/2 *", "At 00:00, only in January, March and May"),
    ("0 12 * * 1,3,5", "At 12:00, on Monday, Wednesday and Friday"),
    ("14,30,40 2 * * *", "At 02:14, 02:30 and 02:40"),
    ("0 0,12 * * *", "At 00:00 and 12:00"),
    ("*/15 2 * * *", "Every 15 minutes, between 02:00 and 02:59"),
    ("*/30 1-3 * * *", "Every 30 minutes, between 01:00 and 03:59"),
    ("30 */2 * * *", "At 30 minutes past the hour, every 2 hours"),
    ("0 0 29 2 *", "At 00:00, on the 29th of the month, only in February"),
    ("0 0 31 * *", "At 00:00, on the 31st of the month"),
    ("45 23 * * 6", "At 23:45, on Saturday"),
    ("0 6 * * 7", "At 06:00, on Sunday"),
    ("*/10 * 1 * *", "Every 10 minutes, on the 1st of the month"),
    ("0 0 */10 * *", "At 00:00, every 10th day of the month from the 1st to the 31st"),
    ("15 3 * JAN-Dec SUN", "At 03:15, on Sunday"),
    ("0 0 15 6 mon", "At 00:00, on the 15th of the month, and on every Monday, only in June"),
    ("every 90s", "Every 90 seconds"),
    ("every 2h", "Every 2 hours"),
]


@pytest.mark.parametrize("text, words", WORDS)
def test_a_schedule_reads_as_what_it_does(text: str, words: str) -> None:
    assert describe(parse_schedule(text, "Europe/Sofia")) == f"{words} (Europe/Sofia)"


@pytest.mark.parametrize(
    "text, message",
    [
        ("*/ * * * *", "empty step in minute field '*/'"),
        ("5/ * * * *", "empty step in minute field '5/'"),
        ("0 0 30 2 *", "never fires: February has no 30th"),
        ("0 0 31 4,6,9,11 *", "never fires: April, June, September and November have no 31st"),
        ("", "empty schedule"),
        ("   ", "empty schedule"),
        ("every 2932896d", "interval too large in 'every 2932896d'"),
        ("every -5m", "bad interval 'every -5m': use every <N>s|m|h|d"),
        ("every 5x", "bad interval 'every 5x': use every <N>s|m|h|d"),
        ("every 1.5h", "bad interval 'every 1.5h': use every <N>s|m|h|d with a whole N"),
        ("@reboot", "@reboot is not supported"),
        ("@fortnightly", "unknown macro '@fortnightly'"),
        ("once ", "bad date in 'once': use an ISO datetime"),
        ("once next tuesday", "bad date in 'once next tuesday'"),
        ("0 0 * * ８", "'８' is not a valid day of week value"),
    ],
)
def test_schedules_that_cannot_work_are_refused_with_their_reason(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_leap_day_is_not_never() -> None:
    assert parse_schedule("0 0 29 2 *").crontab is not None
    assert parse_schedule("0 0 30 2 mon").crontab is not None  # OR: every Monday in February
