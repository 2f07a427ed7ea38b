-- ---------------------------------------------------------------------------------------------
-- Cron expressions: five fields (minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or
-- JAN-DEC, day-of-week 0-7 or SUN-SAT, where 0 and 7 are Sunday). Each field is a comma
-- list of '*', a value, a range a-b, or one of those with a step: '*/n', 'a-b/n', 'a/n'.
-- Names are case-insensitive; SUN is 0, as in Vixie cron and pg_cron (SUN-SAT is the whole week;
-- a range ending on Sunday is written with 7). When day-of-week is '*', a day of month that exists
-- in none of the chosen months is refused: it would never fire. The worker's parser
-- (io.pgdurable.graph.cron.CronSchedule) accepts exactly the same expressions; CronAgreementTest checks.
-- ---------------------------------------------------------------------------------------------

-- The value of one cron token in a field, or NULL when it is not a number or a name.
CREATE OR REPLACE FUNCTION df._cron_value(p_token text, p_field integer, p_in_range boolean) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_pos integer;
BEGIN
    IF p_token ~ '^[0-9]{1,9}$' THEN
        RETURN p_token::integer;
    END IF;
    IF p_field = 4 THEN
        v_pos := array_position(ARRAY['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP',
                                      'OCT', 'NOV', 'DEC'], upper(p_token));
        RETURN v_pos;
    ELSIF p_field = 5 THEN
        -- As in Vixie cron and pg_cron, SUN is 0 (only the number 7 also means Sunday), so
        -- SUN-SAT is the whole week and SAT-SUN runs backwards.
        v_pos := array_position(ARRAY['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], upper(p_token));
        RETURN v_pos - 1;
    END IF;
    RETURN NULL;
END
$fn$;

-- Why the cron expression is not acceptable, naming the field; NULL when it is.
CREATE OR REPLACE FUNCTION df._cron_problem(p_expr text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_names constant text[] := ARRAY['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
    c_min   constant integer[] := ARRAY[0, 0, 1, 1, 0];
    c_max   constant integer[] := ARRAY[59, 23, 31, 12, 7];
    v_trimmed text := btrim(p_expr, E' \t\n\r');
    v_fields  text[];
    v_field   text;
    v_item    text;
    v_parts   text[];
    v_bounds  text[];
    v_token   text;
    v_lo      integer;
    v_hi      integer;
    v_step    integer;
    v_name    text;
BEGIN
    v_fields := CASE WHEN v_trimmed = '' THEN '{}'::text[] ELSE regexp_split_to_array(v_trimmed, '\s+') END;
    IF cardinality(v_fields) <> 5 THEN
        RETURN format('expected 5 fields (minute hour day-of-month month day-of-week), got %s',
                      cardinality(v_fields));
    END IF;
    FOR f IN 1..5 LOOP
        v_field := v_fields[f];
        v_name := c_names[f] || ' field';
        FOREACH v_item IN ARRAY string_to_array(v_field, ',') LOOP
            IF v_item = '' THEN
                RETURN format('%s: empty list element in ''%s''', v_name, v_field);
            END IF;
            v_parts := string_to_array(v_item, '/');
            IF cardinality(v_parts) > 2 THEN
                RETURN format('%s: more than one step in ''%s''', v_name, v_item);
            END IF;
            IF cardinality(v_parts) = 2 THEN
                IF v_parts[2] !~ '^[0-9]{1,9}$' THEN
                    RETURN format('%s: step ''%s'' in ''%s'' is not a number', v_name, v_parts[2], v_item);
                END IF;
                v_step := v_parts[2]::integer;
                IF v_step < 1 OR v_step > c_max[f] THEN
                    RETURN format('%s: step %s in ''%s'' is out of range 1-%s', v_name, v_step, v_item, c_max[f]);
                END IF;
            END IF;
            CONTINUE WHEN v_parts[1] = '*';
            IF v_parts[1] = '' THEN
                RETURN format('%s: missing value before the step in ''%s''', v_name, v_item);
            END IF;
            v_bounds := string_to_array(v_parts[1], '-');
            IF cardinality(v_bounds) > 2 OR '' = ANY (v_bounds) THEN
                RETURN format('%s: invalid range ''%s''', v_name, v_parts[1]);
            END IF;
            FOR b IN 1..cardinality(v_bounds) LOOP
                v_token := v_bounds[b];
                v_hi := df._cron_value(v_token, f, cardinality(v_bounds) = 2);
                IF v_hi IS NULL THEN
                    RETURN format('%s: invalid value ''%s''', v_name, v_token);
                END IF;
                IF v_hi < c_min[f] OR v_hi > c_max[f] THEN
                    RETURN format('%s: value %s is out of range %s-%s', v_name, v_hi, c_min[f], c_max[f]);
                END IF;
                IF b = 1 THEN
                    v_lo := v_hi;
                ELSIF v_lo > v_hi THEN
                    RETURN format('%s: range ''%s'' starts after it ends', v_name, v_parts[1])
                        || CASE WHEN f = 5 AND upper(v_bounds[2]) = 'SUN' THEN ' (SUN is 0; write 7 for a range ending on Sunday)' ELSE '' END;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    -- Day-of-month and month restrict together when day-of-week is '*' (as in pg_cron): a day
    -- that exists in none of the months can never come.
    IF v_fields[5] LIKE '*%' AND v_fields[3] NOT LIKE '*%' AND NOT EXISTS (
            SELECT 1
              FROM unnest(df._cron_expand(v_fields[3], 3)) AS d(day),
                   unnest(df._cron_expand(v_fields[4], 4)) AS m(month)
             WHERE d.day <= (ARRAY[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[m.month]) THEN
        RETURN format('day-of-month ''%s'' never occurs in month ''%s'', so it never fires', v_fields[3], v_fields[4]);
    END IF;
    RETURN NULL;
END
$fn$;

-- The values a validated cron field stands for.
CREATE OR REPLACE FUNCTION df._cron_expand(p_field text, p_f integer) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_min  constant integer[] := ARRAY[0, 0, 1, 1, 0];
    c_max  constant integer[] := ARRAY[59, 23, 31, 12, 7];
    v_out  integer[] := '{}';
    v_item text;
    v_parts text[];
    v_bounds text[];
    v_lo integer;
    v_hi integer;
    v_step integer;
BEGIN
    FOREACH v_item IN ARRAY string_to_array(p_field, ',') LOOP
        v_parts := string_to_array(v_item, '/');
        v_step := CASE WHEN cardinality(v_parts) = 2 THEN v_parts[2]::integer ELSE 1 END;
        IF v_parts[1] = '*' THEN
            v_lo := c_min[p_f];
            v_hi := c_max[p_f];
        ELSE
            v_bounds := string_to_array(v_parts[1], '-');
            v_lo := df._cron_value(v_bounds[1], p_f, cardinality(v_bounds) = 2);
            v_hi := CASE WHEN cardinality(v_bounds) = 2 THEN df._cron_value(v_bounds[2], p_f, true)
                         WHEN cardinality(v_parts) = 2 THEN c_max[p_f]
                         ELSE v_lo END;
        END IF;
        v_out := v_out || ARRAY(SELECT generate_series(v_lo, v_hi, v_step));
    END LOOP;
    RETURN v_out;
END
$fn$;
