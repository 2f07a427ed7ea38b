-- df.list_instances, both overloads: shape, order, filters, engine columns, keyset pagination,
-- cursor validation, limit_count checks and the pg_durable.list_instances_max_limit setting.
-- Fixtures are inserted directly as the superuser, the way df.start and the worker would leave them.
BEGIN;
SELECT plan(62);

CREATE ROLE df_t030_alice LOGIN;
CREATE ROLE df_t030_bob LOGIN;
-- The privileges an application role gets from df.grant_usage().
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage(r) FROM unnest(ARRAY['df_t030_alice', 'df_t030_bob']) r; END $$;
RESET client_min_messages;

-- id, owner, label, status, created_at
CREATE TEMP TABLE fixture (id text, owner text, label text, status text, created_at timestamptz);
INSERT INTO fixture VALUES
    ('a0300001', 'df_t030_alice', 'page',  'completed', '2026-01-02 03:04:05.123456+00'),
    ('a0300002', 'df_t030_alice', 'page',  'completed', '2026-01-02 03:04:05.123456+00'),
    ('a0300003', 'df_t030_alice', 'page',  'completed', '2026-01-02 03:04:05.123456+00'),
    ('a0300004', 'df_t030_alice', 'page',  'completed', '2026-01-02 03:04:04+00'),
    ('a0300005', 'df_t030_alice', 'page',  'completed', '2026-01-02 03:04:04+00'),
    ('a0300006', 'df_t030_alice', 'page',  'completed', '2026-01-01 00:00:00+00'),
    ('a0300007', 'df_t030_alice', 'other', 'failed',    '2026-01-03 00:00:00+00'),
    ('a0300008', 'df_t030_alice', NULL,    'running',   '2026-01-02 03:04:05.123456+00'),
    ('b0300001', 'df_t030_bob',   'page',  'completed', '2026-01-05 00:00:00+00');

INSERT INTO df.instances (id, label, root_node, status, submitted_by, created_at, updated_at, completed_at)
SELECT f.id, f.label, 'c' || substr(f.id, 2), f.status, f.owner::regrole, f.created_at, f.created_at,
       CASE WHEN f.status IN ('completed', 'failed', 'cancelled') THEN f.created_at + interval '1 second' END
  FROM fixture f;
INSERT INTO df.nodes (id, instance_id, node_type, query, status, result, submitted_by, status_details)
SELECT 'c' || substr(f.id, 2), f.id, 'SQL', 'SELECT 1', f.status,
       CASE f.status WHEN 'completed' THEN '{"rows":[{"?column?":1}],"row_count":1}'::jsonb
                     WHEN 'failed' THEN '"SQL execution failed: boom"'::jsonb END,
       f.owner::regrole, jsonb_build_object('execution_id', f.id || '::1')
  FROM fixture f;
-- Engine records for all but a0300008 (an engine record lost by hand must not hide the instance).
INSERT INTO df_engine.instances (id, name, status, output, execution_id, completed_at)
SELECT f.id, 'df.function_graph', initcap(f.status),
       CASE f.status WHEN 'completed' THEN '{"rows":[{"?column?":' || right(f.id, 1) || '}],"row_count":1}'
                     WHEN 'failed' THEN 'SQL execution failed: boom' END,
       CASE f.id WHEN 'a0300006' THEN 3 ELSE 1 END,
       CASE WHEN f.status IN ('completed', 'failed') THEN now() END
  FROM fixture f WHERE f.id <> 'a0300008';

-- Pages through df.list_instances(status, page_size, label) and returns every id seen, in order,
-- plus the number of pages; fails loudly on a short non-final page or a cursor that differs
-- between rows of one page.
CREATE FUNCTION pg_temp.walk_pages(p_status text, p_size integer, p_label text,
                                   OUT ids text[], OUT pages integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_cursor text;
    v_ids    text[];
    v_next   text;
    v_n      integer;
    v_kinds  integer;
BEGIN
    ids := '{}';
    pages := 0;
    LOOP
        SELECT array_agg(l.instance_id ORDER BY l.ord), max(l.next_cursor), count(*),
               count(DISTINCT coalesce(l.next_cursor, '-'))
          INTO v_ids, v_next, v_n, v_kinds
          FROM df.list_instances(p_status, p_size, p_label, v_cursor) WITH ORDINALITY
               AS l(instance_id, label, function_name, status, execution_count, output,
                    created_at, completed_at, next_cursor, ord);
        EXIT WHEN v_n = 0;
        IF v_kinds <> 1 THEN
            RAISE EXCEPTION 'page % carries % different next_cursor values', pages + 1, v_kinds;
        END IF;
        ids := ids || v_ids;
        pages := pages + 1;
        EXIT WHEN v_next IS NULL;
        IF v_n <> p_size THEN
            RAISE EXCEPTION 'non-final page % has % rows', pages, v_n;
        END IF;
        v_cursor := v_next;
        EXIT WHEN pages > 100;
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.walk_pages(text, integer, text) TO df_t030_alice;

-- ---------------------------------------------------------------------------------------------
-- Shape
-- ---------------------------------------------------------------------------------------------
SELECT has_function('df', 'list_instances', ARRAY['text', 'integer'], 'basic df.list_instances(text, integer) exists');
SELECT has_function('df', 'list_instances', ARRAY['text', 'integer', 'text', 'text'], 'paginated df.list_instances(text, integer, text, text) exists');
SELECT is(pg_get_function_arguments('df.list_instances(text, integer)'::regprocedure),
          'status_filter text DEFAULT NULL::text, limit_count integer DEFAULT 100',
          'basic overload: argument names and defaults as the original');
SELECT is(pg_get_function_result('df.list_instances(text, integer)'::regprocedure),
          'TABLE(instance_id text, label text, function_name text, status text, execution_count bigint, output text)',
          'basic overload: the six original columns');
SELECT is(pg_get_function_arguments('df.list_instances(text, integer, text, text)'::regprocedure),
          'status_filter text, limit_count integer, label_filter text, after_cursor text DEFAULT NULL::text',
          'paginated overload: first three arguments without defaults, so the overloads never clash');
SELECT is(pg_get_function_result('df.list_instances(text, integer, text, text)'::regprocedure),
          'TABLE(instance_id text, label text, function_name text, status text, execution_count bigint, output text, created_at timestamp with time zone, completed_at timestamp with time zone, next_cursor text)',
          'paginated overload: the six columns plus created_at, completed_at, next_cursor');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'df.list_instances(text, integer)'::regprocedure), false,
          'basic overload is SECURITY INVOKER (RLS decides visibility)');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'df.list_instances(text, integer, text, text)'::regprocedure), false,
          'paginated overload is SECURITY INVOKER');

SET ROLE df_t030_alice;

-- ---------------------------------------------------------------------------------------------
-- Basic overload
-- ---------------------------------------------------------------------------------------------
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances()),
          ARRAY['a0300007', 'a0300001', 'a0300002', 'a0300003', 'a0300008', 'a0300004', 'a0300005', 'a0300006'],
          'newest first, equal created_at ordered by id; only the caller''s instances');
SELECT results_eq(
    $$ SELECT instance_id, label, function_name, status, execution_count, output
         FROM df.list_instances() WHERE instance_id IN ('a0300006', 'a0300007') $$,
    $$ VALUES ('a0300007'::text, 'other'::text, 'df.function_graph'::text, 'failed'::text, 1::bigint, 'SQL execution failed: boom'::text),
              ('a0300006', 'page', 'df.function_graph', 'completed', 3::bigint, '{"rows":[{"?column?":6}],"row_count":1}') $$,
    'engine columns: orchestration name, current generation as execution_count, engine output');
SELECT results_eq(
    $$ SELECT instance_id, label, function_name, status, execution_count, output
         FROM df.list_instances() WHERE instance_id = 'a0300008' $$,
    $$ VALUES ('a0300008'::text, NULL::text, NULL::text, 'running'::text, NULL::bigint, NULL::text) $$,
    'an instance without an engine record is listed with NULL engine columns');
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances('completed')),
          ARRAY['a0300001', 'a0300002', 'a0300003', 'a0300004', 'a0300005', 'a0300006'],
          'status_filter is an exact match on the df status');
SELECT is((SELECT count(*) FROM df.list_instances('Completed')), 0::bigint,
          'status_filter is case-sensitive, like the original');
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances(NULL, 3)),
          ARRAY['a0300007', 'a0300001', 'a0300002'], 'limit_count caps the rows');
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances(limit_count => 2)),
          ARRAY['a0300007', 'a0300001'], 'named argument limit_count works');

-- ---------------------------------------------------------------------------------------------
-- Paginated overload
-- ---------------------------------------------------------------------------------------------
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances(NULL, 100, 'page')),
          ARRAY['a0300001', 'a0300002', 'a0300003', 'a0300004', 'a0300005', 'a0300006'],
          'label_filter is an exact match; order created_at DESC, id');
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances(NULL, 100, NULL)),
          ARRAY['a0300007', 'a0300001', 'a0300002', 'a0300003', 'a0300008', 'a0300004', 'a0300005', 'a0300006'],
          'NULL label_filter lists everything of the caller');
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances('failed', 100, 'other')),
          ARRAY['a0300007'], 'status and label filters combine');
SELECT is((SELECT count(*) FROM df.list_instances('running', 100, 'page')), 0::bigint,
          'a status that no row of the label has gives an empty page');
SELECT results_eq(
    $$ SELECT created_at, completed_at FROM df.list_instances(NULL, 100, 'other') $$,
    $$ VALUES ('2026-01-03 00:00:00+00'::timestamptz, '2026-01-03 00:00:01+00'::timestamptz) $$,
    'created_at and completed_at come from df.instances');
SELECT is((SELECT count(*) FROM df.list_instances(NULL, 100, 'page') WHERE next_cursor IS NOT NULL), 0::bigint,
          'a page holding everything has no next_cursor');
SELECT is((SELECT count(*) FROM df.list_instances(NULL, 6, 'page') WHERE next_cursor IS NOT NULL), 0::bigint,
          'a page that ends exactly at the last row has no next_cursor');
SELECT is((SELECT count(DISTINCT next_cursor) FROM df.list_instances(NULL, 2, 'page')), 1::bigint,
          'next_cursor is the same on every row of a page');
SELECT is((SELECT convert_from(decode(max(next_cursor), 'hex'), 'UTF8') FROM df.list_instances(NULL, 2, 'page')),
          'v1|' || to_char('2026-01-02 03:04:05.123456+00'::timestamptz, 'YYYY-MM-DD"T"HH24:MI:SS.USOF') || '|a0300002',
          'the cursor is hex of v1|<created_at>|<id> of the page''s last row');
SELECT results_eq(
    $$ SELECT ids, pages FROM pg_temp.walk_pages(NULL, 2, 'page') $$,
    $$ VALUES (ARRAY['a0300001', 'a0300002', 'a0300003', 'a0300004', 'a0300005', 'a0300006'], 3) $$,
    'walking pages of 2 through ties visits every row once, in order');
SELECT results_eq(
    $$ SELECT ids, pages FROM pg_temp.walk_pages(NULL, 1, NULL) $$,
    $$ VALUES (ARRAY['a0300007', 'a0300001', 'a0300002', 'a0300003', 'a0300008', 'a0300004', 'a0300005', 'a0300006'], 8) $$,
    'walking pages of 1 visits every row once: no duplicates, no gaps');
SELECT results_eq(
    $$ SELECT ids, pages FROM pg_temp.walk_pages(NULL, 3, NULL) $$,
    $$ VALUES (ARRAY['a0300007', 'a0300001', 'a0300002', 'a0300003', 'a0300008', 'a0300004', 'a0300005', 'a0300006'], 3) $$,
    'walking pages of 3 visits every row once');
SELECT results_eq(
    $$ SELECT ids, pages FROM pg_temp.walk_pages('completed', 4, 'page') $$,
    $$ VALUES (ARRAY['a0300001', 'a0300002', 'a0300003', 'a0300004', 'a0300005', 'a0300006'], 2) $$,
    'pagination composes with the status and label filters');
SET LOCAL TimeZone = 'Asia/Kolkata';
SELECT results_eq(
    $$ SELECT ids, pages FROM pg_temp.walk_pages(NULL, 2, NULL) $$,
    $$ VALUES (ARRAY['a0300007', 'a0300001', 'a0300002', 'a0300003', 'a0300008', 'a0300004', 'a0300005', 'a0300006'], 4) $$,
    'cursors carry the UTC offset, so paging works in any session time zone');
SET LOCAL TimeZone = 'UTC';
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances(NULL, 100, NULL,
              encode(convert_to('v1|2026-01-02T03:04:05.123456+00|a0300002', 'UTF8'), 'hex'))),
          ARRAY['a0300003', 'a0300008', 'a0300004', 'a0300005', 'a0300006'],
          'a hand-made cursor resumes strictly after its (created_at, id)');
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances(NULL, 100, NULL,
              encode(convert_to('v1|2026-01-02T08:34:05.123456+05:30|a0300002', 'UTF8'), 'hex'))),
          ARRAY['a0300003', 'a0300008', 'a0300004', 'a0300005', 'a0300006'],
          'a cursor with an hh:mm offset names the same instant');

-- ---------------------------------------------------------------------------------------------
-- Bad cursors: an error, never a silent restart or an empty page
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL, '') $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'empty cursor is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL, 'zz') $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'non-hex cursor is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL, 'abc') $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'odd-length cursor is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL, repeat('61', 257)) $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'cursor longer than 512 characters is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL, 'ff00') $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'cursor that is not UTF-8 is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL,
                        encode(convert_to('v2|2026-01-02T03:04:05.123456+00|a0300002', 'UTF8'), 'hex')) $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'unknown cursor version is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL,
                        encode(convert_to('v1|2026-01-02T03:04:05.123456+00|', 'UTF8'), 'hex')) $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'cursor with an empty id is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL,
                        encode(convert_to('v1|a0300002', 'UTF8'), 'hex')) $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'cursor without a timestamp part is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL,
                        encode(convert_to('v1|not-a-timestamp|abc', 'UTF8'), 'hex')) $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'cursor whose timestamp has the wrong shape is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL,
                        encode(convert_to('v1|2026-13-45T03:04:05.123456+00|abc', 'UTF8'), 'hex')) $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'cursor whose timestamp is impossible is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 2, NULL,
                        encode(convert_to('v1|2026-01-02 03:04:05+00|abc', 'UTF8'), 'hex')) $$,
                 '22023', 'df.list_instances: invalid after_cursor', 'cursor timestamp must be in the emitted ISO shape');

-- ---------------------------------------------------------------------------------------------
-- limit_count and pg_durable.list_instances_max_limit
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 0) $$,
                 '22023', 'limit_count must be at least 1', 'basic overload: limit_count 0 is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, -5, NULL) $$,
                 '22023', 'limit_count must be at least 1', 'paginated overload: negative limit_count is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, NULL) $$,
                 '22004', 'limit_count must not be NULL', 'NULL limit_count is rejected');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 1001) $$,
                 '22023', 'df.list_instances: limit_count (1001) exceeds pg_durable.list_instances_max_limit (1000); request fewer rows, or use the paginated df.list_instances overload (after_cursor/next_cursor) for large result sets',
                 'basic overload: default cap is 1000');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 1001, NULL) $$,
                 '22023', 'df.list_instances: limit_count (1001) exceeds pg_durable.list_instances_max_limit (1000); request fewer rows, or use the paginated df.list_instances overload (after_cursor/next_cursor) for large result sets',
                 'paginated overload: default cap is 1000');
SELECT lives_ok($$ SELECT * FROM df.list_instances(NULL, 1000) $$, 'basic overload: a page of exactly the cap is allowed');
SELECT lives_ok($$ SELECT * FROM df.list_instances(NULL, 1000, NULL) $$, 'paginated overload: a page of exactly the cap is allowed');

-- A session cannot change the cap: only the server's configuration can.
SET LOCAL pg_durable.list_instances_max_limit = 5000;
SELECT throws_like($$ SELECT * FROM df.list_instances(NULL, 1001) $$,
                   '%max_limit (1000)%', 'SET in the session does not raise the cap');
SET LOCAL pg_durable.list_instances_max_limit = 'lots';
SELECT lives_ok($$ SELECT * FROM df.list_instances(NULL, 1000) $$, '... nor does a malformed session value matter');
RESET pg_durable.list_instances_max_limit;

-- ALTER DATABASE ... SET (a superuser's) applies to every role in this database.
RESET ROLE;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET pg_durable.list_instances_max_limit = 3', current_database()); END $$;
SET ROLE df_t030_alice;
SELECT lives_ok($$ SELECT * FROM df.list_instances(NULL, 3) $$, 'a lowered cap allows pages up to it');
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 4) $$,
                 '22023', 'df.list_instances: limit_count (4) exceeds pg_durable.list_instances_max_limit (3); request fewer rows, or use the paginated df.list_instances overload (after_cursor/next_cursor) for large result sets',
                 'a lowered cap is enforced and named in the error (basic)');
SELECT throws_like($$ SELECT * FROM df.list_instances(NULL, 4, NULL) $$,
                   '%pg_durable.list_instances_max_limit (3)%', 'a lowered cap is enforced (paginated)');
SET LOCAL pg_durable.list_instances_max_limit = 5000;
SELECT throws_like($$ SELECT * FROM df.list_instances(NULL, 4) $$,
                   '%max_limit (3)%', 'the session cannot raise a configured cap either');

-- ALTER ROLE ... SET (a superuser's) applies to that role and outranks the database's value.
RESET ROLE;
ALTER ROLE df_t030_alice SET pg_durable.list_instances_max_limit = 5000;
SET ROLE df_t030_alice;
SELECT lives_ok($$ SELECT * FROM df.list_instances(NULL, 5000) $$, 'a raised cap for the role allows larger pages');
SET ROLE df_t030_bob;
SELECT throws_like($$ SELECT * FROM df.list_instances(NULL, 4) $$,
                   '%max_limit (3)%', '... and only for that role');

RESET ROLE;
ALTER ROLE df_t030_alice SET pg_durable.list_instances_max_limit = 'lots';
SET ROLE df_t030_alice;
SELECT throws_ok($$ SELECT * FROM df.list_instances() $$,
                 '22023', 'pg_durable.list_instances_max_limit must be an integer between 1 and 1000000, got ''lots''',
                 'a malformed cap is an error naming the setting and its value');
RESET ROLE;
ALTER ROLE df_t030_alice SET pg_durable.list_instances_max_limit = '0';
SET ROLE df_t030_alice;
SELECT throws_ok($$ SELECT * FROM df.list_instances(NULL, 1, NULL) $$,
                 '22023', 'pg_durable.list_instances_max_limit must be an integer between 1 and 1000000, got ''0''',
                 'a cap below 1 is an error');
RESET ROLE;
ALTER ROLE df_t030_alice SET pg_durable.list_instances_max_limit = '2000000';
SET ROLE df_t030_alice;
SELECT throws_like($$ SELECT * FROM df.list_instances() $$,
                   '%got ''2000000''', 'a cap above 1000000 is an error');
RESET ROLE;
ALTER ROLE df_t030_alice SET pg_durable.list_instances_max_limit = '';
SET ROLE df_t030_alice;
SELECT lives_ok($$ SELECT * FROM df.list_instances(NULL, 1000) $$, 'an empty setting means the default cap');
SELECT throws_like($$ SELECT * FROM df.list_instances(NULL, 1001) $$,
                   '%max_limit (1000)%', 'an empty setting still enforces the default cap');

RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
