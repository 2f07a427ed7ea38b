-- Cron expressions accepted by df.wait_for_schedule: five fields; *, values, ranges, steps, lists;
-- month and day-of-week names; day-of-week 0-7 where 0 and 7 are Sunday.
BEGIN;
SELECT plan(46);

SELECT is(
    (SELECT array_agg(e) FROM unnest(ARRAY[
        '* * * * *', '*/5 * * * *', '0 0 * * 0', '0 0 * * 7', '0 0 * * 0-7', '0 0 * * SUN', '0 0 * * sun',
        '0 0 * * MON-FRI', '0 0 * * SUN-SAT', '0 0 * * MON-7', '0 0 * * SUN-SUN', '0 0 * * MON-FRI/2', '0 0 * * MON/2',
        '0 9 1,15 * *', '0 0 1 JAN-MAR *', '0 0 1 jan,Jul *', '0-30/7 * * * *', '5/10 * * * *',
        '59 23 31 12 7', '00 00 * * *', ' 0  0 * * * ', E'0\t0 * * *', '*/59 * * * *', '1-1 * * * *',
        '0 0 29 2 *', '0 0 31 2 1', '0 */23 * * *', '0 0 */31 */12 */7', '0,15,30,45 8-18/2 * 1-6,9-12 1-5']) e
      WHERE df._cron_problem(e) IS NOT NULL),
    NULL,
    'every expression of the grammar is accepted');

SELECT is(df._cron_problem(e), m, format('%L: %s', e, m))
  FROM (VALUES
    ('', 'expected 5 fields (minute hour day-of-month month day-of-week), got 0'),
    ('* * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'),
    ('0 0 * * * 2030', 'expected 5 fields (minute hour day-of-month month day-of-week), got 6'),
    ('60 * * * *', 'minute field: value 60 is out of range 0-59'),
    ('* 24 * * *', 'hour field: value 24 is out of range 0-23'),
    ('* * 0 * *', 'day-of-month field: value 0 is out of range 1-31'),
    ('* * 32 * *', 'day-of-month field: value 32 is out of range 1-31'),
    ('* * * 0 *', 'month field: value 0 is out of range 1-12'),
    ('* * * 13 *', 'month field: value 13 is out of range 1-12'),
    ('* * * * 8', 'day-of-week field: value 8 is out of range 0-7'),
    ('*/0 * * * *', 'minute field: step 0 in ''*/0'' is out of range 1-59'),
    ('*/60 * * * *', 'minute field: step 60 in ''*/60'' is out of range 1-59'),
    ('* */24 * * *', 'hour field: step 24 in ''*/24'' is out of range 1-23'),
    ('5-1 * * * *', 'minute field: range ''5-1'' starts after it ends'),
    ('* * * FEB-JAN *', 'month field: range ''FEB-JAN'' starts after it ends'),
    ('0 0 * * 7-1', 'day-of-week field: range ''7-1'' starts after it ends'),
    ('0 0 31 2 *', 'day-of-month ''31'' never occurs in month ''2'', so it never fires'),
    ('0 0 30,31 FEB *', 'day-of-month ''30,31'' never occurs in month ''FEB'', so it never fires'),
    ('0 0 * * SAT-SUN', 'day-of-week field: range ''SAT-SUN'' starts after it ends (SUN is 0; write 7 for a range ending on Sunday)'),
    ('0 0 * * mon-sun', 'day-of-week field: range ''mon-sun'' starts after it ends (SUN is 0; write 7 for a range ending on Sunday)'),
    ('0 0 * * FOO', 'day-of-week field: invalid value ''FOO'''),
    ('0 0 * * JAN', 'day-of-week field: invalid value ''JAN'''),
    ('0 0 * MON *', 'month field: invalid value ''MON'''),
    ('0 0 * JANUARY *', 'month field: invalid value ''JANUARY'''),
    ('MON * * * *', 'minute field: invalid value ''MON'''),
    ('0 0 ? * *', 'day-of-month field: invalid value ''?'''),
    ('0 0 L * *', 'day-of-month field: invalid value ''L'''),
    ('0 0 * * 1#2', 'day-of-week field: invalid value ''1#2'''),
    ('0 0 * * 5L', 'day-of-week field: invalid value ''5L'''),
    ('+5 * * * *', 'minute field: invalid value ''+5'''),
    ('1-5-7 * * * *', 'minute field: invalid range ''1-5-7'''),
    ('-5 * * * *', 'minute field: invalid range ''-5'''),
    ('1,,2 * * * *', 'minute field: empty list element in ''1,,2'''),
    ('1, * * * *', 'minute field: empty list element in ''1,'''),
    ('1/2/3 * * * *', 'minute field: more than one step in ''1/2/3'''),
    ('/5 * * * *', 'minute field: missing value before the step in ''/5'''),
    ('5/ * * * *', 'minute field: step '''' in ''5/'' is not a number'),
    ('*/x * * * *', 'minute field: step ''x'' in ''*/x'' is not a number'),
    ('@daily', 'expected 5 fields (minute hour day-of-month month day-of-week), got 1'),
    ('99999999999 * * * *', 'minute field: invalid value ''99999999999''')
  ) AS t(e, m);

SELECT throws_ok($$SELECT df.wait_for_schedule('60 * * * *')$$, '22023',
                 'Invalid cron expression ''60 * * * *'': minute field: value 60 is out of range 0-59',
                 'df.wait_for_schedule raises the problem with the expression, SQLSTATE 22023');
SELECT throws_ok($$SELECT df.wait_for_schedule('0 0 * * 8')$$, '22023',
                 'Invalid cron expression ''0 0 * * 8'': day-of-week field: value 8 is out of range 0-7',
                 'day-of-week stops at 7');
SELECT lives_ok($$SELECT df.wait_for_schedule('0 0 * * 0')$$, 'Sunday can be 0 (the original rejected 0)');
SELECT lives_ok($$SELECT df.wait_for_schedule('0 0 * * 7')$$, 'and 7');
SELECT throws_ok($$SELECT df.wait_for_schedule('')$$, '22023',
                 'Invalid cron expression '''': expected 5 fields (minute hour day-of-month month day-of-week), got 0',
                 'an empty expression');

SELECT * FROM finish();
ROLLBACK;
