-- df.http and df.http_multipart: the node they build, the checks they make when built and when
-- df.start walks a hand-written graph, and the grant an HTTP step needs.
BEGIN;
SELECT plan(46);

CREATE ROLE t050_plain LOGIN;
CREATE ROLE t050_http LOGIN;
SET client_min_messages = warning;
SELECT df.grant_usage('t050_plain');
SELECT df.grant_usage('t050_http', include_http => true);
RESET client_min_messages;

-- ---------------------------------------------------------------------------------------------
-- The node: the original's config, compact, keys in alphabetical order
-- ---------------------------------------------------------------------------------------------
SELECT is(df.http('https://api.example.com/x', 'get'),
          '{"node_type":"HTTP","query":"{\"body\":null,\"headers\":null,\"method\":\"GET\",\"timeout_seconds\":30,\"url\":\"https://api.example.com/x\"}"}',
          'df.http: the method upper-cased, the defaults filled in');
SELECT is(df.http('https://api.example.com/x', 'POST', '{"a": 1}', '{"X-B": "1", "Accept": "2"}', 10),
          '{"node_type":"HTTP","query":"{\"body\":\"{\\\"a\\\": 1}\",\"headers\":{\"Accept\":\"2\",\"X-B\":\"1\"},\"method\":\"POST\",\"timeout_seconds\":10,\"url\":\"https://api.example.com/x\"}"}',
          'df.http: the body as text, the headers sorted by name');
SELECT is(df.http('{api_base}/users'),
          '{"node_type":"HTTP","query":"{\"body\":null,\"headers\":null,\"method\":\"POST\",\"timeout_seconds\":30,\"url\":\"{api_base}/users\"}"}',
          'a url that starts with a placeholder is checked when it runs');
SELECT is(df.http('https://api.example.com', 'GET', NULL, '{}'),
          '{"node_type":"HTTP","query":"{\"body\":null,\"headers\":{},\"method\":\"GET\",\"timeout_seconds\":30,\"url\":\"https://api.example.com\"}"}',
          'empty headers stay an empty object');
SELECT is(df.http_multipart('https://api.example.com/u', 'put', '[{"name": "f", "data_b64": "aGVs\nbG8=", "filename": "a.txt"}]'),
          '{"node_type":"HTTP_MULTIPART","query":"{\"headers\":null,\"method\":\"PUT\",\"parts\":[{\"name\":\"f\",\"data_b64\":\"aGVs\\nbG8=\",\"filename\":\"a.txt\"}],\"timeout_seconds\":30,\"url\":\"https://api.example.com/u\"}"}',
          'df.http_multipart keeps its parts');
SELECT is(df.as(df.http('https://api.example.com', 'GET'), 'resp')::json ->> 'result_name', 'resp',
          'an HTTP result can be named');
SELECT is(rtrim(df.explain(df.http('https://api.example.com/x', 'GET'))), 'HTTP GET https://api.example.com/x',
          'df.explain shows the method and the url');

-- ---------------------------------------------------------------------------------------------
-- Checks when built
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.http(NULL)$$, '22004', 'df.http(): url must not be NULL', 'a NULL url');
SELECT throws_ok($$SELECT df.http('https://a.example', NULL)$$, '22004', 'df.http(): method must not be NULL', 'a NULL method');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, NULL, NULL)$$, '22004',
                 'df.http(): timeout_seconds must not be NULL', 'a NULL timeout');
SELECT throws_ok($$SELECT df.http('ftp://a.example/x')$$, '22023',
                 'url must be an http:// or https:// URL with a host, got ''ftp://a.example/x''', 'a scheme other than http(s)');
SELECT throws_ok($$SELECT df.http('file:///etc/passwd')$$, '22023',
                 'url must be an http:// or https:// URL with a host, got ''file:///etc/passwd''', 'a file url');
SELECT throws_ok($$SELECT df.http('https://')$$, '22023',
                 'url must be an http:// or https:// URL with a host, got ''https://''', 'a url without a host');
SELECT throws_ok($$SELECT df.http('https://user:pw@a.example/')$$, '22023',
                 'url must be an http:// or https:// URL with a host, got ''https://user:pw@a.example/''', 'a url with user information');
SELECT throws_ok($$SELECT df.http(E'https://a.example/x\r\nHost: evil')$$, '22023',
                 E'url must not contain spaces or control characters, got "https://a.example/x\\r\\nHost: evil"', 'a url with a line break');
SELECT throws_ok($$SELECT df.http('https://a.example/' || repeat('x', 8200))$$, '22023',
                 'url is 8218 characters long; the limit is 8192 characters', 'a url over the length limit');
SELECT throws_ok($$SELECT df.http('https://a.example', 'HEAD')$$, '22023',
                 'Invalid HTTP method: HEAD. Must be GET, POST, PUT, DELETE, or PATCH', 'a method outside the set');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, NULL, 0)$$, '22023', 'Timeout must be positive', 'a zero timeout');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, NULL, 3601)$$, '22023',
                 'timeout_seconds must be at most 3600 (one hour), got 3601', 'a timeout over an hour');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, '["a"]')$$, '22023',
                 'headers must be a JSON object of text values, got sequence', 'headers that are not an object');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, '{"X-N": 1}')$$, '22023',
                 'header "X-N" must have a text value, got integer `1`', 'a header that is not text');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, '{"X-A": "a\nX-Evil: 1"}')$$, '22023',
                 'header "X-A" has a control character (such as a line break) in its value', 'a header value with a line break');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, '{"bad name": "a"}')$$, '22023',
                 'header name "bad name" is not a valid HTTP header name', 'a header name that is not a token');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL, '{"Content-Length": "5"}')$$, '22023',
                 'header "Content-Length" is set by pg_durable itself and may not be given', 'a framing header');
SELECT throws_ok($$SELECT df.http('https://a.example', 'GET', NULL,
                                  (SELECT jsonb_object_agg('X-' || g, 'v') FROM generate_series(1, 101) g))$$, '22023',
                 'headers has 101 entries; the limit is 100 headers', 'too many headers');

SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', NULL)$$, '22004',
                 'parts is required and cannot be NULL', 'multipart without parts');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'GET', '[{"name": "f", "data_b64": ""}]')$$, '22023',
                 'Invalid HTTP method for multipart: GET. Must be POST, PUT, or PATCH', 'multipart with GET');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', '{"name": "f"}')$$, '22023',
                 'parts must be a JSON array of part objects', 'parts that are not an array');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', '[]')$$, '22023',
                 'parts must contain at least one part', 'no parts');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', '[{"data_b64": "aGk="}]')$$, '22023',
                 'parts[0] needs "name", a non-empty string', 'a part without a name');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', '[{"name": "f", "data_b64": "aGk="}, {"name": "g"}]')$$, '22023',
                 'parts[1] ("g") needs "data_b64", a base64 string', 'a part without data');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', '[{"name": "f", "data_b64": "not base64!"}]')$$, '22023',
                 'parts[0] ("f"): data_b64 is not valid base64', 'data that is not base64');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', '[{"name": "f", "data_b64": "QUJD$file.body"}]')$$, '22023',
                 'parts[0] ("f"): data_b64 may hold base64 or one placeholder standing for the whole value ($name, $name.col or {name}), not a placeholder mixed with other text',
                 'a placeholder mixed with base64');
SELECT lives_ok($$SELECT df.http_multipart('https://a.example', 'POST', '[{"name": "f", "data_b64": "$file.body"}, {"name": "g", "data_b64": " {blob} "}]')$$,
                'a placeholder standing for the whole value');
SELECT throws_ok($$SELECT df.http_multipart('https://a.example', 'POST', '[{"name": "f", "data_b64": "aGk=", "filename": "a\"b"}]')$$, '22023',
                 'parts[0] ("f"): "filename" may not contain double quotes or control characters', 'a filename with a quote');

-- ---------------------------------------------------------------------------------------------
-- df.start: hand-written nodes meet the same checks, and the grant
-- ---------------------------------------------------------------------------------------------
SET ROLE t050_http;
SELECT throws_ok($$SELECT df.start('{"node_type":"HTTP","query":"{\"url\":\"gopher://a.example\",\"method\":\"GET\"}"}')$$, '22023',
                 'Invalid durable function graph: root: url must be an http:// or https:// URL with a host, got ''gopher://a.example''',
                 'df.start checks a hand-written HTTP node''s url');
SELECT throws_ok($$SELECT df.start('SELECT 1' ~> '{"node_type":"HTTP","query":"{\"url\":\"https://a.example\",\"method\":\"TRACE\"}"}')$$, '22023',
                 'Invalid durable function graph: root.right: Invalid HTTP method: TRACE. Must be GET, POST, PUT, DELETE, or PATCH',
                 '... its method, naming the node''s path');
SELECT throws_ok($$SELECT df.start('{"node_type":"HTTP","query":"not json"}')$$, '22023',
                 'Invalid durable function graph: root: HTTP query must be a JSON object {"url":...,"method":...,"body":...,"headers":...,"timeout_seconds":...}',
                 '... a config that is not JSON');
SELECT throws_ok($$SELECT df.start('{"node_type":"HTTP","query":"{\"url\":\"https://a.example\",\"method\":\"GET\",\"timeout_seconds\":1.5}"}')$$, '22023',
                 'Invalid durable function graph: root: timeout_seconds must be a whole number of seconds, got 1.5',
                 '... a timeout that is not whole');
SELECT throws_ok($$SELECT df.start('{"node_type":"HTTP_MULTIPART","query":"{\"url\":\"https://a.example\",\"method\":\"POST\",\"parts\":[{\"name\":\"f\",\"data_b64\":\"%%%\"}]}"}')$$, '22023',
                 'Invalid durable function graph: root: parts[0] ("f"): data_b64 is not valid base64',
                 '... a multipart node''s parts');
SELECT lives_ok($$SELECT df.start(df.http('https://a.example/x', 'GET') |=> 'resp' ~> 'SELECT $resp.status')$$,
                'a role with the HTTP grant starts an HTTP workflow');
SELECT lives_ok($$SELECT df.start('{"node_type":"HTTP","query":"{\"url\":\"https://a.example\",\"method\":\"GET\"}"}')$$,
                '... and a hand-written HTTP node (the original''s config, defaults omitted)');
RESET ROLE;

SET ROLE t050_plain;
SELECT throws_ok($$SELECT df.http('https://a.example')$$, '42501', 'permission denied for function http',
                 'a role without the HTTP grant cannot call df.http');
SELECT throws_ok($$SELECT df.start('{"node_type":"HTTP","query":"{\"url\":\"https://a.example\",\"method\":\"GET\"}"}')$$, '42501',
                 'permission denied: role "t050_plain" may not run HTTP steps: it lacks EXECUTE on df.http(text,text,text,jsonb,integer)',
                 '... nor start a hand-written HTTP node');
SELECT throws_ok($$SELECT df.start('SELECT 1' ~> '{"node_type":"HTTP_MULTIPART","query":"{\"url\":\"https://a.example\",\"method\":\"POST\",\"parts\":[{\"name\":\"f\",\"data_b64\":\"aGk=\"}]}"}')$$, '42501',
                 'permission denied: role "t050_plain" may not run HTTP_MULTIPART steps: it lacks EXECUTE on df.http_multipart(text,text,jsonb,jsonb,integer)',
                 '... nor a multipart node deep in a graph');
RESET ROLE;
SELECT is((SELECT count(*) FROM df.instances WHERE submitted_by = 't050_plain'::regrole), 0::bigint,
          'the refused starts left nothing behind');

SELECT * FROM finish();
ROLLBACK;
